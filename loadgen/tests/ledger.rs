//! The ledger's counts are exact under random loss, duplication and reordering: the bounded
//! inbox agrees with a naive model that remembers every message.

use std::collections::HashSet;

use imkit_loadgen::ledger::{Arrival, Inbox, LedgerCounts, Recipient};
use imkit_loadgen::marker::{Marker, recipient_hash};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Fate {
    dropped: bool,
    copies: u8,
    /// How far (in positions) the first copy is delayed.
    delay: u8,
    /// Extra transit µs.
    transit: u32,
}

fn fate() -> impl Strategy<Value = Fate> {
    (
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.05),
        0u8..6,
        prop::bool::weighted(0.1),
        0u32..3_000,
    )
        .prop_map(|(dropped, dup, delay, displaced, transit)| Fate {
            dropped,
            copies: if dup { 2 } else { 1 },
            delay: if displaced { delay } else { 0 },
            transit,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn counts_match_a_model_that_remembers_everything(senders in 1u32..4, fates in prop::collection::vec(fate(), 1..400)) {
        let me = Recipient { run: 7, index: 100, user_hash: recipient_hash(b'u', "me"), group_hash: None };
        let loss_timeout_us = 2_000;
        // Messages: sender s, seq per sender, intended every 100 µs.
        let mut arrivals: Vec<(u64, Marker)> = Vec::new(); // (position, marker)
        let mut next_seq = vec![0u64; senders as usize];
        for (i, f) in fates.iter().enumerate() {
            let sender = i as u32 % senders;
            let seq = next_seq[sender as usize];
            next_seq[sender as usize] += 1;
            let m = Marker { run: 7, sender, seq, intended_us: i as u64 * 100, to: me.user_hash, owed: true };
            if f.dropped { continue; }
            for c in 0..f.copies {
                arrivals.push(((i as u64 + u64::from(f.delay)) * 10 + u64::from(c) * 7, m));
            }
        }
        arrivals.sort_by_key(|(pos, m)| (*pos, m.sender, m.seq));
        let mut inbox = Inbox::new(2, 8);
        let mut counts = LedgerCounts { expected: fates.len() as u64, sent: fates.len() as u64, ..Default::default() };
        // The model.
        let mut seen = HashSet::new();
        let mut highest = vec![None::<u64>; senders as usize];
        let (mut delivered, mut duplicated, mut reordered, mut late) = (0u64, 0u64, 0u64, 0u64);
        for (k, (_, m)) in arrivals.iter().enumerate() {
            let transit = fates[(m.intended_us / 100) as usize].transit;
            let now = m.intended_us + u64::from(transit) + k as u64;
            let receipt = inbox.receive(&me, Some(*m), now, loss_timeout_us);
            counts.record(receipt);
            if !seen.insert((m.sender, m.seq)) {
                duplicated += 1;
                prop_assert_eq!(receipt.kind, Arrival::Duplicate);
                continue;
            }
            let h = &mut highest[m.sender as usize];
            if h.is_some_and(|h| m.seq < h) { reordered += 1; }
            *h = Some(h.map_or(m.seq, |h| h.max(m.seq)));
            if now - m.intended_us > loss_timeout_us { late += 1 } else { delivered += 1 }
        }
        counts.settle();
        prop_assert_eq!(counts.unjudged, 0);
        prop_assert_eq!(counts.delivered, delivered);
        prop_assert_eq!(counts.duplicated, duplicated);
        prop_assert_eq!(counts.reordered, reordered);
        prop_assert_eq!(counts.late, late);
        let dropped = fates.iter().filter(|f| f.dropped).count() as u64;
        prop_assert_eq!(counts.lost, dropped + late);
    }
}
