//! Property tests: every message round-trips through its printer and decoder in both
//! versions, the neutral mapping round-trips, the decoders are total on arbitrary bytes,
//! and the same messages come out of a WebSocket stream however it is split.

use std::io::{self, Cursor, Read, Write};

use imkit_protocols::chat_json::{
    ClientMessage, Code, Context, Inbound, ServerMessage, SignalData, SignalType, V1_MAX_FRAME,
    Version, client_from_command, command_from_client, decode_client_frame, decode_client_payload,
    decode_client_text, decode_server_frame, decode_server_payload, decode_server_text,
    events_from_server, server_from_event, write_event_json,
};
use imkit_protocols::{Command, Conversation, Error, Event, Message, MessageId, SessionId, UserId};
use proptest::prelude::*;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1), Just(Version::V2)]
}

/// Any text, with the characters that need escaping well represented.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![".*", "[<>&\"\\\\\u{0}-\u{1f}\u{2028}\u{2029}a-z ]{0,12}",]
}

fn id() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 1u64..100, any::<u64>()]
}

fn code() -> impl Strategy<Value = Code> {
    prop_oneof![(0i32..5).prop_map(Code), any::<i32>().prop_map(Code)]
}

fn signal_type() -> impl Strategy<Value = SignalType> {
    prop_oneof![
        Just(SignalType::PartnerExit),
        Just(SignalType::NewSession),
        Just(SignalType::DeleteMsg),
        Just(SignalType::ViewedAck),
        "[0-9]{1,3}".prop_map(SignalType::Other),
    ]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        text().prop_map(|nick_name| ClientMessage::CreateAccount { nick_name }),
        id().prop_map(|account_id| ClientMessage::Match { account_id }),
        (text(), id(), id(), text()).prop_map(|(request_id, sender_id, session_id, content)| {
            ClientMessage::Dialogue {
                request_id,
                sender_id,
                session_id,
                content,
            }
        }),
        id().prop_map(|account_id| ClientMessage::Pong { account_id }),
        (id(), id(), id()).prop_map(|(session_id, account_id, msg_id)| {
            ClientMessage::ViewedAck {
                session_id,
                account_id,
                msg_id,
            }
        }),
        id().prop_map(|account_id| ClientMessage::Ping { account_id }),
        (id(), text())
            .prop_map(|(account_id, token)| ClientMessage::Reconnect { account_id, token }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        (code(), text(), id(), text()).prop_map(|(code, nick_name, account_id, token)| {
            ServerMessage::AccountCreated {
                code,
                nick_name,
                account_id,
                token,
            }
        }),
        (code(), id(), text(), id()).prop_map(|(code, partner_id, partner_name, session_id)| {
            ServerMessage::MatchResult {
                code,
                partner_id,
                partner_name,
                session_id,
            }
        }),
        (code(), text(), id()).prop_map(|(code, request_id, msg_id)| {
            ServerMessage::DialogueResult {
                code,
                request_id,
                msg_id,
            }
        }),
        (id(), id(), id(), text()).prop_map(|(msg_id, sender_id, session_id, content)| {
            ServerMessage::PushDialogue {
                msg_id,
                sender_id,
                session_id,
                content,
            }
        }),
        (id(), id(), id(), signal_type(), id(), text()).prop_map(
            |(sender_id, session_id, receiver_id, signal_type, account_id, nick_name)| {
                ServerMessage::PushSignal {
                    sender_id,
                    session_id,
                    receiver_id,
                    signal_type,
                    data: SignalData {
                        account_id,
                        nick_name,
                    },
                }
            }
        ),
        id().prop_map(|account_id| ServerMessage::Ping { account_id }),
        code().prop_map(|code| ServerMessage::ViewedAckResult { code }),
        (id(), id(), id()).prop_map(|(session_id, account_id, msg_id)| {
            ServerMessage::PushViewedAck {
                session_id,
                account_id,
                msg_id,
            }
        }),
        id().prop_map(|account_id| ServerMessage::PingReply { account_id }),
        code().prop_map(|code| ServerMessage::ReconnectResult { code }),
    ]
}

/// What survives a print in `version`: v1's CRT_ACCOUNT carries no code and no token.
fn as_printed(message: &ServerMessage, version: Version) -> ServerMessage {
    match (message, version) {
        (
            ServerMessage::AccountCreated {
                nick_name,
                account_id,
                ..
            },
            Version::V1,
        ) => ServerMessage::AccountCreated {
            code: Code::SUCCESS,
            nick_name: nick_name.clone(),
            account_id: *account_id,
            token: String::new(),
        },
        _ => message.clone(),
    }
}

/// Change the case of every key (`"name":`), as a Go-parsed peer may send them.
fn recase_keys(json: &str, upper: bool) -> String {
    const KEYS: [&str; 16] = [
        "cmd",
        "nickName",
        "accountId",
        "partnerId",
        "partnerName",
        "sessionId",
        "code",
        "requestId",
        "msgId",
        "senderId",
        "content",
        "receiverId",
        "signalType",
        "data",
        "token",
        "MsgId",
    ];
    let mut out = json.to_owned();
    for key in KEYS {
        let new = if upper {
            key.to_uppercase()
        } else {
            key.to_lowercase()
        };
        out = out.replace(&format!("\"{key}\":"), &format!("\"{new}\":"));
    }
    out
}

const BIG: usize = 1 << 20;

proptest! {
    #[test]
    fn client_messages_round_trip(message in client_message(), version in version(), upper in any::<bool>()) {
        let Ok(json) = message.to_json(version) else {
            // Only the v2-only messages have no v1 form.
            prop_assert_eq!(version, Version::V1);
            prop_assert!(matches!(message, ClientMessage::Ping { .. } | ClientMessage::Reconnect { .. }), "{:?}", message);
            return Ok(());
        };
        let expected = Inbound::Message { message: message.clone(), version };
        prop_assert_eq!(decode_client_text(&json, BIG).unwrap(), expected.clone());
        prop_assert_eq!(decode_client_text(&recase_keys(&json, upper), BIG).unwrap(), expected);
    }

    #[test]
    fn server_messages_round_trip(message in server_message(), version in version(), upper in any::<bool>()) {
        let Ok(json) = message.to_json(version) else {
            prop_assert_eq!(version, Version::V1);
            prop_assert!(matches!(message, ServerMessage::PingReply { .. } | ServerMessage::ReconnectResult { .. }), "{:?}", message);
            return Ok(());
        };
        let expected = Inbound::Message { message: as_printed(&message, version), version };
        prop_assert_eq!(decode_server_text(&json, BIG).unwrap(), expected.clone());
        prop_assert_eq!(decode_server_text(&recase_keys(&json, upper), BIG).unwrap(), expected);
        // The broker's escaping leaves no raw HTML-sensitive character.
        prop_assert!(!json.contains(['<', '>', '&', '\u{2028}', '\u{2029}']), "{}", json);
    }

    #[test]
    fn decoders_are_total_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1024)) {
        for result in [
            decode_client_payload(&bytes, V1_MAX_FRAME).map(|_| ()),
            decode_server_payload(&bytes, V1_MAX_FRAME).map(|_| ()),
        ] {
            if bytes.len() > V1_MAX_FRAME {
                prop_assert!(
                    matches!(result, Err(Error::FrameTooLarge { .. })),
                    "expected FrameTooLarge, got {:?}",
                    result
                );
            } else {
                prop_assert!(result.is_ok());
            }
        }
    }

    #[test]
    fn decoders_are_total_on_json_like_text(text in r#"[{}\[\]":,0-9a-zA-Z_ \-.]{0,200}"#) {
        prop_assert!(decode_client_text(&text, V1_MAX_FRAME).is_ok());
        prop_assert!(decode_server_text(&text, V1_MAX_FRAME).is_ok());
    }

    /// What the fuzz target checks: anything decoded prints, and print → decode → print is
    /// a fixed point. Fed with frames that decode (keys, wrong types, repeats, v1/v2 names).
    #[test]
    fn printing_decoded_frames_is_a_fixed_point(
        cmd in prop_oneof![
            Just("CRT_ACCOUNT"), Just("CRT_ACCOUNT_RESP"), Just("MATCH"), Just("MATCH_RESP"),
            Just("DIALOGUE"), Just("PUSH_SIGNAL"), Just("PING_RESP"), Just("RECONNECT_RESP"),
            Just("PUSH_VIEWED_ACK_REQ"), Just("VIEWED_ACK"), Just("PONG"), Just("RECONNECT_REQ"),
        ],
        members in proptest::collection::vec(
            (
                prop_oneof![
                    Just("code"), Just("token"), Just("NICKNAME"), Just("accountid"),
                    Just("data"), Just("signalType"), Just("partnerName"), Just("msgId"),
                ],
                prop_oneof![
                    Just("5".to_owned()), Just("-1".to_owned()), Just("\"x<\"".to_owned()),
                    Just("null".to_owned()), Just(r#"{"accountId":3,"nickname":"n"}"#.to_owned()),
                    Just("\"NewSession\"".to_owned()), Just("1.5".to_owned()),
                ],
            ),
            0..6,
        ),
    ) {
        let mut json = format!(r#"{{"cmd":"{cmd}""#);
        for (key, value) in &members {
            json.push_str(&format!(r#","{key}":{value}"#));
        }
        json.push('}');
        if let Inbound::Message { message, version } = decode_server_text(&json, BIG).unwrap() {
            let printed = message.to_json(version).unwrap();
            let Inbound::Message { message: again, version: v } =
                decode_server_text(&printed, BIG).unwrap()
            else {
                panic!("{printed} does not decode");
            };
            prop_assert_eq!(v, version);
            prop_assert_eq!(again.to_json(v).unwrap(), printed);
        }
        if let Inbound::Message { message, version } = decode_client_text(&json, BIG).unwrap() {
            let printed = message.to_json(version).unwrap();
            let Inbound::Message { message: again, version: v } =
                decode_client_text(&printed, BIG).unwrap()
            else {
                panic!("{printed} does not decode");
            };
            prop_assert_eq!(v, version);
            prop_assert_eq!(again.to_json(v).unwrap(), printed);
        }
    }

    #[test]
    fn server_frames_survive_any_split(
        messages in proptest::collection::vec((server_message(), version()), 1..8),
        splits in proptest::collection::vec(1usize..40, 1..64),
    ) {
        let messages: Vec<_> = messages
            .into_iter()
            .filter(|(m, v)| m.cmd(*v).is_some())
            .collect();
        let mut writer = WebSocket::from_raw_socket(Cursor::new(Vec::new()), Role::Server, None);
        for (message, version) in &messages {
            writer.send(message.to_frame(*version).unwrap()).unwrap();
        }
        let bytes = writer.get_ref().get_ref().clone();
        let mut reader = WebSocket::from_raw_socket(Chunked::new(bytes, splits), Role::Client, None);
        for (message, version) in &messages {
            let frame = reader.read().unwrap();
            prop_assert_eq!(
                decode_server_frame(&frame, BIG).unwrap(),
                Inbound::Message { message: as_printed(message, *version), version: *version }
            );
        }
    }

    #[test]
    fn client_frames_survive_any_split(
        messages in proptest::collection::vec((client_message(), version()), 1..8),
        splits in proptest::collection::vec(1usize..40, 1..64),
    ) {
        let messages: Vec<_> = messages
            .into_iter()
            .filter(|(m, v)| m.cmd(*v).is_some())
            .collect();
        let mut writer = WebSocket::from_raw_socket(Cursor::new(Vec::new()), Role::Client, None);
        for (message, version) in &messages {
            writer.send(message.to_frame(*version).unwrap()).unwrap();
        }
        let bytes = writer.get_ref().get_ref().clone();
        let mut reader = WebSocket::from_raw_socket(Chunked::new(bytes, splits), Role::Server, None);
        for (message, version) in &messages {
            let frame = reader.read().unwrap();
            prop_assert_eq!(
                decode_client_frame(&frame, BIG).unwrap(),
                Inbound::Message { message: message.clone(), version: *version }
            );
        }
    }

    #[test]
    fn commands_round_trip(command in command(), account in id(), version in version()) {
        let ctx = Context::new(account, version);
        match client_from_command(&command, &ctx) {
            Ok(message) => {
                prop_assert_eq!(command_from_client(&message), command);
                // Ids the neutral command leaves implicit come from the context.
                if let Some(claimed) = message.claimed_account()
                    && !matches!(message, ClientMessage::Reconnect { .. })
                {
                    prop_assert_eq!(claimed, account);
                }
            }
            Err(e) => {
                prop_assert!(matches!(e, Error::Unsupported { .. }), "{}", e);
                prop_assert_eq!(version, Version::V1);
                prop_assert!(matches!(command, Command::Ping | Command::Resume { .. }), "{:?}", command);
            }
        }
    }

    #[test]
    fn events_round_trip(event in event(), account in id(), version in version()) {
        let ctx = Context::new(account, version);
        let message = server_from_event(&event, &ctx).unwrap();
        let json = message.to_json(version).unwrap();
        let Inbound::Message { message, .. } = decode_server_text(&json, BIG).unwrap() else {
            panic!("{json} did not decode");
        };
        let events = events_from_server(&message, &ctx);
        prop_assert_eq!(events.first(), Some(&event), "{}", json);
    }
}

proptest! {
    /// The server's buffer path prints what the typed path prints, after what the buffer
    /// held, for every event (the per-message ones take their own route); what cannot be
    /// printed is the same error, and nothing is written then.
    #[test]
    fn events_print_into_a_buffer_as_to_json_prints_them(
        event in prop_oneof![event(), event_chat_cannot_say()],
        account in id(),
        version in version(),
        held in "[a-z]{0,4}",
    ) {
        let ctx = Context::new(account, version);
        let mut buffer = bytes::BytesMut::from(held.as_bytes());
        let written = write_event_json(&event, &ctx, &mut buffer);
        match server_from_event(&event, &ctx).and_then(|m| m.to_json(version)) {
            Ok(json) => {
                prop_assert!(written.is_ok(), "{:?}", written);
                prop_assert_eq!(&buffer[..held.len()], held.as_bytes());
                prop_assert_eq!(std::str::from_utf8(&buffer[held.len()..]).unwrap(), json);
            }
            Err(expected) => {
                prop_assert_eq!(written.map_err(|e| e.to_string()), Err(expected.to_string()));
                prop_assert_eq!(&buffer[..], held.as_bytes());
            }
        }
    }
}

/// Per-message events chat cannot print: a delivery outside a session or from a
/// non-numeric account, an accept without an id, a v2-only event.
fn event_chat_cannot_say() -> impl Strategy<Value = Event> {
    prop_oneof![
        (user(), text()).prop_map(|(from, content)| Event::Delivered(Message {
            conversation: Conversation::User(from.clone()),
            from,
            id: Some(MessageId::Seq(1)),
            content,
        })),
        (session(), "[a-z]{1,5}", text()).prop_map(|(s, from, content)| {
            Event::Delivered(Message {
                conversation: Conversation::Session(s),
                from: UserId::new(from),
                id: None,
                content,
            })
        }),
        text().prop_map(|r| Event::Accepted {
            client_ref: Some(r),
            id: None,
        }),
        Just(Event::Accepted {
            client_ref: None,
            id: Some(MessageId::Text("not-a-seq".into())),
        }),
        Just(Event::Pong),
    ]
}

fn user() -> impl Strategy<Value = UserId> {
    id().prop_map(UserId::from)
}

fn session() -> impl Strategy<Value = SessionId> {
    id().prop_map(SessionId)
}

fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        text().prop_map(|nick| Command::Register { nick }),
        Just(Command::Match),
        (session(), text(), text()).prop_map(|(s, client_ref, content)| Command::Send {
            to: Conversation::Session(s),
            client_ref,
            content,
        }),
        (session(), id()).prop_map(|(s, up_to)| Command::Read {
            conversation: Conversation::Session(s),
            up_to: MessageId::Seq(up_to),
        }),
        Just(Command::Pong),
        Just(Command::Ping),
        (user(), text()).prop_map(|(user, token)| Command::Resume {
            user,
            token,
            device: None,
        }),
    ]
}

fn some_nonempty() -> impl Strategy<Value = Option<String>> {
    prop_oneof![Just(None), "[a-z<&]{1,8}".prop_map(Some)]
}

/// Events a chat-json server can say, in a form that survives the trip (v2 only ones are
/// filtered by the caller's context through `server_from_event` succeeding in both).
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (user(), text()).prop_map(|(user, nick)| Event::Registered {
            user,
            nick,
            token: None
        }),
        (session(), user(), some_nonempty()).prop_map(|(session, peer, peer_name)| {
            Event::Matched {
                session,
                peer,
                peer_name,
            }
        }),
        Just(Event::NoPartner),
        (session(), 1u64.., some_nonempty()).prop_map(|(session, peer, peer_name)| {
            Event::SessionOpened {
                session,
                peer: UserId::from(peer),
                peer_name,
                by_peer: true,
            }
        }),
        (text(), id()).prop_map(|(r, id)| Event::Accepted {
            client_ref: Some(r),
            id: Some(MessageId::Seq(id)),
        }),
        (session(), user(), id(), text()).prop_map(|(s, from, id, content)| {
            Event::Delivered(Message {
                conversation: Conversation::Session(s),
                from,
                id: Some(MessageId::Seq(id)),
                content,
            })
        }),
        (session(), user(), id()).prop_map(|(s, reader, up_to)| Event::ReadUpTo {
            conversation: Conversation::Session(s),
            reader,
            up_to: MessageId::Seq(up_to),
        }),
        Just(Event::Done {
            operation: "read".into()
        }),
        (session(), user()).prop_map(|(session, user)| Event::PartnerLeft { session, user }),
        Just(Event::Ping),
    ]
}

#[test]
fn v2_only_events_need_v2() {
    for version in [Version::V1, Version::V2] {
        let ctx = Context::new(10, version);
        for (event, expected) in [
            (Event::Pong, r#"{"cmd":"PING_RESP","accountId":10}"#),
            (
                Event::LoggedIn {
                    user: UserId::from(10),
                    token: None,
                },
                r#"{"cmd":"RECONNECT_RESP","code":0}"#,
            ),
            (
                Event::Registered {
                    user: UserId::from(10),
                    nick: "a".into(),
                    token: Some("tok".into()),
                },
                r#"{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"a","accountId":10,"token":"tok"}"#,
            ),
        ] {
            let result = server_from_event(&event, &ctx).and_then(|m| m.to_json(version));
            match version {
                Version::V2 => {
                    let json = result.unwrap();
                    assert_eq!(json, expected);
                    let Inbound::Message { message, .. } = decode_server_text(&json, BIG).unwrap()
                    else {
                        panic!("decodes");
                    };
                    assert_eq!(events_from_server(&message, &ctx)[0], event);
                }
                Version::V1 if matches!(event, Event::Registered { .. }) => {
                    assert_eq!(
                        result.unwrap(),
                        r#"{"cmd":"CRT_ACCOUNT","nickName":"a","accountId":10}"#
                    );
                }
                Version::V1 => assert!(matches!(result, Err(Error::Unsupported { .. }))),
            }
        }
    }
}

#[test]
fn what_chat_cannot_say_is_unsupported() {
    let ctx = Context::new(1, Version::V2);
    for command in [
        Command::Send {
            to: Conversation::User(UserId::from(2)),
            client_ref: "r".into(),
            content: "x".into(),
        },
        Command::JoinGroup { group: "g".into() },
        Command::Logout,
    ] {
        let err = client_from_command(&command, &ctx).unwrap_err();
        assert!(matches!(err, Error::Unsupported { .. }), "{err}");
        assert!(
            err.to_string().starts_with("the chat-json dialect cannot"),
            "{err}"
        );
    }
    assert!(matches!(
        server_from_event(
            &Event::Error {
                code: Some(2),
                message: "x".into()
            },
            &ctx
        ),
        Err(Error::Unsupported { .. })
    ));
}

/// A reader handing out `bytes` in the chunk sizes given (cycled), to split frames anywhere.
struct Chunked {
    bytes: Vec<u8>,
    at: usize,
    splits: Vec<usize>,
    next: usize,
}

impl Chunked {
    fn new(bytes: Vec<u8>, splits: Vec<usize>) -> Self {
        Chunked {
            bytes,
            at: 0,
            splits,
            next: 0,
        }
    }
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.splits[self.next % self.splits.len()];
        self.next += 1;
        let n = chunk.min(buf.len()).min(self.bytes.len() - self.at);
        buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Chunked {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
