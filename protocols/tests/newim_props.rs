//! Property tests: round trips of every message type and of the neutral mapping, and total
//! decoders (arbitrary bytes, arbitrary splits).

use bytes::BytesMut;
use imkit_protocols::newim::{
    ChatMessage, ChatStatus, Context, ExchangeCodec, ExchangeMessage, Frame, PushCountCodec,
    decode_chat_message, decode_chat_status, decode_client_frame, decode_exchange_message,
    frame_to_command,
};
use imkit_protocols::{Command, Conversation, Event, GroupId, Message, MessageId, UserId};
use proptest::prelude::*;
use prost::Message as _;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::codec::{Decoder, Encoder};

const LIMIT: usize = 4096;

fn text() -> impl Strategy<Value = String> {
    "\\PC{0,24}"
}

fn chat_message() -> impl Strategy<Value = ChatMessage> {
    (
        (text(), any::<i32>(), proptest::option::of(text())),
        (
            proptest::option::of(text()),
            proptest::option::of(text()),
            proptest::option::of(text()),
        ),
        (0..8i32, 0..4i32),
    )
        .prop_map(
            |((boxid, group, uuid), (sender, receiver, body), (mtype, op))| ChatMessage {
                boxid,
                group,
                uuid,
                sender,
                receiver,
                body,
                mtype,
                op,
            },
        )
}

fn exchange_message() -> impl Strategy<Value = ExchangeMessage> {
    (
        text(),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::collection::vec(any::<i32>(), 0..6),
    )
        .prop_map(
            |(message_id, message, chat_path, chat_room_id, msg_path, channel_id)| {
                ExchangeMessage {
                    message_id,
                    message,
                    chat_path,
                    chat_room_id,
                    msg_path,
                    channel_id,
                }
            },
        )
}

fn uid() -> impl Strategy<Value = UserId> {
    "[a-z0-9-]{1,10}".prop_map(UserId::new)
}

fn group() -> impl Strategy<Value = GroupId> {
    "\\PC{0,12}".prop_map(GroupId::new)
}

fn message_id() -> impl Strategy<Value = MessageId> {
    prop_oneof![
        any::<u64>().prop_map(MessageId::Seq),
        "[a-z][a-z0-9-]{0,10}".prop_map(MessageId::Text),
    ]
}

/// Commands newim can express, in the form the server reads back (a box join is a
/// `JoinGroup`; there is no client reference on the wire).
fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        group().prop_map(|group| Command::JoinGroup { group }),
        group().prop_map(|group| Command::LeaveGroup { group }),
        (group(), text()).prop_map(|(g, content)| Command::Send {
            to: Conversation::Group(g),
            client_ref: String::new(),
            content,
        }),
        (group(), message_id()).prop_map(|(g, id)| Command::Ack {
            conversation: Conversation::Group(g),
            id,
        }),
        Just(Command::Ping),
    ]
}

/// Events a server can tell `me` that come back unchanged (others' messages and notices, and
/// our own join).
fn event_for(me: UserId) -> impl Strategy<Value = Event> {
    let other = move || {
        let me = me.clone();
        uid().prop_filter("someone else", move |u| *u != me)
    };
    prop_oneof![
        (group(), other(), proptest::option::of(message_id()), text()).prop_map(
            |(g, from, id, content)| Event::Delivered(Message {
                conversation: Conversation::Group(g),
                from,
                id,
                content,
            })
        ),
        (group(), other()).prop_map(|(group, user)| Event::MemberJoined { group, user }),
        (group(), other()).prop_map(|(group, user)| Event::MemberLeft { group, user }),
        group().prop_map(|group| Event::GroupJoined {
            group,
            server: None
        }),
    ]
}

fn stream_of<T, C: Encoder<T, Error = imkit_protocols::Error>>(
    codec: &mut C,
    items: Vec<T>,
) -> Vec<u8> {
    let mut out = BytesMut::new();
    for item in items {
        codec.encode(item, &mut out).unwrap();
    }
    out.to_vec()
}

/// Feed `wire` in pieces cut at `cuts`, collecting every decoded item; stops at the first
/// error. Checks that the buffer never holds more than one frame's worth.
fn decode_in_pieces<C: Decoder<Error = imkit_protocols::Error>>(
    codec: &mut C,
    wire: &[u8],
    cuts: &[usize],
) -> Result<Vec<C::Item>, imkit_protocols::Error> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    cuts.sort_unstable();
    cuts.push(wire.len());
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut start = 0;
    for cut in cuts {
        buf.extend_from_slice(&wire[start..cut]);
        start = cut;
        while let Some(item) = codec.decode(&mut buf)? {
            items.push(item);
        }
        assert!(buf.capacity() <= 2 * (LIMIT + 4) + wire.len());
    }
    Ok(items)
}

proptest! {
    #[test]
    fn chat_message_round_trip(message in chat_message()) {
        let bytes = message.to_bytes();
        prop_assert_eq!(decode_chat_message(&bytes, LIMIT).unwrap(), message.clone());
        let frame = decode_client_frame(&WsMessage::binary(bytes), LIMIT).unwrap();
        prop_assert_eq!(frame, Some(Frame::Chat(message)));
    }

    #[test]
    fn chat_status_round_trip(sender in text(), sync_mark in any::<i32>()) {
        let status = ChatStatus { sender, sync_mark };
        prop_assert_eq!(decode_chat_status(&status.encode_to_vec(), LIMIT).unwrap(), status);
    }

    #[test]
    fn exchange_message_round_trip(message in exchange_message()) {
        prop_assert_eq!(
            decode_exchange_message(&message.encode_to_vec(), LIMIT).unwrap(),
            message
        );
    }

    #[test]
    fn chat_decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..256), limit in 0usize..300) {
        if let Ok(message) = decode_chat_message(&bytes, limit) {
            prop_assert!(bytes.len() <= limit);
            prop_assert!(message.chat_op().is_some() && message.message_type().is_some());
        }
        let _ = decode_chat_status(&bytes, limit);
        let _ = decode_exchange_message(&bytes, limit);
        let _ = Frame::decode(&WsMessage::binary(bytes), limit);
    }

    #[test]
    fn every_required_field_is_checked(message in chat_message(), drop in 0usize..4) {
        // Re-encode without one required tag: always refused.
        let tag = [1u32, 2, 7, 8][drop];
        let mut bytes = Vec::new();
        let mut rest = &message.to_bytes()[..];
        while !rest.is_empty() {
            let before = rest;
            let (t, wt) = prost::encoding::decode_key(&mut rest).unwrap();
            prost::encoding::skip_field(wt, t, &mut rest, Default::default()).unwrap();
            if t != tag {
                bytes.extend_from_slice(&before[..before.len() - rest.len()]);
            }
        }
        prop_assert!(decode_chat_message(&bytes, LIMIT).is_err());
    }

    #[test]
    fn exchange_stream_any_split(
        messages in proptest::collection::vec(exchange_message(), 0..5),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let refs: Vec<&ExchangeMessage> = messages.iter().collect();
        let wire = stream_of(&mut ExchangeCodec::new(LIMIT), refs);
        let decoded = decode_in_pieces(&mut ExchangeCodec::new(LIMIT), &wire, &cuts).unwrap();
        prop_assert_eq!(decoded, messages);
    }

    #[test]
    fn push_count_stream_any_split(
        counts in proptest::collection::vec(any::<u64>(), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let wire = stream_of(&mut PushCountCodec::new(LIMIT), counts.clone());
        let decoded = decode_in_pieces(&mut PushCountCodec::new(LIMIT), &wire, &cuts).unwrap();
        prop_assert_eq!(decoded, counts);
    }

    #[test]
    fn exchange_decoders_are_total(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let _ = decode_in_pieces(&mut ExchangeCodec::new(LIMIT), &bytes, &cuts);
        let _ = decode_in_pieces(&mut PushCountCodec::new(LIMIT), &bytes, &cuts);
    }

    #[test]
    fn command_round_trip(me in uid(), command in command()) {
        let mut client = Context::new(me);
        let ws = client.command_to_frame(&command).unwrap().unwrap().to_ws();
        let frame = decode_client_frame(&ws, LIMIT).unwrap().unwrap();
        prop_assert_eq!(frame_to_command(&frame).unwrap(), command);
    }

    #[test]
    fn event_round_trip((me, event) in uid().prop_flat_map(|me| (Just(me.clone()), event_for(me)))) {
        let receiver = Context::new(me);
        let ws = receiver.event_to_frame(&event).unwrap().to_ws();
        let frame = Frame::decode(&ws, LIMIT).unwrap().unwrap();
        prop_assert_eq!(receiver.frame_to_event(frame).unwrap(), Some(event));
    }

    #[test]
    fn own_copy_is_the_accept(me in uid(), g in group(), id in message_id(), content in text()) {
        let receiver = Context::new(me.clone());
        let own = Event::Delivered(Message {
            conversation: Conversation::Group(g),
            from: me,
            id: Some(id.clone()),
            content,
        });
        let frame = receiver.event_to_frame(&own).unwrap();
        prop_assert_eq!(
            receiver.frame_to_event(frame).unwrap(),
            Some(Event::Accepted { client_ref: None, id: Some(id) })
        );
    }
}
