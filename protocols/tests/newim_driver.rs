//! The newim driver against scripted WebSocket peers on 127.0.0.1.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::newim::{
    ChatMessage, ChatOp, Frame, MessageType, decode_client_frame, echo, encode_server_frame,
    frame_to_command, uid_from_headers,
};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, DEFAULT_MAX_FRAME, Dialect,
    DriverConfig, Error, Event, GroupId, Message, MessageId, ReconnectPolicy, UserId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::http::HeaderMap;

const WAIT: Duration = Duration::from_secs(10);

fn config(port: u16, user: &str) -> DriverConfig {
    let mut config = DriverConfig::new(Dialect::Newim, format!("ws://127.0.0.1:{port}/websocket"))
        .with_credentials(Credentials {
            user: Some(UserId::new(user)),
            ..Credentials::default()
        });
    config.connect_timeout = WAIT;
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: Some(20),
    };
    config
}

/// Accept one upgrade like the gateway: any path, note the path and the headers.
async fn accept(listener: &TcpListener) -> (WebSocketStream<TcpStream>, String, HeaderMap) {
    let (stream, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("the client connects")
        .unwrap();
    let mut seen = None;
    // The callback's error type is tungstenite's (large) HTTP response; we never refuse.
    #[allow(clippy::result_large_err)]
    let note = |req: &Request, resp: Response| {
        seen = Some((req.uri().path().to_owned(), req.headers().clone()));
        Ok(resp)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, note)
        .await
        .unwrap();
    let (path, headers) = seen.unwrap();
    (ws, path, headers)
}

/// The next application frame from the client.
async fn next_frame(ws: &mut WebSocketStream<TcpStream>) -> (WsMessage, Frame) {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a frame in time")
            .expect("the stream is open")
            .unwrap();
        if let Some(frame) = decode_client_frame(&message, DEFAULT_MAX_FRAME).unwrap() {
            return (message, frame);
        }
    }
}

/// Wait for the first event matching `wanted`, skipping the others.
async fn expect(conn: &mut Connection, wanted: impl Fn(&Event) -> bool) -> Event {
    let wait = async {
        loop {
            let event = conn.recv().await.expect("the driver is running");
            if wanted(&event) {
                return event;
            }
        }
    };
    tokio::time::timeout(WAIT, wait)
        .await
        .expect("the event in time")
}

/// The gateway's stored copy of `message`, sent by `uid` under `id`.
fn stored(message: &Frame, uid: &str, id: u64) -> WsMessage {
    let Frame::Chat(message) = message else {
        panic!("expected a binary frame");
    };
    encode_server_frame(&message.stored_copy(&UserId::new(uid), id))
}

#[tokio::test]
async fn login_join_chat_and_ping() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = tokio::spawn(async move {
        let (mut ws, path, headers) = accept(&listener).await;
        assert_eq!(path, "/websocket");
        assert_eq!(headers.get("cookie").unwrap(), "sid=john-1");
        let uid = uid_from_headers(&headers).expect("an identity");
        assert_eq!(uid, UserId::new("john-1"));

        let (_, join) = next_frame(&mut ws).await;
        assert_eq!(
            frame_to_command(&join).unwrap(),
            Command::JoinGroup {
                group: GroupId::new("123")
            }
        );
        ws.send(stored(&join, uid.as_str(), 1)).await.unwrap();

        let (_, chat) = next_frame(&mut ws).await;
        assert_eq!(
            frame_to_command(&chat).unwrap(),
            Command::Send {
                to: Conversation::Group(GroupId::new("123")),
                client_ref: String::new(),
                content: "hi".into(),
            }
        );
        // Fan-out includes the sender; then a message from someone else.
        ws.send(stored(&chat, uid.as_str(), 2)).await.unwrap();
        let other = Frame::Chat(ChatMessage {
            boxid: "123".into(),
            body: Some("hello john".into()),
            mtype: MessageType::SmallText as i32,
            op: ChatOp::Chat as i32,
            ..Default::default()
        });
        ws.send(stored(&other, "john-2", 3)).await.unwrap();
        // A frame the client cannot read costs only itself.
        ws.send(WsMessage::binary(vec![0xffu8, 0xff]))
            .await
            .unwrap();

        let (ping, frame) = next_frame(&mut ws).await;
        assert_eq!(frame_to_command(&frame).unwrap(), Command::Ping);
        ws.send(echo(&ping).expect("text is echoed")).await.unwrap();

        // The client logs out by closing.
        let end = tokio::time::timeout(WAIT, async {
            loop {
                match ws.next().await {
                    None | Some(Err(_)) | Some(Ok(WsMessage::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
        .await;
        assert!(end.is_ok(), "the client closes the socket on logout");
    });

    let mut conn = Connection::connect(config(port, "john-1")).await.unwrap();
    assert_eq!(
        conn.recv().await,
        Some(Event::LoggedIn {
            user: UserId::new("john-1"),
            token: None
        })
    );
    conn.send(Command::JoinGroup {
        group: GroupId::new("123"),
    })
    .await
    .unwrap();
    let joined = expect(&mut conn, |e| matches!(e, Event::GroupJoined { .. })).await;
    assert_eq!(
        joined,
        Event::GroupJoined {
            group: GroupId::new("123"),
            server: None
        }
    );
    conn.send(Command::Send {
        to: Conversation::Group(GroupId::new("123")),
        client_ref: "c1".into(),
        content: "hi".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        expect(&mut conn, |e| matches!(e, Event::Accepted { .. })).await,
        Event::Accepted {
            client_ref: None,
            id: Some(MessageId::Seq(2))
        }
    );
    assert_eq!(
        expect(&mut conn, |e| matches!(e, Event::Delivered(_))).await,
        Event::Delivered(Message {
            conversation: Conversation::Group(GroupId::new("123")),
            from: UserId::new("john-2"),
            id: Some(MessageId::Seq(3)),
            content: "hello john".into(),
        })
    );
    assert!(matches!(
        expect(&mut conn, |e| matches!(e, Event::Error { .. })).await,
        Event::Error { message, .. } if message.contains("newim")
    ));
    conn.send(Command::Ping).await.unwrap();
    assert_eq!(
        expect(&mut conn, |e| matches!(e, Event::Pong)).await,
        Event::Pong
    );
    conn.close().await;
    tokio::time::timeout(WAIT, peer).await.unwrap().unwrap();
}

#[tokio::test]
async fn join_frame_on_the_wire() {
    // A peer that does the upgrade by hand to see the raw bytes of the first frame:
    // §3 "82 93 <mask4>" then the 19-byte JOIN, masked.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut byte = [0u8; 1];
        while !request.ends_with(b"\r\n\r\n") {
            assert!(request.len() < 8192, "the upgrade request is small");
            stream.read_exact(&mut byte).await.unwrap();
            request.push(byte[0]);
        }
        let request = String::from_utf8(request).unwrap();
        assert!(
            request.starts_with("GET /websocket HTTP/1.1\r\n"),
            "{request}"
        );
        let header = |name: &str| {
            request
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
                })
                .unwrap_or_default()
        };
        assert_eq!(header("cookie"), "sid=john-1");
        assert_eq!(header("sec-websocket-version"), "13");
        let accept = derive_accept_key(header("sec-websocket-key").as_bytes());
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        stream.write_all(response.as_bytes()).await.unwrap();

        let mut head = [0u8; 6];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head[..2], &[0x82, 0x93]);
        let mut payload = [0u8; 19];
        stream.read_exact(&mut payload).await.unwrap();
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= head[2 + i % 4];
        }
        assert_eq!(
            payload,
            [
                0x0a, 0x03, 0x31, 0x32, 0x33, 0x10, 0x00, 0x22, 0x06, 0x6a, 0x6f, 0x68, 0x6e, 0x2d,
                0x31, 0x38, 0x07, 0x40, 0x00
            ]
        );
    });
    let mut config = config(port, "john-1");
    config.reconnect = ReconnectPolicy::never();
    let conn = Connection::connect(config).await.unwrap();
    conn.send(Command::JoinGroup {
        group: GroupId::new("123"),
    })
    .await
    .unwrap();
    tokio::time::timeout(WAIT, peer).await.unwrap().unwrap();
}

#[tokio::test]
async fn reconnects_after_the_peer_drops_and_rejoins() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = tokio::spawn(async move {
        let (mut ws, _, headers) = accept(&listener).await;
        assert_eq!(uid_from_headers(&headers), Some(UserId::new("john-1")));
        let (_, join) = next_frame(&mut ws).await;
        assert_eq!(
            frame_to_command(&join).unwrap(),
            Command::JoinGroup {
                group: GroupId::new("123")
            }
        );
        drop(ws); // The gateway goes away without a close frame.

        let (mut ws, _, headers) = accept(&listener).await;
        assert_eq!(uid_from_headers(&headers), Some(UserId::new("john-1")));
        let (_, rejoin) = next_frame(&mut ws).await;
        assert_eq!(rejoin, join, "the same JOIN is sent again");
        ws.send(stored(&rejoin, "john-1", 7)).await.unwrap();
        ws
    });

    let mut conn = Connection::connect(config(port, "john-1")).await.unwrap();
    conn.send(Command::JoinGroup {
        group: GroupId::new("123"),
    })
    .await
    .unwrap();
    expect(&mut conn, |e| {
        matches!(e, Event::Connection(ConnectionState::Lost { .. }))
    })
    .await;
    expect(&mut conn, |e| {
        matches!(
            e,
            Event::Connection(ConnectionState::Online { reconnect: true })
        )
    })
    .await;
    assert_eq!(
        expect(&mut conn, |e| matches!(e, Event::GroupJoined { .. })).await,
        Event::GroupJoined {
            group: GroupId::new("123"),
            server: None
        }
    );
    let _ws = tokio::time::timeout(WAIT, peer).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_user_id_is_required_and_must_survive_the_cookie_split() {
    let mut config = DriverConfig::new(Dialect::Newim, "ws://127.0.0.1:9/websocket");
    let err = Connection::connect(config.clone()).await.unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    config.credentials.user = Some(UserId::new("a=b"));
    let err = Connection::connect(config).await.unwrap_err();
    assert!(err.to_string().contains("'='"), "{err}");
}

#[tokio::test]
async fn unsupported_commands_are_refused_before_the_wire() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = tokio::spawn(async move { accept(&listener).await });
    let conn = Connection::connect(config(port, "john-1")).await.unwrap();
    let err = conn
        .send(Command::Send {
            to: Conversation::User(UserId::new("john-2")),
            client_ref: String::new(),
            content: "hi".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
    let _ = tokio::time::timeout(WAIT, peer).await.unwrap().unwrap();
}
