//! The message ledger: for every message, accepted or not, delivered (to whom, when), lost,
//! duplicated, reordered within its conversation, or delivered to someone it was not for.
//!
//! Totals are exact and memory is bounded: senders only count (sent, expected recipients),
//! each receiver keeps one small bitmap window per sender it hears from ([`Inbox`]), and
//! `lost = expected − delivered` once the run has drained. No map of every message ever sent.

use serde::{Deserialize, Serialize};

use crate::marker::Marker;

/// The ledger's counters, summed per worker and merged per tick.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerCounts {
    /// Messages handed to a connection.
    pub sent: u64,
    /// Confirmed by the server (dialects whose server confirms).
    pub accepted: u64,
    /// Deliveries owed: one per recipient of each sent message (a group owes one per member).
    pub expected: u64,
    /// First copies at the right recipient within the loss timeout.
    pub delivered: u64,
    /// Owed deliveries that did not happen in time (`expected − delivered`, late ones included).
    pub lost: u64,
    /// Copies after the first.
    pub duplicated: u64,
    /// First copies that came after a later message of the same sender in the same conversation.
    pub reordered: u64,
    /// Arrived at someone they were not for.
    pub misdelivered: u64,
    /// First copies that came after the loss timeout (counted in `lost` too).
    pub late: u64,
    /// Arrivals older than the receiver's window that were not yet late: cannot be judged
    /// (0 unless a sender outpaces the window; see the README).
    pub unjudged: u64,
    /// Markers of another run (e.g. offline messages left on a persistent server).
    pub foreign: u64,
    /// Deliveries with no marker at all.
    pub unmarked: u64,
    /// A group message arriving back at its own sender (some servers echo; not owed, not wrong).
    pub echoed: u64,
}

impl LedgerCounts {
    pub fn add(&mut self, other: &LedgerCounts) {
        self.sent += other.sent;
        self.accepted += other.accepted;
        self.expected += other.expected;
        self.delivered += other.delivered;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.misdelivered += other.misdelivered;
        self.late += other.late;
        self.unjudged += other.unjudged;
        self.foreign += other.foreign;
        self.unmarked += other.unmarked;
        self.echoed += other.echoed;
        self.settle();
    }

    /// Recompute `lost` from what was owed and what came.
    pub fn settle(&mut self) {
        self.lost = self.expected.saturating_sub(self.delivered);
    }

    /// Count one arrival.
    pub fn record(&mut self, receipt: Receipt) {
        match receipt.kind {
            Arrival::Delivered => self.delivered += 1,
            Arrival::Duplicate => self.duplicated += 1,
            Arrival::Late => self.late += 1,
            Arrival::Unjudged => self.unjudged += 1,
            Arrival::Misdelivered => self.misdelivered += 1,
            Arrival::Foreign => self.foreign += 1,
            Arrival::Unmarked => self.unmarked += 1,
            Arrival::Echo => self.echoed += 1,
        }
        if receipt.reordered {
            self.reordered += 1;
        }
    }
}

/// What one arrival was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    Delivered,
    Duplicate,
    Late,
    Unjudged,
    Misdelivered,
    Foreign,
    Unmarked,
    Echo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub kind: Arrival,
    pub reordered: bool,
}

impl Receipt {
    fn plain(kind: Arrival) -> Receipt {
        Receipt {
            kind,
            reordered: false,
        }
    }
}

/// Who a receiver is, to judge markers against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recipient {
    pub run: u32,
    /// The receiving user's global index.
    pub index: u32,
    /// [`crate::marker::recipient_hash`] of the user and of its group, if any.
    pub user_hash: u32,
    pub group_hash: Option<u32>,
}

/// One receiver's memory of what it got: a window per sender.
#[derive(Debug, Default)]
pub struct Inbox {
    streams: Vec<Stream>,
    /// Upper bound on each window, in 64-message words.
    max_words: usize,
    /// Upper bound on senders remembered (the least recently heard is forgotten first).
    max_streams: usize,
    clock: u32,
}

#[derive(Debug)]
struct Stream {
    sender: u32,
    /// The seq of bit 0 of `bits[0]`.
    base: u64,
    highest: u64,
    bits: Vec<u64>,
    heard: u32,
}

impl Inbox {
    /// `max_words` × 64 messages per sender can be told apart (see the README on sizing);
    /// at most `max_streams` senders are remembered.
    pub fn new(max_words: usize, max_streams: usize) -> Inbox {
        Inbox {
            streams: Vec::new(),
            max_words: max_words.max(1),
            max_streams: max_streams.max(1),
            clock: 0,
        }
    }

    /// Judge one arrival at `now_us` (µs from the run's epoch, the marker's clock).
    pub fn receive(
        &mut self,
        me: &Recipient,
        marker: Option<Marker>,
        now_us: u64,
        loss_timeout_us: u64,
    ) -> Receipt {
        let Some(m) = marker else {
            return Receipt::plain(Arrival::Unmarked);
        };
        if m.run != me.run {
            return Receipt::plain(Arrival::Foreign);
        }
        if m.sender == me.index {
            return Receipt::plain(Arrival::Echo);
        }
        if m.to != me.user_hash && Some(m.to) != me.group_hash {
            return Receipt::plain(Arrival::Misdelivered);
        }
        let late = now_us.saturating_sub(m.intended_us) > loss_timeout_us;
        self.clock = self.clock.wrapping_add(1);
        let (clock, max_words) = (self.clock, self.max_words);
        let stream = self.stream(m.sender, m.seq);
        stream.heard = clock;
        if m.seq < stream.base {
            return Receipt::plain(if late {
                Arrival::Late
            } else {
                Arrival::Unjudged
            });
        }
        let max_bits = max_words as u64 * 64;
        let mut offset = m.seq - stream.base;
        if offset >= stream.bits.len() as u64 * 64 {
            let needed = (offset / 64 + 1) as usize;
            if needed <= max_words {
                stream
                    .bits
                    .resize(needed.next_power_of_two().min(max_words), 0);
            } else {
                // Slide: forget the oldest words (anything that old is past its loss timeout
                // when the window is sized as the README says).
                stream.bits.resize(max_words, 0);
                let drop_words = (((offset - max_bits) / 64) + 1).min(max_words as u64) as usize;
                stream.bits.drain(..drop_words);
                stream.bits.resize(max_words, 0);
                stream.base += drop_words as u64 * 64;
                if m.seq - stream.base >= max_bits {
                    // Jumped further than a whole window: start afresh at this seq.
                    stream.base = m.seq - m.seq % 64;
                    stream.bits.iter_mut().for_each(|w| *w = 0);
                }
                offset = m.seq - stream.base;
            }
        }
        let (word, bit) = ((offset / 64) as usize, offset % 64);
        if stream.bits[word] & (1 << bit) != 0 {
            return Receipt::plain(Arrival::Duplicate);
        }
        stream.bits[word] |= 1 << bit;
        let reordered = m.seq < stream.highest;
        stream.highest = stream.highest.max(m.seq + 1);
        Receipt {
            kind: if late {
                Arrival::Late
            } else {
                Arrival::Delivered
            },
            reordered,
        }
    }

    fn stream(&mut self, sender: u32, seq: u64) -> &mut Stream {
        if let Some(i) = self.streams.iter().position(|s| s.sender == sender) {
            return &mut self.streams[i];
        }
        if self.streams.len() >= self.max_streams
            && let Some(oldest) = (0..self.streams.len())
                .max_by_key(|&i| self.clock.wrapping_sub(self.streams[i].heard))
        {
            self.streams.swap_remove(oldest);
        }
        // Start one word below the first seq heard, so a slightly earlier message still fits.
        let base = (seq / 64).saturating_sub(1) * 64;
        self.streams.push(Stream {
            sender,
            base,
            highest: 0,
            bits: vec![0; 2.min(self.max_words)],
            heard: self.clock,
        });
        self.streams.last_mut().expect("just pushed")
    }

    /// Bytes held (for the memory budget).
    pub fn heap_bytes(&self) -> usize {
        self.streams.capacity() * std::mem::size_of::<Stream>()
            + self
                .streams
                .iter()
                .map(|s| s.bits.capacity() * 8)
                .sum::<usize>()
    }
}

/// Window words needed so that a sender sending at most `per_second` messages cannot push an
/// in-time message out of the window: `per_second × loss_timeout`, doubled for bursts.
pub fn window_words(per_second: f64, loss_timeout: std::time::Duration) -> usize {
    let messages = (per_second * loss_timeout.as_secs_f64() * 2.0).ceil() as usize;
    (messages / 64 + 2).clamp(2, 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marker::recipient_hash;

    fn me() -> Recipient {
        Recipient {
            run: 1,
            index: 9,
            user_hash: recipient_hash(b'u', "9"),
            group_hash: None,
        }
    }

    fn marker(sender: u32, seq: u64, t: u64) -> Option<Marker> {
        Some(Marker {
            run: 1,
            sender,
            seq,
            intended_us: t,
            to: recipient_hash(b'u', "9"),
            owed: true,
        })
    }

    #[test]
    fn each_kind_of_arrival_is_told_apart() {
        let mut inbox = Inbox::new(4, 8);
        let me = me();
        let kind = |r: Receipt| r.kind;
        assert_eq!(
            kind(inbox.receive(&me, marker(1, 0, 0), 10, 1_000)),
            Arrival::Delivered
        );
        assert_eq!(
            kind(inbox.receive(&me, marker(1, 0, 0), 20, 1_000)),
            Arrival::Duplicate
        );
        let r = inbox.receive(&me, marker(1, 2, 0), 30, 1_000);
        assert_eq!(
            r,
            Receipt {
                kind: Arrival::Delivered,
                reordered: false
            }
        );
        let r = inbox.receive(&me, marker(1, 1, 0), 40, 1_000);
        assert_eq!(
            r,
            Receipt {
                kind: Arrival::Delivered,
                reordered: true
            }
        );
        assert_eq!(
            kind(inbox.receive(&me, marker(1, 3, 0), 5_000, 1_000)),
            Arrival::Late
        );
        assert_eq!(kind(inbox.receive(&me, None, 0, 1_000)), Arrival::Unmarked);
        let mut other_run = marker(1, 4, 0).unwrap();
        other_run.run = 2;
        assert_eq!(
            kind(inbox.receive(&me, Some(other_run), 0, 1_000)),
            Arrival::Foreign
        );
        let mut for_someone_else = marker(1, 5, 0).unwrap();
        for_someone_else.to = recipient_hash(b'u', "10");
        assert_eq!(
            kind(inbox.receive(&me, Some(for_someone_else), 0, 1_000)),
            Arrival::Misdelivered
        );
        assert_eq!(
            kind(inbox.receive(&me, marker(9, 0, 0), 0, 1_000)),
            Arrival::Echo
        );
    }

    #[test]
    fn the_window_slides_and_memory_stays_bounded() {
        let mut inbox = Inbox::new(2, 4);
        let me = me();
        for seq in 0..100_000u64 {
            // One message every ms, a loss timeout of 50 ms: the 128-message window covers it.
            let r = inbox.receive(&me, marker(1, seq, seq * 1000), seq * 1000 + 10, 50_000);
            assert_eq!(r.kind, Arrival::Delivered, "seq {seq}");
        }
        // An old one comes back: older than the window, and late.
        assert_eq!(
            inbox
                .receive(&me, marker(1, 5, 5_000), 100_000_000, 50_000)
                .kind,
            Arrival::Late
        );
        assert!(inbox.heap_bytes() < 1024, "{}", inbox.heap_bytes());
        // Senders beyond the limit evict the least recently heard.
        for sender in 100..120 {
            inbox.receive(&me, marker(sender, 0, 0), 1, 50_000);
        }
        assert!(inbox.streams.len() <= 4);
    }
}
