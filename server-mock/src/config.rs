//! How to serve: addresses, limits, the originals' timers, and the hub's knobs. Everything
//! has a default, so `ServerConfig { listen, ..ServerConfig::default() }` works.

use std::net::SocketAddr;
use std::time::Duration;

use imkit_protocols::Dialect;

use crate::hub::HubConfig;

/// Where and how to serve.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    /// One entry per dialect to serve, with the address of its first listener (port 0 picks
    /// a free port). Dialects with two listeners (simple-im HTTP + TCP, fishchat gateway +
    /// msg_server, eutamias dispatcher + notificer) place the second one beside the first:
    /// on port 0 if the first is on 0, on its original port if the first is on its
    /// original port, else on the first's port + 1 (+ 2…), unless `endpoints` says.
    pub listen: Vec<(Dialect, SocketAddr)>,
    /// Explicit addresses for a dialect's other endpoints, by role
    /// (`--listen simple-im.tcp=127.0.0.1:1987`).
    pub endpoints: Vec<(Dialect, String, SocketAddr)>,
    pub hub: HubConfig,
    pub limits: Limits,
    pub timers: Timers,
    /// At most this many client connections (always below the open-file limit).
    pub max_connections: Option<usize>,
    /// Print `listening <dialect> <url>` on stdout once each dialect accepts (the binary
    /// does; an embedded server stays quiet).
    pub announce: bool,
}

impl ServerConfig {
    /// Every dialect on 127.0.0.1 with free ports (what tests and the embedded mock use).
    pub fn ephemeral(dialects: &[Dialect]) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        ServerConfig {
            listen: dialects.iter().map(|d| (*d, any)).collect(),
            ..ServerConfig::default()
        }
    }

    /// Every dialect at the originals' default ports on 127.0.0.1 (DESIGN.md §3).
    pub fn originals() -> Self {
        ServerConfig {
            listen: Dialect::ALL
                .iter()
                .map(|d| (*d, SocketAddr::from(([127, 0, 0, 1], default_port(*d)))))
                .collect(),
            ..ServerConfig::default()
        }
    }
}

/// The port a client of the original dials first.
pub fn default_port(dialect: Dialect) -> u16 {
    match dialect {
        Dialect::ChatJson => 18224,
        Dialect::SimpleIm => 8080,
        Dialect::Fishchat => 17000,
        Dialect::FishchatText => 17001,
        Dialect::Newim => 8180,
        Dialect::Eutamias => 54321,
    }
}

/// Per-connection limits every listener applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// From accept to a usable connection (WebSocket upgrade, first login line…).
    pub handshake_timeout: Duration,
    /// A connection that sends nothing for this long is closed (`None`: never; dialect
    /// heartbeats apply on top).
    pub idle_timeout: Option<Duration>,
    /// The largest frame or document accepted from a client.
    pub max_frame: usize,
    /// A write the client does not take in this long ends its connection: a client that
    /// stops reading would otherwise hold its connection (and an open file) for good.
    pub write_timeout: Duration,
    /// On shutdown, how long connections get to flush before they are cut.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            handshake_timeout: Duration::from_secs(10),
            // simple-im's heartbeat_timeout: the longest silence an original tolerates
            // by design.
            idle_timeout: Some(Duration::from_secs(600)),
            max_frame: imkit_protocols::DEFAULT_MAX_FRAME,
            write_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

/// The originals' timers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timers {
    /// chat: the server's app-level PING period (v1: 500 ms).
    pub chat_ping_interval: Duration,
    /// chat: logout when no PONG for longer than this (v1: 2 s).
    pub chat_max_wait: Duration,
    /// fishchat: the dead-session scan period (50 s; a session silent for two scans goes).
    pub fishchat_scan: Duration,
    /// eutamias: no heartbeat for this long logs the client out (3 missed 3 s beats).
    pub eutamias_heartbeat_timeout: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            chat_ping_interval: Duration::from_millis(500),
            chat_max_wait: Duration::from_secs(2),
            fishchat_scan: Duration::from_secs(50),
            eutamias_heartbeat_timeout: Duration::from_secs(9),
        }
    }
}
