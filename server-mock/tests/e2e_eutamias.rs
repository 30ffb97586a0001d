//! eutamias end to end over real sockets on 127.0.0.1: the protocols driver as the client
//! (gRPC lookup at D, login at N, chat through S), and raw gob sockets for the bytes, the
//! refusals, pipelining and bad input.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::eutamias::gob::PREAMBLE;
use imkit_protocols::eutamias::proto::*;
use imkit_protocols::eutamias::{
    ClientCodec, ClientMessage, DispatcherClient, Frame, ServerMessage,
};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, Message, MessageId, ReconnectPolicy, SessionId, UserId,
};
use imkit_server_mock::hub::AccountsFile;
use imkit_server_mock::{Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Framed;

const WAIT: Duration = Duration::from_secs(10);

async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

async fn start_default() -> Server {
    start(ServerConfig::ephemeral(&[Dialect::Eutamias])).await
}

fn url(server: &Server) -> String {
    server
        .client_address(Dialect::Eutamias)
        .expect("eutamias listens")
}

fn endpoint(server: &Server, role: &str) -> SocketAddr {
    server
        .bound()
        .iter()
        .find(|(d, r, _)| *d == Dialect::Eutamias && *r == role)
        .map(|(_, _, a)| *a)
        .unwrap_or_else(|| panic!("no {role} endpoint"))
}

fn driver_config(server: &Server, user: u64, secret: &str) -> DriverConfig {
    let mut config =
        DriverConfig::new(Dialect::Eutamias, url(server)).with_credentials(Credentials {
            user: Some(UserId::from(user)),
            secret: Some(secret.into()),
            ..Credentials::default()
        });
    config.connect_timeout = Duration::from_secs(5);
    config.reply_timeout = Duration::from_secs(5);
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(200),
        max_attempts: Some(50),
    };
    config
}

async fn client(server: &Server, user: u64) -> Connection {
    Connection::connect(driver_config(server, user, "pw"))
        .await
        .expect("driver connects")
}

/// The next event that `pick` takes, skipping the others (bounded in time).
async fn wait_for<T>(connection: &mut Connection, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let event = tokio::time::timeout_at(deadline, connection.recv())
            .await
            .expect("the expected event in time")
            .expect("driver still running");
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

async fn wait_logged_in(connection: &mut Connection) {
    wait_for(connection, |e| {
        matches!(e, Event::Connection(ConnectionState::Online { .. })).then_some(())
    })
    .await;
}

async fn open_session(a: &mut Connection, b: &mut Connection, peer: u64) -> SessionId {
    a.send(Command::OpenSession {
        peer: UserId::from(peer),
    })
    .await
    .unwrap();
    let session = wait_for(a, |e| match e {
        Event::SessionOpened {
            session,
            by_peer: false,
            peer: p,
            ..
        } if p.as_u64() == Some(peer) => Some(*session),
        _ => None,
    })
    .await;
    let noticed = wait_for(b, |e| match e {
        Event::SessionOpened {
            session,
            by_peer: true,
            ..
        } => Some(*session),
        _ => None,
    })
    .await;
    assert_eq!(noticed, session);
    session
}

async fn send(connection: &Connection, session: SessionId, client_ref: &str, content: &str) {
    connection
        .send(Command::Send {
            to: Conversation::Session(session),
            client_ref: client_ref.into(),
            content: content.into(),
        })
        .await
        .unwrap();
}

async fn accepted(connection: &mut Connection, client_ref: &str) -> MessageId {
    wait_for(connection, |e| match e {
        Event::Accepted {
            client_ref: Some(r),
            id: Some(id),
        } if r == client_ref => Some(id.clone()),
        Event::Error { message, .. } => panic!("refused: {message}"),
        _ => None,
    })
    .await
}

async fn delivered(connection: &mut Connection) -> Message {
    wait_for(connection, |e| match e {
        Event::Delivered(m) => Some(m.clone()),
        _ => None,
    })
    .await
}

/// Wait until the hub holds `pending` messages (offline + unacked).
async fn until_pending(server: &Server, pending: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.hub().stats().pending != pending {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hub still holds {} messages, expected {pending}",
            server.hub().stats().pending
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---- raw gob clients ----

struct Raw {
    conn: Framed<TcpStream, ClientCodec>,
}

impl Raw {
    async fn connect(address: SocketAddr) -> Raw {
        let stream = timeout(WAIT, TcpStream::connect(address))
            .await
            .expect("connect in time")
            .expect("connect");
        Raw {
            conn: Framed::new(stream, ClientCodec::default()),
        }
    }

    async fn send(&mut self, seq: u64, message: ClientMessage) {
        self.conn.send(Frame::new(seq, message)).await.unwrap();
    }

    async fn next(&mut self) -> Frame<ServerMessage> {
        timeout(WAIT, self.conn.next())
            .await
            .expect("a frame in time")
            .expect("the server closed")
            .expect("a valid frame")
    }

    async fn login(&mut self, id: u64, passwd: &str) -> LoginRsp {
        self.send(
            1,
            ClientMessage::Login(LoginReq {
                id,
                passwd: passwd.into(),
                online_statue: 0,
            }),
        )
        .await;
        match self.next().await {
            Frame {
                seq: 1,
                message: ServerMessage::Login(rsp),
            } => rsp,
            other => panic!("expected a LoginRsp with Seq 1, got {other:?}"),
        }
    }

    /// The server closes the connection (EOF or reset) within the wait.
    async fn expect_closed(&mut self) {
        match timeout(WAIT, self.conn.next()).await {
            Ok(None | Some(Err(_))) => {}
            Ok(Some(Ok(frame))) => panic!("expected the close, got {frame:?}"),
            Err(_) => panic!("the server did not close the connection"),
        }
    }
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- the tests ----

#[tokio::test]
async fn the_dispatcher_names_this_servers_notificer() {
    let server = start_default().await;
    let mut dispatcher = DispatcherClient::connect(&url(&server), None, WAIT, WAIT)
        .await
        .expect("gRPC channel");
    let found = dispatcher
        .get_my_nserver(NinfoReq { id: 234 })
        .await
        .expect("lookup");
    let notificer = endpoint(&server, "notificer");
    assert_eq!(
        found,
        NinfoRsp {
            id: 234,
            nip: "127.0.0.1".into(),
            nport: u64::from(notificer.port()),
            rc: ResultCode::RcOk as i32,
        }
    );
    // N and S are their own ports beside D.
    let dispatcher_port = endpoint(&server, "dispatcher").port();
    let switcher_port = endpoint(&server, "switcher").port();
    assert_ne!(notificer.port(), dispatcher_port);
    assert_ne!(switcher_port, notificer.port());
    server.shutdown().await;
}

#[tokio::test]
async fn the_login_reply_is_the_notes_bytes() {
    let server = start_default().await;
    let mut stream = TcpStream::connect(endpoint(&server, "notificer"))
        .await
        .unwrap();
    // The note's LOGIN frame: user 234, password "pw", Seq 7.
    let login = hex(
        "2dff81030101074d65737361676501ff820001030103436d64010400010353657101060001034d736701\
         0a00000010ff8201080107010708ea011202707700",
    );
    assert_eq!(login.len(), 63);
    stream.write_all(&login).await.unwrap();
    let mut expected = PREAMBLE.to_vec();
    expected.extend(hex("0e ff82 01 08 01 07 01 05 08ea011001 00"));
    let mut got = vec![0; expected.len()];
    timeout(WAIT, stream.read_exact(&mut got))
        .await
        .expect("LoginRsp in time")
        .unwrap();
    assert_eq!(got, expected);
    server.shutdown().await;
}

#[tokio::test]
async fn open_a_session_send_through_the_switcher_deliver_and_ack() {
    let server = start_default().await;
    let mut alice = client(&server, 1001).await;
    let mut bob = client(&server, 1002).await;
    wait_logged_in(&mut alice).await;
    wait_logged_in(&mut bob).await;
    let session = open_session(&mut alice, &mut bob, 1002).await;

    send(&alice, session, "c1", "hello bob").await;
    let id = accepted(&mut alice, "c1").await;
    assert_eq!(id, MessageId::Seq(1));
    let message = delivered(&mut bob).await;
    assert_eq!(
        message,
        Message {
            conversation: Conversation::Session(session),
            from: UserId::from(1001),
            id: Some(MessageId::Seq(1)),
            content: "hello bob".into(),
        }
    );
    // Delivered but not acked: the hub keeps it until bob acks.
    until_pending(&server, 1).await;
    bob.send(Command::Ack {
        conversation: Conversation::Session(session),
        id: MessageId::Seq(1),
    })
    .await
    .unwrap();
    until_pending(&server, 0).await;

    // And back the other way, with the next id of the session.
    send(&bob, session, "r1", "hi alice").await;
    assert_eq!(accepted(&mut bob, "r1").await, MessageId::Seq(2));
    let reply = delivered(&mut alice).await;
    assert_eq!(reply.content, "hi alice");
    assert_eq!(reply.from, UserId::from(1002));
    server.shutdown().await;
}

#[tokio::test]
async fn unread_messages_come_at_login_and_unacked_ones_again_after_a_reconnect() {
    let server = start_default().await;
    let mut alice = client(&server, 2001).await;
    wait_logged_in(&mut alice).await;
    // Bob is offline: the session is opened all the same, the messages wait for him.
    alice
        .send(Command::OpenSession {
            peer: UserId::from(2002),
        })
        .await
        .unwrap();
    let session = wait_for(&mut alice, |e| match e {
        Event::SessionOpened { session, .. } => Some(*session),
        _ => None,
    })
    .await;
    send(&alice, session, "a", "first while away").await;
    accepted(&mut alice, "a").await;
    send(&alice, session, "b", "second while away").await;
    accepted(&mut alice, "b").await;
    until_pending(&server, 2).await;

    // Bob logs in: both, in order, right after the login.
    let mut bob = client(&server, 2002).await;
    let first = delivered(&mut bob).await;
    let second = delivered(&mut bob).await;
    assert_eq!(
        (first.content.as_str(), first.id.clone()),
        ("first while away", Some(MessageId::Seq(1)))
    );
    assert_eq!(
        (second.content.as_str(), second.id.clone()),
        ("second while away", Some(MessageId::Seq(2)))
    );
    // He acks only the first, then goes away.
    bob.send(Command::Ack {
        conversation: Conversation::Session(session),
        id: MessageId::Seq(1),
    })
    .await
    .unwrap();
    until_pending(&server, 1).await;
    drop(bob);

    // Reconnected: the unacked one comes again, with its id; the acked one does not.
    let mut bob = client(&server, 2002).await;
    let again = delivered(&mut bob).await;
    assert_eq!(again.content, "second while away");
    assert_eq!(again.id, Some(MessageId::Seq(2)));
    bob.send(Command::Ack {
        conversation: Conversation::Session(session),
        id: MessageId::Seq(2),
    })
    .await
    .unwrap();
    until_pending(&server, 0).await;
    drop(bob);

    // Everything acked: the next login brings only what is new.
    send(&alice, session, "c", "third").await;
    accepted(&mut alice, "c").await;
    let mut bob = client(&server, 2002).await;
    assert_eq!(delivered(&mut bob).await.content, "third");
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_password_or_unknown_user_is_refused_with_rc_wrongpw() {
    let dir = std::env::temp_dir().join(format!("imkit-e2e-eutamias-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("accounts.toml");
    std::fs::write(
        &file,
        "[[user]]\nid = 3001\npassword = \"right\"\n\n[[user]]\nid = 3002\npassword = \"other\"\n",
    )
    .unwrap();
    let accounts = AccountsFile::load(&file).expect("accounts file");
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = ServerConfig::ephemeral(&[Dialect::Eutamias]);
    config.hub.accounts = Some(accounts);
    let server = start(config).await;

    // The driver reports the refusal in words.
    match Connection::connect(driver_config(&server, 3001, "wrong")).await {
        Err(Error::Refused { reason, .. }) => {
            assert!(reason.contains("wrong password"), "{reason}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // On the wire: RC_WRONGPW with the id echoed; the connection stays open for a retry.
    let mut raw = Raw::connect(endpoint(&server, "notificer")).await;
    let refused = raw.login(3001, "wrong").await;
    assert_eq!(refused.id, 3001);
    assert_eq!(refused.result_code, ResultCode::RcWrongpw as i32);
    assert!(refused.result_str.contains("wrong password"), "{refused:?}");
    let stranger = raw.login(9999, "right").await;
    assert_eq!(stranger.result_code, ResultCode::RcWrongpw as i32);
    assert!(stranger.result_str.contains("unknown user"), "{stranger:?}");
    let ok = raw.login(3001, "right").await;
    assert_eq!(ok.result_code, ResultCode::RcOk as i32);

    // The switcher checks the password too.
    let mut switcher = Raw::connect(endpoint(&server, "switcher")).await;
    let refused = switcher.login(3002, "right").await;
    assert_eq!(refused.result_code, ResultCode::RcWrongpw as i32);

    // The right password works through the driver.
    let mut good = Connection::connect(driver_config(&server, 3001, "right"))
        .await
        .expect("the right password logs in");
    wait_logged_in(&mut good).await;
    server.shutdown().await;
}

/// Raw client: N login, CREATESESSION, S identification. Returns (N, S, session).
async fn raw_session(server: &Server, me: u64, peer: u64) -> (Raw, Raw, u64) {
    let mut n = Raw::connect(endpoint(server, "notificer")).await;
    assert_eq!(n.login(me, "pw").await.result_code, ResultCode::RcOk as i32);
    n.send(
        2,
        ClientMessage::CreateSession(CreateSessionReq {
            fromid: me,
            peerid: peer,
        }),
    )
    .await;
    let rsp = match n.next().await {
        Frame {
            seq: 2,
            message: ServerMessage::CreateSession(rsp),
        } => rsp,
        other => panic!("expected the CreateSessionRsp, got {other:?}"),
    };
    let switcher = endpoint(server, "switcher");
    assert_eq!(rsp.result_code, ResultCode::RcOk as i32, "{rsp:?}");
    assert_eq!((rsp.fromid, rsp.peerid), (me, peer));
    assert_eq!(
        (rsp.sip.as_str(), rsp.sport),
        ("127.0.0.1", u64::from(switcher.port()))
    );
    let mut s = Raw::connect(switcher).await;
    assert_eq!(s.login(me, "pw").await.result_code, ResultCode::RcOk as i32);
    (n, s, rsp.session_id)
}

fn msg_data(from: u64, session: u64, content: &str) -> ClientMessage {
    ClientMessage::MsgData(MsgData {
        id: from,
        session_id: session,
        content: content.into(),
    })
}

#[tokio::test]
async fn raw_switcher_accepts_delivers_on_the_peers_switcher_and_checks_senders() {
    let server = start_default().await;
    let (mut a_n, mut a_s, session) = raw_session(&server, 11, 12).await;
    // Bob logs in on N: the notice of the session (Seq 0) comes there; he identifies on S.
    let mut b_n = Raw::connect(endpoint(&server, "notificer")).await;
    assert_eq!(
        b_n.login(12, "pw").await.result_code,
        ResultCode::RcOk as i32
    );
    let mut b_s = Raw::connect(endpoint(&server, "switcher")).await;
    assert_eq!(
        b_s.login(12, "pw").await.result_code,
        ResultCode::RcOk as i32
    );

    // Accepted with the message id (Seq echoed), delivered on bob's switcher link.
    a_s.send(5, msg_data(11, session, "via S")).await;
    let accept = a_s.next().await;
    assert_eq!(accept.seq, 5);
    assert_eq!(
        accept.message,
        ServerMessage::MsgAck(MsgDataReadAck {
            result_code: ResultCode::RcOk as i32,
            result_str: "1".into(),
            ..MsgDataReadAck::default()
        })
    );
    let delivery = b_s.next().await;
    assert_eq!(
        delivery,
        Frame::new(
            1,
            ServerMessage::MsgData(MsgData {
                id: 11,
                session_id: session,
                content: "via S".into(),
            })
        )
    );
    // Not on bob's N: the first thing there is the answer to his next request.
    b_n.send(
        2,
        ClientMessage::CloseSession(CloseSessionReq {
            fromid: 12,
            peerid: 11,
            session_id: 999,
        }),
    )
    .await;
    match b_n.next().await {
        Frame {
            seq: 2,
            message: ServerMessage::CloseSession(rsq),
        } => {
            assert_eq!(rsq.result_code, ResultCode::RcServerError as i32);
            assert!(rsq.result_str.contains("unknown session"), "{rsq:?}");
        }
        other => panic!("expected the CloseSessionRsq, got {other:?}"),
    }
    // Bob acks on S (result_str = the session id, Seq = the message id).
    b_s.send(
        1,
        ClientMessage::MsgAck(MsgDataReadAck {
            result_code: ResultCode::RcOk as i32,
            result_str: session.to_string(),
            ..MsgDataReadAck::default()
        }),
    )
    .await;
    until_pending(&server, 0).await;

    // A sender id that is not the identified user: refused, Seq echoed, connection kept.
    a_s.send(6, msg_data(12, session, "forged")).await;
    let refusal = a_s.next().await;
    assert_eq!(refusal.seq, 6);
    let ServerMessage::MsgAck(ack) = &refusal.message else {
        panic!("{refusal:?}")
    };
    assert_eq!(ack.result_code, ResultCode::RcServerError as i32);
    assert!(ack.result_str.contains("claims to be from 12"), "{ack:?}");
    // A session the sender is not in: refused likewise.
    let (_c_n, mut c_s, other_session) = raw_session(&server, 13, 14).await;
    a_s.send(7, msg_data(11, other_session, "intruder")).await;
    let refusal = a_s.next().await;
    assert_eq!(refusal.seq, 7);
    let ServerMessage::MsgAck(ack) = &refusal.message else {
        panic!("{refusal:?}")
    };
    assert_eq!(ack.result_code, ResultCode::RcServerError as i32);
    assert!(ack.result_str.contains("is not in"), "{ack:?}");
    // A wrong fromid on N is refused with the CreateSessionRsp's result code.
    a_n.send(
        3,
        ClientMessage::CreateSession(CreateSessionReq {
            fromid: 12,
            peerid: 13,
        }),
    )
    .await;
    let refusal = a_n.next().await;
    assert_eq!(refusal.seq, 3);
    let ServerMessage::CreateSession(rsp) = &refusal.message else {
        panic!("{refusal:?}")
    };
    assert_eq!(rsp.result_code, ResultCode::RcServerError as i32);
    // Sending before identifying on S is refused, not crashed on.
    let mut anonymous = Raw::connect(endpoint(&server, "switcher")).await;
    anonymous.send(1, msg_data(11, session, "who am i")).await;
    let refusal = anonymous.next().await;
    let ServerMessage::MsgAck(ack) = &refusal.message else {
        panic!("{refusal:?}")
    };
    assert_eq!(ack.result_code, ResultCode::RcServerError as i32);
    assert!(ack.result_str.contains("not logged in"), "{ack:?}");

    // After all that, the refused connections still chat.
    a_s.send(8, msg_data(11, session, "still here")).await;
    assert!(matches!(a_s.next().await.message, ServerMessage::MsgAck(ref a) if a.result_code == 1));
    assert_eq!(b_s.next().await.seq, 2);
    c_s.send(2, msg_data(13, other_session, "me too")).await;
    assert!(matches!(c_s.next().await.message, ServerMessage::MsgAck(ref a) if a.result_code == 1));
    server.shutdown().await;
}

#[tokio::test]
async fn pipelined_requests_are_all_read_and_answered_in_order() {
    let server = start_default().await;
    let mut n = Raw::connect(endpoint(&server, "notificer")).await;
    let mut codec = ClientCodec::default();
    let mut bytes = bytes::BytesMut::new();
    use tokio_util::codec::Encoder;
    for frame in [
        Frame::new(
            1,
            ClientMessage::Login(LoginReq {
                id: 21,
                passwd: "pw".into(),
                online_statue: 0,
            }),
        ),
        Frame::new(0, ClientMessage::Heartbeat),
        Frame::new(
            2,
            ClientMessage::CreateSession(CreateSessionReq {
                fromid: 21,
                peerid: 22,
            }),
        ),
        Frame::new(3, ClientMessage::SendMsg(SendMsgReq { id: 21, peerid: 22 })),
        Frame::new(
            4,
            ClientMessage::CreateSession(CreateSessionReq {
                fromid: 21,
                peerid: 23,
            }),
        ),
    ] {
        codec.encode(frame, &mut bytes).unwrap();
    }
    // All in one write: the original would lose everything after the first.
    n.conn.get_mut().write_all(&bytes).await.unwrap();
    assert!(
        matches!(n.next().await, Frame { seq: 1, message: ServerMessage::Login(ref r) } if r.result_code == 1)
    );
    assert!(
        matches!(n.next().await, Frame { seq: 2, message: ServerMessage::CreateSession(ref r) } if r.peerid == 22)
    );
    assert!(
        matches!(n.next().await, Frame { seq: 4, message: ServerMessage::CreateSession(ref r) } if r.peerid == 23)
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_and_its_unacked_messages_kept() {
    let mut config = ServerConfig::ephemeral(&[Dialect::Eutamias]);
    config.timers.eutamias_heartbeat_timeout = Duration::from_millis(1500);
    let server = start(config).await;

    // Alice heartbeats often enough (her driver) and stays connected throughout.
    let mut alice_config = driver_config(&server, 4001, "pw");
    alice_config.heartbeat = Some(Duration::from_millis(100));
    let mut alice = Connection::connect(alice_config).await.unwrap();
    wait_logged_in(&mut alice).await;
    alice
        .send(Command::OpenSession {
            peer: UserId::from(4002),
        })
        .await
        .unwrap();
    let session = wait_for(&mut alice, |e| match e {
        Event::SessionOpened { session, .. } => Some(*session),
        _ => None,
    })
    .await;

    // Bob (raw) logs in and never beats: he gets the message, does not ack, and is dropped.
    let mut bob = Raw::connect(endpoint(&server, "notificer")).await;
    assert_eq!(bob.login(4002, "pw").await.result_code, 1);
    send(&alice, session, "x", "are you there").await;
    accepted(&mut alice, "x").await;
    let delivery = bob.next().await;
    assert!(
        matches!(delivery.message, ServerMessage::MsgData(ref m) if m.content == "are you there")
    );
    bob.expect_closed().await;
    until_pending(&server, 1).await;

    // Back again: the unacked message comes with the same id.
    let mut bob = Raw::connect(endpoint(&server, "notificer")).await;
    assert_eq!(bob.login(4002, "pw").await.result_code, 1);
    assert_eq!(bob.next().await, delivery);

    // Alice was never dropped: her link still carries messages both ways.
    send(&alice, session, "y", "still here").await;
    accepted(&mut alice, "y").await;
    let next = bob.next().await;
    assert!(matches!(next.message, ServerMessage::MsgData(ref m) if m.content == "still here"));
    let mut events = Vec::new();
    while let Ok(Some(event)) = timeout(Duration::from_millis(50), alice.recv()).await {
        events.push(event);
    }
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Connection(ConnectionState::Lost { .. }))),
        "{events:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn close_session_answers_and_later_sends_are_refused() {
    let server = start_default().await;
    let mut alice = client(&server, 5001).await;
    let mut bob = client(&server, 5002).await;
    wait_logged_in(&mut alice).await;
    wait_logged_in(&mut bob).await;
    let session = open_session(&mut alice, &mut bob, 5002).await;
    send(&alice, session, "1", "before").await;
    accepted(&mut alice, "1").await;
    assert_eq!(delivered(&mut bob).await.content, "before");

    alice
        .send(Command::CloseSession {
            session,
            peer: UserId::from(5002),
        })
        .await
        .unwrap();
    let closed = wait_for(&mut alice, |e| match e {
        Event::SessionClosed { session: s } => Some(*s),
        _ => None,
    })
    .await;
    assert_eq!(closed, session);
    // Sending into the closed session: S refuses with its result code.
    send(&bob, session, "2", "after").await;
    let code = wait_for(&mut bob, |e| match e {
        Event::Error { code, .. } => Some(*code),
        Event::Accepted { .. } => panic!("accepted into a closed session"),
        // The close is not announced to the peer.
        Event::SessionClosed { .. } => panic!("the peer was told"),
        _ => None,
    })
    .await;
    assert_eq!(code, Some(i64::from(ResultCode::RcServerError as i32)));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_closes_only_the_offending_connection() {
    let server = start_default().await;
    let mut alice = client(&server, 6001).await;
    let mut bob = client(&server, 6002).await;
    wait_logged_in(&mut alice).await;
    wait_logged_in(&mut bob).await;
    let session = open_session(&mut alice, &mut bob, 6002).await;

    // Not gob at all, on N.
    let mut garbage = Raw::connect(endpoint(&server, "notificer")).await;
    garbage
        .conn
        .get_mut()
        .write_all(b"GET / HTTP/1.1\r\n\r\n")
        .await
        .unwrap();
    garbage.expect_closed().await;

    // Valid gob, but the payload of a C_LOGIN is not a LoginReq, on S.
    let mut bad_proto = Raw::connect(endpoint(&server, "switcher")).await;
    let mut frame = PREAMBLE.to_vec();
    frame.extend(hex("0b ff82 01 08 01 01 01 02 ffff 00"));
    bad_proto.conn.get_mut().write_all(&frame).await.unwrap();
    bad_proto.expect_closed().await;

    // A segment announcing far more than the frame limit, on N, after a good login.
    let mut oversize = Raw::connect(endpoint(&server, "notificer")).await;
    assert_eq!(oversize.login(6003, "pw").await.result_code, 1);
    oversize
        .conn
        .get_mut()
        .write_all(&hex("fc 7fffffff"))
        .await
        .unwrap();
    oversize.expect_closed().await;

    // A message cut short by the client's close: nothing to answer, nothing crashes.
    let mut cut = TcpStream::connect(endpoint(&server, "notificer"))
        .await
        .unwrap();
    cut.write_all(&PREAMBLE[..20]).await.unwrap();
    drop(cut);

    // Not HTTP/2 on the dispatcher.
    let mut not_h2 = TcpStream::connect(endpoint(&server, "dispatcher"))
        .await
        .unwrap();
    not_h2.write_all(b"hello\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = timeout(WAIT, not_h2.read_to_end(&mut rest))
        .await
        .expect("the dispatcher closes a non-HTTP/2 client");

    // Everyone else keeps chatting, and new clients still get in.
    send(&alice, session, "ok", "unbothered").await;
    accepted(&mut alice, "ok").await;
    assert_eq!(delivered(&mut bob).await.content, "unbothered");
    let mut carol = client(&server, 6004).await;
    wait_logged_in(&mut carol).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_binary_announces_the_dispatcher_url() {
    use std::io::BufRead;
    use std::process::{Command as Process, Stdio};

    let mut child = Process::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "eutamias=127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run server-mock");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(WAIT);
    let line = match line {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            panic!("no announcement in time");
        }
    };
    let url = line
        .trim_end()
        .strip_prefix("listening eutamias http://127.0.0.1:")
        .map(|port| format!("http://127.0.0.1:{port}"));
    let lookup = async {
        let url = url.clone().expect("announcement format");
        let mut dispatcher = DispatcherClient::connect(&url, None, WAIT, WAIT).await?;
        dispatcher.get_my_nserver(NinfoReq { id: 1 }).await
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.is_some(), "{line:?}");
    let found = lookup.expect("the announced dispatcher answers");
    assert_eq!(found.rc, ResultCode::RcOk as i32);
    assert_eq!(found.nip, "127.0.0.1");
    assert_ne!(found.nport, 0);
}

#[tokio::test]
async fn identifying_on_the_switcher_replays_nothing_the_login_did() {
    let server = start_default().await;
    let (_a_n, mut a_s, session) = raw_session(&server, 31, 32).await;
    let connect_bob = || async {
        let mut n = Raw::connect(endpoint(&server, "notificer")).await;
        assert_eq!(n.login(32, "pw").await.result_code, 1);
        (n, Raw::connect(endpoint(&server, "switcher")).await)
    };
    let (b_n, mut b_s) = connect_bob().await;
    assert_eq!(b_s.login(32, "pw").await.result_code, 1);
    a_s.send(2, msg_data(31, session, "unacked")).await;
    assert_eq!(a_s.next().await.seq, 2);
    let first = b_s.next().await;
    assert_eq!(first.seq, 1);
    drop((b_n, b_s));
    // Gone from the hub (alice's two connections remain), the message kept.
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.hub().stats().connections != 2 {
        assert!(tokio::time::Instant::now() < deadline, "bob's links linger");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    until_pending(&server, 1).await;

    // The login on N hands the unacked message out again; identifying on S does not.
    let (mut b_n, mut b_s) = connect_bob().await;
    assert_eq!(b_n.next().await, first);
    assert_eq!(b_s.login(32, "pw").await.result_code, 1);
    a_s.send(3, msg_data(31, session, "new")).await;
    assert_eq!(a_s.next().await.seq, 3);
    let next = b_s.next().await;
    assert_eq!(next.seq, 2, "{next:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn logout_keeps_the_connection_but_a_client_that_never_logs_in_is_closed() {
    let mut config = ServerConfig::ephemeral(&[Dialect::Eutamias]);
    config.limits.handshake_timeout = Duration::from_millis(500);
    // Far beyond the test's waits: what closes the stranger is the login deadline.
    config.timers.eutamias_heartbeat_timeout = Duration::from_secs(60);
    let server = start(config).await;
    let notificer = endpoint(&server, "notificer");

    let mut stranger = Raw::connect(notificer).await;
    let mut leaver = Raw::connect(notificer).await;
    assert_eq!(leaver.login(41, "pw").await.result_code, 1);
    assert!(server.hub().is_online(&UserId::from(41)));
    leaver
        .send(2, ClientMessage::Logout(LogoutReq { id: 41 }))
        .await;
    // Both beat for longer than the login deadline; only the one that never logged in goes.
    for _ in 0..10 {
        // The stranger's socket may be closed already: its writes may fail.
        let _ = stranger
            .conn
            .send(Frame::new(0, ClientMessage::Heartbeat))
            .await;
        leaver.send(0, ClientMessage::Heartbeat).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stranger.expect_closed().await;

    // The logged-out connection is still open, and logged out: no reply to LOGOUT, and a
    // request that needs a user is refused in words.
    assert!(!server.hub().is_online(&UserId::from(41)));
    leaver
        .send(
            3,
            ClientMessage::CreateSession(CreateSessionReq {
                fromid: 41,
                peerid: 42,
            }),
        )
        .await;
    let refusal = leaver.next().await;
    assert_eq!(refusal.seq, 3);
    let ServerMessage::CreateSession(rsp) = &refusal.message else {
        panic!("{refusal:?}")
    };
    assert_eq!(rsp.result_code, ResultCode::RcServerError as i32);
    assert!(rsp.result_str.contains("not logged in"), "{rsp:?}");
    server.shutdown().await;
}
