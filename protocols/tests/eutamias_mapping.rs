//! eutamias: the neutral mapping, client side against server side, through the bytes.

use bytes::BytesMut;
use imkit_protocols::eutamias::proto::*;
use imkit_protocols::eutamias::{
    Awaiting, ClientCodec, ClientContext, ClientMessage, Frame, ReplyTo, Request, ServerCodec,
    ServerContext, ServerMessage, command_from_wire,
};
use imkit_protocols::{
    Command, Conversation, Error, Event, GroupId, Message, MessageId, SessionId, UserId,
};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

const ME: u64 = 234;

/// Client encodes, server decodes.
fn client_to_server(frame: Frame<ClientMessage>) -> Frame<ClientMessage> {
    let mut bytes = BytesMut::new();
    ClientCodec::default().encode(frame, &mut bytes).unwrap();
    ServerCodec::default().decode(&mut bytes).unwrap().unwrap()
}

fn server_to_client(frame: Frame<ServerMessage>) -> Frame<ServerMessage> {
    let mut bytes = BytesMut::new();
    ServerCodec::default().encode(frame, &mut bytes).unwrap();
    ClientCodec::default().decode(&mut bytes).unwrap().unwrap()
}

fn server() -> ServerContext {
    ServerContext {
        user: ME,
        switcher_ip: "127.0.0.1".into(),
        switcher_port: 54324,
    }
}

#[test]
fn login_command_is_the_golden_login_req() {
    let frame = ClientContext::new(ME)
        .command_to_wire(
            &Command::Login {
                user: UserId::from(234),
                secret: Some("pw".into()),
                device: None,
            },
            7,
        )
        .unwrap();
    assert_eq!(
        frame,
        Frame::new(
            7,
            ClientMessage::Login(LoginReq {
                id: 234,
                passwd: "pw".into(),
                online_statue: 0
            })
        )
    );
}

#[test]
fn heartbeat_and_ack_override_the_seq() {
    let client = ClientContext::new(ME);
    assert_eq!(
        client.command_to_wire(&Command::Ping, 9).unwrap(),
        Frame::new(0, ClientMessage::Heartbeat)
    );
    let ack = Command::Ack {
        conversation: Conversation::Session(SessionId(5)),
        id: MessageId::Seq(77),
    };
    assert_eq!(
        client.command_to_wire(&ack, 9).unwrap(),
        Frame::new(
            77,
            ClientMessage::MsgAck(MsgDataReadAck {
                result_code: 1,
                result_str: "5".into(),
                ..Default::default()
            })
        )
    );
}

#[test]
fn what_the_dialect_cannot_say_is_unsupported() {
    let client = ClientContext::new(ME);
    for command in [
        Command::Match,
        Command::JoinGroup {
            group: GroupId::new("g"),
        },
        Command::Send {
            to: Conversation::User(UserId::from(1)),
            client_ref: "r".into(),
            content: "x".into(),
        },
        Command::OpenSession {
            peer: UserId::new("alice"),
        },
        Command::Pong,
    ] {
        let err = client.command_to_wire(&command, 1).unwrap_err();
        assert!(
            matches!(err, Error::Unsupported { .. }),
            "{command:?}: {err}"
        );
        assert!(err.to_string().starts_with("the eutamias dialect cannot"));
    }
    let err = server().event_to_wire(&Event::NoPartner, None).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
    assert!(matches!(
        command_from_wire(&Frame::new(
            1,
            ClientMessage::Unknown {
                cmd: 99,
                msg: Default::default()
            }
        )),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn a_peer_notice_is_not_the_answer_to_our_open() {
    let mut client = ClientContext::new(ME);
    client.awaiting = Some(Awaiting {
        seq: 4,
        request: Request::OpenSession,
    });
    // Peer 9 opened a session with us while we wait for our own.
    let notice = server()
        .event_to_wire(
            &Event::SessionOpened {
                session: SessionId(3),
                peer: UserId::from(9),
                peer_name: None,
                by_peer: true,
            },
            None,
        )
        .unwrap();
    let notice = server_to_client(notice);
    assert_eq!(notice.seq, 0);
    assert!(!client.answers(&notice));
    match &notice.message {
        ServerMessage::CreateSession(rsp) => {
            assert_eq!(
                (rsp.fromid, rsp.peerid, rsp.sip.as_str(), rsp.sport),
                (9, ME, "127.0.0.1", 54324)
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        client.event_from_wire(&notice),
        Event::SessionOpened {
            session: SessionId(3),
            peer: UserId::from(9),
            peer_name: None,
            by_peer: true
        }
    );
}

#[test]
fn wrong_password_is_an_error_event() {
    let reply = server()
        .event_to_wire(
            &Event::Error {
                code: Some(ResultCode::RcWrongpw as i64),
                message: "wrong password".into(),
            },
            Some(ReplyTo {
                cmd: MsgCmd::CLogin,
                seq: 1,
            }),
        )
        .unwrap();
    assert_eq!(
        reply,
        Frame::new(
            1,
            ServerMessage::Login(LoginRsp {
                id: ME,
                result_code: 2,
                result_str: "wrong password".into()
            })
        )
    );
}

fn numeric_user() -> impl Strategy<Value = UserId> {
    any::<u64>().prop_map(UserId::from)
}

fn text() -> impl Strategy<Value = String> {
    "[a-z0-9 é]{0,16}"
}

/// Commands eutamias can express, in the form the server side reads them back.
fn command() -> impl Strategy<Value = (u64, Command)> {
    prop_oneof![
        (any::<u64>(), numeric_user(), "[a-z0-9]{1,8}").prop_map(|(seq, user, s)| (
            seq,
            Command::Login {
                user,
                secret: Some(s),
                device: None
            }
        )),
        (any::<u64>(), numeric_user()).prop_map(|(seq, peer)| (seq, Command::OpenSession { peer })),
        (any::<u64>(), any::<u64>(), numeric_user()).prop_map(|(seq, s, peer)| (
            seq,
            Command::CloseSession {
                session: SessionId(s),
                peer
            }
        )),
        (any::<u64>(), any::<u64>(), text()).prop_map(|(seq, s, content)| (
            seq,
            Command::Send {
                to: Conversation::Session(SessionId(s)),
                client_ref: seq.to_string(),
                content
            }
        )),
        (any::<u64>(), any::<u64>()).prop_map(|(s, id)| (
            id,
            Command::Ack {
                conversation: Conversation::Session(SessionId(s)),
                id: MessageId::Seq(id)
            }
        )),
        Just((0, Command::Ping)),
        any::<u64>().prop_map(|seq| (seq, Command::Logout)),
    ]
}

/// Events a server sends, with the request they answer (if any) as the client awaits it.
fn event() -> impl Strategy<Value = (Option<(ReplyTo, Request)>, Event)> {
    let seq = 1..u64::MAX;
    prop_oneof![
        seq.clone().prop_map(|seq| (
            Some((
                ReplyTo {
                    cmd: MsgCmd::CLogin,
                    seq
                },
                Request::Login
            )),
            Event::LoggedIn {
                user: UserId::from(ME),
                token: None
            }
        )),
        (seq.clone(), any::<u64>(), numeric_user()).prop_map(|(seq, s, peer)| (
            Some((
                ReplyTo {
                    cmd: MsgCmd::CCreatesession,
                    seq
                },
                Request::OpenSession
            )),
            Event::SessionOpened {
                session: SessionId(s),
                peer,
                peer_name: None,
                by_peer: false
            }
        )),
        (
            any::<u64>(),
            (0..u64::MAX).prop_filter("not us", |p| *p != ME)
        )
            .prop_map(|(s, peer)| (
                None,
                Event::SessionOpened {
                    session: SessionId(s),
                    peer: UserId::from(peer),
                    peer_name: None,
                    by_peer: true
                }
            )),
        (seq.clone(), any::<u64>()).prop_map(|(seq, s)| (
            Some((
                ReplyTo {
                    cmd: MsgCmd::CClosesession,
                    seq
                },
                Request::CloseSession(SessionId(s))
            )),
            Event::SessionClosed {
                session: SessionId(s)
            }
        )),
        (seq.clone(), any::<u64>(), "[a-z0-9]{1,8}").prop_map(|(seq, id, client_ref)| (
            Some((
                ReplyTo {
                    cmd: MsgCmd::CMsgdata,
                    seq
                },
                Request::Send {
                    client_ref: client_ref.clone()
                }
            )),
            Event::Accepted {
                client_ref: Some(client_ref),
                id: Some(MessageId::Seq(id))
            }
        )),
        (any::<u64>(), any::<u64>(), numeric_user(), text()).prop_map(|(s, id, from, content)| (
            None,
            Event::Delivered(Message {
                conversation: Conversation::Session(SessionId(s)),
                from,
                id: Some(MessageId::Seq(id)),
                content
            })
        )),
        (
            seq,
            prop_oneof![
                Just((MsgCmd::CLogin, Request::Login)),
                Just((MsgCmd::CCreatesession, Request::OpenSession)),
                Just((MsgCmd::CClosesession, Request::CloseSession(SessionId(1)))),
                Just((
                    MsgCmd::CMsgdata,
                    Request::Send {
                        client_ref: "r".into()
                    }
                )),
            ],
            2..4i64,
            "[a-z]{1,10}"
        )
            .prop_map(|(seq, (cmd, request), code, message)| (
                Some((ReplyTo { cmd, seq }, request)),
                Event::Error {
                    code: Some(code),
                    message
                }
            )),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip_through_the_wire((seq, command) in command()) {
        let frame = ClientContext::new(ME).command_to_wire(&command, seq).unwrap();
        prop_assert_eq!(frame.seq, seq);
        let read = client_to_server(frame);
        prop_assert_eq!(command_from_wire(&read).unwrap(), command);
    }

    #[test]
    fn events_round_trip_through_the_wire((reply, event) in event()) {
        let frame = server().event_to_wire(&event, reply.as_ref().map(|(r, _)| *r)).unwrap();
        let read = server_to_client(frame);
        let mut client = ClientContext::new(ME);
        client.awaiting = reply.map(|(r, request)| Awaiting { seq: r.seq, request });
        prop_assert_eq!(client.answers(&read), client.awaiting.is_some());
        prop_assert_eq!(client.event_from_wire(&read), event);
    }
}
