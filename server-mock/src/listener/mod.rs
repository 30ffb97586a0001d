//! The dialect-independent part of serving: bind each endpoint, accept under a connection
//! cap, run one task per connection, stop on shutdown. A dialect listener implements
//! [`DialectListener`]: which endpoints it binds, the URL clients dial, and how to serve one
//! accepted connection (translate its wire to hub commands and the hub's events back).
//!
//! ```ignore
//! struct ChatJson;
//! impl DialectListener for ChatJson {
//!     fn dialect(&self) -> Dialect { Dialect::ChatJson }
//!     fn endpoints(&self) -> &'static [Endpoint] { &[Endpoint { role: "ws", default_port: 18224 }] }
//!     fn client_url(&self, first: SocketAddr) -> String { format!("ws://{first}/ws") }
//!     async fn serve(&self, conn: Accepted) {
//!         let (hub_conn, outbound) = conn.attach();          // detached when dropped
//!         // the handshake, within conn.limits().handshake_timeout, then:
//!         let mut wire = ChatWire::new(ws_stream, &conn.context.timers);  // impl Wire
//!         pump(&mut wire, &hub_conn, outbound, &conn.context).await;
//!     }
//! }
//! ```

mod cap;
mod pump;
mod tasks;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use imkit_protocols::{Command, Dialect};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use cap::{connection_cap, open_file_limit};
pub use pump::{End, Wire, pump};
pub(crate) use tasks::ConnectionTasks;

use crate::config::{Limits, Timers};
use crate::hub::{AttachOptions, ConnId, Hub, HubError, Outbound};

/// One socket a dialect listens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Its name in `--listen DIALECT.ROLE=ADDR` and in logs (`ws`, `http`, `gateway`…).
    pub role: &'static str,
    /// The original's port, used when the dialect is served at its defaults.
    pub default_port: u16,
}

/// A dialect's listener: everything the framework cannot know.
pub trait DialectListener: Send + Sync + 'static {
    fn dialect(&self) -> Dialect;

    /// The sockets to bind; the first is the one a client dials first.
    fn endpoints(&self) -> &'static [Endpoint];

    /// What a client dials first (printed and returned by `Server::client_address`), from
    /// the first endpoint's bound address.
    fn client_url(&self, first: SocketAddr) -> String;

    /// Serve one accepted connection until it ends (the socket is closed when this
    /// returns). Called on its own task; dropped unfinished if it outlives the shutdown's
    /// grace period.
    fn serve(&self, conn: Accepted) -> impl Future<Output = ()> + Send;
}

/// What every connection of one dialect shares.
#[derive(Debug)]
pub struct ListenContext {
    pub hub: Hub,
    pub dialect: Dialect,
    pub limits: Limits,
    pub timers: Timers,
    /// Every endpoint of this dialect with its bound address (a gateway names its
    /// msg_server, a notificer its switcher, a JOIN_TOPIC reply its server).
    pub addresses: Vec<(&'static str, SocketAddr)>,
    /// Cancelled when the server shuts down: stop reading, flush, close.
    pub shutdown: CancellationToken,
}

impl ListenContext {
    pub fn address_of(&self, role: &str) -> Option<SocketAddr> {
        self.addresses
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, a)| *a)
    }
}

/// One accepted connection, handed to [`DialectListener::serve`].
#[derive(Debug)]
pub struct Accepted {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// The role of the endpoint it came in on.
    pub endpoint: &'static str,
    pub context: Arc<ListenContext>,
}

impl Accepted {
    pub fn hub(&self) -> &Hub {
        &self.context.hub
    }

    pub fn limits(&self) -> &Limits {
        &self.context.limits
    }

    pub fn shutdown(&self) -> &CancellationToken {
        &self.context.shutdown
    }

    /// Attach to the hub with the dialect's default options.
    pub fn attach(&self) -> (HubConn, Outbound) {
        self.attach_with(AttachOptions::for_dialect(self.context.dialect))
    }

    pub fn attach_with(&self, options: AttachOptions) -> (HubConn, Outbound) {
        let hub = self.context.hub.clone();
        let (id, outbound) = hub.attach_with(self.context.dialect, self.peer, options);
        (HubConn { hub, id }, outbound)
    }
}

/// A connection's membership in the hub: detached when dropped, however the task ends.
#[derive(Debug)]
pub struct HubConn {
    hub: Hub,
    id: ConnId,
}

impl HubConn {
    pub fn id(&self) -> ConnId {
        self.id
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn handle(&self, command: Command) -> Result<(), HubError> {
        self.hub.handle(self.id, command)
    }

    /// See [`Hub::handle_until_refused`].
    pub fn handle_until_refused(
        &self,
        commands: &mut impl Iterator<Item = (usize, Command)>,
    ) -> Option<(usize, &'static str, HubError)> {
        self.hub.handle_until_refused(self.id, commands)
    }
}

impl Drop for HubConn {
    fn drop(&mut self) {
        self.hub.detach(self.id);
    }
}

/// What the running listeners of a server share: the cap and the shutdown signals.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    pub cap: Arc<Semaphore>,
    pub tracker: TaskTracker,
    /// Stop accepting (connections learn of the shutdown from their hub queue, which the
    /// hub closes once what it holds is written).
    pub shutdown: CancellationToken,
    /// The connection tasks, to drop what still runs when the grace period is over.
    pub connections: ConnectionTasks,
    pub refused: Arc<AtomicU64>,
}

impl Runtime {
    pub(crate) fn new(cap: usize) -> Self {
        Runtime {
            cap: Arc::new(Semaphore::new(cap)),
            tracker: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            connections: ConnectionTasks::default(),
            refused: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// Serve every endpoint of `listener` on its bound socket.
pub(crate) fn spawn<L: DialectListener>(
    listener: L,
    sockets: Vec<(&'static str, TcpListener)>,
    context: Arc<ListenContext>,
    runtime: &Runtime,
) {
    let listener = Arc::new(listener);
    for (role, socket) in sockets {
        let task = accept_loop(
            listener.clone(),
            socket,
            role,
            context.clone(),
            runtime.clone(),
        );
        runtime.tracker.spawn(task);
    }
}

async fn accept_loop<L: DialectListener>(
    listener: Arc<L>,
    socket: TcpListener,
    role: &'static str,
    context: Arc<ListenContext>,
    runtime: Runtime,
) {
    let dialect = context.dialect;
    loop {
        let accepted = tokio::select! {
            _ = runtime.shutdown.cancelled() => break,
            accepted = socket.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors or a transient network error: do not spin.
                tracing::warn!(%dialect, role, error = %e, "accept failed");
                tokio::select! {
                    _ = runtime.shutdown.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                }
            }
        };
        let Ok(permit) = runtime.cap.clone().try_acquire_owned() else {
            // Over the cap: close at once (the client sees an orderly close, not a
            // connection left hanging in the backlog).
            let refused = runtime.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused == 1 || refused.is_power_of_two() {
                tracing::warn!(%dialect, %peer, refused, "connection cap reached: refusing connections");
            }
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let conn = Accepted {
            stream,
            peer,
            endpoint: role,
            context: context.clone(),
        };
        let listener = listener.clone();
        let serve = |registration| async move {
            let _registration = registration;
            let _permit = permit;
            listener.serve(conn).await;
        };
        if !runtime.connections.spawn(&runtime.tracker, serve) {
            tracing::debug!(%dialect, %peer, "accepted during the shutdown: closed");
        }
    }
    tracing::debug!(%dialect, role, "stopped accepting");
}

#[cfg(test)]
mod tests;
