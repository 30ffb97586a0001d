//! An accepted message, stored once and shared by every queue it sits in (outbound, offline,
//! unacked). Each receiver renders it with the kind of id its dialect speaks.

use imkit_protocols::{Conversation, Dialect, Message, MessageId, UserId};

/// Which id a receiver's dialect shows for a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStyle {
    /// The per-conversation sequence number (chat msgId, newim uuid, eutamias).
    Seq,
    /// A server uuid (fishchat `RESP_MESSAGE_P2P`), acked by it.
    Uuid,
    /// The sender's own id, passed through (simple-im `[m] id`).
    ClientRef,
}

impl IdStyle {
    pub fn of(dialect: Dialect) -> IdStyle {
        match dialect {
            Dialect::Fishchat | Dialect::FishchatText => IdStyle::Uuid,
            Dialect::SimpleIm => IdStyle::ClientRef,
            Dialect::ChatJson | Dialect::Newim | Dialect::Eutamias => IdStyle::Seq,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Envelope {
    /// The conversation as the receiver sees it (for a direct message: the sender).
    pub conversation: Conversation,
    pub from: UserId,
    /// Unique and increasing within the conversation.
    pub seq: u64,
    /// Random (from the hub's seeded generator), for dialects that use uuids.
    pub uuid: uuid::Uuid,
    pub client_ref: String,
    pub content: String,
}

impl Envelope {
    pub(crate) fn id(&self, style: IdStyle) -> MessageId {
        match style {
            IdStyle::Seq => MessageId::Seq(self.seq),
            // Encoded straight into its string (`to_string` goes through `fmt`).
            IdStyle::Uuid => MessageId::Text(
                self.uuid
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer())
                    .to_owned(),
            ),
            IdStyle::ClientRef => MessageId::Text(self.client_ref.clone()),
        }
    }

    pub(crate) fn message(&self, style: IdStyle) -> Message {
        Message {
            conversation: self.conversation.clone(),
            from: self.from.clone(),
            id: Some(self.id(style)),
            content: self.content.clone(),
        }
    }

    /// [`Envelope::message`], taking the envelope's strings.
    pub(crate) fn into_message(self, style: IdStyle) -> Message {
        let id = Some(self.id(style));
        Message {
            conversation: self.conversation,
            from: self.from,
            id,
            content: self.content,
        }
    }

    /// Whether an ack for `id` in `conversation` covers this message: a sequence number
    /// acks everything up to it in that conversation; a text id (uuid or client ref) is
    /// unique enough to match alone (fishchat's `P2P_ACK` names no conversation).
    pub(crate) fn acked_by(&self, conversation: &Conversation, id: &AckId) -> bool {
        match id {
            AckId::UpTo(n) => &self.conversation == conversation && self.seq <= *n,
            AckId::Text { text, uuid } => {
                uuid.is_some_and(|uuid| uuid == self.uuid) || *text == self.client_ref
            }
        }
    }
}

/// An ack's id, read once and then matched against each unacked message.
#[derive(Debug, Clone, Copy)]
pub(crate) enum AckId<'a> {
    UpTo(u64),
    /// A text id, and the uuid it spells (hyphenated, either case) if it is one: compared
    /// as 16 bytes, not re-encoded for every message it is matched against.
    Text {
        text: &'a str,
        uuid: Option<uuid::Uuid>,
    },
}

impl<'a> AckId<'a> {
    pub(crate) fn of(id: &'a MessageId) -> Self {
        match id {
            MessageId::Seq(n) => AckId::UpTo(*n),
            MessageId::Text(text) => AckId::Text {
                text,
                // Only the form the hub hands out (not uuid's simple, braced or urn forms).
                uuid: (text.len() == 36)
                    .then(|| uuid::Uuid::try_parse(text).ok())
                    .flatten(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            conversation: Conversation::User(UserId::from("alice")),
            from: UserId::from("alice"),
            seq: 7,
            uuid: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            client_ref: "c-1".into(),
            content: "hi".into(),
        }
    }

    fn acks(envelope: &Envelope, id: MessageId) -> bool {
        envelope.acked_by(&envelope.conversation, &AckId::of(&id))
    }

    #[test]
    fn a_text_ack_matches_the_uuid_as_handed_out_in_either_case_or_the_client_ref() {
        let e = envelope();
        let MessageId::Text(handed_out) = e.id(IdStyle::Uuid) else {
            panic!("a uuid is text");
        };
        assert_eq!(handed_out, "01234567-89ab-cdef-0123-456789abcdef");
        assert!(acks(&e, MessageId::Text(handed_out.clone())));
        assert!(acks(&e, MessageId::Text(handed_out.to_uppercase())));
        assert!(acks(&e, MessageId::Text("c-1".into())));
        // Not other spellings of the same uuid, nor another uuid.
        assert!(!acks(&e, MessageId::Text(handed_out.replace('-', ""))));
        assert!(!acks(&e, MessageId::Text(format!("{{{handed_out}}}"))));
        assert!(!acks(
            &e,
            MessageId::Text("01234567-89ab-cdef-0123-456789abcdee".into())
        ));
    }

    #[test]
    fn a_sequence_ack_covers_everything_up_to_it_in_its_conversation_only() {
        let e = envelope();
        assert!(acks(&e, MessageId::Seq(7)));
        assert!(acks(&e, MessageId::Seq(8)));
        assert!(!acks(&e, MessageId::Seq(6)));
        let elsewhere = Conversation::User(UserId::from("bob"));
        assert!(!e.acked_by(&elsewhere, &AckId::of(&MessageId::Seq(8))));
    }
}
