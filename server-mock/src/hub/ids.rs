//! Message and session ids: "unique and increasing within a conversation" (the seeds' id
//! generator). Sessions and groups carry their own counter; direct conversations between
//! two users are counted here, by the unordered pair.

use foldhash::HashMap;

use imkit_protocols::UserId;
use rand::Rng;

/// A per-conversation counter. Starts at 1 (0 means "none" in chat's omitempty JSON).
#[derive(Debug, Default, Clone)]
pub(crate) struct Sequence(u64);

impl Sequence {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// Counters of direct (user to user) conversations, by the lower id then the higher: found
/// by reference on every message (no owned pair key built per lookup).
#[derive(Debug, Default)]
pub(crate) struct DirectSequences {
    pairs: HashMap<UserId, HashMap<UserId, Sequence>>,
}

impl DirectSequences {
    pub(crate) fn next(&mut self, a: &UserId, b: &UserId) -> u64 {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        if let Some(seq) = self
            .pairs
            .get_mut(low)
            .and_then(|peers| peers.get_mut(high))
        {
            return seq.next();
        }
        self.pairs
            .entry(low.clone())
            .or_default()
            .entry(high.clone())
            .or_default()
            .next()
    }
}

/// A v4 uuid from the hub's own (seeded) generator: no system call per message, and the
/// same run with the same `--seed` gives the same ids. One `u128` is two draws of the
/// generator; an array of 16 bytes would be sixteen (one per message, on every dialect).
pub(crate) fn uuid_from(rng: &mut impl Rng) -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rng.random::<u128>().to_le_bytes()).into_uuid()
}

/// A token: 30 characters of `[a-zA-Z0-9]`, as chat v2 makes them.
pub(crate) fn token_from(rng: &mut impl Rng) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..30)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn direct_counters_are_per_pair_and_symmetric() {
        let mut ids = DirectSequences::default();
        let (a, b, c) = (UserId::from("a"), UserId::from("b"), UserId::from("c"));
        assert_eq!(ids.next(&a, &b), 1);
        assert_eq!(ids.next(&b, &a), 2);
        assert_eq!(ids.next(&a, &c), 1);
        assert_eq!(ids.next(&a, &b), 3);
    }

    #[test]
    fn tokens_and_uuids_follow_the_seed() {
        let mut one = SmallRng::seed_from_u64(7);
        let mut two = SmallRng::seed_from_u64(7);
        let token = token_from(&mut one);
        assert_eq!(token.len(), 30);
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(token, token_from(&mut two));
        let uuid = uuid_from(&mut one);
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(uuid, uuid_from(&mut two));
    }
}
