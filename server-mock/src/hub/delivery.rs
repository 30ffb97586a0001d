//! What a connection's task takes from its queue: a hub event, or a message to deliver.
//! A delivery stays the shared envelope the hub accepted, so a wire can print it straight
//! from there: no copy of its strings per receiver, no text id allocated to be printed
//! once (fishchat's uuid), and nothing to free after the write but one reference.

use std::sync::Arc;

use imkit_protocols::{Conversation, Event, Message, MessageId, UserId};

use super::envelope::{Envelope, IdStyle};

/// One item for a connection, in the hub's order.
#[derive(Debug)]
pub enum Outgoing {
    Event(Event),
    Delivery(Delivery),
}

impl Outgoing {
    /// The item as a plain event (a delivery becomes [`Event::Delivered`]): for wires
    /// that print every event the same way. Takes the envelope's strings when this was
    /// its last holder.
    pub fn into_event(self) -> Event {
        match self {
            Outgoing::Event(event) => event,
            Outgoing::Delivery(delivery) => Event::Delivered(delivery.into_message()),
        }
    }

    /// A short name, for logs (see [`Event::kind`]).
    pub fn kind(&self) -> &'static str {
        match self {
            Outgoing::Event(event) => event.kind(),
            Outgoing::Delivery(_) => "delivered",
        }
    }
}

impl From<Event> for Outgoing {
    fn from(event: Event) -> Self {
        Outgoing::Event(event)
    }
}

/// A message for this connection, seen with the id its dialect speaks.
#[derive(Debug, Clone)]
pub struct Delivery {
    envelope: Arc<Envelope>,
    style: IdStyle,
}

impl Delivery {
    pub(crate) fn new(envelope: Arc<Envelope>, style: IdStyle) -> Self {
        Delivery { envelope, style }
    }

    /// The conversation as the receiver sees it (for a direct message: the sender).
    pub fn conversation(&self) -> &Conversation {
        &self.envelope.conversation
    }

    pub fn from(&self) -> &UserId {
        &self.envelope.from
    }

    pub fn content(&self) -> &str {
        &self.envelope.content
    }

    /// The per-conversation sequence number (the id where the style is [`IdStyle::Seq`]).
    pub fn seq(&self) -> u64 {
        self.envelope.seq
    }

    /// The server uuid (the id where the style is [`IdStyle::Uuid`]).
    pub fn uuid(&self) -> uuid::Uuid {
        self.envelope.uuid
    }

    pub fn style(&self) -> IdStyle {
        self.style
    }

    /// The id in the receiver's style, as an owned value.
    pub fn id(&self) -> MessageId {
        self.envelope.id(self.style)
    }

    /// The message, its strings copied (the envelope stays shared).
    pub fn to_message(&self) -> Message {
        self.envelope.message(self.style)
    }

    /// The message, taking the envelope's strings if nothing else holds it (no unacked
    /// copy, no other receiver).
    pub fn into_message(self) -> Message {
        match Arc::try_unwrap(self.envelope) {
            Ok(envelope) => envelope.into_message(self.style),
            Err(shared) => shared.message(self.style),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Arc<Envelope> {
        Arc::new(Envelope {
            conversation: Conversation::User(UserId::from("alice")),
            from: UserId::from("alice"),
            seq: 3,
            uuid: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            client_ref: "c-9".into(),
            content: "hi".into(),
        })
    }

    #[test]
    fn a_delivery_shows_the_message_with_its_receivers_id_shared_or_not() {
        let shared = envelope();
        for (style, id) in [
            (IdStyle::Seq, MessageId::Seq(3)),
            (
                IdStyle::Uuid,
                MessageId::Text("01234567-89ab-cdef-0123-456789abcdef".into()),
            ),
            (IdStyle::ClientRef, MessageId::Text("c-9".into())),
        ] {
            let want = Message {
                conversation: Conversation::User(UserId::from("alice")),
                from: UserId::from("alice"),
                id: Some(id.clone()),
                content: "hi".into(),
            };
            let delivery = Delivery::new(shared.clone(), style);
            assert_eq!(delivery.id(), id);
            assert_eq!(delivery.to_message(), want);
            // Still shared (`shared` holds it): copied.
            assert_eq!(delivery.clone().into_message(), want);
            // The last holder: taken.
            let alone = Delivery::new(envelope(), style);
            assert_eq!(
                Outgoing::Delivery(alone).into_event(),
                Event::Delivered(want)
            );
        }
        assert_eq!(Arc::strong_count(&shared), 1, "no reference left behind");
    }
}
