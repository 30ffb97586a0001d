//! fishchat-text (one command per line) and the neutral mapping shared by both forms.

use bytes::BytesMut;
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

use imkit_protocols::fishchat::{
    Cmd, Context, Inbound, TextCodec, cmd_to_command, cmd_to_event, command_to_cmd, event_to_cmd,
};
use imkit_protocols::{
    Command, Conversation, Dialect, Error, Event, GroupId, Message, MessageId, SessionId, UserId,
};

fn s(v: &str) -> String {
    v.to_owned()
}

fn decode_all(codec: &mut TextCodec, bytes: &[u8]) -> Vec<Inbound> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).expect("decodes") {
        out.push(item);
    }
    out
}

fn encode(cmd: &Cmd) -> Vec<u8> {
    let mut out = BytesMut::new();
    TextCodec::default().encode(cmd, &mut out).unwrap();
    out.to_vec()
}

/// The README's commands and the note's flow, as lines.
fn golden() -> Vec<(&'static str, Cmd)> {
    vec![
        ("REQ_MSG_SERVER\n", Cmd::ReqMsgServer),
        (
            "SELECT_MSG_SERVER_FOR_CLIENT 127.0.0.1:19000\n",
            Cmd::SelectMsgServerForClient {
                addr: s("127.0.0.1:19000"),
            },
        ),
        (
            "SEND_CLIENT_ID 42\n",
            Cmd::SendClientId { client_id: s("42") },
        ),
        ("SEND_PING PING\n", Cmd::SendPing),
        (
            "SEND_MESSAGE_P2P bob \"hello <b>&\" alice\n",
            Cmd::SendMessageP2p {
                to: s("bob"),
                msg: s("hello <b>&"),
                from: s("alice"),
            },
        ),
        (
            "RESP_MESSAGE_P2P \"hello <b>&\" alice 4f95926e-b2f9-4422-90e5-e0b6349cd7b7\n",
            Cmd::RespMessageP2p {
                msg: s("hello <b>&"),
                from: s("alice"),
                uuid: s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"),
            },
        ),
        (
            "P2P_ACK bob 4f95926e-b2f9-4422-90e5-e0b6349cd7b7\n",
            Cmd::P2pAck {
                client_id: s("bob"),
                uuid: s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"),
            },
        ),
        ("CREATE_TOPIC t1\n", Cmd::CreateTopic { topic: s("t1") }),
        (
            "JOIN_TOPIC t1 bob\n",
            Cmd::JoinTopic {
                topic: s("t1"),
                client_id: s("bob"),
            },
        ),
        (
            "LOCATE_TOPIC_MSG_ADDR 127.0.0.1:19000 t1\n",
            Cmd::LocateTopicMsgAddr {
                addr: s("127.0.0.1:19000"),
                topic: s("t1"),
            },
        ),
        (
            "SEND_MESSAGE_TOPIC t1 \"hey all\"\n",
            Cmd::SendMessageTopic {
                topic: s("t1"),
                msg: s("hey all"),
            },
        ),
        (
            "RESP_MESSAGE_TOPIC t1 \"hey all\" alice\n",
            Cmd::RespMessageTopic {
                topic: s("t1"),
                msg: s("hey all"),
                from: s("alice"),
            },
        ),
    ]
}

#[test]
fn every_golden_line_encodes_and_decodes() {
    for (line, cmd) in golden() {
        assert_eq!(encode(&cmd), line.as_bytes(), "encoding {cmd:?}");
        match &decode_all(&mut TextCodec::default(), line.as_bytes())[..] {
            [Inbound::Cmd(got)] => assert_eq!(got, &cmd, "{line}"),
            other => panic!("{line}: {other:?}"),
        }
    }
}

#[test]
fn escapes_and_empty_args_are_quoted() {
    let cmd = Cmd::SendMessageTopic {
        topic: s(""),
        msg: s("say \"hi\"\n\\o/\t\u{7}"),
    };
    let line = b"SEND_MESSAGE_TOPIC \"\" \"say \\\"hi\\\"\\n\\\\o/\\t\\x07\"\n";
    assert_eq!(encode(&cmd), line);
    match &decode_all(&mut TextCodec::default(), line)[..] {
        [Inbound::Cmd(got)] => assert_eq!(got, &cmd),
        other => panic!("{other:?}"),
    }
}

#[test]
fn crlf_blank_lines_case_and_a_last_line_without_newline() {
    let input = b"send_client_id alice\r\n\r\n  \nSEND_PING\r\nCREATE_TOPIC t1";
    let mut codec = TextCodec::default();
    let mut buf = BytesMut::from(&input[..]);
    let mut items = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        items.push(item);
    }
    while let Some(item) = codec.decode_eof(&mut buf).unwrap() {
        items.push(item);
    }
    let shapes: Vec<String> = items.iter().map(shape).collect();
    assert_eq!(
        shapes,
        vec![
            format!(
                "{:?}",
                Cmd::SendClientId {
                    client_id: s("alice")
                }
            ),
            s("empty"),
            s("empty"),
            format!("{:?}", Cmd::SendPing),
            format!("{:?}", Cmd::CreateTopic { topic: s("t1") }),
        ]
    );
}

#[test]
fn bad_lines_are_reported_and_the_next_line_decodes() {
    let input = b"SEND_MESSAGE_P2P bob \"open\nSEND_CLIENT_ID\n\xff\xfe\nSEND_PING PING\n";
    let items = decode_all(&mut TextCodec::default(), input);
    assert_eq!(items.len(), 4);
    for bad in &items[..3] {
        assert!(
            matches!(bad, Inbound::Invalid(Error::Malformed { .. })),
            "{bad:?}"
        );
    }
    assert!(matches!(items[3], Inbound::Cmd(Cmd::SendPing)));
}

#[test]
fn a_line_over_the_limit_is_an_error_without_waiting_for_its_end() {
    let mut codec = TextCodec::new(16);
    let mut buf = BytesMut::from(&b"SEND_CLIENT_ID 0123456789"[..]);
    match codec.decode(&mut buf) {
        Err(Error::FrameTooLarge {
            dialect: Dialect::FishchatText,
            limit: 16,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Exactly at the limit is fine.
    let mut ok = BytesMut::from(&b"SEND_CLIENT_ID 4\n"[..]);
    assert!(matches!(
        TextCodec::new(16).decode(&mut ok).unwrap(),
        Some(Inbound::Cmd(Cmd::SendClientId { .. }))
    ));
}

fn shape(item: &Inbound) -> String {
    match item {
        Inbound::Cmd(c) => format!("{c:?}"),
        Inbound::Empty => "empty".into(),
        Inbound::Invalid(_) => "invalid".into(),
    }
}

// ---- the neutral mapping ----

#[test]
fn the_neutral_mapping_of_the_brief() {
    let ctx = Context::new("alice");
    let cases: Vec<(Command, Cmd)> = vec![
        (
            Command::Login {
                user: UserId::from("alice"),
                secret: None,
                device: None,
            },
            Cmd::SendClientId {
                client_id: s("alice"),
            },
        ),
        (
            Command::Send {
                to: Conversation::User(UserId::from("bob")),
                client_ref: s("r1"),
                content: s("hi"),
            },
            Cmd::SendMessageP2p {
                to: s("bob"),
                msg: s("hi"),
                from: s("alice"),
            },
        ),
        (
            Command::Send {
                to: Conversation::Group(GroupId::from("t1")),
                client_ref: s(""),
                content: s("hey"),
            },
            Cmd::SendMessageTopic {
                topic: s("t1"),
                msg: s("hey"),
            },
        ),
        (
            Command::Ack {
                conversation: Conversation::User(UserId::from("bob")),
                id: MessageId::Text(s("u-1")),
            },
            Cmd::P2pAck {
                client_id: s("alice"),
                uuid: s("u-1"),
            },
        ),
        (Command::Ping, Cmd::SendPing),
        (
            Command::CreateGroup {
                group: GroupId::from("t1"),
            },
            Cmd::CreateTopic { topic: s("t1") },
        ),
        (
            Command::JoinGroup {
                group: GroupId::from("t1"),
            },
            Cmd::JoinTopic {
                topic: s("t1"),
                client_id: s("alice"),
            },
        ),
    ];
    for (command, cmd) in cases {
        assert_eq!(command_to_cmd(&command, &ctx).unwrap(), Some(cmd));
    }
    assert_eq!(command_to_cmd(&Command::Logout, &ctx).unwrap(), None);
    for unsupported in [
        Command::Match,
        Command::Pong,
        Command::LeaveGroup {
            group: GroupId::from("t1"),
        },
        Command::Send {
            to: Conversation::Session(SessionId(1)),
            client_ref: s(""),
            content: s("x"),
        },
    ] {
        match command_to_cmd(&unsupported, &ctx) {
            Err(Error::Unsupported {
                dialect: Dialect::Fishchat,
                ..
            }) => {}
            other => panic!("{unsupported:?}: {other:?}"),
        }
    }

    assert_eq!(
        cmd_to_event(Cmd::RespMessageP2p {
            msg: s("hi"),
            from: s("bob"),
            uuid: s("u-1")
        })
        .unwrap(),
        Event::Delivered(Message {
            conversation: Conversation::User(UserId::from("bob")),
            from: UserId::from("bob"),
            id: Some(MessageId::Text(s("u-1"))),
            content: s("hi"),
        })
    );
    assert_eq!(
        cmd_to_event(Cmd::LocateTopicMsgAddr {
            addr: s("127.0.0.1:19000"),
            topic: s("t1")
        })
        .unwrap(),
        Event::GroupJoined {
            group: GroupId::from("t1"),
            server: Some(s("127.0.0.1:19000")),
        }
    );
    assert!(cmd_to_event(Cmd::SendPing).is_err());
    assert!(
        cmd_to_command(Cmd::RespMessageTopic {
            topic: s("t"),
            msg: s("m"),
            from: s("f")
        })
        .is_err()
    );
    assert_eq!(
        event_to_cmd(&Event::LoggedIn {
            user: UserId::from("a"),
            token: None
        })
        .unwrap(),
        None
    );
    assert!(matches!(
        event_to_cmd(&Event::Accepted {
            client_ref: None,
            id: None
        }),
        Err(Error::Unsupported { .. })
    ));
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z0-9]{1,8}", any::<String>()]
}

fn arb_expressible_command() -> impl Strategy<Value = Command> {
    prop_oneof![
        text().prop_map(|u| Command::Login {
            user: UserId(u),
            secret: None,
            device: None
        }),
        (text(), text()).prop_map(|(to, content)| Command::Send {
            to: Conversation::User(UserId(to)),
            client_ref: String::new(),
            content
        }),
        (text(), text()).prop_map(|(g, content)| Command::Send {
            to: Conversation::Group(GroupId(g)),
            client_ref: String::new(),
            content
        }),
        text().prop_map(|id| Command::Ack {
            conversation: Conversation::User(UserId::from("me")),
            id: MessageId::Text(id)
        }),
        Just(Command::Ping),
        text().prop_map(|g| Command::CreateGroup { group: GroupId(g) }),
        text().prop_map(|g| Command::JoinGroup { group: GroupId(g) }),
    ]
}

fn arb_expressible_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        text().prop_map(|address| Event::LookedUp { address }),
        (text(), text(), text()).prop_map(|(from, id, content)| Event::Delivered(Message {
            conversation: Conversation::User(UserId(from.clone())),
            from: UserId(from),
            id: Some(MessageId::Text(id)),
            content
        })),
        (text(), text(), text()).prop_map(|(g, from, content)| Event::Delivered(Message {
            conversation: Conversation::Group(GroupId(g)),
            from: UserId(from),
            id: None,
            content
        })),
        (text(), text()).prop_map(|(g, addr)| Event::GroupJoined {
            group: GroupId(g),
            server: Some(addr)
        }),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip_through_both_forms(command in arb_expressible_command()) {
        let ctx = Context::new("me");
        let cmd = command_to_cmd(&command, &ctx).unwrap().unwrap();
        prop_assert!(cmd.is_from_client());
        let line = encode(&cmd);
        let items = decode_all(&mut TextCodec::default(), &line);
        let Some(Inbound::Cmd(back)) = items.into_iter().next() else {
            return Err(TestCaseError::fail("no command decoded"));
        };
        prop_assert_eq!(cmd_to_command(back).unwrap(), command);
    }

    #[test]
    fn events_round_trip(event in arb_expressible_event()) {
        let cmd = event_to_cmd(&event).unwrap().unwrap();
        prop_assert!(cmd.is_from_server());
        let line = encode(&cmd);
        let items = decode_all(&mut TextCodec::default(), &line);
        let Some(Inbound::Cmd(back)) = items.into_iter().next() else {
            return Err(TestCaseError::fail("no command decoded"));
        };
        prop_assert_eq!(cmd_to_event(back).unwrap(), event);
    }

    #[test]
    fn every_line_round_trips(name in "[A-Z_]{1,20}", args in proptest::collection::vec(any::<String>(), 0..5)) {
        let cmd = Cmd::from_simple(imkit_protocols::fishchat::CmdSimple::new(name, args.clone()));
        // Catalog names may need more args than generated; only typed ones are compared.
        if let Ok(cmd) = cmd {
            let line = encode(&cmd);
            prop_assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
            let items = decode_all(&mut TextCodec::default(), &line);
            prop_assert_eq!(items.len(), 1);
            match &items[0] {
                Inbound::Cmd(back) => prop_assert_eq!(back, &cmd),
                other => prop_assert!(false, "{:?}", other),
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_or_buffer_past_the_limit(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
    ) {
        let limit = 100;
        let mut codec = TextCodec::new(limit);
        let mut buf = BytesMut::new();
        'feed: for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(Error::FrameTooLarge { .. }) => break 'feed,
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
            }
            prop_assert!(buf.len() <= limit, "buffered {}", buf.len());
        }
    }

    #[test]
    fn splits_do_not_change_the_lines(
        lines in proptest::collection::vec(prop_oneof![
            3 => arb_line(),
            1 => "[ -~]{0,20}\r?\n",
        ], 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream: Vec<u8> = lines.concat().into_bytes();
        let whole: Vec<String> = decode_all(&mut TextCodec::default(), &stream).iter().map(shape).collect();
        prop_assert_eq!(whole.len(), lines.len());
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut codec = TextCodec::default();
        let mut buf = BytesMut::new();
        let mut split = Vec::new();
        let mut last = 0;
        for point in points.into_iter().chain([stream.len()]) {
            buf.extend_from_slice(&stream[last..point]);
            last = point;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                split.push(shape(&item));
            }
        }
        prop_assert_eq!(split, whole);
    }
}

fn arb_line() -> impl Strategy<Value = String> {
    (text(), proptest::collection::vec(any::<String>(), 0..3)).prop_map(|(name, args)| {
        let bytes = imkit_protocols::fishchat::text::line(
            &imkit_protocols::fishchat::CmdSimple::new(name, args),
        );
        String::from_utf8(bytes).unwrap()
    })
}
