//! The stored copy of a CHAT message, as the gateway pushes it to every member of the box
//! (the sender included), encoded straight from the hub's message: one allocation per copy
//! instead of building a `ChatMessage` (three owned strings) and encoding that.
//!
//! Field order and presence are prost's for `ChatMessage` (tag order, required fields always
//! present, `receiver` absent); the tests check the bytes against
//! `imkit_protocols::newim` itself.

use std::io::Write as _;

use bytes::{BufMut, Bytes};
use imkit_protocols::newim::{ChatOp, MessageType};
use imkit_protocols::{Conversation, Message, MessageId};

/// Protobuf wire types used here.
const VARINT: u8 = 0;
const LEN: u8 = 2;

/// The serialised `ChatMessage{boxid, group: 0, uuid: id, sender: from, body: content,
/// mtype: SmallText, op: CHAT}` for `message`.
///
/// The box is the group; a message from another dialect addressed to a user (or a session)
/// arrives in the box named after that conversation: newim's P2P chat is a box of two.
pub(crate) fn stored_copy(message: &Message) -> Bytes {
    let session;
    let boxid: &str = match &message.conversation {
        Conversation::Group(group) => group.as_str(),
        Conversation::User(user) => user.as_str(),
        Conversation::Session(id) => {
            session = id.to_string();
            &session
        }
    };
    // The uuid is the decimal id; formatted on the stack, not in a String.
    let mut digits = [0u8; 24];
    let uuid: Option<&[u8]> = match &message.id {
        Some(MessageId::Seq(n)) => {
            let mut cursor = std::io::Cursor::new(&mut digits[..]);
            // 20 digits at most for a u64: always fits.
            let _ = write!(cursor, "{n}");
            let len = cursor.position() as usize;
            Some(&digits[..len])
        }
        Some(MessageId::Text(text)) => Some(text.as_bytes()),
        None => None,
    };
    let sender = message.from.as_str().as_bytes();
    let body = message.content.as_bytes();

    let len = field_len(boxid.len())
        + 2
        + uuid.map_or(0, |u| field_len(u.len()))
        + field_len(sender.len())
        + field_len(body.len())
        + 2
        + 2;
    let mut buf = Vec::with_capacity(len);
    put_bytes(&mut buf, 1, boxid.as_bytes());
    put_varint_field(&mut buf, 2, 0);
    if let Some(uuid) = uuid {
        put_bytes(&mut buf, 3, uuid);
    }
    put_bytes(&mut buf, 4, sender);
    put_bytes(&mut buf, 6, body);
    put_varint_field(&mut buf, 7, MessageType::SmallText as u64);
    put_varint_field(&mut buf, 8, ChatOp::Chat as u64);
    debug_assert_eq!(buf.len(), len);
    Bytes::from(buf)
}

/// Bytes of a length-delimited field with a one-byte key (tags below 16).
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.put_u8((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

fn put_bytes(buf: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    buf.put_u8(tag << 3 | LEN);
    put_varint(buf, bytes.len() as u64);
    buf.put_slice(bytes);
}

fn put_varint_field(buf: &mut Vec<u8>, tag: u8, v: u64) {
    buf.put_u8(tag << 3 | VARINT);
    put_varint(buf, v);
}

#[cfg(test)]
mod tests {
    use imkit_protocols::newim::{ChatMessage, Context, Frame, decode_chat_message};
    use imkit_protocols::{Event, GroupId, SessionId, UserId};

    use super::*;

    fn message(conversation: Conversation, id: Option<MessageId>, content: &str) -> Message {
        Message {
            conversation,
            from: UserId::new("john-1"),
            id,
            content: content.into(),
        }
    }

    /// What the protocols crate encodes for the same delivery.
    fn reference(message: &Message) -> Vec<u8> {
        let receiver = Context::new("john-2");
        match receiver.event_to_frame(&Event::Delivered(message.clone())) {
            Ok(Frame::Chat(chat)) => chat.to_bytes(),
            other => panic!("no chat frame: {other:?}"),
        }
    }

    #[test]
    fn the_notes_example_byte_for_byte() {
        // boxid "123", group 0, uuid "42", sender "john-1", body "hi", SmallText, CHAT.
        let m = message(
            Conversation::Group(GroupId::new("123")),
            Some(MessageId::Seq(42)),
            "hi",
        );
        let expected: &[u8] = &[
            0x0a, 0x03, b'1', b'2', b'3', 0x10, 0x00, 0x1a, 0x02, b'4', b'2', 0x22, 0x06, b'j',
            b'o', b'h', b'n', b'-', b'1', 0x32, 0x02, b'h', b'i', 0x38, 0x00, 0x40, 0x02,
        ];
        assert_eq!(&stored_copy(&m)[..], expected);
        assert_eq!(reference(&m), expected);
    }

    #[test]
    fn same_bytes_as_the_protocols_encoder() {
        let long = "x".repeat(300);
        for m in [
            message(Conversation::Group(GroupId::new("")), None, ""),
            message(
                Conversation::Group(GroupId::new("box")),
                Some(MessageId::Seq(u64::MAX)),
                &long,
            ),
            message(
                Conversation::Group(GroupId::new("b")),
                Some(MessageId::Text("abc".into())),
                "é",
            ),
        ] {
            assert_eq!(stored_copy(&m).to_vec(), reference(&m), "{m:?}");
        }
    }

    #[test]
    fn a_direct_message_arrives_in_the_box_named_after_the_conversation() {
        let m = message(
            Conversation::User(UserId::new("alice")),
            Some(MessageId::Seq(7)),
            "hi",
        );
        let decoded = decode_chat_message(&stored_copy(&m), 1024).unwrap();
        assert_eq!(
            decoded,
            ChatMessage {
                boxid: "alice".into(),
                group: 0,
                uuid: Some("7".into()),
                sender: Some("john-1".into()),
                receiver: None,
                body: Some("hi".into()),
                mtype: 0,
                op: 2,
            }
        );
        let session = message(
            Conversation::Session(SessionId(5)),
            Some(MessageId::Seq(1)),
            "",
        );
        let decoded = decode_chat_message(&stored_copy(&session), 1024).unwrap();
        assert_eq!(decoded.boxid, SessionId(5).to_string());
    }
}
