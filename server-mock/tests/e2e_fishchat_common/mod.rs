//! What the fishchat and fishchat-text end-to-end tests share: starting the server, driver
//! clients, and raw clients for both framings.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use imkit_protocols::fishchat::{Cmd, FrameCodec, Inbound, frame_bytes};
use imkit_protocols::{
    Connection, Credentials, Dialect, DriverConfig, Event, Message, ReconnectPolicy, UserId,
};
use imkit_server_mock::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Decoder;

/// Every wait is bounded by this (generous: the machine is shared).
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

pub async fn start_ephemeral(dialects: &[Dialect]) -> Server {
    start(ServerConfig::ephemeral(dialects)).await
}

/// The bound address of an endpoint.
pub fn endpoint(server: &Server, dialect: Dialect, role: &str) -> SocketAddr {
    server
        .bound()
        .iter()
        .find(|(d, r, _)| *d == dialect && *r == role)
        .map(|(_, _, a)| *a)
        .unwrap_or_else(|| panic!("{dialect} {role} is bound"))
}

pub fn driver_config(server: &Server, dialect: Dialect, user: &str) -> DriverConfig {
    let mut config = DriverConfig::new(dialect, server.client_address(dialect).expect("url"));
    config.credentials = Credentials {
        user: Some(UserId::from(user)),
        ..Credentials::default()
    };
    config.reconnect = ReconnectPolicy::never();
    config.connect_timeout = WAIT;
    config.reply_timeout = WAIT;
    config
}

/// A driver client, logged in, and known to the hub as online.
pub async fn client(server: &Server, dialect: Dialect, user: &str) -> Connection {
    client_with(server, driver_config(server, dialect, user)).await
}

pub async fn client_with(server: &Server, config: DriverConfig) -> Connection {
    let user = config.credentials.user.clone().expect("user");
    let conn = timeout(WAIT, Connection::connect(config))
        .await
        .expect("connect in time")
        .expect("connect");
    wait_online(server, &user).await;
    conn
}

/// The hub has processed the user's SEND_CLIENT_ID (which has no reply to wait for).
pub async fn wait_online(server: &Server, user: &UserId) {
    let online = async {
        while !server.hub().is_online(user) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    timeout(WAIT, online)
        .await
        .unwrap_or_else(|_| panic!("{user} online in time"));
}

pub async fn wait_offline(server: &Server, user: &UserId) {
    let offline = async {
        while server.hub().is_online(user) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    timeout(WAIT, offline)
        .await
        .unwrap_or_else(|_| panic!("{user} offline in time"));
}

/// The hub keeps exactly `n` messages (offline + unacked).
pub async fn wait_pending(server: &Server, n: usize) {
    let settled = async {
        while server.hub().stats().pending != n {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    timeout(WAIT, settled).await.unwrap_or_else(|_| {
        panic!(
            "{n} messages pending in time; the hub has {}",
            server.hub().stats().pending
        )
    });
}

/// The next event that is not housekeeping (connection state, lookup, login).
pub async fn next_event(conn: &mut Connection) -> Event {
    loop {
        let event = timeout(WAIT, conn.recv())
            .await
            .expect("an event in time")
            .expect("the driver is running");
        match event {
            Event::Connection(_) | Event::LookedUp { .. } | Event::LoggedIn { .. } => continue,
            other => return other,
        }
    }
}

pub async fn next_delivery(conn: &mut Connection) -> Message {
    match next_event(conn).await {
        Event::Delivered(message) => message,
        other => panic!("expected a delivery, got {other:?}"),
    }
}

/// A raw client of either framing.
pub struct Raw {
    pub stream: TcpStream,
    buf: BytesMut,
    lines: bool,
}

impl Raw {
    pub async fn frames(addr: SocketAddr) -> Raw {
        Raw::connect(addr, false).await
    }

    pub async fn lines(addr: SocketAddr) -> Raw {
        Raw::connect(addr, true).await
    }

    async fn connect(addr: SocketAddr, lines: bool) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(addr))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw {
            stream,
            buf: BytesMut::new(),
            lines,
        }
    }

    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// One command as the original client frames it.
    pub async fn send(&mut self, cmd: Cmd) {
        assert!(!self.lines);
        self.send_bytes(&frame_bytes(&cmd)).await;
    }

    /// One frame with this JSON body (a newline is not added).
    pub async fn send_body(&mut self, body: &str) {
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        self.send_bytes(&frame).await;
    }

    pub async fn login(&mut self, server: &Server, user: &str) {
        self.send(Cmd::SendClientId {
            client_id: user.into(),
        })
        .await;
        wait_online(server, &UserId::from(user)).await;
    }

    /// The next whole frame, raw (header included).
    pub async fn recv_frame_bytes(&mut self) -> Vec<u8> {
        loop {
            if self.buf.len() >= 4 {
                let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]])
                    as usize;
                if self.buf.len() >= 4 + len {
                    return self.buf.split_to(4 + len).to_vec();
                }
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a frame in time")
                .expect("read");
            assert!(n > 0, "the server closed before a whole frame");
        }
    }

    pub async fn recv(&mut self) -> Cmd {
        let frame = self.recv_frame_bytes().await;
        match FrameCodec::default().decode(&mut BytesMut::from(&frame[..])) {
            Ok(Some(Inbound::Cmd(cmd))) => cmd,
            other => panic!("not a command: {other:?}"),
        }
    }

    /// The next line, without its `\n`.
    pub async fn recv_line(&mut self) -> String {
        assert!(self.lines);
        loop {
            if let Some(at) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(at + 1);
                return String::from_utf8(line[..at].to_vec()).expect("UTF-8 line");
            }
            let n = timeout(WAIT, self.stream.read_buf(&mut self.buf))
                .await
                .expect("a line in time")
                .expect("read");
            assert!(
                n > 0,
                "the server closed before a whole line: {:?}",
                self.buf
            );
        }
    }

    /// The server closes this connection (EOF, or a reset) within the wait, having sent
    /// nothing more.
    pub async fn expect_closed(&mut self) {
        let mut rest = Vec::new();
        match timeout(WAIT, self.stream.read_to_end(&mut rest)).await {
            Ok(Ok(_)) => {
                self.buf.extend_from_slice(&rest);
                assert!(
                    self.buf.is_empty(),
                    "unexpected data before the close: {:?}",
                    self.buf
                );
            }
            Ok(Err(e)) => assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ),
                "{e}"
            ),
            Err(_) => panic!("the server did not close the connection"),
        }
    }

    /// Nothing arrives and the connection stays open for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        let mut byte = [0u8; 1];
        match timeout(quiet, self.stream.read(&mut byte)).await {
            Err(_) => {}
            Ok(Ok(0)) => panic!("the server closed the connection"),
            Ok(Ok(_)) => panic!("unexpected data: {:?}", byte),
            Ok(Err(e)) => panic!("read failed: {e}"),
        }
    }
}
