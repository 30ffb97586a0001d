//! The contract between the generic driver loop and one dialect: a [`Connector`] makes
//! (and remakes) a logged-in [`Link`]; a `Link` translates neutral commands to its wire and
//! its wire to neutral events.

use std::future::Future;
use std::time::{Duration, Instant};

use crate::{Command, DriverConfig, Event, Result};

/// May the driver hand the link another command now? (simple-im and eutamias cannot take
/// pipelined messages: the original reads one message per socket read.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ready {
    Now,
    /// Not before the reply to the last command arrives (bounded by the reply timeout).
    AwaitingReply,
    /// Not before this instant (a pause after a message that gets no reply).
    At(Instant),
}

/// One live, logged-in connection of one dialect.
pub trait Link: Send + 'static {
    /// Translate and write one command. An [`crate::Error::Unsupported`] or
    /// [`crate::Error::Malformed`] error concerns only this command; others end the link.
    fn send(&mut self, command: Command) -> impl Future<Output = Result<()>> + Send;

    /// Wait for the next message(s) from the server, as neutral events. A server ping comes
    /// out as [`Event::Ping`]; the driver answers it with [`Command::Pong`].
    ///
    /// Must be cancel safe: the driver polls it in a `select!` with its timers.
    fn recv(&mut self) -> impl Future<Output = Result<Vec<Event>>> + Send;

    /// Whether the link can take another command now.
    fn ready(&self) -> Ready {
        Ready::Now
    }

    /// How often the client must send a heartbeat (`None`: the dialect has none).
    fn heartbeat_interval(&self) -> Option<Duration> {
        None
    }

    /// Send one heartbeat.
    fn heartbeat(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }

    /// Close politely (close frame, logout message) where the dialect has a way.
    fn close(&mut self) -> impl Future<Output = Result<()>> + Send {
        async { Ok(()) }
    }
}

/// Makes links: the lookup hop, the connection and the login. It keeps what a later
/// reconnect needs (account id, token).
pub trait Connector: Send + 'static {
    type Link: Link;

    /// Connect and log in. `reconnect` is true when a previous link was lost; the events
    /// returned (e.g. [`Event::LookedUp`], [`Event::LoggedIn`]) are passed on in order.
    fn connect(
        &mut self,
        config: &DriverConfig,
        reconnect: bool,
    ) -> impl Future<Output = Result<(Self::Link, Vec<Event>)>> + Send;

    /// How long the phases of the last successful [`Connector::connect`] took.
    fn timings(&self) -> ConnectTimings {
        ConnectTimings::default()
    }
}

/// The phases of one connect, for load generators that report them apart: the lookup hop
/// (where the dialect has one) and the login exchange, from the first login byte written to
/// the server's answer (where the original answers nothing, the write itself). The dial in
/// between is the rest of the whole connect time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectTimings {
    pub lookup: Option<Duration>,
    pub login: Option<Duration>,
}
