//! Property tests: round trips of every message type and of the neutral mapping, and the
//! stream decoder under arbitrary bytes and arbitrary splits.

use bytes::BytesMut;
use imkit_protocols::simple_im::{
    Ack, ChatMessage, ClientCodec, ClientMessage, Context, Document, Endpoint, GroupMessage,
    LoginForm, ReconnectForm, Reply, Request, RequestUser, Response, ServerCodec, ServerMessage,
    Value, command_to_message, event_to_message, message_to_command, message_to_event,
};
use imkit_protocols::{Command, Conversation, Error, Event, GroupId, Message, MessageId, UserId};
use proptest::prelude::*;
use tokio_util::codec::Decoder;

/// Printable strings: anything but `"` (which the original cannot carry).
fn text() -> impl Strategy<Value = String> {
    "[^\"]{0,24}"
}

fn id_text() -> impl Strategy<Value = String> {
    "[a-z0-9_]{1,8}"
}

fn id_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        "[0-9]{1,6}".prop_map(Value::Str),
    ]
}

fn device() -> impl Strategy<Value = String> {
    prop_oneof![Just("android"), Just("iphone"), Just("ipad")].prop_map(String::from)
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        (
            id_text(),
            prop_oneof![Just("login"), Just("reconnect")],
            id_value(),
            device(),
            text()
        )
            .prop_map(|(id, kind, uid, device, token)| Request {
                id,
                kind: kind.into(),
                user: Some(RequestUser {
                    id: uid,
                    device,
                    token
                }),
            }),
        // Other request types carry no [r.user].
        (id_text(), "[a-z_]{1,10}").prop_filter_map("not login", |(id, kind)| {
            (kind != "login" && kind != "reconnect").then_some(Request {
                id,
                kind,
                user: None,
            })
        }),
    ]
}

fn chat() -> impl Strategy<Value = ChatMessage> {
    (
        id_text(),
        text(),
        id_value(),
        device(),
        id_value(),
        proptest::option::of(device()),
    )
        .prop_map(
            |(id, content, from, from_device, to, to_device)| ChatMessage {
                id,
                content,
                from: Endpoint {
                    id: from,
                    device: Some(from_device),
                },
                to: Endpoint {
                    id: to,
                    device: to_device,
                },
            },
        )
}

fn group() -> impl Strategy<Value = GroupMessage> {
    (id_text(), text(), id_value(), device(), id_value()).prop_map(
        |(id, content, user, device, group)| GroupMessage {
            id,
            content,
            user: Endpoint {
                id: user,
                device: Some(device),
            },
            group,
        },
    )
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        Just(Reply::LoginOk),
        (id_text(), "[a-z]{1,8}").prop_filter_map("canonical", |(id, kind)| {
            (!(id == "a_01" && kind == "login")).then_some(Reply::Ok { id, kind })
        }),
        (id_text(), text()).prop_map(|(id, reason)| Reply::LoginFailed { id, reason }),
        (id_text(), text()).prop_map(|(id, reason)| Reply::ReconnectFailed { id, reason }),
        (id_text(), "[a-z]{1,8}", 2i64..10_000, text()).prop_map(|(id, kind, status, reason)| {
            Reply::Failed {
                id,
                kind,
                status,
                reason,
            }
        }),
        id_text().prop_map(|id| Reply::UnknownRequest { id }),
    ]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        request().prop_map(ClientMessage::Request),
        chat().prop_map(ClientMessage::Message),
        group().prop_map(ClientMessage::GroupMessage),
        id_text().prop_map(|id| ClientMessage::Ack(Ack { id })),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        reply().prop_map(ServerMessage::Reply),
        chat().prop_map(ServerMessage::Message),
        group().prop_map(ServerMessage::GroupMessage),
        id_text().prop_map(|id| ServerMessage::Ack(Ack { id })),
    ]
}

/// Feed `wire` to `codec` in pieces cut at `cuts`, then end the stream.
fn decode_in_pieces<C>(codec: &mut C, wire: &[u8], cuts: &[usize]) -> Vec<C::Item>
where
    C: Decoder<Error = Error>,
{
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.push(wire.len());
    points.sort_unstable();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut at = 0;
    for p in points {
        buf.extend_from_slice(&wire[at..p]);
        at = p;
        while let Some(item) = codec.decode(&mut buf).expect("no fatal error") {
            out.push(item);
        }
    }
    while let Some(item) = codec.decode_eof(&mut buf).expect("no fatal error") {
        out.push(item);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn client_messages_round_trip(m in client_message()) {
        let wire = m.print().unwrap();
        prop_assert_eq!(ClientMessage::parse(wire.as_bytes()).unwrap(), m);
    }

    #[test]
    fn server_messages_round_trip(m in server_message()) {
        let wire = m.print().unwrap();
        prop_assert_eq!(ServerMessage::parse(wire.as_bytes()).unwrap(), m);
    }

    #[test]
    fn http_bodies_round_trip(
        phone in "[0-9]{1,12}", password in any::<String>(), token in "[A-Za-z0-9+/=]{32}",
        status in 0i64..500, server in "[0-9.]{1,15}", port in any::<u16>(), id in any::<i64>(),
    ) {
        let form = LoginForm { phone, password };
        prop_assert_eq!(LoginForm::parse(form.encode().as_bytes()).unwrap(), form);
        let form = ReconnectForm { id: id.to_string(), token: token.clone() };
        prop_assert_eq!(ReconnectForm::parse(form.encode().as_bytes()).unwrap(), form);
        for response in [Response::status(status), Response::node(&server, port), Response::login_ok(&server, port, &token, id)] {
            prop_assert_eq!(Response::parse(response.print().unwrap().as_bytes()).unwrap(), response);
        }
    }

    /// Client commands the dialect can express survive command -> wire -> command.
    #[test]
    fn commands_round_trip(me in 1u64..1_000_000, peer in 1u64..1_000_000, client_ref in id_text(), content in text(), token in text(), to_group in any::<bool>()) {
        let ctx = Context::new(me, "iphone");
        let to = if to_group { Conversation::Group(GroupId::new(peer.to_string())) } else { Conversation::User(peer.into()) };
        let commands = [
            Command::Login { user: me.into(), secret: Some(token.clone()), device: Some("iphone".into()) },
            Command::Resume { user: me.into(), token, device: Some("iphone".into()) },
            Command::Send { to, client_ref: client_ref.clone(), content },
            // An [a] names no conversation: it comes back addressed to the acknowledging user.
            Command::Ack { conversation: Conversation::User(me.into()), id: MessageId::Text(client_ref) },
        ];
        for command in commands {
            let message = command_to_message(&command, &ctx).unwrap();
            let wire = message.print().unwrap();
            let back = message_to_command(&ClientMessage::parse(wire.as_bytes()).unwrap(), &ctx).unwrap();
            prop_assert_eq!(back, command);
        }
    }

    /// Server events the dialect can express survive event -> wire -> event.
    #[test]
    fn events_round_trip(me in 1u64..1_000_000, peer in 1u64..1_000_000, id in id_text(), content in text(), reason in text(), to_group in any::<bool>()) {
        let ctx = Context::new(me, "android");
        let conversation = if to_group { Conversation::Group(GroupId::new(peer.to_string())) } else { Conversation::User(peer.into()) };
        let events = [
            Event::LoggedIn { user: UserId::from(me), token: None },
            Event::Accepted { client_ref: Some(id.clone()), id: None },
            Event::Error { code: Some(1), message: reason },
            Event::Delivered(Message { conversation, from: peer.into(), id: Some(MessageId::Text(id)), content }),
        ];
        for event in events {
            let message = event_to_message(&event, &ctx).unwrap();
            let wire = message.print().unwrap();
            let back = message_to_event(&ServerMessage::parse(wire.as_bytes()).unwrap(), &ctx);
            prop_assert_eq!(back, event);
        }
    }

    /// A valid stream gives the same messages however it is cut into reads.
    #[test]
    fn server_stream_survives_any_split(
        messages in proptest::collection::vec(server_message(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        spaced in any::<bool>(),
    ) {
        let mut wire = Vec::new();
        for m in &messages {
            wire.extend_from_slice(m.print().unwrap().as_bytes());
            if spaced { wire.push(b'\n'); }
        }
        let got = decode_in_pieces(&mut ClientCodec::default(), &wire, &cuts);
        let got: Vec<ServerMessage> = got.into_iter().map(|r| r.unwrap()).collect();
        prop_assert_eq!(got, messages);
    }

    #[test]
    fn client_stream_survives_any_split(
        messages in proptest::collection::vec(client_message(), 1..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let wire: Vec<u8> = messages.iter().flat_map(|m| m.print().unwrap().into_bytes()).collect();
        let got = decode_in_pieces(&mut ServerCodec::default(), &wire, &cuts);
        let got: Vec<ClientMessage> = got.into_iter().map(|r| r.unwrap()).collect();
        prop_assert_eq!(got, messages);
    }

    /// Arbitrary bytes: items or errors, never a panic, never a buffer past the limit.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..512),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let limit = 128;
        let mut codec = ServerCodec::new(limit);
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
        points.push(bytes.len());
        points.sort_unstable();
        let mut buf = BytesMut::new();
        let mut at = 0;
        'outer: for p in points {
            buf.extend_from_slice(&bytes[at..p]);
            at = p;
            for _ in 0..1024 {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => { prop_assert!(matches!(e, Error::FrameTooLarge { .. }), "{}", e); break 'outer; }
                }
            }
            // What stays buffered is at most one frame (plus the read that just arrived).
            prop_assert!(buf.len() <= limit + bytes.len());
        }
    }

    /// Garbage between documents costs an error item, not the documents after it.
    #[test]
    fn garbage_is_skipped(garbage in "[^\\[\"]{1,40}", m in server_message()) {
        // Whitespace between documents is legal, not garbage.
        prop_assume!(!garbage.trim().is_empty());
        let wire = format!("{garbage}{}", m.print().unwrap());
        let got = decode_in_pieces(&mut ClientCodec::default(), wire.as_bytes(), &[]);
        prop_assert!(got.len() >= 2, "{:?}", got);
        prop_assert!(got[0].is_err());
        prop_assert_eq!(got.last().unwrap().as_ref().unwrap(), &m);
    }
}
