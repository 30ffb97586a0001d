//! How a virtual user reaches the server: the `imkit-protocols` drivers in real runs, or an
//! in-memory stand-in in tests. Kept to what the engine needs.

use std::future::Future;

use imkit_protocols::driver::{ConnectTimings, InlineConnection};
use imkit_protocols::{Command, DriverConfig, Event};

/// Opens sessions.
pub trait Transport: Send + Sync + 'static {
    type Session: Session;
    /// Look up, connect and log in (the driver does all three).
    fn connect(
        &self,
        config: DriverConfig,
    ) -> impl Future<Output = imkit_protocols::Result<Self::Session>> + Send;
}

/// One logged-in client connection.
pub trait Session: Send + 'static {
    fn send(
        &mut self,
        command: Command,
    ) -> impl Future<Output = imkit_protocols::Result<()>> + Send;
    /// The next event; `None` once the connection is over.
    fn recv(&mut self) -> impl Future<Output = Option<Event>> + Send;
    /// Log out and close.
    fn close(self) -> impl Future<Output = ()> + Send;
    /// Commands handed over and not yet taken by the connection's task.
    fn queued(&self) -> usize {
        0
    }
    /// The lookup and login times of the last (re)connect (the driver connects in one call).
    fn connect_timings(&self) -> ConnectTimings {
        ConnectTimings::default()
    }
}

/// The real thing: `imkit_protocols`' drivers, run inline in each virtual user's task (no
/// driver task and no channels per connection: one task wake-up per message, not three).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drivers;

impl Transport for Drivers {
    type Session = InlineConnection;
    async fn connect(&self, config: DriverConfig) -> imkit_protocols::Result<InlineConnection> {
        InlineConnection::connect(config).await
    }
}

impl Session for InlineConnection {
    async fn send(&mut self, command: Command) -> imkit_protocols::Result<()> {
        InlineConnection::send(self, command).await
    }
    async fn recv(&mut self) -> Option<Event> {
        InlineConnection::recv(self).await
    }
    async fn close(self) {
        InlineConnection::close(self).await
    }
    fn queued(&self) -> usize {
        InlineConnection::queued(self)
    }
    fn connect_timings(&self) -> ConnectTimings {
        InlineConnection::connect_timings(self)
    }
}
