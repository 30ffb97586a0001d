//! Messages the hub accepted but that are not (known to be) in their receiver's hands yet:
//! offline queues (delivered FIFO at the next login) and unacked messages (for receivers
//! that ack: redelivered at each login until acked). Keyed by user and device, so one
//! device's backlog is not replayed on another that already has it.

use std::collections::VecDeque;

use foldhash::HashMap;
use std::sync::Arc;

use imkit_protocols::{Conversation, MessageId, UserId};

use super::envelope::{AckId, Envelope};

/// `None`: the dialect has no devices; one slot for all of the user's connections.
pub(crate) type Device = Option<String>;

#[derive(Debug)]
struct Stored {
    /// `None`: for whichever device logs in first; `Some`: that device only.
    device: Device,
    envelope: Arc<Envelope>,
}

#[derive(Debug, Default)]
pub(crate) struct Mailboxes {
    offline: HashMap<UserId, VecDeque<Stored>>,
    /// By user, then by device (a user has one or a few): looked up on every delivery and
    /// every ack, without building an owned `(user, device)` key each time.
    unacked: HashMap<UserId, Vec<DeviceQueue>>,
}

#[derive(Debug)]
struct DeviceQueue {
    device: Device,
    messages: VecDeque<Arc<Envelope>>,
}

impl Mailboxes {
    pub(crate) fn offline_len(&self, user: &UserId) -> usize {
        self.offline.get(user).map_or(0, VecDeque::len)
    }

    pub(crate) fn store(&mut self, user: &UserId, device: Device, envelope: Arc<Envelope>) {
        self.offline
            .entry(user.clone())
            .or_default()
            .push_back(Stored { device, envelope });
    }

    /// Take, in order, what is stored for `device` (or for any device) of `user`.
    pub(crate) fn take_offline(&mut self, user: &UserId, device: &Device) -> Vec<Arc<Envelope>> {
        let Some(queue) = self.offline.get_mut(user) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        queue.retain(|stored| {
            let mine = stored.device.is_none() || stored.device == *device;
            if mine {
                taken.push(stored.envelope.clone());
            }
            !mine
        });
        if queue.is_empty() {
            self.offline.remove(user);
        }
        taken
    }

    fn device_queue(&self, user: &UserId, device: &Device) -> Option<&VecDeque<Arc<Envelope>>> {
        self.unacked
            .get(user)?
            .iter()
            .find(|q| q.device == *device)
            .map(|q| &q.messages)
    }

    pub(crate) fn unacked_len(&self, user: &UserId, device: &Device) -> usize {
        self.device_queue(user, device).map_or(0, VecDeque::len)
    }

    pub(crate) fn add_unacked(&mut self, user: &UserId, device: &Device, envelope: Arc<Envelope>) {
        let queues = match self.unacked.get_mut(user) {
            Some(queues) => queues,
            None => self.unacked.entry(user.clone()).or_default(),
        };
        match queues.iter_mut().find(|q| q.device == *device) {
            Some(q) => q.messages.push_back(envelope),
            None => queues.push(DeviceQueue {
                device: device.clone(),
                messages: VecDeque::from([envelope]),
            }),
        }
    }

    /// The unacked messages of a device, oldest first (they stay unacked).
    pub(crate) fn unacked(&self, user: &UserId, device: &Device) -> Vec<Arc<Envelope>> {
        self.device_queue(user, device)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Take the unacked messages of a device away (they go to a receiver that never acks).
    pub(crate) fn take_unacked(&mut self, user: &UserId, device: &Device) -> Vec<Arc<Envelope>> {
        let Some(queues) = self.unacked.get_mut(user) else {
            return Vec::new();
        };
        let Some(at) = queues.iter().position(|q| q.device == *device) else {
            return Vec::new();
        };
        let taken = queues.swap_remove(at).messages;
        if queues.is_empty() {
            self.unacked.remove(user);
        }
        Vec::from(taken)
    }

    /// Apply an ack; returns how many messages it settled. A sequence number settles every
    /// message up to it in the conversation; a text id settles the oldest message with it.
    pub(crate) fn ack(
        &mut self,
        user: &UserId,
        device: &Device,
        conversation: &Conversation,
        id: &MessageId,
    ) -> usize {
        let Some(queues) = self.unacked.get_mut(user) else {
            return 0;
        };
        let Some(at) = queues.iter().position(|q| q.device == *device) else {
            return 0;
        };
        let queue = &mut queues[at].messages;
        let before = queue.len();
        let id = AckId::of(id);
        match id {
            AckId::UpTo(_) => queue.retain(|e| !e.acked_by(conversation, &id)),
            AckId::Text { .. } => {
                if let Some(at) = queue.iter().position(|e| e.acked_by(conversation, &id)) {
                    queue.remove(at);
                }
            }
        }
        // An emptied queue is kept: with one message in flight, the next delivery would
        // allocate it again (the user's entry costs ~100 bytes).
        before - queue.len()
    }

    /// Messages held for anyone (offline + unacked): for stats and tests.
    pub(crate) fn pending(&self) -> usize {
        self.offline.values().map(VecDeque::len).sum::<usize>()
            + self
                .unacked
                .values()
                .flatten()
                .map(|q| q.messages.len())
                .sum::<usize>()
    }
}
