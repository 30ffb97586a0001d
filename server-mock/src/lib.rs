//! server-mock: one reference server for all five imkit dialects.
//!
//! One [`Hub`](crate) holds all state; one listener per dialect only translates between its
//! wire and the hub. The public surface other crates use (loadgen embeds the server, imchat's
//! tests start it) is [`ServerConfig`] and [`Server`].

use std::net::SocketAddr;

use imkit_protocols::Dialect;

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// One entry per dialect to serve, with the address of its first listener (port 0 picks
    /// a free port). Dialects with two listeners (simple-im HTTP + TCP, fishchat gateway +
    /// msg_server, eutamias dispatcher + notificer) place the second one beside the first.
    pub listen: Vec<(Dialect, SocketAddr)>,
}

impl ServerConfig {
    /// Every dialect on 127.0.0.1 with free ports (what tests and the embedded mock use).
    pub fn ephemeral(dialects: &[Dialect]) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        ServerConfig {
            listen: dialects.iter().map(|d| (*d, any)).collect(),
        }
    }
}

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

/// A running server.
#[derive(Debug)]
pub struct Server {
    listening: Vec<(Dialect, String)>,
}

impl Server {
    /// Bind every listener and start serving.
    pub async fn start(config: ServerConfig) -> Result<Server, ServerError> {
        match config.listen.first() {
            Some((dialect, _)) => Err(ServerError::NotBuilt(*dialect)),
            None => Ok(Server {
                listening: Vec::new(),
            }),
        }
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

    /// Stop accepting, flush what is queued, close every connection.
    pub async fn shutdown(self) {}
}
