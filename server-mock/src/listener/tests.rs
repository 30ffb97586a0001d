//! The framework with real sockets on 127.0.0.1 and a trivial line dialect (test only):
//! `login NAME`, `send USER TEXT`, `ping`, `panic`; the server writes one line per event.
//! A second endpoint, `lookup`, answers with the first one's address and closes (a gateway).

use std::net::SocketAddr;
use std::time::Duration;

use imkit_protocols::{Command, Conversation, Dialect, Event, UserId};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedReadHalf;
use tokio::time::timeout;

use super::*;
use crate::hub::{HubError, Outgoing};
use crate::{Server, ServerConfig};

const WAIT: Duration = Duration::from_secs(10);

struct LineDialect;

impl DialectListener for LineDialect {
    fn dialect(&self) -> Dialect {
        Dialect::Newim
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[
            Endpoint {
                role: "lines",
                default_port: 18999,
            },
            Endpoint {
                role: "lookup",
                default_port: 18998,
            },
        ]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        format!("lines://{first}")
    }

    async fn serve(&self, conn: Accepted) {
        if conn.endpoint == "lookup" {
            let lines = conn.context.address_of("lines");
            let mut stream = conn.stream;
            let reply = format!("{}\n", lines.map(|a| a.to_string()).unwrap_or_default());
            let _ = stream.write_all(reply.as_bytes()).await;
            return;
        }
        let (hub_conn, outbound) = conn.attach();
        let Accepted {
            stream, context, ..
        } = conn;
        let (read, write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let first = match timeout(context.limits.handshake_timeout, lines.next_line()).await {
            Ok(Ok(Some(line))) => line,
            _ => return,
        };
        let mut wire = LineWire {
            lines,
            write,
            pings: None,
            last_pong: tokio::time::Instant::now(),
            ping_every: context.timers.chat_ping_interval,
            max_wait: context.timers.chat_max_wait,
        };
        let Some(name) = first.strip_prefix("login ") else {
            let _ = wire.write.write_all(b"error: log in first\n").await;
            return;
        };
        // Users named pinged-* get chat's heartbeat: PING every interval, logout on silence.
        if name.starts_with("pinged-") {
            wire.pings = Some(tokio::time::Instant::now() + wire.ping_every);
        }
        let login = Command::Login {
            user: UserId::from(name),
            secret: None,
            device: None,
        };
        if hub_conn.handle(login).is_err() {
            return;
        }
        pump(&mut wire, &hub_conn, outbound, &context).await;
    }
}

struct LineWire {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
    pings: Option<tokio::time::Instant>,
    last_pong: tokio::time::Instant,
    ping_every: Duration,
    max_wait: Duration,
}

impl Wire for LineWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> imkit_protocols::Result<bool> {
        let Some(line) = self.lines.next_line().await? else {
            return Ok(false);
        };
        if line == "panic" {
            panic!("the line dialect was asked to panic");
        }
        let command = match line.split_once(' ') {
            Some(("send", rest)) => match rest.split_once(' ') {
                Some((to, text)) => {
                    let to = match to.strip_prefix('#') {
                        Some(group) => Conversation::Group(group.into()),
                        None => Conversation::User(UserId::from(to)),
                    };
                    Command::Send {
                        to,
                        client_ref: String::new(),
                        content: text.into(),
                    }
                }
                None => {
                    return Err(imkit_protocols::Error::malformed(
                        Dialect::Newim,
                        "send what?",
                    ));
                }
            },
            _ if line == "ping" => Command::Ping,
            _ if line == "pong" => {
                self.last_pong = tokio::time::Instant::now();
                Command::Pong
            }
            // Ignored, as the originals ignore unknown commands.
            _ if line.is_empty() => return Ok(true),
            _ => return Err(imkit_protocols::Error::malformed(Dialect::Newim, line)),
        };
        commands.push(command);
        Ok(true)
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> imkit_protocols::Result<()> {
        let mut out = String::new();
        for event in items.drain(..).map(Outgoing::into_event) {
            out.push_str(&describe(&event));
            out.push('\n');
        }
        self.write.write_all(out.as_bytes()).await?;
        Ok(())
    }

    async fn refused(
        &mut self,
        _: &'static str,
        _: usize,
        error: &HubError,
    ) -> imkit_protocols::Result<bool> {
        self.write
            .write_all(format!("error: {error}\n").as_bytes())
            .await?;
        Ok(true)
    }

    fn next_timer(&self) -> Option<tokio::time::Instant> {
        self.pings
    }

    async fn on_timer(&mut self, conn: &HubConn) -> imkit_protocols::Result<()> {
        if self.last_pong.elapsed() > self.max_wait {
            // chat: log out, stop pinging, keep the socket.
            self.pings = None;
            let _ = conn.hub().logout(conn.id());
            self.write.write_all(b"logged_out\n").await?;
        } else {
            self.pings = Some(tokio::time::Instant::now() + self.ping_every);
            self.write.write_all(b"PING\n").await?;
        }
        Ok(())
    }

    async fn close(&mut self, _: &End) {
        let _ = self.write.shutdown().await;
    }
}

fn describe(event: &Event) -> String {
    match event {
        Event::LoggedIn { user, .. } => format!("logged_in {user}"),
        Event::Delivered(m) => format!("delivered {} {}", m.from, m.content),
        Event::Accepted { id, .. } => format!(
            "accepted {}",
            id.clone().map(|i| i.to_string()).unwrap_or_default()
        ),
        other => other.kind().to_owned(),
    }
}

struct Client {
    lines: Lines<BufReader<OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    async fn connect(address: SocketAddr) -> Client {
        let stream = timeout(WAIT, TcpStream::connect(address))
            .await
            .expect("connect in time")
            .expect("connect");
        let (read, write) = stream.into_split();
        Client {
            lines: BufReader::new(read).lines(),
            write,
        }
    }

    async fn login(address: SocketAddr, name: &str) -> Client {
        let mut client = Client::connect(address).await;
        client.say(&format!("login {name}")).await;
        assert_eq!(client.next().await, Some(format!("logged_in {name}")));
        client
    }

    async fn say(&mut self, line: &str) {
        self.write
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write");
    }

    /// The next line, or `None` at end of stream.
    async fn next(&mut self) -> Option<String> {
        timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line or the end in time")
            .ok()
            .flatten()
    }
}

fn config() -> ServerConfig {
    ServerConfig {
        hub: crate::HubConfig {
            seed: Some(1),
            ..crate::HubConfig::default()
        },
        ..ServerConfig::default()
    }
}

async fn start(config: &ServerConfig) -> (Server, SocketAddr) {
    let mut server = Server::bare(config);
    server
        .add_listener(LineDialect, SocketAddr::from(([127, 0, 0, 1], 0)), config)
        .await
        .expect("bind");
    let address = server.bound()[0].2;
    (server, address)
}

#[tokio::test]
async fn two_clients_chat_through_the_hub() {
    let (server, address) = start(&config()).await;
    assert_eq!(
        server.listening(),
        &[(Dialect::Newim, format!("lines://{address}"))]
    );
    assert_eq!(
        server.client_address(Dialect::Newim),
        Some(format!("lines://{address}"))
    );
    let mut alice = Client::login(address, "alice").await;
    let mut bob = Client::login(address, "bob").await;
    alice.say("send bob hello there").await;
    assert_eq!(alice.next().await.as_deref(), Some("accepted 1"));
    assert_eq!(
        bob.next().await.as_deref(),
        Some("delivered alice hello there")
    );
    bob.say("ping").await;
    assert_eq!(bob.next().await.as_deref(), Some("pong"));
    server.shutdown().await;
}

#[tokio::test]
async fn the_second_endpoint_sits_beside_the_first_and_knows_it() {
    let (server, address) = start(&config()).await;
    let bound = server.bound().to_vec();
    assert_eq!(bound.len(), 2);
    assert_eq!(bound[1].1, "lookup");
    assert_ne!(bound[1].2.port(), 0);
    let mut gateway = Client::connect(bound[1].2).await;
    assert_eq!(gateway.next().await, Some(address.to_string()));
    assert_eq!(gateway.next().await, None, "the lookup hop closes");
    server.shutdown().await;
}

#[tokio::test]
async fn above_the_cap_connections_are_refused_and_the_others_go_on() {
    let config = ServerConfig {
        max_connections: Some(2),
        ..config()
    };
    let (server, address) = start(&config).await;
    let mut alice = Client::login(address, "alice").await;
    let bob = Client::login(address, "bob").await;
    let mut third = Client::connect(address).await;
    third.say("login carol").await;
    assert_eq!(third.next().await, None, "closed at once");
    alice.say("send bob still here").await;
    assert_eq!(alice.next().await.as_deref(), Some("accepted 1"));

    // When one leaves, its place is free again (once its task has ended).
    drop(bob);
    let mut admitted = false;
    for _ in 0..100 {
        let mut carol = Client::connect(address).await;
        carol.say("login carol").await;
        if carol.next().await.as_deref() == Some("logged_in carol") {
            admitted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(admitted, "a place freed up");
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_closed_after_the_handshake_timeout() {
    let mut config = config();
    config.limits.handshake_timeout = Duration::from_millis(200);
    let (server, address) = start(&config).await;
    let mut silent = Client::connect(address).await;
    assert_eq!(silent.next().await, None);
    let mut alice = Client::login(address, "alice").await;
    alice.say("ping").await;
    assert_eq!(alice.next().await.as_deref(), Some("pong"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_panicking_connection_takes_only_itself_down() {
    let (server, address) = start(&config()).await;
    let mut alice = Client::login(address, "alice").await;
    let mut mallory = Client::login(address, "mallory").await;
    mallory.say("panic").await;
    assert_eq!(mallory.next().await, None);
    // Detached by its guard: messages to mallory are now kept for later.
    for _ in 0..100 {
        if !server.hub().is_online(&UserId::from("mallory")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!server.hub().is_online(&UserId::from("mallory")));
    alice.say("send mallory are you there").await;
    assert_eq!(alice.next().await.as_deref(), Some("accepted 1"));
    assert_eq!(server.hub().stats().pending, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_flushes_closes_and_leaves_no_port_bound() {
    let (server, address) = start(&config()).await;
    let lookup = server.bound()[1].2;
    let mut alice = Client::login(address, "alice").await;
    let mut bob = Client::login(address, "bob").await;
    alice.say("send bob last words").await;
    assert_eq!(alice.next().await.as_deref(), Some("accepted 1"));
    server.shutdown().await;
    assert_eq!(
        bob.next().await.as_deref(),
        Some("delivered alice last words")
    );
    assert_eq!(bob.next().await, None);
    assert_eq!(alice.next().await, None);
    for port in [address, lookup] {
        let again = std::net::TcpListener::bind(port);
        assert!(again.is_ok(), "{port} is free again: {again:?}");
    }
}

#[tokio::test]
async fn shutdown_cuts_connections_that_do_not_finish_in_the_grace_period() {
    struct Stubborn;
    impl DialectListener for Stubborn {
        fn dialect(&self) -> Dialect {
            Dialect::Newim
        }
        fn endpoints(&self) -> &'static [Endpoint] {
            &[Endpoint {
                role: "ws",
                default_port: 8180,
            }]
        }
        fn client_url(&self, first: SocketAddr) -> String {
            format!("ws://{first}/")
        }
        async fn serve(&self, conn: Accepted) {
            let _keep = conn;
            std::future::pending::<()>().await;
        }
    }
    let mut config = config();
    config.limits.shutdown_grace = Duration::from_millis(100);
    let mut server = Server::bare(&config);
    server
        .add_listener(Stubborn, SocketAddr::from(([127, 0, 0, 1], 0)), &config)
        .await
        .unwrap();
    let address = server.bound()[0].2;
    let mut client = Client::connect(address).await;
    client.say("hello?").await;
    timeout(WAIT, server.shutdown())
        .await
        .expect("shutdown ends");
    assert_eq!(client.next().await, None);
    assert!(std::net::TcpListener::bind(address).is_ok());
}

#[tokio::test]
async fn a_busy_port_is_reported_with_the_dialect_and_a_way_out() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap();
    let config = config();
    let mut server = Server::bare(&config);
    let error = server
        .add_listener(LineDialect, address, &config)
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot listen for newim on {address}: ")),
        "{error}"
    );
    let hint = error.hint().unwrap();
    assert!(
        hint.contains(&format!("port {} is already in use", address.port())),
        "{hint}"
    );
    assert!(hint.contains("--listen newim=127.0.0.1:PORT"), "{hint}");
}

#[tokio::test]
async fn an_empty_server_serves_nothing() {
    let empty = Server::start(ServerConfig::ephemeral(&[])).await.unwrap();
    assert!(empty.listening().is_empty());
    empty.shutdown().await;
}

#[test]
fn the_announcement_is_one_exact_line() {
    assert_eq!(
        crate::announcement(Dialect::ChatJson, "ws://127.0.0.1:18224/ws"),
        "listening chat-json ws://127.0.0.1:18224/ws"
    );
}

#[tokio::test]
async fn refusals_are_answered_and_bad_input_closes_only_that_connection() {
    let (server, address) = start(&config()).await;
    let mut alice = Client::login(address, "alice").await;
    let mut bob = Client::login(address, "bob").await;
    alice.say("send #nowhere hi").await;
    assert_eq!(
        alice.next().await.as_deref(),
        Some("error: unknown group nowhere")
    );
    alice.say("").await;
    alice.say("ping").await;
    assert_eq!(alice.next().await.as_deref(), Some("pong"), "still there");
    bob.say("gibberish").await;
    assert_eq!(bob.next().await, None, "bob alone is closed");
    alice.say("send bob kept for you").await;
    assert_eq!(alice.next().await.as_deref(), Some("accepted 1"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_idle_client_is_closed() {
    let mut config = config();
    config.limits.idle_timeout = Some(Duration::from_millis(200));
    let (server, address) = start(&config).await;
    let mut alice = Client::login(address, "alice").await;
    assert_eq!(alice.next().await, None);
    server.shutdown().await;
}

/// A client that stops reading cannot keep its connection (and an open file) forever: the
/// write it does not take ends the connection after the write timeout, and what the hub
/// still had queued for it is kept for its next login.
#[tokio::test]
async fn a_client_that_stops_reading_is_closed_after_the_write_timeout() {
    let mut config = config();
    config.limits.write_timeout = Duration::from_millis(300);
    let (server, address) = start(&config).await;
    let _stuck = Client::login(address, "stuck").await;
    let mut alice = Client::login(address, "alice").await;
    // More than the socket buffers on both sides hold (loopback grows them to a few MB);
    // fewer events than the outbound queue holds, so the hub never drops it as slow.
    let text = "x".repeat(64 * 1024);
    let sends = 400;
    for _ in 0..sends {
        alice.say(&format!("send stuck {text}")).await;
    }
    for _ in 0..sends {
        assert!(
            alice
                .next()
                .await
                .is_some_and(|l| l.starts_with("accepted"))
        );
    }
    let stuck = UserId::from("stuck");
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.hub().is_online(&stuck) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the connection that stopped reading is still open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut again = Client::login(address, "stuck").await;
    let first = again.next().await.expect("what was kept");
    assert!(first.starts_with("delivered alice xxx"), "{}", &first[..40]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_dialect_timer_pings_and_logs_out_a_silent_client_but_keeps_its_socket() {
    let mut config = config();
    config.timers.chat_ping_interval = Duration::from_millis(50);
    config.timers.chat_max_wait = Duration::from_millis(300);
    let (server, address) = start(&config).await;
    let mut quiet = Client::login(address, "pinged-quiet").await;
    let mut pings = 0;
    loop {
        match quiet.next().await.as_deref() {
            Some("PING") => pings += 1,
            Some("logged_out") => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(pings >= 1);
    assert!(!server.hub().is_online(&UserId::from("pinged-quiet")));
    quiet.say("send bob still there?").await;
    assert_eq!(quiet.next().await.as_deref(), Some("error: not logged in"));
    quiet.say("ping").await;
    assert_eq!(
        quiet.next().await.as_deref(),
        Some("pong"),
        "the socket stays"
    );
    server.shutdown().await;
}
