//! The server's per-message documents, printed straight into the connection's write buffer
//! (no intermediate table or string per message). Byte for byte what the protocols crate's
//! printer writes (`utility:tuple_to_toml`: scalars, then sub-tables in reverse order); the
//! tests below hold them to it.

use bytes::{BufMut, BytesMut};
use imkit_protocols::simple_im::message::DEFAULT_DEVICE;

/// `"s"`. The original cannot escape, and a `"` would end the string early and corrupt the
/// stream: text from another dialect that holds one is sent with `'` instead.
fn quoted(out: &mut BytesMut, s: &str) {
    out.put_u8(b'"');
    if s.contains('"') {
        out.put_slice(s.replace('"', "'").as_bytes());
    } else {
        out.put_slice(s.as_bytes());
    }
    out.put_u8(b'"');
}

fn pair(out: &mut BytesMut, key: &str, value: &str) {
    out.put_u8(b' ');
    out.put_slice(key.as_bytes());
    out.put_slice(b" = ");
    quoted(out, value);
}

/// `[a] id = "<id>"`: the server received the client's `[m]`/`[gm]`.
pub(super) fn ack(out: &mut BytesMut, id: &str) {
    out.put_slice(b"[a]");
    pair(out, "id", id);
}

/// `[m] id = .. c = .. [m.to] id = .. [m.from] id = .. device = ..`: a direct message as the
/// receiver gets it.
pub(super) fn direct(out: &mut BytesMut, id: &str, content: &str, to: &str, from: &str) {
    out.put_slice(b"[m]");
    pair(out, "id", id);
    pair(out, "c", content);
    out.put_slice(b" [m.to]");
    pair(out, "id", to);
    out.put_slice(b" [m.from]");
    pair(out, "id", from);
    pair(out, "device", DEFAULT_DEVICE);
}

/// `[gm] id = .. c = .. [gm.group] id = .. [gm.user] id = .. device = ..`: a group message
/// as each member gets it.
pub(super) fn group(out: &mut BytesMut, id: &str, content: &str, group: &str, from: &str) {
    out.put_slice(b"[gm]");
    pair(out, "id", id);
    pair(out, "c", content);
    out.put_slice(b" [gm.group]");
    pair(out, "id", group);
    out.put_slice(b" [gm.user]");
    pair(out, "id", from);
    pair(out, "device", DEFAULT_DEVICE);
}

#[cfg(test)]
mod tests {
    use imkit_protocols::simple_im::{Context, Document, event_to_message};
    use imkit_protocols::{Conversation, Event, GroupId, Message, MessageId, UserId};

    use super::*;

    fn delivered(conversation: Conversation, content: &str) -> Event {
        Event::Delivered(Message {
            conversation,
            from: UserId::from(1),
            id: Some(MessageId::Text("a_02".into())),
            content: content.into(),
        })
    }

    fn printed(event: &Event) -> String {
        event_to_message(event, &Context::new(UserId::from(2), "iphone"))
            .and_then(|m| m.print())
            .expect("printable")
    }

    #[test]
    fn messages_print_as_the_protocols_printer_does() {
        let mut out = BytesMut::new();
        direct(&mut out, "a_02", "hi there [m] x", "2", "1");
        let event = delivered(Conversation::User(UserId::from(1)), "hi there [m] x");
        assert_eq!(&out[..], printed(&event).as_bytes());
        assert_eq!(
            &out[..],
            br#"[m] id = "a_02" c = "hi there [m] x" [m.to] id = "2" [m.from] id = "1" device = "android""#
        );

        let mut out = BytesMut::new();
        group(&mut out, "a_02", "all", "lobby", "1");
        let event = delivered(Conversation::Group(GroupId::from("lobby")), "all");
        assert_eq!(&out[..], printed(&event).as_bytes());

        let mut out = BytesMut::new();
        ack(&mut out, "a_02");
        let event = Event::Accepted {
            client_ref: Some("a_02".into()),
            id: Some(MessageId::Text("a_02".into())),
        };
        assert_eq!(&out[..], printed(&event).as_bytes());
        assert_eq!(&out[..], br#"[a] id = "a_02""#);
    }

    #[test]
    fn a_double_quote_cannot_break_the_stream() {
        let mut out = BytesMut::new();
        ack(&mut out, r#"say "hi""#);
        assert_eq!(&out[..], br#"[a] id = "say 'hi'""#);
    }
}
