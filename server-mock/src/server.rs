//! A running server: the hub, the listeners, and their orderly end.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use imkit_protocols::Dialect;
use tokio::net::TcpListener;

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::listener::{self, DialectListener, ListenContext, Runtime};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen for {dialect} on {address}: {source}")]
    Bind {
        dialect: Dialect,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the {0} listener is not built yet")]
    NotBuilt(Dialect),
}

impl ServerError {
    /// What the user can do about it, in plain words (the binary prints it).
    pub fn hint(&self) -> Option<String> {
        match self {
            ServerError::Bind {
                dialect,
                address,
                source,
            } if source.kind() == std::io::ErrorKind::AddrInUse => Some(format!(
                "port {} is already in use; stop what uses it, or choose another port with \
                 --listen {dialect}={}:PORT (0 picks a free one)",
                address.port(),
                address.ip()
            )),
            ServerError::Bind { source, .. }
                if source.kind() == std::io::ErrorKind::PermissionDenied =>
            {
                Some("ports below 1024 need privileges; choose a higher one with --listen".into())
            }
            ServerError::NotBuilt(dialect) => Some(format!(
                "leave it out (--dialect chooses which dialects to serve); {dialect} is not \
                 served by this build"
            )),
            ServerError::Bind { .. } => None,
        }
    }
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    listening: Vec<(Dialect, String)>,
    bound: Vec<(Dialect, &'static str, SocketAddr)>,
    hub: Hub,
    runtime: Runtime,
    grace: Duration,
    announce: bool,
}

impl Server {
    /// Bind every listener and start serving.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        let mut server = Server::bare(&config);
        for (dialect, first) in &config.listen {
            if let Err(e) = crate::dialects::start(&mut server, *dialect, *first, &config).await {
                server.shutdown().await;
                return Err(e);
            }
        }
        Ok(server)
    }

    /// A server with its hub and no listener yet (add them with [`Server::add_listener`]).
    pub fn bare(config: &ServerConfig) -> Server {
        let hub = Hub::new(config.hub.clone());
        let cap = listener::connection_cap(config.max_connections, listener::open_file_limit());
        tracing::info!(seed = hub.seed(), connection_cap = cap, "hub ready");
        Server {
            listening: Vec::new(),
            bound: Vec::new(),
            hub,
            runtime: Runtime::new(cap),
            grace: config.limits.shutdown_grace,
            announce: config.announce,
        }
    }

    /// Bind every endpoint of `listener` (the first on `first`, the others as
    /// [`ServerConfig::listen`] describes) and serve them.
    pub async fn add_listener<L: DialectListener>(
        &mut self,
        listener: L,
        first: SocketAddr,
        config: &ServerConfig,
    ) -> Result<(), ServerError> {
        let dialect = listener.dialect();
        let endpoints = listener.endpoints();
        let mut sockets = Vec::with_capacity(endpoints.len());
        let mut addresses = Vec::with_capacity(endpoints.len());
        for (index, endpoint) in endpoints.iter().enumerate() {
            let wanted = if index == 0 {
                first
            } else {
                endpoint_address(
                    config,
                    dialect,
                    endpoint,
                    endpoints[0].default_port,
                    first,
                    index,
                )
            };
            let socket = TcpListener::bind(wanted)
                .await
                .map_err(|source| ServerError::Bind {
                    dialect,
                    address: wanted,
                    source,
                })?;
            let bound = socket.local_addr().map_err(|source| ServerError::Bind {
                dialect,
                address: wanted,
                source,
            })?;
            sockets.push((endpoint.role, socket));
            addresses.push((endpoint.role, bound));
        }
        let Some((_, first_bound)) = addresses.first().copied() else {
            return Ok(());
        };
        let url = listener.client_url(first_bound);
        let context = Arc::new(ListenContext {
            hub: self.hub.clone(),
            dialect,
            limits: config.limits.clone(),
            timers: config.timers.clone(),
            addresses: addresses.clone(),
            shutdown: self.runtime.shutdown.clone(),
        });
        listener::spawn(listener, sockets, context, &self.runtime);
        for (role, address) in &addresses {
            tracing::info!(%dialect, role, %address, "listening");
            self.bound.push((dialect, role, *address));
        }
        if self.announce {
            println!("{}", announcement(dialect, &url));
        }
        self.listening.push((dialect, url));
        Ok(())
    }

    /// The address a client of `dialect` dials first (the value for
    /// `imkit_protocols::DriverConfig::address`), e.g. `ws://127.0.0.1:40123/ws`.
    pub fn client_address(&self, dialect: Dialect) -> Option<String> {
        self.listening
            .iter()
            .find(|(d, _)| *d == dialect)
            .map(|(_, url)| url.clone())
    }

    /// `(dialect, url)` of every listener, as printed in the `listening <dialect> <url>` lines.
    pub fn listening(&self) -> &[(Dialect, String)] {
        &self.listening
    }

    /// Every bound socket: dialect, endpoint role, address.
    pub fn bound(&self) -> &[(Dialect, &'static str, SocketAddr)] {
        &self.bound
    }

    /// The hub (for tests and embedders that want its stats).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Serve until SIGINT or SIGTERM, then shut down gracefully.
    pub async fn run_until_signal(self) -> std::io::Result<()> {
        wait_for_signal().await?;
        tracing::info!("signal received: shutting down");
        self.shutdown().await;
        Ok(())
    }

    /// Stop accepting, flush what is queued, close every connection. When this returns,
    /// no port is bound any more.
    pub async fn shutdown(self) {
        self.runtime.shutdown.cancel();
        self.hub.shutdown();
        self.runtime.tracker.close();
        if tokio::time::timeout(self.grace, self.runtime.tracker.wait())
            .await
            .is_err()
        {
            let open = self.runtime.connections.abort_all();
            tracing::warn!(grace = ?self.grace, open, "connections still open after the grace period: closing them");
            let _ = tokio::time::timeout(Duration::from_secs(2), self.runtime.tracker.wait()).await;
        }
    }
}

impl Drop for Server {
    /// Dropped without `shutdown`: stop everything anyway (tasks end at their next poll).
    fn drop(&mut self) {
        self.runtime.shutdown.cancel();
        self.runtime.connections.abort_all();
    }
}

/// The line scripts and tests read on stdout.
pub fn announcement(dialect: Dialect, url: &str) -> String {
    format!("listening {dialect} {url}")
}

fn endpoint_address(
    config: &ServerConfig,
    dialect: Dialect,
    endpoint: &crate::listener::Endpoint,
    first_default: u16,
    first: SocketAddr,
    index: usize,
) -> SocketAddr {
    if let Some((_, _, address)) = config
        .endpoints
        .iter()
        .find(|(d, role, _)| *d == dialect && role == endpoint.role)
    {
        return *address;
    }
    let port = match first.port() {
        0 => 0,
        p if p == first_default => endpoint.default_port,
        p => p.saturating_add(u16::try_from(index).unwrap_or(u16::MAX)),
    };
    SocketAddr::new(first.ip(), port)
}

async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result,
            _ = terminate.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
