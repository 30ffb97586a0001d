//! Everything that can happen to the client: key intents, typed text, ticks of the clock and
//! what the network worker reports. `update` turns each into state changes and effects.

use imkit_protocols::{Command, Event};

use crate::effect::ConnectTarget;
use crate::keys::KeyAction;
use crate::state::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Connect straight away (command-line arguments or a chosen profile).
    Start(ConnectTarget),
    /// The clock, given before each batch so that `update` stays free of I/O.
    Tick(Timestamp),
    /// The terminal size (columns, rows).
    Resize(u16, u16),
    /// A bound key.
    Key(KeyAction),
    /// A printable character typed into the input.
    Insert(char),
    /// Bracketed paste.
    Paste(String),
    /// Mouse wheel: positive scrolls back (up), negative forward.
    Wheel(i32),
    /// From the network worker.
    Net(NetEvent),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// The worker started dialing.
    Connecting,
    /// Connecting failed; the reason in plain words, with what to try.
    ConnectFailed(String),
    /// An event from the driver.
    Event(Event),
    /// The connection refused a command (the dialect cannot do it, or it is gone).
    SendFailed { command: Command, reason: String },
}
