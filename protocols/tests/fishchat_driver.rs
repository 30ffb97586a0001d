//! The fishchat drivers against scripted peers on 127.0.0.1: the gateway hop, login,
//! heartbeats, a bad frame from the server, reconnect after the msg_server drops us.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

use imkit_protocols::driver::InlineConnection;
use imkit_protocols::fishchat::{Cmd, frame_bytes};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, Message, MessageId, UserId,
};

const WAIT: Duration = Duration::from_secs(10);

fn s(v: &str) -> String {
    v.to_owned()
}

fn config(dialect: Dialect, address: String) -> DriverConfig {
    let mut config = DriverConfig::new(dialect, address).with_credentials(Credentials {
        user: Some(UserId::from("alice")),
        ..Credentials::default()
    });
    config.heartbeat = Some(Duration::from_millis(150));
    config.reconnect.initial = Duration::from_millis(20);
    config.reconnect.max_attempts = Some(20);
    config.connect_timeout = Duration::from_secs(5);
    config.reply_timeout = Duration::from_secs(5);
    config
}

async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
    timeout(WAIT, async {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        stream.read_exact(&mut body).await.unwrap();
        let mut frame = header.to_vec();
        frame.extend(body);
        frame
    })
    .await
    .expect("a frame from the client")
}

/// Both ways of driving a connection: in a task of its own, or inline in the caller's task.
trait Client: Sized {
    async fn open(config: DriverConfig) -> imkit_protocols::Result<Self>;
    async fn recv(&mut self) -> Option<Event>;
    async fn send(&mut self, command: Command) -> imkit_protocols::Result<()>;
}

impl Client for Connection {
    async fn open(config: DriverConfig) -> imkit_protocols::Result<Self> {
        Connection::connect(config).await
    }
    async fn recv(&mut self) -> Option<Event> {
        Connection::recv(self).await
    }
    async fn send(&mut self, command: Command) -> imkit_protocols::Result<()> {
        Connection::send(self, command).await
    }
}

impl Client for InlineConnection {
    async fn open(config: DriverConfig) -> imkit_protocols::Result<Self> {
        InlineConnection::connect(config).await
    }
    async fn recv(&mut self) -> Option<Event> {
        InlineConnection::recv(self).await
    }
    async fn send(&mut self, command: Command) -> imkit_protocols::Result<()> {
        InlineConnection::send(self, command).await
    }
}

/// What the server saw next, while the client is being driven (an inline connection only
/// writes its heartbeats while its owner waits for events). No event may come meanwhile.
async fn seen_while_driving<C: Client, T>(
    conn: &mut C,
    seen: &mut mpsc::UnboundedReceiver<T>,
) -> T {
    timeout(WAIT, async {
        tokio::select! {
            got = seen.recv() => got.expect("the server is running"),
            event = conn.recv() => panic!("unexpected event {event:?}"),
        }
    })
    .await
    .expect("the server saw something in time")
}

async fn next_event<C: Client>(conn: &mut C) -> Event {
    timeout(WAIT, conn.recv())
        .await
        .expect("an event in time")
        .expect("the driver is running")
}

/// The next event that is not a heartbeat-era connection notice we do not care about.
async fn expect_event<C: Client>(conn: &mut C, expected: Event) {
    let got = next_event(conn).await;
    assert_eq!(got, expected);
}

/// A scripted gateway: for each of `rounds` connections, expect the exact REQ_MSG_SERVER
/// frame, answer with the msg_server's real address, close.
async fn gateway(listener: TcpListener, msg_server: String, rounds: usize) {
    for _ in 0..rounds {
        let (mut stream, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let request = read_frame(&mut stream).await;
        assert_eq!(
            request,
            b"\0\0\0\x27{\"CmdName\":\"REQ_MSG_SERVER\",\"Args\":[]}\n"
        );
        stream
            .write_all(&frame_bytes(&Cmd::SelectMsgServerForClient {
                addr: msg_server.clone(),
            }))
            .await
            .unwrap();
        drop(stream);
    }
}

#[tokio::test]
async fn lookup_login_heartbeat_bad_frame_and_reconnect() {
    lookup_login_heartbeat_bad_frame_and_reconnect_with::<Connection>().await;
}

#[tokio::test]
async fn the_inline_driver_does_the_same_in_the_callers_task() {
    lookup_login_heartbeat_bad_frame_and_reconnect_with::<InlineConnection>().await;
}

async fn lookup_login_heartbeat_bad_frame_and_reconnect_with<C: Client>() {
    let gw = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ms = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ms_addr = ms.local_addr().unwrap().to_string();
    let gw_addr = gw.local_addr().unwrap().to_string();
    let gateway_task = tokio::spawn(gateway(gw, ms_addr.clone(), 2));

    // The msg_server reports every frame it reads, in order.
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(u32, Vec<u8>)>();
    let (go_on_tx, mut go_on) = mpsc::unbounded_channel::<()>();
    let server = tokio::spawn(async move {
        // First connection: login, deliver (after a bad frame), heartbeat, then drop the socket.
        let (mut stream, _) = timeout(WAIT, ms.accept()).await.unwrap().unwrap();
        seen_tx.send((1, read_frame(&mut stream).await)).unwrap();
        let mut bad = 8u32.to_be_bytes().to_vec();
        bad.extend(b"not json");
        stream.write_all(&bad).await.unwrap();
        stream.write_all(&0u32.to_be_bytes()).await.unwrap();
        stream
            .write_all(&frame_bytes(&Cmd::RespMessageP2p {
                msg: s("hello <b>&"),
                from: s("bob"),
                uuid: s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"),
            }))
            .await
            .unwrap();
        seen_tx.send((1, read_frame(&mut stream).await)).unwrap();
        timeout(WAIT, go_on.recv()).await.unwrap();
        drop(stream);

        // Second connection (after a new lookup): login again, flush an offline message,
        // then read what the client sends.
        let (mut stream, _) = timeout(WAIT, ms.accept()).await.unwrap().unwrap();
        seen_tx.send((2, read_frame(&mut stream).await)).unwrap();
        stream
            .write_all(&frame_bytes(&Cmd::RespMessageP2p {
                msg: s("while you were out"),
                from: s("carol"),
                uuid: s("55f3037f-2d36-40da-b30a-9a7f64da0a35"),
            }))
            .await
            .unwrap();
        // Skip heartbeats until the client's own command arrives.
        for _ in 0..100 {
            let frame = read_frame(&mut stream).await;
            let ping = frame_bytes(&Cmd::SendPing);
            if frame != ping {
                seen_tx.send((2, frame)).unwrap();
                break;
            }
        }
        stream
    });

    let mut conn = timeout(WAIT, C::open(config(Dialect::Fishchat, gw_addr)))
        .await
        .unwrap()
        .unwrap();

    expect_event(
        &mut conn,
        Event::LookedUp {
            address: ms_addr.clone(),
        },
    )
    .await;
    expect_event(
        &mut conn,
        Event::LoggedIn {
            user: UserId::from("alice"),
            token: None,
        },
    )
    .await;
    expect_event(
        &mut conn,
        Event::Connection(ConnectionState::Online { reconnect: false }),
    )
    .await;
    let login = b"\0\0\0\x2e{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"alice\"]}\n".to_vec();
    assert_eq!(seen.recv().await.unwrap(), (1, login.clone()));

    // The bad frame is one error event; the empty frame is ignored; the stream goes on.
    match next_event(&mut conn).await {
        Event::Error {
            code: None,
            message,
        } => assert!(message.contains("invalid JSON")),
        other => panic!("{other:?}"),
    }
    expect_event(
        &mut conn,
        Event::Delivered(Message {
            conversation: Conversation::User(UserId::from("bob")),
            from: UserId::from("bob"),
            id: Some(MessageId::Text(s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"))),
            content: s("hello <b>&"),
        }),
    )
    .await;

    // The heartbeat, exactly as the reference client writes it.
    let heartbeat = seen_while_driving(&mut conn, &mut seen).await;
    assert_eq!(
        heartbeat,
        (
            1,
            b"\0\0\0\x28{\"CmdName\":\"SEND_PING\",\"Args\":[\"PING\"]}\n".to_vec()
        )
    );

    // The msg_server drops us: lost, reconnecting, then the whole bootstrap again.
    go_on_tx.send(()).unwrap();
    match next_event(&mut conn).await {
        Event::Connection(ConnectionState::Lost { .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut after = next_event(&mut conn).await;
    while matches!(
        after,
        Event::Connection(ConnectionState::Reconnecting { .. }) | Event::Error { .. }
    ) {
        after = next_event(&mut conn).await;
    }
    assert_eq!(
        after,
        Event::LookedUp {
            address: ms_addr.clone()
        }
    );
    expect_event(
        &mut conn,
        Event::LoggedIn {
            user: UserId::from("alice"),
            token: None,
        },
    )
    .await;
    expect_event(
        &mut conn,
        Event::Connection(ConnectionState::Online { reconnect: true }),
    )
    .await;
    assert_eq!(
        timeout(WAIT, seen.recv()).await.unwrap().unwrap(),
        (2, login)
    );
    match next_event(&mut conn).await {
        Event::Delivered(Message { content, id, .. }) => {
            assert_eq!(content, "while you were out");
            assert_eq!(
                id,
                Some(MessageId::Text(s("55f3037f-2d36-40da-b30a-9a7f64da0a35")))
            );
        }
        other => panic!("{other:?}"),
    }

    // A send after the reconnect goes out as SEND_MESSAGE_P2P [to, msg, me], Go-escaped.
    conn.send(Command::Send {
        to: Conversation::User(UserId::from("bob")),
        client_ref: s("r1"),
        content: s("hi <3"),
    })
    .await
    .unwrap();
    let sent = timeout(WAIT, seen.recv()).await.unwrap().unwrap();
    let body = "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"bob\",\"hi \\u003c3\",\"alice\"]}\n";
    let mut expected = (body.len() as u32).to_be_bytes().to_vec();
    expected.extend(body.as_bytes());
    assert_eq!(sent, (2, expected));

    // Asking for what fishchat cannot say is refused up front.
    assert!(matches!(
        conn.send(Command::Match).await,
        Err(Error::Unsupported {
            dialect: Dialect::Fishchat,
            ..
        })
    ));

    let _socket = timeout(WAIT, server).await.unwrap().unwrap();
    timeout(WAIT, gateway_task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_gateway_that_closes_without_an_answer_is_a_clear_error() {
    let gw = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gw_addr = gw.local_addr().unwrap().to_string();
    let peer = tokio::spawn(async move {
        let (mut stream, _) = timeout(WAIT, gw.accept()).await.unwrap().unwrap();
        read_frame(&mut stream).await;
        // An unknown command first (ignored), then close without SELECT_MSG_SERVER_FOR_CLIENT.
        stream
            .write_all(&frame_bytes(&Cmd::Unknown {
                name: s("WHATEVER"),
                args: vec![],
            }))
            .await
            .unwrap();
    });
    let result = timeout(
        WAIT,
        Connection::connect(config(Dialect::Fishchat, gw_addr)),
    )
    .await
    .unwrap();
    match result {
        Err(Error::Refused { reason, .. }) => {
            assert!(reason.contains("SELECT_MSG_SERVER_FOR_CLIENT"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    peer.await.unwrap();
}

#[tokio::test]
async fn a_login_needs_a_user_id() {
    let config = DriverConfig::new(Dialect::Fishchat, "127.0.0.1:1");
    assert!(matches!(
        Connection::connect(config).await,
        Err(Error::Unsupported { .. })
    ));
}

async fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    let n = timeout(WAIT, reader.read_line(&mut line))
        .await
        .expect("a line in time")
        .unwrap();
    assert!(n > 0, "the client closed");
    line
}

#[tokio::test]
async fn the_text_driver_speaks_lines_directly_and_reconnects() {
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = server.local_addr().unwrap().to_string();
    let (seen_tx, mut seen) = mpsc::unbounded_channel::<(u32, String)>();
    let peer = tokio::spawn(async move {
        let (stream, _) = timeout(WAIT, server.accept()).await.unwrap().unwrap();
        let mut reader = BufReader::new(stream);
        seen_tx.send((1, read_line(&mut reader).await)).unwrap();
        reader
            .get_mut()
            .write_all(b"RESP_MESSAGE_TOPIC t1 \"hey all\" bob\r\nLOCATE_TOPIC_MSG_ADDR\n")
            .await
            .unwrap();
        seen_tx.send((1, read_line(&mut reader).await)).unwrap();
        drop(reader);

        let (stream, _) = timeout(WAIT, server.accept()).await.unwrap().unwrap();
        let mut reader = BufReader::new(stream);
        seen_tx.send((2, read_line(&mut reader).await)).unwrap();
        for _ in 0..100 {
            let line = read_line(&mut reader).await;
            if line != "SEND_PING PING\n" {
                seen_tx.send((2, line)).unwrap();
                break;
            }
        }
    });

    let mut conn = timeout(
        WAIT,
        Connection::connect(config(Dialect::FishchatText, address)),
    )
    .await
    .unwrap()
    .unwrap();
    // No gateway hop in the text form.
    expect_event(
        &mut conn,
        Event::LoggedIn {
            user: UserId::from("alice"),
            token: None,
        },
    )
    .await;
    expect_event(
        &mut conn,
        Event::Connection(ConnectionState::Online { reconnect: false }),
    )
    .await;
    assert_eq!(seen.recv().await.unwrap(), (1, s("SEND_CLIENT_ID alice\n")));
    match next_event(&mut conn).await {
        Event::Delivered(Message {
            conversation: Conversation::Group(group),
            from,
            content,
            ..
        }) => {
            assert_eq!(group.as_str(), "t1");
            assert_eq!(from.as_str(), "bob");
            assert_eq!(content, "hey all");
        }
        other => panic!("{other:?}"),
    }
    // Too few args from the server: an error event, not a crash.
    match next_event(&mut conn).await {
        Event::Error { message, .. } => assert!(message.contains("LOCATE_TOPIC_MSG_ADDR")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        timeout(WAIT, seen.recv()).await.unwrap().unwrap(),
        (1, s("SEND_PING PING\n"))
    );

    // Dropped: reconnect straight to the text server and log in again.
    let mut after = next_event(&mut conn).await;
    while !matches!(after, Event::LoggedIn { .. }) {
        assert!(
            matches!(
                after,
                Event::Connection(ConnectionState::Lost { .. })
                    | Event::Connection(ConnectionState::Reconnecting { .. })
                    | Event::Error { .. }
            ),
            "{after:?}"
        );
        after = next_event(&mut conn).await;
    }
    expect_event(
        &mut conn,
        Event::Connection(ConnectionState::Online { reconnect: true }),
    )
    .await;
    assert_eq!(
        timeout(WAIT, seen.recv()).await.unwrap().unwrap(),
        (2, s("SEND_CLIENT_ID alice\n"))
    );
    // A message over the frame limit fails alone; the connection goes on.
    conn.send(Command::Send {
        to: Conversation::User(UserId::from("bob")),
        client_ref: s(""),
        content: "x".repeat(100_000),
    })
    .await
    .unwrap();
    match next_event(&mut conn).await {
        Event::Error { message, .. } => assert!(message.contains("frame limit"), "{message}"),
        other => panic!("{other:?}"),
    }
    conn.send(Command::Send {
        to: Conversation::User(UserId::from("bob")),
        client_ref: s(""),
        content: s("hello \"bob\""),
    })
    .await
    .unwrap();
    assert_eq!(
        timeout(WAIT, seen.recv()).await.unwrap().unwrap(),
        (2, s("SEND_MESSAGE_P2P bob \"hello \\\"bob\\\"\" alice\n"))
    );
    timeout(WAIT, peer).await.unwrap().unwrap();
}
