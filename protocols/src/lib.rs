//! The wire formats of five IM servers behind one neutral model.
//!
//! Data flows one way: bytes → frame (codec) → dialect message (typed, per protocol) →
//! neutral [`Command`] / [`Event`] → the user of the library; and back the same way.
//!
//! * one module per dialect ([`chat_json`], [`simple_im`], [`fishchat`], [`newim`], [`eutamias`]),
//!   each with typed messages mirroring its wire, a codec for both directions, a mapping to and
//!   from the neutral model, and a client driver;
//! * [`driver`]: the dialect-independent part of a live client connection (housekeeping,
//!   reconnect with backoff, rejoining groups), shared by `imchat` and `loadgen`.

pub mod capabilities;
pub mod dialect;
pub mod driver;
pub mod error;
mod go_json;
pub mod model;
pub mod net;

pub mod chat_json;
pub mod eutamias;
pub mod fishchat;
pub mod newim;
pub mod simple_im;

pub use capabilities::Capabilities;
pub use dialect::Dialect;
pub use driver::{Connection, Credentials, DriverConfig, ReconnectPolicy};
pub use error::{Error, Result};
pub use model::{
    Command, ConnectionState, Conversation, Event, GroupId, Message, MessageId, SessionId, UserId,
};

/// Default upper bound on one frame / document, in bytes. Every decoder takes a limit and
/// refuses (with [`Error::FrameTooLarge`]) anything above it before allocating for it.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;
