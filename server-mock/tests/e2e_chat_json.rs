//! chat-json end to end over real sockets on 127.0.0.1: the protocols drivers as clients,
//! and a raw WebSocket client (hand-made frames) for byte-exact checks against the
//! protocol note (`/work/shared/protocols/chat-json.md` §9) and for bad input.
//!
//! chat has no lookup hop, no groups, no delivery ack and no password (accounts are
//! created by `CRT_ACCOUNT`); its refusal of a wrong credential is v2's `RECONNECT_RESP`
//! code 4 for a bad token, tested here.

use std::net::SocketAddr;
use std::time::Duration;

use imkit_protocols::chat_json::{Inbound, ServerMessage, decode_server_text};
use imkit_protocols::{
    Command, Connection, Conversation, Credentials, Dialect, DriverConfig, Event, Message,
    MessageId, ReconnectPolicy, SessionId, UserId,
};
use imkit_server_mock::{ChaosConfig, Latency, Server, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The bound of every wait: generous, the machine is shared.
const WAIT: Duration = Duration::from_secs(10);
/// Timers that never fire within a test (no app PINGs in transcripts).
const QUIET: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------------
// Server and driver helpers

fn config(ping: Duration, max_wait: Duration) -> ServerConfig {
    let mut config = ServerConfig::ephemeral(&[Dialect::ChatJson]);
    config.timers.chat_ping_interval = ping;
    config.timers.chat_max_wait = max_wait;
    config
}

async fn start(config: ServerConfig) -> (Server, String, SocketAddr) {
    let server = Server::start(config).await.expect("server starts");
    let url = server
        .client_address(Dialect::ChatJson)
        .expect("chat-json is served");
    let address = server.bound()[0].2;
    (server, url, address)
}

async fn driver(url: &str, nick: &str, v2: bool) -> Connection {
    let mut config = DriverConfig::new(Dialect::ChatJson, url).with_credentials(Credentials {
        nick: Some(nick.into()),
        ..Credentials::default()
    });
    config.chat_v2 = v2;
    config.reconnect = ReconnectPolicy::never();
    Connection::connect(config).await.expect("driver connects")
}

/// The next event from the server (the driver's own connection states skipped).
async fn next(conn: &mut Connection) -> Event {
    timeout(WAIT, async {
        loop {
            match conn.recv().await {
                Some(Event::Connection(_)) => continue,
                Some(event) => return event,
                None => panic!("the driver stopped"),
            }
        }
    })
    .await
    .expect("an event in time")
}

/// The login events of a fresh driver; returns its account id.
async fn registered(conn: &mut Connection, nick: &str, v2: bool) -> u64 {
    let Event::Registered {
        user,
        nick: n,
        token,
    } = next(conn).await
    else {
        panic!("Registered first");
    };
    assert_eq!(n, nick);
    assert_eq!(token.is_some(), v2, "only v2 has a token");
    assert_eq!(
        next(conn).await,
        Event::LoggedIn {
            user: user.clone(),
            token
        }
    );
    user.as_u64().expect("numeric account id")
}

fn session(id: u64) -> Conversation {
    Conversation::Session(SessionId(id))
}

fn send(id: u64, client_ref: &str, content: &str) -> Command {
    Command::Send {
        to: session(id),
        client_ref: client_ref.into(),
        content: content.into(),
    }
}

// ---------------------------------------------------------------------------------------
// A raw WebSocket client: masked frames out, whole frames (header included) in.

struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// A server text frame as it must look on the wire: `81 <len>` (or `81 7e <u16>`), payload.
fn framed(payload: &str) -> Vec<u8> {
    let mut frame = vec![0x81];
    let len = payload.len();
    if len < 126 {
        frame.push(len as u8);
    } else {
        frame.push(126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    }
    frame.extend_from_slice(payload.as_bytes());
    frame
}

/// A client frame (masked, as clients must send them).
fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= 0xffff {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

fn is_app_ping(frame: &[u8]) -> bool {
    frame.len() > 2 && frame[0] == 0x81 && frame[2..].starts_with(br#"{"cmd":"PING""#)
}

/// What the server answers to a raw HTTP request (it closes afterwards).
async fn http(address: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut out))
        .await
        .expect("the server answers and closes")
        .unwrap();
    String::from_utf8(out).unwrap()
}

impl Raw {
    async fn connect(address: SocketAddr) -> Raw {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let mut stream = TcpStream::connect(address).await.unwrap();
        let request = format!(
            "GET /ws HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        // Read the head byte by byte so no frame byte is taken with it.
        let mut reader = BufReader::with_capacity(1, stream);
        let mut head = String::new();
        timeout(WAIT, async {
            while !head.ends_with("\r\n\r\n") {
                assert!(
                    reader.read_line(&mut head).await.unwrap() > 0,
                    "EOF in head"
                );
            }
        })
        .await
        .expect("the upgrade reply in time");
        // §9.1: exactly these three headers, no subprotocol, no extension.
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                derive_accept_key(key.as_bytes())
            )
        );
        Raw {
            stream: reader.into_inner(),
            buf: Vec::new(),
        }
    }

    async fn send_frame(&mut self, opcode: u8, payload: &[u8]) {
        self.stream
            .write_all(&masked(opcode, payload))
            .await
            .unwrap();
    }

    async fn send(&mut self, text: &str) {
        self.send_frame(0x1, text.as_bytes()).await;
    }

    /// The bytes of one whole frame, if it arrives within `wait`; `None` on EOF.
    async fn frame_within(&mut self, wait: Duration) -> Option<Option<Vec<u8>>> {
        timeout(wait, async {
            loop {
                if let Some(len) = self.complete_frame_len() {
                    return Some(self.buf.drain(..len).collect());
                }
                let mut chunk = [0u8; 4096];
                match self.stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                }
            }
        })
        .await
        .ok()
    }

    fn complete_frame_len(&self) -> Option<usize> {
        let b = &self.buf;
        if b.len() < 2 {
            return None;
        }
        assert_eq!(b[1] & 0x80, 0, "server frames are not masked");
        let (header, len) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (4, u16::from_be_bytes([b[2], b[3]]) as usize),
            127 if b.len() >= 10 => (
                10,
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
            ),
            126 | 127 => return None,
            n => (2, n as usize),
        };
        (b.len() >= header + len).then_some(header + len)
    }

    /// The next frame (app PINGs included).
    async fn frame(&mut self) -> Vec<u8> {
        self.frame_within(WAIT)
            .await
            .expect("a frame in time")
            .expect("a frame, not the end")
    }

    /// The next frame that is not an app PING.
    async fn reply(&mut self) -> Vec<u8> {
        loop {
            let frame = self.frame().await;
            if !is_app_ping(&frame) {
                return frame;
            }
        }
    }

    /// The next non-PING frame, as text (for frames whose content is only partly known).
    async fn reply_text(&mut self) -> String {
        let frame = self.reply().await;
        let header = if frame[1] & 0x7f == 126 { 4 } else { 2 };
        String::from_utf8(frame[header..].to_vec()).unwrap()
    }

    /// The server closes the TCP connection (after any frames still on their way).
    async fn expect_eof(&mut self) {
        match self.frame_within(WAIT).await {
            Some(None) => {}
            Some(Some(frame)) => panic!("expected the end, got {frame:02x?}"),
            None => panic!("the server did not close in time"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Frames that arrive together are handled together, as if one by one

/// alice and bob (accounts 10 and 11), matched in session 10, on raw sockets.
async fn raw_pair(address: SocketAddr) -> (Raw, Raw) {
    let mut alice = Raw::connect(address).await;
    let mut bob = Raw::connect(address).await;
    alice
        .send(r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#)
        .await;
    alice.frame().await;
    bob.send(r#"{"cmd":"CRT_ACCOUNT","nickName":"bob"}"#).await;
    bob.frame().await;
    alice.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    bob.frame().await;
    alice.frame().await;
    (alice, bob)
}

/// Text frames, masked, one after another (to be sent in one write).
fn text_frames(jsons: &[&str]) -> Vec<u8> {
    jsons
        .iter()
        .flat_map(|json| masked(0x1, json.as_bytes()))
        .collect()
}

/// The next frames are these text frames, in this order.
async fn expect_texts(raw: &mut Raw, jsons: &[&str]) {
    for json in jsons {
        assert_eq!(raw.frame().await, framed(json));
    }
}

/// bob's pushes of alice's "one" (msgId 1) and "two" (msgId 2).
const PUSHED_ONE_TWO: [&str; 2] = [
    r#"{"cmd":"PUSH_DIALOGUE","msgId":1,"senderId":10,"sessionId":10,"content":"one"}"#,
    r#"{"cmd":"PUSH_DIALOGUE","msgId":2,"senderId":10,"sessionId":10,"content":"two"}"#,
];

#[tokio::test]
async fn frames_in_one_write_are_answered_in_order_each_with_its_own_request_id() {
    let (server, _url, address) = start(config(QUIET, QUIET)).await;
    let (mut alice, mut bob) = raw_pair(address).await;

    // One TCP write: a WebSocket ping, accepted, refused by the wire (another sender),
    // refused by the hub (no such session), accepted. (A pong may overtake the replies to
    // text frames read with its ping, as RFC 6455 §5.5 allows: the ping is first so the
    // order is known.)
    let mut burst = masked(0x9, b"p");
    burst.extend(text_frames(&[
        r#"{"cmd":"DIALOGUE","requestId":"r1","senderId":10,"sessionId":10,"content":"one"}"#,
        r#"{"cmd":"DIALOGUE","requestId":"r2","senderId":11,"sessionId":10,"content":"fake"}"#,
        r#"{"cmd":"DIALOGUE","requestId":"r3","senderId":10,"sessionId":99,"content":"lost"}"#,
        r#"{"cmd":"DIALOGUE","requestId":"r4","senderId":10,"sessionId":10,"content":"two"}"#,
        r#"{"cmd":"DIALOGUE","requestId":"r5","senderId":10,"sessionId":98,"content":"lost"}"#,
    ]));
    alice.stream.write_all(&burst).await.unwrap();

    assert_eq!(alice.frame().await, [0x8a, 0x01, b'p']);
    expect_texts(
        &mut alice,
        &[
            r#"{"cmd":"DIALOGUE","requestId":"r1","msgId":1,"code":0}"#,
            r#"{"cmd":"DIALOGUE","requestId":"r2","msgId":0,"code":1}"#,
            r#"{"cmd":"DIALOGUE","requestId":"r3","msgId":0,"code":4}"#,
            r#"{"cmd":"DIALOGUE","requestId":"r4","msgId":2,"code":0}"#,
            r#"{"cmd":"DIALOGUE","requestId":"r5","msgId":0,"code":4}"#,
        ],
    )
    .await;
    expect_texts(&mut bob, &PUSHED_ONE_TWO).await;
    server.shutdown().await;
}

/// Frames read together with the close still run; their replies may not go out (after
/// the peer's close only the close echo does, RFC 6455 §5.5.1).
#[tokio::test]
async fn what_came_with_the_close_still_runs_and_the_close_is_answered() {
    let (server, _url, address) = start(config(QUIET, QUIET)).await;
    let (mut alice, mut bob) = raw_pair(address).await;
    let mut burst = text_frames(&[
        r#"{"cmd":"DIALOGUE","requestId":"r1","senderId":10,"sessionId":10,"content":"one"}"#,
        r#"{"cmd":"DIALOGUE","requestId":"r2","senderId":10,"sessionId":10,"content":"two"}"#,
    ]);
    burst.extend(masked(0x8, &1000u16.to_be_bytes()));
    alice.stream.write_all(&burst).await.unwrap();

    // Any prefix of the replies, in order, then the close echo and the end.
    let replies = [
        framed(r#"{"cmd":"DIALOGUE","requestId":"r1","msgId":1,"code":0}"#),
        framed(r#"{"cmd":"DIALOGUE","requestId":"r2","msgId":2,"code":0}"#),
    ];
    let mut next_reply = 0;
    loop {
        let frame = alice.frame().await;
        if frame == [0x88, 0x02, 0x03, 0xe8] {
            break;
        }
        assert_eq!(frame, replies[next_reply], "reply {next_reply}");
        next_reply += 1;
    }
    alice.expect_eof().await;
    expect_texts(&mut bob, &PUSHED_ONE_TWO).await;
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Byte-exact: the note's §9.3 transcript

#[tokio::test]
async fn the_main_flow_is_byte_exact_as_the_note() {
    let (server, _url, address) = start(config(QUIET, QUIET)).await;
    let mut alice = Raw::connect(address).await;
    let mut bob = Raw::connect(address).await;

    alice
        .send(r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#)
        .await;
    let reply = alice.frame().await;
    assert_eq!(&reply[..2], [0x81, 0x37]);
    assert_eq!(
        reply,
        framed(r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#)
    );
    bob.send(r#"{"cmd":"CRT_ACCOUNT","nickName":"bob"}"#).await;
    assert_eq!(
        bob.frame().await,
        framed(r#"{"cmd":"CRT_ACCOUNT","nickName":"bob","accountId":11}"#)
    );

    alice.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    let push = bob.frame().await;
    assert_eq!(&push[..4], [0x81, 0x7e, 0x00, 0x87]);
    assert_eq!(
        push,
        framed(
            r#"{"cmd":"PUSH_SIGNAL","senderId":10,"sessionId":10,"receiverId":11,"signalType":"NewSession","data":{"accountId":10,"nickName":"alice"}}"#
        )
    );
    let matched = alice.frame().await;
    assert_eq!(&matched[..2], [0x81, 0x4a]);
    assert_eq!(
        matched,
        framed(r#"{"cmd":"MATCH","partnerId":11,"partnerName":"bob","sessionId":10,"code":0}"#)
    );

    // msgIds are per session here (1, 2, …), where the original's outbox ids are global.
    alice
        .send(r#"{"cmd":"DIALOGUE","requestId":"6c1e0000-0000-11ea-8000-000000000001","senderId":10,"sessionId":10,"content":"hi <b>&"}"#)
        .await;
    assert_eq!(
        alice.frame().await,
        framed(
            r#"{"cmd":"DIALOGUE","requestId":"6c1e0000-0000-11ea-8000-000000000001","msgId":1,"code":0}"#
        )
    );
    assert_eq!(
        bob.frame().await,
        framed(
            r#"{"cmd":"PUSH_DIALOGUE","msgId":1,"senderId":10,"sessionId":10,"content":"hi \u003cb\u003e\u0026"}"#
        )
    );

    bob.send(r#"{"cmd":"VIEWED_ACK","sessionId":10,"accountId":11,"msgId":1}"#)
        .await;
    let done = bob.frame().await;
    assert_eq!(&done[..2], [0x81, 0x1d]);
    assert_eq!(done, framed(r#"{"cmd":"VIEWED_ACK","code":0}"#));
    assert_eq!(
        alice.frame().await,
        framed(r#"{"cmd":"PUSH_VIEWED_ACK","sessionId":10,"accountId":11,"msgId":1}"#)
    );

    // Keys match case-insensitively, the cmd key included (§9.1).
    bob.send(r#"{"CMD":"DIALOGUE","RequestId":"r2","senderid":11,"SessionId":10,"content":"yo"}"#)
        .await;
    assert_eq!(
        bob.frame().await,
        framed(r#"{"cmd":"DIALOGUE","requestId":"r2","msgId":2,"code":0}"#)
    );
    assert_eq!(
        alice.frame().await,
        framed(r#"{"cmd":"PUSH_DIALOGUE","msgId":2,"senderId":11,"sessionId":10,"content":"yo"}"#)
    );

    // Close 1000: echoed at once, then the socket goes; the partner hears PartnerExit.
    bob.send_frame(0x8, &[0x03, 0xe8]).await;
    assert_eq!(bob.frame().await, [0x88, 0x02, 0x03, 0xe8]);
    bob.expect_eof().await;
    let partner_exit = framed(
        r#"{"cmd":"PUSH_SIGNAL","senderId":0,"sessionId":10,"receiverId":10,"signalType":"PartnerExit","data":{"accountId":11}}"#,
    );
    assert_eq!(&partner_exit[..2], [0x81, 0x74]);
    assert_eq!(alice.frame().await, partner_exit);

    // Into the ended session: PartnerExit again, and (unlike the original's code 0) code 4.
    alice
        .send(r#"{"cmd":"DIALOGUE","requestId":"r3","senderId":10,"sessionId":10,"content":"anyone?"}"#)
        .await;
    let mut got = vec![alice.frame().await, alice.frame().await];
    let mut want = vec![
        partner_exit.clone(),
        framed(r#"{"cmd":"DIALOGUE","requestId":"r3","msgId":0,"code":4}"#),
    ];
    got.sort();
    want.sort();
    assert_eq!(got, want);

    alice.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    let none = alice.frame().await;
    assert_eq!(&none[..2], [0x81, 0x18]);
    assert_eq!(none, framed(r#"{"cmd":"MATCH","code":4}"#));
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The drivers: register, match, send, deliver, read receipt, heartbeat, partner exit

#[tokio::test]
async fn v1_drivers_match_chat_read_and_survive_the_heartbeat() {
    // The original's timers: PING every 500 ms, logout after 2 s without PONG.
    let (server, url, _) = start(ServerConfig::ephemeral(&[Dialect::ChatJson])).await;
    let mut alice = driver(&url, "alice", false).await;
    let a = registered(&mut alice, "alice", false).await;
    let mut bob = driver(&url, "bob", false).await;
    let b = registered(&mut bob, "bob", false).await;

    alice.send(Command::Match).await.unwrap();
    assert_eq!(
        next(&mut bob).await,
        Event::SessionOpened {
            session: SessionId(10),
            peer: UserId::from(a),
            peer_name: Some("alice".into()),
            by_peer: true,
        }
    );
    assert_eq!(
        next(&mut alice).await,
        Event::Matched {
            session: SessionId(10),
            peer: UserId::from(b),
            peer_name: Some("bob".into()),
        }
    );

    alice.send(send(10, "c1", "hello <bob>")).await.unwrap();
    assert_eq!(
        next(&mut alice).await,
        Event::Accepted {
            client_ref: Some("c1".into()),
            id: Some(MessageId::Seq(1)),
        }
    );
    assert_eq!(
        next(&mut bob).await,
        Event::Delivered(Message {
            conversation: session(10),
            from: UserId::from(a),
            id: Some(MessageId::Seq(1)),
            content: "hello <bob>".into(),
        })
    );
    bob.send(Command::Read {
        conversation: session(10),
        up_to: MessageId::Seq(1),
    })
    .await
    .unwrap();
    assert_eq!(
        next(&mut bob).await,
        Event::Done {
            operation: "read".into()
        }
    );
    assert_eq!(
        next(&mut alice).await,
        Event::ReadUpTo {
            conversation: session(10),
            reader: UserId::from(b),
            up_to: MessageId::Seq(1),
        }
    );

    // Longer than the 2 s max wait: the drivers' PONGs keep both accounts and the session.
    sleep(Duration::from_secs(3)).await;
    bob.send(send(10, "c2", "still here")).await.unwrap();
    assert_eq!(
        next(&mut bob).await,
        Event::Accepted {
            client_ref: Some("c2".into()),
            id: Some(MessageId::Seq(2)),
        }
    );
    let Event::Delivered(message) = next(&mut alice).await else {
        panic!("delivery expected");
    };
    assert_eq!(message.content, "still here");

    bob.close().await;
    assert_eq!(
        next(&mut alice).await,
        Event::PartnerLeft {
            session: SessionId(10),
            user: UserId::from(b),
        }
    );
    // Nobody is free now.
    alice.send(Command::Match).await.unwrap();
    assert_eq!(next(&mut alice).await, Event::NoPartner);
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// v2: names, token, client ping, RECONNECT

#[tokio::test]
async fn v2_token_ping_and_reconnect() {
    let (server, url, address) = start(config(QUIET, QUIET)).await;
    let mut alice = driver(&url, "alice", true).await;
    let a = registered(&mut alice, "alice", true).await;
    alice.send(Command::Ping).await.unwrap();
    assert_eq!(next(&mut alice).await, Event::Pong);

    let mut carol = Raw::connect(address).await;
    carol
        .send(r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"carol"}"#)
        .await;
    let text = carol.reply_text().await;
    let Ok(Inbound::Message {
        message: ServerMessage::AccountCreated {
            account_id, token, ..
        },
        ..
    }) = decode_server_text(&text, usize::MAX)
    else {
        panic!("CRT_ACCOUNT_RESP expected, got {text}");
    };
    assert_eq!(
        text,
        format!(
            r#"{{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"carol","accountId":{account_id},"token":"{token}"}}"#
        )
    );
    assert_eq!(token.len(), 30);
    assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
    // carol's socket dies.
    drop(carol);

    let mut again = Raw::connect(address).await;
    again
        .send(&format!(
            r#"{{"cmd":"RECONNECT_REQ","accountId":{account_id},"token":"not-the-token"}}"#
        ))
        .await;
    assert_eq!(
        again.frame().await,
        framed(r#"{"cmd":"RECONNECT_RESP","code":4}"#)
    );
    again
        .send(&format!(
            r#"{{"cmd":"RECONNECT_REQ","accountId":999,"token":"{token}"}}"#
        ))
        .await;
    assert_eq!(
        again.frame().await,
        framed(r#"{"cmd":"RECONNECT_RESP","code":4}"#)
    );
    again
        .send(&format!(
            r#"{{"cmd":"RECONNECT_REQ","accountId":{account_id},"token":"{token}"}}"#
        ))
        .await;
    assert_eq!(
        again.frame().await,
        framed(r#"{"cmd":"RECONNECT_RESP","code":0}"#)
    );
    again
        .send(&format!(r#"{{"cmd":"PING_REQ","accountId":{account_id}}}"#))
        .await;
    assert_eq!(
        again.frame().await,
        framed(&format!(
            r#"{{"cmd":"PING_RESP","accountId":{account_id}}}"#
        ))
    );

    // The resumed account matches, chats and is chatted to in v2 names.
    again
        .send(&format!(
            r#"{{"cmd":"MATCH_REQ","accountId":{account_id}}}"#
        ))
        .await;
    assert_eq!(
        again.frame().await,
        framed(&format!(
            r#"{{"cmd":"MATCH_RESP","code":0,"partnerId":{a},"partnerName":"alice","sessionId":10}}"#
        ))
    );
    assert_eq!(
        next(&mut alice).await,
        Event::SessionOpened {
            session: SessionId(10),
            peer: UserId::from(account_id),
            peer_name: Some("carol".into()),
            by_peer: true,
        }
    );
    alice.send(send(10, "q", "welcome back")).await.unwrap();
    assert_eq!(
        next(&mut alice).await,
        Event::Accepted {
            client_ref: Some("q".into()),
            id: Some(MessageId::Seq(1)),
        }
    );
    assert_eq!(
        again.frame().await,
        framed(&format!(
            r#"{{"cmd":"PUSH_DIALOGUE_REQ","msgId":1,"senderId":{a},"sessionId":10,"content":"welcome back"}}"#
        ))
    );
    again
        .send(&format!(
            r#"{{"cmd":"DIALOGUE_REQ","requestId":"z","senderId":{account_id},"sessionId":10,"content":"thanks"}}"#
        ))
        .await;
    assert_eq!(
        again.frame().await,
        framed(r#"{"cmd":"DIALOGUE_RESP","code":0,"requestId":"z","msgId":2}"#)
    );
    let Event::Delivered(message) = next(&mut alice).await else {
        panic!("delivery expected");
    };
    assert_eq!(message.content, "thanks");
    server.shutdown().await;
}

/// A delivery still queued when the receiver's socket dies is kept and handed out after
/// its v2 RECONNECT. Chaos latency holds every event in the queue for a while, which makes
/// "queued but not yet written" certain.
#[tokio::test]
async fn reconnect_delivers_what_the_lost_socket_had_not_received() {
    let latency = Duration::from_secs(2);
    let mut config = config(QUIET, QUIET);
    config.hub.chaos = ChaosConfig {
        latency: Some(Latency {
            min: latency,
            max: latency,
        }),
        ..ChaosConfig::default()
    };
    let (server, _url, address) = start(config).await;
    let mut alice = Raw::connect(address).await;
    let mut bob = Raw::connect(address).await;
    alice
        .send(r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"alice"}"#)
        .await;
    bob.send(r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"bob"}"#)
        .await;
    let _ = alice.frame().await;
    let bob_account = bob.reply_text().await;
    let Ok(Inbound::Message {
        message: ServerMessage::AccountCreated {
            account_id, token, ..
        },
        ..
    }) = decode_server_text(&bob_account, usize::MAX)
    else {
        panic!("CRT_ACCOUNT_RESP expected, got {bob_account}");
    };
    assert_eq!(account_id, 11);

    alice.send(r#"{"cmd":"MATCH_REQ","accountId":10}"#).await;
    assert_eq!(
        alice.frame().await,
        framed(
            r#"{"cmd":"MATCH_RESP","code":0,"partnerId":11,"partnerName":"bob","sessionId":10}"#
        )
    );
    let _new_session = bob.frame().await;

    alice
        .send(r#"{"cmd":"DIALOGUE_REQ","requestId":"k","senderId":10,"sessionId":10,"content":"keep me"}"#)
        .await;
    // Accepted by the hub: the delivery sits in bob's queue for `latency`.
    timeout(WAIT, async {
        while server.hub().stats().accepted < 1 {
            sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the message is accepted");
    drop(bob);

    let mut bob = Raw::connect(address).await;
    bob.send(&format!(
        r#"{{"cmd":"RECONNECT_REQ","accountId":11,"token":"{token}"}}"#
    ))
    .await;
    assert_eq!(
        bob.frame().await,
        framed(r#"{"cmd":"RECONNECT_RESP","code":0}"#)
    );
    assert_eq!(
        bob.frame().await,
        framed(
            r#"{"cmd":"PUSH_DIALOGUE_REQ","msgId":1,"senderId":10,"sessionId":10,"content":"keep me"}"#
        )
    );
    assert_eq!(
        alice.frame().await,
        framed(r#"{"cmd":"DIALOGUE_RESP","code":0,"requestId":"k","msgId":1}"#)
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// The heartbeat timeout

#[tokio::test]
async fn silence_logs_out_keeps_the_socket_and_stops_the_pings() {
    let ping = Duration::from_millis(200);
    let (server, url, address) = start(config(ping, Duration::from_secs(1))).await;
    let mut alice = Raw::connect(address).await;
    alice
        .send(r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#)
        .await;
    assert_eq!(
        alice.frame().await,
        framed(r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#)
    );
    // The driver answers every PING; alice never does.
    let mut bob = driver(&url, "bob", false).await;
    let b = registered(&mut bob, "bob", false).await;
    alice.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    let mut pings = 0;
    loop {
        let frame = alice.frame().await;
        if is_app_ping(&frame) {
            assert_eq!(&frame[..2], [0x81, 0x1d]);
            assert_eq!(frame, framed(r#"{"cmd":"PING","accountId":10}"#));
            pings += 1;
            continue;
        }
        assert_eq!(
            frame,
            framed(&format!(
                r#"{{"cmd":"MATCH","partnerId":{b},"partnerName":"bob","sessionId":10,"code":0}}"#
            ))
        );
        break;
    }
    assert!(matches!(next(&mut bob).await, Event::SessionOpened { .. }));
    // Logged out for silence: the partner hears PartnerExit.
    assert_eq!(
        next(&mut bob).await,
        Event::PartnerLeft {
            session: SessionId(10),
            user: UserId::from(10),
        }
    );
    // The socket stays open and text is still read: alice is no longer logged in.
    alice.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    loop {
        let frame = alice.frame().await;
        if is_app_ping(&frame) {
            pings += 1;
            continue;
        }
        assert_eq!(frame, framed(r#"{"cmd":"MATCH","code":1}"#));
        break;
    }
    assert!(pings >= 1, "PINGs before the logout");
    // And the pings have stopped.
    let after = alice.frame_within(ping * 5).await;
    assert!(
        after.is_none(),
        "nothing after the logout, got {after:02x?}"
    );
    server.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Bad input: answered or closed, only the offender; the others keep chatting

#[tokio::test]
async fn bad_input_is_refused_and_closes_only_the_offender() {
    let (server, url, address) = start(config(QUIET, QUIET)).await;
    let mut alice = driver(&url, "alice", false).await;
    let a = registered(&mut alice, "alice", false).await;
    let mut bob = driver(&url, "bob", false).await;
    let b = registered(&mut bob, "bob", false).await;
    alice.send(Command::Match).await.unwrap();
    assert!(matches!(next(&mut bob).await, Event::SessionOpened { .. }));
    assert!(matches!(next(&mut alice).await, Event::Matched { .. }));

    // HTTP: /ws without an upgrade is gorilla's 400, another path gin's 404.
    let plain = http(address, "GET /ws HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(plain.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{plain}");
    assert!(plain.ends_with("\r\n\r\nBad Request\n"), "{plain}");
    let elsewhere = http(
        address,
        "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await;
    assert!(
        elsewhere.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{elsewhere}"
    );
    assert!(
        elsewhere.ends_with("\r\n\r\n404 page not found"),
        "{elsewhere}"
    );

    let mut mallory = Raw::connect(address).await;
    // Before an account: refused with code 1 (the original runs it as account 0).
    mallory.send(r#"{"cmd":"MATCH","accountId":10}"#).await;
    assert_eq!(mallory.frame().await, framed(r#"{"cmd":"MATCH","code":1}"#));
    // Ignored, the connection stays: non-JSON, unknown cmd, not an object, binary, WS pong.
    mallory.send("hello").await;
    mallory.send(r#"{"cmd":"NOPE","accountId":1}"#).await;
    mallory.send("[1,2]").await;
    mallory
        .send_frame(0x2, br#"{"cmd":"CRT_ACCOUNT","nickName":"bin"}"#)
        .await;
    mallory.send_frame(0xa, b"").await;
    // A WebSocket ping is answered.
    mallory.send_frame(0x9, b"hey").await;
    assert_eq!(mallory.frame().await, [0x8a, 0x03, b'h', b'e', b'y']);
    mallory
        .send(r#"{"cmd":"CRT_ACCOUNT","nickName":"mallory"}"#)
        .await;
    assert_eq!(
        mallory.frame().await,
        framed(r#"{"cmd":"CRT_ACCOUNT","nickName":"mallory","accountId":12}"#)
    );
    // Naming another account: code 1, nothing run.
    mallory
        .send(&format!(
            r#"{{"cmd":"DIALOGUE","requestId":"x","senderId":{a},"sessionId":10,"content":"fake"}}"#
        ))
        .await;
    assert_eq!(
        mallory.frame().await,
        framed(r#"{"cmd":"DIALOGUE","requestId":"x","msgId":0,"code":1}"#)
    );
    mallory
        .send(&format!(r#"{{"cmd":"MATCH","accountId":{a}}}"#))
        .await;
    assert_eq!(mallory.frame().await, framed(r#"{"cmd":"MATCH","code":1}"#));
    mallory
        .send(&format!(
            r#"{{"cmd":"VIEWED_ACK","sessionId":10,"accountId":{b},"msgId":1}}"#
        ))
        .await;
    assert_eq!(
        mallory.frame().await,
        framed(r#"{"cmd":"VIEWED_ACK","code":1}"#)
    );
    // Its own id, but a session it is not in: code 1.
    mallory
        .send(r#"{"cmd":"DIALOGUE","requestId":"y","senderId":12,"sessionId":10,"content":"in?"}"#)
        .await;
    assert_eq!(
        mallory.frame().await,
        framed(r#"{"cmd":"DIALOGUE","requestId":"y","msgId":0,"code":1}"#)
    );
    // A PONG for someone else has no reply to carry an error: closed (1008).
    mallory
        .send(&format!(r#"{{"cmd":"PONG","accountId":{a}}}"#))
        .await;
    let close = mallory.frame().await;
    assert_eq!(&close[..4], [0x88, close[1], 0x03, 0xf0], "{close:02x?}");
    mallory.expect_eof().await;

    // v1 frame limit: 512 bytes pass, 513 close with 1009 at once.
    let mut big = Raw::connect(address).await;
    let at_limit = padded(r#"{"cmd":"CRT_ACCOUNT","nickName":"big"}"#, 512);
    big.send(&at_limit).await;
    assert_eq!(
        big.frame().await,
        framed(r#"{"cmd":"CRT_ACCOUNT","nickName":"big","accountId":13}"#)
    );
    big.send(&padded(r#"{"cmd":"MATCH","accountId":13}"#, 513))
        .await;
    assert_eq!(big.frame().await, [0x88, 0x02, 0x03, 0xf1]);
    big.expect_eof().await;

    // v2 takes up to 10 KiB; beyond it, 1009 too.
    let mut big2 = Raw::connect(address).await;
    big2.send(&padded(
        r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"big2"}"#,
        10 * 1024,
    ))
    .await;
    let reply = big2.reply_text().await;
    assert!(
        reply
            .starts_with(r#"{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"big2","accountId":14,"#),
        "{reply}"
    );
    big2.send(&padded(
        r#"{"cmd":"PING_REQ","accountId":14}"#,
        10 * 1024 + 1,
    ))
    .await;
    assert_eq!(big2.frame().await, [0x88, 0x02, 0x03, 0xf1]);
    big2.expect_eof().await;

    // The others never noticed.
    alice.send(send(10, "after", "still fine")).await.unwrap();
    assert_eq!(
        next(&mut alice).await,
        Event::Accepted {
            client_ref: Some("after".into()),
            id: Some(MessageId::Seq(1)),
        }
    );
    assert_eq!(
        next(&mut bob).await,
        Event::Delivered(Message {
            conversation: session(10),
            from: UserId::from(a),
            id: Some(MessageId::Seq(1)),
            content: "still fine".into(),
        })
    );
    server.shutdown().await;
}

/// `json` with an extra string member that makes it exactly `len` bytes long.
fn padded(json: &str, len: usize) -> String {
    let open = json.strip_suffix('}').expect("an object");
    let fixed = open.len() + r#","pad":""}"#.len();
    let text = format!(r#"{open},"pad":"{}"}}"#, "x".repeat(len - fixed));
    assert_eq!(text.len(), len);
    text
}

// ---------------------------------------------------------------------------------------
// The real binary

#[tokio::test]
async fn the_binary_announces_its_url_and_serves_it() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "chat-json=127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run server-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .expect("announced in time")
        .unwrap()
        .expect("a line");
    let url = line
        .strip_prefix("listening chat-json ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"));
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("/ws"),
        "{url}"
    );
    let mut alice = driver(url, "alice", false).await;
    assert_eq!(registered(&mut alice, "alice", false).await, 10);
    drop(alice);
    child.kill().await.expect("stop server-mock");
}
