//! Read marks: how far each participant has read each conversation (chat `VIEWED_ACK`).

use foldhash::HashMap;

use imkit_protocols::{Conversation, MessageId, UserId};

#[derive(Debug, Default)]
pub(crate) struct ReadMarks {
    /// (conversation as the reader names it, reader) -> last id read.
    marks: HashMap<(Conversation, UserId), MessageId>,
}

impl ReadMarks {
    pub(crate) fn mark(&mut self, conversation: &Conversation, reader: &UserId, up_to: MessageId) {
        self.marks
            .insert((conversation.clone(), reader.clone()), up_to);
    }

    pub(crate) fn get(&self, conversation: &Conversation, reader: &UserId) -> Option<&MessageId> {
        self.marks.get(&(conversation.clone(), reader.clone()))
    }
}
