//! The bounded per-connection outbound queue: the hub pushes (never waits), the connection's
//! task pops and writes. Our own queue rather than an mpsc channel because the hub must be
//! able to take back what a too-slow receiver left in it (kept as offline messages, never
//! lost) and to refuse instead of growing.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use imkit_protocols::Event;
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use super::delivery::{Delivery, Outgoing};
use super::envelope::{Envelope, IdStyle};

/// Why the hub closed a connection's queue (the connection's task then closes its socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The listener detached it (its socket ended).
    Detached,
    /// The receiver did not drain its queue (or did not ack) fast enough; what was queued is
    /// kept for its next login.
    SlowConsumer,
    /// `--chaos` dropped it on purpose.
    Chaos,
    /// Another connection logged in as the same user on the same device: one connection per
    /// device, so each message reaches a device once (what was queued moves to the new one).
    Replaced,
    /// The server is shutting down: what is queued is still handed out, then the end.
    Shutdown,
}

/// One queued item. Deliveries stay shared envelopes until the receiver renders them, so a
/// group fan-out costs one pointer per receiver, and the hub can requeue them if needed.
#[derive(Debug)]
pub(crate) enum Item {
    Event(Event),
    Deliver(Arc<Envelope>),
}

#[derive(Debug)]
struct Slot {
    item: Item,
    /// Not to be handed out before (`--chaos` latency).
    due: Option<Instant>,
}

#[derive(Debug)]
struct QueueState {
    slots: VecDeque<Slot>,
    /// Extra room granted while a login flushes stored messages into the queue: they move
    /// from the offline store to here, so memory does not grow, and the receiver is not
    /// judged slow for a backlog it has not had time to read yet.
    credit: usize,
    closed: Option<CloseReason>,
}

/// The hub's side of one connection's queue.
#[derive(Debug)]
pub(crate) struct OutboundQueue {
    state: Mutex<QueueState>,
    notify: Notify,
    capacity: usize,
}

/// Why a push did not go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    Full,
    Closed,
}

impl OutboundQueue {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(OutboundQueue {
            state: Mutex::new(QueueState {
                slots: VecDeque::new(),
                credit: 0,
                closed: None,
            }),
            notify: Notify::new(),
            capacity: capacity.max(1),
        })
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic elsewhere while holding this lock cannot leave the deque inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `item` if there is room.
    pub(crate) fn push(&self, item: Item, due: Option<Instant>) -> Result<(), PushError> {
        let mut state = self.lock();
        if state.closed.is_some() {
            return Err(PushError::Closed);
        }
        if state.slots.len() >= self.capacity + state.credit {
            return Err(PushError::Full);
        }
        let was_empty = state.slots.is_empty();
        state.slots.push_back(Slot { item, due });
        drop(state);
        // The receiver only waits after it saw the queue empty (under the lock), so a push
        // onto a non-empty queue needs no wake-up: it will be taken with what is before it.
        if was_empty {
            self.notify.notify_one();
        }
        Ok(())
    }

    /// Queue a stored message at login, beyond the capacity (see `QueueState::credit`).
    pub(crate) fn push_backlog(&self, item: Item, due: Option<Instant>) -> Result<(), PushError> {
        let mut state = self.lock();
        if state.closed.is_some() {
            return Err(PushError::Closed);
        }
        state.credit += 1;
        state.slots.push_back(Slot { item, due });
        drop(state);
        self.notify.notify_one();
        Ok(())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Close the queue and take back everything not yet handed out (slow consumer, chaos).
    pub(crate) fn close_and_drain(&self, reason: CloseReason) -> Vec<Item> {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        state.credit = 0;
        let items = state.slots.drain(..).map(|s| s.item).collect();
        drop(state);
        self.notify.notify_one();
        items
    }

    /// Close the queue but let the receiver read what is in it first (shutdown, detach).
    pub(crate) fn close(&self, reason: CloseReason) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(reason);
        }
        drop(state);
        self.notify.notify_one();
    }
}

/// The connection task's side of its queue: events in the hub's order.
#[derive(Debug)]
pub struct Outbound {
    queue: Arc<OutboundQueue>,
    style: IdStyle,
}

impl Outbound {
    pub(crate) fn new(queue: Arc<OutboundQueue>, style: IdStyle) -> Self {
        Outbound { queue, style }
    }

    /// The next item for this connection; `None` once the hub closed the queue and it is
    /// empty (see [`Outbound::close_reason`]). Cancel safe.
    pub async fn recv(&mut self) -> Option<Outgoing> {
        loop {
            let (first, due) = {
                let mut state = self.queue.lock();
                match state.slots.front() {
                    Some(slot) => match slot.due {
                        Some(due) if due > Instant::now() => (None, Some(due)),
                        _ => {
                            let slot = state.slots.pop_front().map(|s| s.item);
                            state.credit = state.credit.saturating_sub(1);
                            (slot, None)
                        }
                    },
                    None if state.closed.is_some() => return None,
                    None => (None, None),
                }
            };
            if let Some(item) = first {
                return Some(self.render(item));
            }
            match due {
                // Delayed by chaos: later items wait behind it, so order holds.
                Some(due) => sleep_until(due).await,
                // notify_one keeps a permit when nobody waits, so no wake-up is missed.
                None => self.queue.notify.notified().await,
            }
        }
    }

    /// Take every item that is ready now (up to `max`) without waiting: lets a connection
    /// write a batch and flush once. Returns how many were added to `into`.
    pub fn try_recv_many(&mut self, into: &mut Vec<Outgoing>, max: usize) -> usize {
        let now = Instant::now();
        let before = into.len();
        let mut state = self.queue.lock();
        while into.len() - before < max {
            match state.slots.front() {
                Some(slot) if slot.due.is_none_or(|d| d <= now) => {
                    if let Some(slot) = state.slots.pop_front() {
                        into.push(self.render(slot.item));
                    }
                    state.credit = state.credit.saturating_sub(1);
                }
                _ => break,
            }
        }
        into.len() - before
    }

    /// Why the hub closed this queue, once it did.
    pub fn close_reason(&self) -> Option<CloseReason> {
        self.queue.lock().closed
    }

    fn render(&self, item: Item) -> Outgoing {
        match item {
            Item::Event(event) => Outgoing::Event(event),
            Item::Deliver(envelope) => Outgoing::Delivery(Delivery::new(envelope, self.style)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::FutureExt;

    use super::*;

    fn queue(capacity: usize) -> (Arc<OutboundQueue>, Outbound) {
        let queue = OutboundQueue::new(capacity);
        (queue.clone(), Outbound::new(queue, IdStyle::Seq))
    }

    fn push(queue: &OutboundQueue, event: Event) {
        queue.push(Item::Event(event), None).expect("room");
    }

    #[tokio::test]
    async fn a_push_wakes_the_waiting_connection() {
        let (queue, mut out) = queue(8);
        let waiting = tokio::spawn(async move { out.recv().await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "nothing queued yet");
        push(&queue, Event::Pong);
        let event = tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken")
            .expect("task");
        assert_eq!(event.map(Outgoing::into_event), Some(Event::Pong));
    }

    #[tokio::test]
    async fn takes_what_is_ready_up_to_max_in_order() {
        let (queue, mut out) = queue(8);
        for _ in 0..3 {
            push(&queue, Event::Pong);
        }
        push(
            &queue,
            Event::PartnerLeft {
                session: imkit_protocols::SessionId(7),
                user: imkit_protocols::UserId::new("9"),
            },
        );
        let mut batch = Vec::new();
        assert_eq!(out.try_recv_many(&mut batch, 2), 2);
        assert_eq!(out.try_recv_many(&mut batch, 8), 2);
        assert_eq!(batch.len(), 4);
        assert!(matches!(
            batch[3],
            Outgoing::Event(Event::PartnerLeft {
                session: imkit_protocols::SessionId(7),
                ..
            })
        ));
        assert_eq!(out.try_recv_many(&mut batch, 8), 0);
    }

    #[tokio::test]
    async fn a_closed_queue_hands_out_what_it_holds_then_ends() {
        let (queue, mut out) = queue(8);
        push(&queue, Event::Pong);
        assert!(!queue.is_closed());
        queue.close(CloseReason::Shutdown);
        assert!(queue.is_closed());
        assert_eq!(
            queue.push(Item::Event(Event::Pong), None),
            Err(PushError::Closed)
        );
        assert_eq!(
            out.recv().await.map(Outgoing::into_event),
            Some(Event::Pong)
        );
        assert!(out.recv().await.is_none());
        assert_eq!(out.close_reason(), Some(CloseReason::Shutdown));
    }

    #[tokio::test]
    async fn a_cancelled_wait_takes_nothing() {
        let (queue, mut out) = queue(8);
        // Polled once while empty, then dropped (a select picked another branch).
        assert!(out.recv().now_or_never().is_none());
        push(&queue, Event::Pong);
        assert_eq!(
            out.recv().await.map(Outgoing::into_event),
            Some(Event::Pong)
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses() {
        let (queue, _out) = queue(2);
        push(&queue, Event::Pong);
        push(&queue, Event::Pong);
        assert_eq!(
            queue.push(Item::Event(Event::Pong), None),
            Err(PushError::Full)
        );
    }
}
