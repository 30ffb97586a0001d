//! eutamias driver against scripted peers on 127.0.0.1: a tonic dispatcher (D), a notificer
//! (N) and a switcher (S) that check the bytes they get.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::eutamias::gob::PREAMBLE;
use imkit_protocols::eutamias::proto::*;
use imkit_protocols::eutamias::{
    ClientMessage, Dispatcher, DispatcherClient, Frame, ServerCodec, ServerMessage,
    serve_dispatcher,
};
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, Message, MessageId, ReconnectPolicy, SessionId, UserId,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;

const WAIT: Duration = Duration::from_secs(10);

/// A dispatcher that names one notificer and counts lookups.
struct OneNotificer {
    port: u16,
    lookups: Arc<AtomicUsize>,
}

impl Dispatcher for OneNotificer {
    async fn get_my_nserver(&self, request: NinfoReq) -> Result<NinfoRsp, tonic::Status> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        Ok(NinfoRsp {
            id: request.id,
            nip: "127.0.0.1".into(),
            nport: u64::from(self.port),
            rc: ResultCode::RcOk as i32,
        })
    }
}

async fn start_dispatcher(notificer_port: u16) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let lookups = Arc::new(AtomicUsize::new(0));
    let dispatcher = OneNotificer {
        port: notificer_port,
        lookups: Arc::clone(&lookups),
    };
    tokio::spawn(serve_dispatcher(
        listener,
        dispatcher,
        std::future::pending(),
    ));
    (address, lookups)
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The note's LOGIN frame with `Seq = 1` (user 234, password "pw").
fn login_bytes() -> Vec<u8> {
    let mut bytes = PREAMBLE.to_vec();
    bytes.extend(hex("10 ff82 0108 0101 0107 08ea01 12027077 00"));
    bytes
}

fn heartbeat_bytes() -> Vec<u8> {
    let mut bytes = PREAMBLE.to_vec();
    bytes.extend(hex("05 ff82 01 02 00"));
    bytes
}

/// The note's LoginRsp with `Seq = 1`, or RC_WRONGPW.
fn login_rsp_bytes(result_code: u8) -> Vec<u8> {
    let mut bytes = PREAMBLE.to_vec();
    bytes.extend(hex("0e ff82 0108 0101 0105 08ea0110"));
    bytes.extend([result_code, 0x00]);
    bytes
}

async fn expect_bytes(stream: &mut TcpStream, expected: &[u8], what: &str) {
    let mut got = vec![0; expected.len()];
    tokio::time::timeout(WAIT, stream.read_exact(&mut got))
        .await
        .unwrap_or_else(|_| panic!("no {what} in time"))
        .unwrap();
    assert_eq!(got, expected, "{what}");
}

/// Accept one client and check its login byte for byte, answering RC_OK.
async fn accept_login(listener: &TcpListener) -> TcpStream {
    let (mut stream, _) = tokio::time::timeout(WAIT, listener.accept())
        .await
        .expect("no connection in time")
        .unwrap();
    expect_bytes(&mut stream, &login_bytes(), "LOGIN").await;
    stream.write_all(&login_rsp_bytes(1)).await.unwrap();
    stream
}

async fn next_event(connection: &mut Connection) -> Event {
    tokio::time::timeout(WAIT, connection.recv())
        .await
        .expect("no event in time")
        .expect("driver stopped")
}

async fn expect_event(connection: &mut Connection, expected: Event) {
    assert_eq!(next_event(connection).await, expected);
}

async fn next_frame(conn: &mut Framed<TcpStream, ServerCodec>) -> Frame<ClientMessage> {
    tokio::time::timeout(WAIT, conn.next())
        .await
        .expect("no frame in time")
        .expect("client closed")
        .unwrap()
}

fn config(address: &str) -> DriverConfig {
    let mut config = DriverConfig::new(Dialect::Eutamias, address).with_credentials(Credentials {
        user: Some(UserId::from(234)),
        secret: Some("pw".into()),
        ..Credentials::default()
    });
    config.connect_timeout = Duration::from_secs(5);
    config.reply_timeout = Duration::from_secs(5);
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: Some(20),
    };
    config
}

#[tokio::test]
async fn grpc_lookup_round_trip_over_a_socket() {
    let (address, lookups) = start_dispatcher(54323).await;
    let mut client = DispatcherClient::connect(
        &address,
        None,
        Duration::from_secs(5),
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    let rsp = client.get_my_nserver(NinfoReq { id: 42 }).await.unwrap();
    assert_eq!(
        rsp,
        NinfoRsp {
            id: 42,
            nip: "127.0.0.1".into(),
            nport: 54323,
            rc: 1
        }
    );
    assert_eq!(lookups.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn lookup_login_heartbeat_and_reconnect_after_n_drops() {
    let notificer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let n_port = notificer.local_addr().unwrap().port();
    let (address, lookups) = start_dispatcher(n_port).await;
    let n_address = format!("127.0.0.1:{n_port}");

    let script = tokio::spawn(async move {
        // First connection: login, one heartbeat, then N drops the client.
        let mut first = accept_login(&notificer).await;
        expect_bytes(&mut first, &heartbeat_bytes(), "HEARTBEAT").await;
        drop(first);
        // The client looks up and logs in again, and keeps beating.
        let mut second = accept_login(&notificer).await;
        expect_bytes(&mut second, &heartbeat_bytes(), "HEARTBEAT after reconnect").await;
        second
    });

    let mut config = config(&address);
    config.heartbeat = Some(Duration::from_millis(50));
    let mut connection = Connection::connect(config).await.unwrap();
    expect_event(
        &mut connection,
        Event::LookedUp {
            address: n_address.clone(),
        },
    )
    .await;
    expect_event(
        &mut connection,
        Event::LoggedIn {
            user: UserId::from(234),
            token: None,
        },
    )
    .await;
    expect_event(
        &mut connection,
        Event::Connection(ConnectionState::Online { reconnect: false }),
    )
    .await;
    assert!(matches!(
        next_event(&mut connection).await,
        Event::Connection(ConnectionState::Lost { .. })
    ));
    // Reconnect attempts until the lookup and login succeed again.
    loop {
        match next_event(&mut connection).await {
            Event::Connection(ConnectionState::Reconnecting { .. }) | Event::Error { .. } => {}
            Event::LookedUp { address } => {
                assert_eq!(address, n_address);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    expect_event(
        &mut connection,
        Event::LoggedIn {
            user: UserId::from(234),
            token: None,
        },
    )
    .await;
    expect_event(
        &mut connection,
        Event::Connection(ConnectionState::Online { reconnect: true }),
    )
    .await;
    let _second = tokio::time::timeout(WAIT, script).await.unwrap().unwrap();
    assert_eq!(lookups.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn wrong_password_is_refused() {
    let notificer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (address, _) = start_dispatcher(notificer.local_addr().unwrap().port()).await;
    tokio::spawn(async move {
        let (mut stream, _) = notificer.accept().await.unwrap();
        expect_bytes(&mut stream, &login_bytes(), "LOGIN").await;
        stream.write_all(&login_rsp_bytes(2)).await.unwrap();
        // Hold the connection open: the client must close on its own.
        let _ = stream.read(&mut [0; 64]).await;
    });
    let mut config = config(&address);
    config.reconnect = ReconnectPolicy::never();
    let err = Connection::connect(config).await.unwrap_err();
    assert!(
        matches!(&err, Error::Refused { operation: "log in", reason, .. } if reason.contains("wrong password")),
        "{err}"
    );
}

#[tokio::test]
async fn dispatcher_without_notificer_is_a_clear_error() {
    let (address, _) = start_dispatcher(0).await;
    let mut config = config(&address);
    config.reconnect = ReconnectPolicy::never();
    let err = Connection::connect(config).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Refused {
                operation: "look up a notificer",
                ..
            }
        ),
        "{err}"
    );
}

/// The whole documented flow: open a session at N, identify at S, send, get accepted, get a
/// delivery, ack it, close the session, log out. Commands are queued at once: the driver
/// must hold each until the previous answer (no pipelining) and until the S link is open.
#[tokio::test]
async fn session_chat_through_the_switcher() {
    let notificer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let switcher = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s_port = switcher.local_addr().unwrap().port();
    let (address, _) = start_dispatcher(notificer.local_addr().unwrap().port()).await;

    let n_script = tokio::spawn(async move {
        let stream = accept_login(&notificer).await;
        let mut n = Framed::new(stream, ServerCodec::default());
        let open = next_frame(&mut n).await;
        assert_eq!(
            open,
            Frame::new(
                2,
                ClientMessage::CreateSession(CreateSessionReq {
                    fromid: 234,
                    peerid: 9
                })
            )
        );
        n.send(Frame::new(
            2,
            ServerMessage::CreateSession(CreateSessionRsp {
                fromid: 234,
                peerid: 9,
                session_id: 5,
                result_code: ResultCode::RcOk as i32,
                result_str: String::new(),
                sip: "127.0.0.1".into(),
                sport: u64::from(s_port),
            }),
        ))
        .await
        .unwrap();
        let close = next_frame(&mut n).await;
        assert_eq!(
            close,
            Frame::new(
                4,
                ClientMessage::CloseSession(CloseSessionReq {
                    fromid: 234,
                    peerid: 9,
                    session_id: 5
                })
            )
        );
        n.send(Frame::new(
            4,
            ServerMessage::CloseSession(CloseSessionRsq {
                result_code: ResultCode::RcOk as i32,
                result_str: String::new(),
            }),
        ))
        .await
        .unwrap();
        let logout = next_frame(&mut n).await;
        assert_eq!(
            logout,
            Frame::new(5, ClientMessage::Logout(LogoutReq { id: 234 }))
        );
    });

    let s_script = tokio::spawn(async move {
        let stream = accept_login(&switcher).await;
        let mut s = Framed::new(stream, ServerCodec::default());
        let data = next_frame(&mut s).await;
        assert_eq!(
            data,
            Frame::new(
                3,
                ClientMessage::MsgData(MsgData {
                    id: 234,
                    session_id: 5,
                    content: "hello".into()
                })
            )
        );
        s.send(Frame::new(
            3,
            ServerMessage::MsgAck(MsgDataReadAck {
                result_code: ResultCode::RcOk as i32,
                result_str: "100".into(),
                ..Default::default()
            }),
        ))
        .await
        .unwrap();
        s.send(Frame::new(
            101,
            ServerMessage::MsgData(MsgData {
                id: 9,
                session_id: 5,
                content: "hi back".into(),
            }),
        ))
        .await
        .unwrap();
        let ack = next_frame(&mut s).await;
        assert_eq!(
            ack,
            Frame::new(
                101,
                ClientMessage::MsgAck(MsgDataReadAck {
                    result_code: ResultCode::RcOk as i32,
                    result_str: "5".into(),
                    ..Default::default()
                })
            )
        );
        s
    });

    let mut config = config(&address);
    // No heartbeat inside this script (the scripted peers expect exact frames).
    config.heartbeat = Some(Duration::from_secs(3600));
    let mut connection = Connection::connect(config).await.unwrap();
    for _ in 0..3 {
        next_event(&mut connection).await; // LookedUp, LoggedIn, Online
    }
    connection
        .send(Command::OpenSession {
            peer: UserId::from(9),
        })
        .await
        .unwrap();
    connection
        .send(Command::Send {
            to: Conversation::Session(SessionId(5)),
            client_ref: "c1".into(),
            content: "hello".into(),
        })
        .await
        .unwrap();
    expect_event(
        &mut connection,
        Event::SessionOpened {
            session: SessionId(5),
            peer: UserId::from(9),
            peer_name: None,
            by_peer: false,
        },
    )
    .await;
    expect_event(
        &mut connection,
        Event::Accepted {
            client_ref: Some("c1".into()),
            id: Some(MessageId::Seq(100)),
        },
    )
    .await;
    expect_event(
        &mut connection,
        Event::Delivered(Message {
            conversation: Conversation::Session(SessionId(5)),
            from: UserId::from(9),
            id: Some(MessageId::Seq(101)),
            content: "hi back".into(),
        }),
    )
    .await;
    connection
        .send(Command::Ack {
            conversation: Conversation::Session(SessionId(5)),
            id: MessageId::Seq(101),
        })
        .await
        .unwrap();
    connection
        .send(Command::CloseSession {
            session: SessionId(5),
            peer: UserId::from(9),
        })
        .await
        .unwrap();
    expect_event(
        &mut connection,
        Event::SessionClosed {
            session: SessionId(5),
        },
    )
    .await;
    let _s = tokio::time::timeout(WAIT, s_script).await.unwrap().unwrap();
    connection.close().await;
    tokio::time::timeout(WAIT, n_script).await.unwrap().unwrap();
}

/// After N drops, the driver looks up and logs in again, and reopens the switcher link the
/// lost link had (identifying at S again).
#[tokio::test]
async fn reconnect_reopens_the_switcher_link() {
    let notificer = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let switcher = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let s_port = switcher.local_addr().unwrap().port();
    let (address, lookups) = start_dispatcher(notificer.local_addr().unwrap().port()).await;

    let script = tokio::spawn(async move {
        let stream = accept_login(&notificer).await;
        let mut n = Framed::new(stream, ServerCodec::default());
        let open = next_frame(&mut n).await;
        assert!(matches!(open.message, ClientMessage::CreateSession(_)));
        n.send(Frame::new(
            open.seq,
            ServerMessage::CreateSession(CreateSessionRsp {
                fromid: 234,
                peerid: 9,
                session_id: 5,
                result_code: ResultCode::RcOk as i32,
                sip: "127.0.0.1".into(),
                sport: u64::from(s_port),
                ..Default::default()
            }),
        ))
        .await
        .unwrap();
        let first_s = accept_login(&switcher).await;
        drop(n); // N goes away
        let second_n = accept_login(&notificer).await;
        let second_s = accept_login(&switcher).await;
        (first_s, second_n, second_s)
    });

    let mut config = config(&address);
    config.heartbeat = Some(Duration::from_secs(3600));
    let mut connection = Connection::connect(config).await.unwrap();
    connection
        .send(Command::OpenSession {
            peer: UserId::from(9),
        })
        .await
        .unwrap();
    let mut online = 0;
    let mut opened = false;
    while online < 2 {
        match next_event(&mut connection).await {
            Event::Connection(ConnectionState::Online { .. }) => online += 1,
            Event::SessionOpened { session, .. } => {
                assert_eq!(session, SessionId(5));
                opened = true;
            }
            Event::Error { message, .. } => assert!(message.contains("reconnect attempt")),
            _ => {}
        }
    }
    assert!(opened);
    let _streams = tokio::time::timeout(WAIT, script).await.unwrap().unwrap();
    assert_eq!(lookups.load(Ordering::SeqCst), 2);
}
