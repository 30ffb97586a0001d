//! newim end to end over real sockets on 127.0.0.1: the protocols driver as the client for
//! the flows, raw WebSocket clients for the bytes and the bad input.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::net::{WsStream, connect_ws};
use imkit_protocols::newim::{ChatMessage, ChatOp, MessageType};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Event,
    GroupId, Message, MessageId, UserId,
};
use imkit_server_mock::hub::AccountsFile;
use imkit_server_mock::hub::accounts_file::FileUser;
use imkit_server_mock::{Server, ServerConfig};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage};

/// Every wait is bounded by this (generous: the machine is shared).
const WAIT: Duration = Duration::from_secs(10);

async fn start(config: ServerConfig) -> (Server, String) {
    let server = Server::start(config).await.expect("server starts");
    let url = server
        .client_address(Dialect::Newim)
        .expect("newim is listening");
    (server, url)
}

async fn ephemeral() -> (Server, String) {
    start(ServerConfig::ephemeral(&[Dialect::Newim])).await
}

fn config(url: &str, uid: &str) -> DriverConfig {
    DriverConfig::new(Dialect::Newim, url).with_credentials(Credentials {
        user: Some(UserId::new(uid)),
        ..Credentials::default()
    })
}

/// A driver connection, its login events already checked.
async fn driver(url: &str, uid: &str) -> Connection {
    connect_driver(config(url, uid)).await
}

async fn connect_driver(config: DriverConfig) -> Connection {
    let uid = config.credentials.user.clone();
    let mut conn = timeout(WAIT, Connection::connect(config))
        .await
        .expect("connect in time")
        .expect("connect");
    assert_eq!(
        next(&mut conn).await,
        Event::LoggedIn {
            user: uid.expect("a uid"),
            token: None
        }
    );
    assert_eq!(
        next(&mut conn).await,
        Event::Connection(ConnectionState::Online { reconnect: false })
    );
    conn
}

async fn next(conn: &mut Connection) -> Event {
    timeout(WAIT, conn.recv())
        .await
        .expect("an event in time")
        .expect("the driver is running")
}

/// Skip events until one matches (connection-state events, notices of other tests…).
async fn until(conn: &mut Connection, wanted: impl Fn(&Event) -> bool) -> Event {
    for _ in 0..100 {
        let event = next(conn).await;
        if wanted(&event) {
            return event;
        }
    }
    panic!("no matching event among 100");
}

/// Ping and expect the echo as the very next event: nothing else was queued before it.
async fn nothing_else_queued(conn: &mut Connection) {
    conn.send(Command::Ping).await.unwrap();
    assert_eq!(next(conn).await, Event::Pong);
}

fn group(name: &str) -> GroupId {
    GroupId::new(name)
}

async fn join(conn: &mut Connection, name: &str) {
    conn.send(Command::JoinGroup { group: group(name) })
        .await
        .unwrap();
    assert_eq!(
        next(conn).await,
        Event::GroupJoined {
            group: group(name),
            server: None
        }
    );
}

async fn chat(conn: &Connection, name: &str, text: &str) {
    conn.send(Command::Send {
        to: Conversation::Group(group(name)),
        client_ref: String::new(),
        content: text.into(),
    })
    .await
    .unwrap();
}

fn delivered(name: &str, from: &str, id: u64, text: &str) -> Event {
    Event::Delivered(Message {
        conversation: Conversation::Group(group(name)),
        from: UserId::new(from),
        id: Some(MessageId::Seq(id)),
        content: text.into(),
    })
}

fn accepted(id: u64) -> Event {
    Event::Accepted {
        client_ref: None,
        id: Some(MessageId::Seq(id)),
    }
}

// ---- raw clients ----

async fn raw(url: &str, cookie: &str) -> WsStream {
    connect_ws(url, &[("Cookie", cookie.to_owned())], None, WAIT, 1 << 20)
        .await
        .expect("raw upgrade")
}

async fn raw_recv(ws: &mut WsStream) -> Option<WsMessage> {
    loop {
        match timeout(WAIT, ws.next()).await.expect("a frame in time") {
            Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_))) => continue,
            Some(Ok(message)) => return Some(message),
            Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) | None => return None,
            Some(Err(e)) => panic!("read: {e}"),
        }
    }
}

async fn raw_binary(ws: &mut WsStream) -> Vec<u8> {
    match raw_recv(ws).await {
        Some(WsMessage::Binary(bytes)) => bytes.to_vec(),
        other => panic!("expected a binary frame, got {other:?}"),
    }
}

/// The connection is alive: a text frame comes back verbatim as the next frame.
async fn raw_echo(ws: &mut WsStream, text: &str) {
    ws.send(WsMessage::text(text)).await.unwrap();
    assert_eq!(raw_recv(ws).await, Some(WsMessage::text(text)));
}

/// The server closed: a close frame with `code`, then the end.
async fn raw_closed(ws: &mut WsStream, code: CloseCode) -> String {
    match raw_recv(ws).await {
        Some(WsMessage::Close(Some(frame))) => {
            assert_eq!(frame.code, code, "{frame:?}");
            frame.reason.as_str().to_owned()
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
}

fn box_message(boxid: &str, op: ChatOp, mtype: MessageType, sender: &str) -> ChatMessage {
    ChatMessage {
        boxid: boxid.into(),
        group: 0,
        uuid: None,
        sender: Some(sender.into()),
        receiver: None,
        body: None,
        mtype: mtype as i32,
        op: op as i32,
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- flows with the driver ----

#[tokio::test]
async fn join_chat_fan_out_to_every_member_with_increasing_uuids() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    let mut j2 = driver(&url, "john-2").await;
    let mut j3 = driver(&url, "john-3").await;

    // Boxes are created by the first JOIN; each join is announced to the members so far.
    join(&mut j1, "123").await;
    join(&mut j2, "123").await;
    let member_joined = |uid: &str| Event::MemberJoined {
        group: group("123"),
        user: UserId::new(uid),
    };
    assert_eq!(next(&mut j1).await, member_joined("john-2"));
    join(&mut j3, "123").await;
    assert_eq!(next(&mut j1).await, member_joined("john-3"));
    assert_eq!(next(&mut j2).await, member_joined("john-3"));

    // A CHAT reaches every member, the sender included: its own copy is its acceptance.
    chat(&j1, "123", "hi").await;
    assert_eq!(next(&mut j1).await, accepted(1));
    assert_eq!(next(&mut j2).await, delivered("123", "john-1", 1, "hi"));
    assert_eq!(next(&mut j3).await, delivered("123", "john-1", 1, "hi"));

    // The uuid increases within the box, whoever sends.
    chat(&j2, "123", "hello").await;
    chat(&j3, "123", "hey").await;
    assert_eq!(next(&mut j1).await, delivered("123", "john-2", 2, "hello"));
    assert_eq!(next(&mut j1).await, delivered("123", "john-3", 3, "hey"));
    assert_eq!(next(&mut j2).await, accepted(2));
    assert_eq!(next(&mut j2).await, delivered("123", "john-3", 3, "hey"));
    assert_eq!(next(&mut j3).await, delivered("123", "john-2", 2, "hello"));
    assert_eq!(next(&mut j3).await, accepted(3));

    // Another box counts on its own and does not reach the members of the first.
    join(&mut j1, "456").await;
    chat(&j1, "456", "alone").await;
    assert_eq!(next(&mut j1).await, accepted(1));
    nothing_else_queued(&mut j2).await;
    nothing_else_queued(&mut j3).await;
    assert_eq!(server.hub().stats().accepted, 4);
    server.shutdown().await;
}

#[tokio::test]
async fn quit_is_announced_to_the_members_and_stops_delivery() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    let mut j2 = driver(&url, "john-2").await;
    join(&mut j1, "box").await;
    join(&mut j2, "box").await;
    until(&mut j1, |e| matches!(e, Event::MemberJoined { .. })).await;

    j2.send(Command::LeaveGroup {
        group: group("box"),
    })
    .await
    .unwrap();
    // The leaver's own QUIT notice is its confirmation; the others see MemberLeft.
    assert_eq!(
        next(&mut j2).await,
        Event::Done {
            operation: "leave_group".into()
        }
    );
    assert_eq!(
        next(&mut j1).await,
        Event::MemberLeft {
            group: group("box"),
            user: UserId::new("john-2")
        }
    );
    chat(&j1, "box", "still there?").await;
    assert_eq!(next(&mut j1).await, accepted(1));
    nothing_else_queued(&mut j2).await;

    // Quitting again (not a member any more) is ignored, the connection stays.
    j2.send(Command::LeaveGroup {
        group: group("box"),
    })
    .await
    .unwrap();
    nothing_else_queued(&mut j2).await;
    server.shutdown().await;
}

#[tokio::test]
async fn ack_is_ignored_and_the_text_echo_is_the_ping() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    let mut j2 = driver(&url, "john-2").await;
    join(&mut j1, "b").await;
    join(&mut j2, "b").await;
    chat(&j1, "b", "ack me").await;
    assert_eq!(next(&mut j2).await, delivered("b", "john-1", 1, "ack me"));
    j2.send(Command::Ack {
        conversation: Conversation::Group(group("b")),
        id: MessageId::Seq(1),
    })
    .await
    .unwrap();
    // No answer to the ACK: the next thing j2 hears is its ping's echo.
    nothing_else_queued(&mut j2).await;
    nothing_else_queued(&mut j2).await;
    assert!(matches!(next(&mut j1).await, Event::MemberJoined { .. }));
    assert_eq!(next(&mut j1).await, accepted(1));
    nothing_else_queued(&mut j1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn reconnect_rejoins_the_boxes_and_chat_goes_on() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    let mut j2 = driver(&url, "john-2").await;
    join(&mut j1, "123").await;
    join(&mut j2, "123").await;

    // CHAT to a box j2 never joined: the server closes its connection (strict), and the
    // driver reconnects with a new upgrade and JOINs its boxes again.
    chat(&j2, "elsewhere", "wrong box").await;
    until(&mut j2, |e| {
        matches!(e, Event::Connection(ConnectionState::Lost { .. }))
    })
    .await;
    until(&mut j2, |e| {
        *e == Event::LoggedIn {
            user: UserId::new("john-2"),
            token: None,
        }
    })
    .await;
    assert_eq!(
        next(&mut j2).await,
        Event::Connection(ConnectionState::Online { reconnect: true })
    );
    assert_eq!(
        next(&mut j2).await,
        Event::GroupJoined {
            group: group("123"),
            server: None
        }
    );

    chat(&j1, "123", "welcome back").await;
    assert_eq!(
        next(&mut j2).await,
        delivered("123", "john-1", 1, "welcome back")
    );
    chat(&j2, "123", "thanks").await;
    assert_eq!(next(&mut j2).await, accepted(2));
    until(&mut j1, |e| *e == delivered("123", "john-2", 2, "thanks")).await;
    // The refused message was never accepted, so it was never delivered.
    assert_eq!(server.hub().stats().accepted, 2);
    server.shutdown().await;
}

#[tokio::test]
async fn a_member_offline_gets_the_box_at_its_next_upgrade() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    join(&mut j1, "123").await;
    let mut away = raw(&url, "sid=john-2").await;
    let join_frame = box_message("123", ChatOp::Join, MessageType::Sync, "john-2");
    away.send(WsMessage::binary(join_frame.to_bytes()))
        .await
        .unwrap();
    raw_binary(&mut away).await;
    away.close(None).await.unwrap();
    drop(away);
    let offline = async {
        while server.hub().is_online(&UserId::new("john-2")) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    timeout(WAIT, offline).await.expect("john-2 goes offline");

    chat(&j1, "123", "while you were away").await;
    until(&mut j1, |e| *e == accepted(1)).await;
    // No JOIN needed: membership outlives the connection, and the copy was kept.
    let mut back = raw(&url, "sid=john-2").await;
    let copy = ChatMessage::decode_from(&raw_binary(&mut back).await);
    assert_eq!(copy.uuid.as_deref(), Some("1"));
    assert_eq!(copy.sender.as_deref(), Some("john-1"));
    assert_eq!(copy.body.as_deref(), Some("while you were away"));
    raw_echo(&mut back, "nothing more").await;
    server.shutdown().await;
}

// ---- bytes on the wire ----

trait DecodeFrom {
    fn decode_from(bytes: &[u8]) -> Self;
}

impl DecodeFrom for ChatMessage {
    fn decode_from(bytes: &[u8]) -> Self {
        imkit_protocols::newim::decode_chat_message(bytes, 1 << 20)
            .expect("the server sends complete ChatMessages")
    }
}

#[tokio::test]
async fn the_stored_copy_byte_for_byte() {
    let (server, url) = ephemeral().await;
    // Any path: the gateway takes whatever URI the upgrade names.
    let base = url.trim_end_matches("/websocket");
    let mut j9 = raw(&format!("{base}/some/other/path"), "sid=john-9").await;
    let mut j8 = raw(&url, "sid=john-8").await;

    // The note's JOIN for box "123", claiming to be john-1: the cookie (john-9) wins.
    j9.send(WsMessage::binary(hex(
        "0a03313233 1000 2206 6a6f686e2d31 3807 4000",
    )))
    .await
    .unwrap();
    assert_eq!(
        raw_binary(&mut j9).await,
        hex("0a03313233 1000 2206 6a6f686e2d39 3807 4000"),
        "the JOIN notice: boxid, group, sender = the cookie's uid, SYNC, JOIN"
    );
    let join8 = box_message("123", ChatOp::Join, MessageType::Sync, "john-8");
    j8.send(WsMessage::binary(join8.to_bytes())).await.unwrap();
    assert_eq!(
        raw_binary(&mut j8).await,
        hex("0a03313233 1000 2206 6a6f686e2d38 3807 4000")
    );
    assert_eq!(
        raw_binary(&mut j9).await,
        hex("0a03313233 1000 2206 6a6f686e2d38 3807 4000"),
        "john-9 hears of john-8"
    );

    // The note's CHAT "hi" (without receiver), again claiming john-1.
    let chat = hex("0a03313233 1000 2206 6a6f686e2d31 3202 6869 3800 4002");
    j9.send(WsMessage::binary(chat.clone())).await.unwrap();
    // The stored copy: uuid "1" after group, sender overwritten, required fields present.
    let copy = hex("0a03313233 1000 1a0131 2206 6a6f686e2d39 3202 6869 3800 4002");
    assert_eq!(raw_binary(&mut j9).await, copy, "the sender's own copy");
    assert_eq!(raw_binary(&mut j8).await, copy, "the member's copy");
    j9.send(WsMessage::binary(chat)).await.unwrap();
    let second = hex("0a03313233 1000 1a0132 2206 6a6f686e2d39 3202 6869 3800 4002");
    assert_eq!(raw_binary(&mut j9).await, second);
    assert_eq!(raw_binary(&mut j8).await, second);

    // Text frames come back verbatim, whatever they say.
    raw_echo(&mut j8, "not even an imkit ping ✓").await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_upgrade_without_a_uid_is_refused_with_a_hint() {
    let (server, url) = ephemeral().await;
    for headers in [vec![], vec![("Cookie", "sid=".to_owned())]] {
        match connect_ws(&url, &headers, None, WAIT, 1 << 16).await {
            Err(imkit_protocols::Error::WebSocket(e)) => match *e {
                WsError::Http(response) => {
                    assert_eq!(response.status(), 403);
                    let body = String::from_utf8_lossy(response.body().as_deref().unwrap_or(&[]))
                        .into_owned();
                    assert!(body.contains("Cookie: sid=<user id>"), "{body}");
                }
                other => panic!("expected an HTTP refusal, got {other}"),
            },
            other => panic!("expected a refusal for {headers:?}, got {other:?}"),
        }
    }
    // Several cookies: the original's split gives the uid "1; b", and so do we.
    let mut odd = raw(&url, "a=1; b=2").await;
    odd.send(WsMessage::binary(
        box_message("x", ChatOp::Join, MessageType::Sync, "a").to_bytes(),
    ))
    .await
    .unwrap();
    let notice = ChatMessage::decode_from(&raw_binary(&mut odd).await);
    assert_eq!(notice.sender.as_deref(), Some("1; b"));
    // The refused upgrades left nothing attached.
    let settled = async {
        while server.hub().stats().connections != 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    timeout(WAIT, settled)
        .await
        .expect("only the accepted connection stays attached");
    server.shutdown().await;
}

#[tokio::test]
async fn with_accounts_an_unknown_uid_is_refused() {
    let mut config = ServerConfig::ephemeral(&[Dialect::Newim]);
    config.hub.accounts = Some(AccountsFile {
        users: vec![FileUser {
            id: UserId::new("john-1"),
            password: None,
            nick: None,
            groups: vec![group("lobby")],
        }],
    });
    let (server, url) = start(config).await;
    match connect_ws(
        &url,
        &[("Cookie", "sid=mallory".into())],
        None,
        WAIT,
        1 << 16,
    )
    .await
    {
        Err(imkit_protocols::Error::WebSocket(e)) => match *e {
            WsError::Http(response) => {
                assert_eq!(response.status(), 403);
                let body =
                    String::from_utf8_lossy(response.body().as_deref().unwrap_or(&[])).into_owned();
                assert!(body.contains("unknown user mallory"), "{body}");
            }
            other => panic!("expected an HTTP refusal, got {other}"),
        },
        other => panic!("expected a refusal, got {other:?}"),
    }
    // A listed user is in its listed box from the start.
    let mut j1 = driver(&url, "john-1").await;
    chat(&j1, "lobby", "hi").await;
    assert_eq!(next(&mut j1).await, accepted(1));
    server.shutdown().await;
}

// ---- bad input ----

#[tokio::test]
async fn bad_frames_cost_only_themselves() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    join(&mut j1, "123").await;
    let mut bad = raw(&url, "sid=john-6").await;
    let join6 = box_message("123", ChatOp::Join, MessageType::Sync, "john-6");
    bad.send(WsMessage::binary(join6.to_bytes())).await.unwrap();
    raw_binary(&mut bad).await;
    until(&mut j1, |e| matches!(e, Event::MemberJoined { .. })).await;

    let garbage: Vec<Vec<u8>> = vec![
        vec![0xff, 0xff, 0xff],
        // boxid, group, mtype present, op missing.
        hex("0a03313233 1000 3807"),
        // op = 9: unknown, which the original counts as missing.
        hex("0a03313233 1000 3807 4009"),
        // A declared length past the end.
        hex("0a7f 3132"),
        // Garbage at exactly the frame limit is still only a bad frame.
        vec![0xff; 65536],
    ];
    for frame in garbage {
        bad.send(WsMessage::binary(frame)).await.unwrap();
        raw_echo(&mut bad, "still here").await;
    }
    // The same connection still chats, and the others never noticed.
    let mut hello = box_message("123", ChatOp::Chat, MessageType::SmallText, "john-6");
    hello.body = Some("after the garbage".into());
    bad.send(WsMessage::binary(hello.to_bytes())).await.unwrap();
    assert_eq!(
        ChatMessage::decode_from(&raw_binary(&mut bad).await)
            .uuid
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        next(&mut j1).await,
        delivered("123", "john-6", 1, "after the garbage")
    );
    nothing_else_queued(&mut j1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_frame_closes_only_that_connection() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    let mut j2 = driver(&url, "john-2").await;
    join(&mut j1, "123").await;
    join(&mut j2, "123").await;
    let mut big = raw(&url, "sid=john-7").await;
    big.send(WsMessage::binary(vec![0u8; 65537])).await.unwrap();
    let reason = raw_closed(&mut big, CloseCode::Size).await;
    assert_eq!(reason, "frame larger than 65536 bytes");
    assert_eq!(raw_recv(&mut big).await, None);

    chat(&j1, "123", "unaffected").await;
    assert_eq!(
        next(&mut j2).await,
        delivered("123", "john-1", 1, "unaffected")
    );
    until(&mut j1, |e| *e == accepted(1)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn chat_to_a_box_not_joined_closes_with_the_reason() {
    let (server, url) = ephemeral().await;
    let mut j1 = driver(&url, "john-1").await;
    join(&mut j1, "123").await;
    let mut intruder = raw(&url, "sid=john-5").await;
    let mut chat = box_message("123", ChatOp::Chat, MessageType::SmallText, "john-5");
    chat.body = Some("let me in".into());
    intruder
        .send(WsMessage::binary(chat.to_bytes()))
        .await
        .unwrap();
    let reason = raw_closed(&mut intruder, CloseCode::Policy).await;
    assert_eq!(reason, "not in box 123: send JOIN first");
    // Nothing reached the box.
    nothing_else_queued(&mut j1).await;
    assert_eq!(server.hub().stats().accepted, 0);
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_connection_is_closed_at_the_idle_timeout() {
    let mut config = ServerConfig::ephemeral(&[Dialect::Newim]);
    config.limits.idle_timeout = Some(Duration::from_millis(300));
    let (server, url) = start(config).await;
    let mut quiet = raw(&url, "sid=john-4").await;
    assert_eq!(raw_closed(&mut quiet, CloseCode::Away).await, "idle");
    server.shutdown().await;
}

// ---- the binary ----

#[test]
fn the_binary_announces_its_url_and_serves_it() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command as Process, Stdio};

    let mut child = Process::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "newim=127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run server-mock");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WAIT);
    let result = std::panic::catch_unwind(|| {
        let line = line.expect("an announcement in time");
        let url = line
            .trim_end()
            .strip_prefix("listening newim ")
            .unwrap_or_else(|| panic!("unexpected line {line:?}"))
            .to_owned();
        assert!(
            url.starts_with("ws://127.0.0.1:") && url.ends_with("/websocket"),
            "{url}"
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let mut j1 = driver(&url, "john-1").await;
            nothing_else_queued(&mut j1).await;
            join(&mut j1, "123").await;
        });
    });
    // Ours to end: the child we started, by its handle.
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}
