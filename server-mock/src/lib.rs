//! server-mock: one reference server for all five imkit dialects.
//!
//! One [`Hub`] holds all state; one listener per dialect ([`listener::DialectListener`])
//! only translates between its wire and the hub. The public surface other crates use
//! (loadgen embeds the server, imchat's tests start it) is [`ServerConfig`] and [`Server`].

pub mod chaos;
pub mod cli;
mod config;
mod dialects;
pub mod duration;
pub mod hub;
pub mod listener;
mod server;

pub use chaos::{ChaosConfig, Latency};
pub use config::{Limits, ServerConfig, Timers, default_port};
pub use hub::{Hub, HubConfig, HubError};
pub use server::{Server, ServerError, announcement};
