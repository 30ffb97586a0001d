//! The chat-json client driver against scripted brokers on 127.0.0.1 (port 0). Every wait is
//! bounded by a generous timeout; nothing asserts on timing.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, Message, MessageId, SessionId, UserId,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(10);

type Peer = WebSocketStream<TcpStream>;

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    (listener, url)
}

async fn accept(listener: &TcpListener) -> Peer {
    let (tcp, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

/// The next text frame from the client (WS pongs skipped).
async fn next_text(peer: &mut Peer) -> String {
    loop {
        let frame = timeout(WAIT, peer.next())
            .await
            .expect("the client sent nothing")
            .expect("the client hung up")
            .unwrap();
        match frame {
            WsMessage::Text(text) => return text.as_str().to_owned(),
            WsMessage::Pong(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn say(peer: &mut Peer, json: &str) {
    peer.send(WsMessage::text(json)).await.unwrap();
}

fn config(url: &str, nick: &str) -> DriverConfig {
    let mut config = DriverConfig::new(Dialect::ChatJson, url).with_credentials(Credentials {
        nick: Some(nick.into()),
        ..Credentials::default()
    });
    config.reply_timeout = WAIT;
    config.reconnect.initial = Duration::from_millis(20);
    config.reconnect.max = Duration::from_millis(100);
    config
}

async fn next_event(connection: &mut Connection) -> Event {
    timeout(WAIT, connection.recv())
        .await
        .expect("no event in time")
        .expect("the driver stopped")
}

/// Events up to and including the one `stop` accepts.
async fn events_until(connection: &mut Connection, stop: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let event = next_event(connection).await;
        let done = stop(&event);
        seen.push(event);
        if done {
            return seen;
        }
    }
    panic!("gave up after {seen:?}");
}

fn registered(id: u64, nick: &str, token: Option<&str>) -> [Event; 2] {
    [
        Event::Registered {
            user: UserId::from(id),
            nick: nick.into(),
            token: token.map(Into::into),
        },
        Event::LoggedIn {
            user: UserId::from(id),
            token: token.map(Into::into),
        },
    ]
}

fn online(reconnect: bool) -> Event {
    Event::Connection(ConnectionState::Online { reconnect })
}

#[tokio::test]
async fn answers_app_pings_with_the_account_id_and_ws_pings_with_pongs() {
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut peer = accept(&listener).await;
        assert_eq!(
            next_text(&mut peer).await,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#
        );
        say(
            &mut peer,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#,
        )
        .await;
        // A WebSocket-level ping must come back as a pong with the same payload.
        peer.send(WsMessage::Ping(b"hb".to_vec().into()))
            .await
            .unwrap();
        let pong = timeout(WAIT, async {
            loop {
                match peer.next().await.unwrap().unwrap() {
                    WsMessage::Pong(data) => return data,
                    _ => continue,
                }
            }
        })
        .await
        .expect("no WS pong");
        assert_eq!(&pong[..], b"hb");

        // The app heartbeat, every 50 ms, logging out a client silent for 40 pings (2 s).
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        let mut pongs = Vec::new();
        let mut unanswered = 0;
        while pongs.len() < 5 {
            tokio::select! {
                _ = ticker.tick() => {
                    unanswered += 1;
                    if unanswered > 40 {
                        say(&mut peer, r#"{"cmd":"PUSH_SIGNAL","senderId":0,"sessionId":1,"receiverId":10,"signalType":"PartnerExit","data":{"accountId":10}}"#).await;
                        panic!("the client never answered PING; got {pongs:?}");
                    }
                    say(&mut peer, r#"{"cmd":"PING","accountId":10}"#).await;
                }
                frame = peer.next() => {
                    if let Some(Ok(WsMessage::Text(text))) = frame {
                        pongs.push(text.as_str().to_owned());
                        unanswered = 0;
                    }
                }
            }
        }
        // One more push: the next event the user sees must be this, not a ping.
        say(
            &mut peer,
            r#"{"cmd":"PUSH_VIEWED_ACK","sessionId":1,"accountId":11,"msgId":2}"#,
        )
        .await;
        (pongs, peer)
    });

    let mut connection = timeout(WAIT, Connection::connect(config(&url, "alice")))
        .await
        .unwrap()
        .unwrap();
    let [reg, logged_in] = registered(10, "alice", None);
    assert_eq!(next_event(&mut connection).await, reg);
    assert_eq!(next_event(&mut connection).await, logged_in);
    assert_eq!(next_event(&mut connection).await, online(false));

    let (pongs, _peer) = timeout(2 * WAIT, broker).await.unwrap().unwrap();
    assert_eq!(pongs, vec![r#"{"cmd":"PONG","accountId":10}"#; 5]);
    // The driver answered the pings itself: nothing reached the user before the push.
    assert_eq!(
        next_event(&mut connection).await,
        Event::ReadUpTo {
            conversation: Conversation::Session(SessionId(1)),
            reader: UserId::from(11),
            up_to: MessageId::Seq(2),
        }
    );
}

#[tokio::test]
async fn a_chat_round_maps_both_ways() {
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut peer = accept(&listener).await;
        next_text(&mut peer).await;
        say(
            &mut peer,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#,
        )
        .await;
        assert_eq!(
            next_text(&mut peer).await,
            r#"{"cmd":"MATCH","accountId":10}"#
        );
        // Junk the original ignores: the connection must go on.
        say(&mut peer, "not json").await;
        say(&mut peer, r#"{"cmd":"NOPE"}"#).await;
        peer.send(WsMessage::binary(b"{\"cmd\":\"PING\"}".to_vec()))
            .await
            .unwrap();
        say(&mut peer, r#"{"cmd":"MATCH","code":4}"#).await;
        assert_eq!(
            next_text(&mut peer).await,
            r#"{"cmd":"MATCH","accountId":10}"#
        );
        say(
            &mut peer,
            r#"{"cmd":"MATCH","partnerId":11,"partnerName":"bob","sessionId":10,"code":0}"#,
        )
        .await;
        assert_eq!(
            next_text(&mut peer).await,
            r#"{"cmd":"DIALOGUE","requestId":"r1","senderId":10,"sessionId":10,"content":"hi <b>&"}"#
        );
        say(
            &mut peer,
            r#"{"cmd":"DIALOGUE","requestId":"r1","msgId":11,"code":0}"#,
        )
        .await;
        say(
            &mut peer,
            r#"{"cmd":"PUSH_DIALOGUE","msgId":12,"senderId":11,"sessionId":10,"content":"yo \u003c3"}"#,
        )
        .await;
        assert_eq!(
            next_text(&mut peer).await,
            r#"{"cmd":"VIEWED_ACK","sessionId":10,"accountId":10,"msgId":12}"#
        );
        say(&mut peer, r#"{"cmd":"VIEWED_ACK","code":0}"#).await;
        say(
            &mut peer,
            r#"{"cmd":"PUSH_VIEWED_ACK","sessionId":10,"accountId":11,"msgId":11}"#,
        )
        .await;
        say(
            &mut peer,
            r#"{"cmd":"PUSH_SIGNAL","senderId":12,"sessionId":13,"receiverId":10,"signalType":"NewSession","data":{"accountId":12,"nickName":"carol"}}"#,
        )
        .await;
        say(
            &mut peer,
            r#"{"cmd":"PUSH_SIGNAL","senderId":0,"sessionId":10,"receiverId":10,"signalType":"PartnerExit","data":{"accountId":11}}"#,
        )
        .await;
        // Logout closes the socket.
        let end = timeout(WAIT, peer.next())
            .await
            .expect("the client did not close");
        assert!(
            matches!(end, None | Some(Err(_)) | Some(Ok(WsMessage::Close(_)))),
            "unexpected {end:?}"
        );
    });

    let mut connection = timeout(WAIT, Connection::connect(config(&url, "alice")))
        .await
        .unwrap()
        .unwrap();
    events_until(&mut connection, |e| *e == online(false)).await;

    connection.send(Command::Match).await.unwrap();
    assert_eq!(next_event(&mut connection).await, Event::NoPartner);
    connection.send(Command::Match).await.unwrap();
    assert_eq!(
        next_event(&mut connection).await,
        Event::Matched {
            session: SessionId(10),
            peer: UserId::from(11),
            peer_name: Some("bob".into()),
        }
    );
    let session = Conversation::Session(SessionId(10));
    connection
        .send(Command::Send {
            to: session.clone(),
            client_ref: "r1".into(),
            content: "hi <b>&".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut connection).await,
        Event::Accepted {
            client_ref: Some("r1".into()),
            id: Some(MessageId::Seq(11)),
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::Delivered(Message {
            conversation: session.clone(),
            from: UserId::from(11),
            id: Some(MessageId::Seq(12)),
            content: "yo <3".into(),
        })
    );
    connection
        .send(Command::Read {
            conversation: session.clone(),
            up_to: MessageId::Seq(12),
        })
        .await
        .unwrap();
    assert_eq!(
        next_event(&mut connection).await,
        Event::Done {
            operation: "read".into()
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::ReadUpTo {
            conversation: session.clone(),
            reader: UserId::from(11),
            up_to: MessageId::Seq(11),
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::SessionOpened {
            session: SessionId(13),
            peer: UserId::from(12),
            peer_name: Some("carol".into()),
            by_peer: true,
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::PartnerLeft {
            session: SessionId(10),
            user: UserId::from(11),
        }
    );
    // v1 cannot ping: refused without losing the connection.
    connection.send(Command::Ping).await.unwrap();
    assert!(matches!(
        next_event(&mut connection).await,
        Event::Error { .. }
    ));
    timeout(WAIT, connection.close()).await.unwrap();
    timeout(WAIT, broker).await.unwrap().unwrap();
}

#[tokio::test]
async fn v1_reconnect_registers_a_new_account() {
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut first = accept(&listener).await;
        assert_eq!(
            next_text(&mut first).await,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#
        );
        say(
            &mut first,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#,
        )
        .await;
        drop(first); // the broker goes away without a close frame
        let mut second = accept(&listener).await;
        assert_eq!(
            next_text(&mut second).await,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#
        );
        say(
            &mut second,
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":11}"#,
        )
        .await;
        // The new account is the one the client now speaks for.
        assert_eq!(
            next_text(&mut second).await,
            r#"{"cmd":"MATCH","accountId":11}"#
        );
        second
    });

    let mut connection = timeout(WAIT, Connection::connect(config(&url, "alice")))
        .await
        .unwrap()
        .unwrap();
    events_until(&mut connection, |e| *e == online(false)).await;
    let events = events_until(&mut connection, |e| *e == online(true)).await;
    assert!(matches!(
        events[0],
        Event::Connection(ConnectionState::Lost { .. })
    ));
    assert!(matches!(
        events[1],
        Event::Connection(ConnectionState::Reconnecting { attempt: 1, .. })
    ));
    let [reg, logged_in] = registered(11, "alice", None);
    assert_eq!(events[2..], [reg, logged_in, online(true)]);
    connection.send(Command::Match).await.unwrap();
    timeout(WAIT, broker).await.unwrap().unwrap();
}

#[tokio::test]
async fn v2_reconnect_resumes_with_the_token_then_registers_anew_on_code_4() {
    const TOKEN: &str = "abcdefghijABCDEFGHIJ0123456789";
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut first = accept(&listener).await;
        assert_eq!(
            next_text(&mut first).await,
            r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"alice"}"#
        );
        say(&mut first, &format!(r#"{{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"alice","accountId":10,"token":"{TOKEN}"}}"#)).await;
        drop(first);

        let mut second = accept(&listener).await;
        assert_eq!(
            next_text(&mut second).await,
            format!(r#"{{"cmd":"RECONNECT_REQ","accountId":10,"token":"{TOKEN}"}}"#)
        );
        say(&mut second, r#"{"cmd":"RECONNECT_RESP","code":0}"#).await;
        // v2 names for the heartbeat and the client ping.
        say(&mut second, r#"{"cmd":"PING_REQ","accountId":10}"#).await;
        // The pong and the client's own ping, in whichever order they were written.
        let mut frames = [next_text(&mut second).await, next_text(&mut second).await];
        frames.sort();
        assert_eq!(
            frames,
            [
                r#"{"cmd":"PING_REQ","accountId":10}"#,
                r#"{"cmd":"PING_RESP","accountId":10}"#,
            ]
        );
        say(&mut second, r#"{"cmd":"PING_RESP","accountId":10}"#).await;
        drop(second);

        let mut third = accept(&listener).await;
        assert_eq!(
            next_text(&mut third).await,
            format!(r#"{{"cmd":"RECONNECT_REQ","accountId":10,"token":"{TOKEN}"}}"#)
        );
        say(&mut third, r#"{"cmd":"RECONNECT_RESP","code":4}"#).await;
        assert_eq!(
            next_text(&mut third).await,
            r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"alice"}"#
        );
        say(&mut third, r#"{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"alice","accountId":12,"token":"second"}"#).await;
        third
    });

    let mut config = config(&url, "alice");
    config.chat_v2 = true;
    let mut connection = timeout(WAIT, Connection::connect(config))
        .await
        .unwrap()
        .unwrap();
    let events = events_until(&mut connection, |e| *e == online(false)).await;
    let [reg, logged_in] = registered(10, "alice", Some(TOKEN));
    assert_eq!(events, [reg, logged_in, online(false)]);

    let events = events_until(&mut connection, |e| *e == online(true)).await;
    assert_eq!(
        events[2..],
        [
            Event::LoggedIn {
                user: UserId::from(10),
                token: Some(TOKEN.into())
            },
            online(true)
        ]
    );
    connection.send(Command::Ping).await.unwrap();
    assert_eq!(next_event(&mut connection).await, Event::Pong);

    let events = events_until(&mut connection, |e| *e == online(true)).await;
    let [reg, logged_in] = registered(12, "alice", Some("second"));
    assert_eq!(events[2..], [reg, logged_in, online(true)]);
    timeout(WAIT, broker).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_silent_broker_fails_the_connect_after_the_reply_timeout() {
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut peer = accept(&listener).await;
        next_text(&mut peer).await;
        // Never answer; keep the socket until the test ends.
        peer
    });
    let mut config = config(&url, "alice");
    config.reply_timeout = Duration::from_millis(200);
    let result = timeout(WAIT, Connection::connect(config)).await.unwrap();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    drop(broker);
}

#[tokio::test]
async fn a_default_nick_is_generated() {
    let (listener, url) = listen().await;
    let broker = tokio::spawn(async move {
        let mut peer = accept(&listener).await;
        let hello = next_text(&mut peer).await;
        say(&mut peer, &hello.replace("}", r#","accountId":10}"#)).await;
        (peer, hello)
    });
    let config = DriverConfig::new(Dialect::ChatJson, url);
    let mut connection = timeout(WAIT, Connection::connect(config))
        .await
        .unwrap()
        .unwrap();
    let (_peer, hello) = timeout(WAIT, broker).await.unwrap().unwrap();
    let nick = hello
        .strip_prefix(r#"{"cmd":"CRT_ACCOUNT","nickName":""#)
        .and_then(|rest| rest.strip_suffix(r#""}"#))
        .expect("a CRT_ACCOUNT frame");
    assert!(nick.starts_with("imkit-") && nick.len() > 6, "{nick}");
    assert_eq!(
        next_event(&mut connection).await,
        registered(10, nick, None)[0]
    );
}
