//! imchat: a terminal chat client on `imkit-protocols`, in the Elm shape: one [`state::State`],
//! [`update::update`] turning [`action::Action`]s into state changes and [`effect::Effect`]s
//! (no I/O), a network worker ([`net`]) and [`view::view`], which only draws.

pub mod action;
pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod editor;
pub mod effect;
pub mod explain;
pub mod keys;
pub mod net;
pub mod notify;
pub mod size_limit;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod update;
pub mod view;

pub use app::run;
pub use cli::Cli;
