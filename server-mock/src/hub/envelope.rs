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
            IdStyle::Uuid => MessageId::Text(self.uuid.to_string()),
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
    pub(crate) fn acked_by(&self, conversation: &Conversation, id: &MessageId) -> bool {
        match id {
            MessageId::Seq(n) => &self.conversation == conversation && self.seq <= *n,
            MessageId::Text(text) => {
                let mut uuid = uuid::Uuid::encode_buffer();
                *text == self.client_ref
                    || self
                        .uuid
                        .hyphenated()
                        .encode_lower(&mut uuid)
                        .eq_ignore_ascii_case(text)
            }
        }
    }
}
