//! The marker every message carries in its content: run, sender, sequence, intended send
//! time and a hash of the intended recipient. The receiving user finds it and so loadgen knows
//! each message without keeping a map of them.
//!
//! Form: `lg1.<run>.<sender>.<seq>.<intended_us>.<to>;` in lowercase hex, then padding up to the
//! message size. Only `[0-9a-z.;]`: nothing any dialect escapes or splits on (no quotes,
//! spaces, `<`, `>` or `&`).

use std::fmt::Write;

const TAG: &str = "lg1.";
/// The longest a marker can be (every field at its maximum).
pub const MAX_LEN: usize = TAG.len() + 8 + 1 + 8 + 1 + 16 + 1 + 16 + 1 + 8 + 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// This run (so messages left over from another run are told apart).
    pub run: u32,
    /// The sending virtual user's global index.
    pub sender: u32,
    /// Per sender, from 0, in intended-time order.
    pub seq: u64,
    /// Microseconds from the run's epoch to when the message was meant to be sent.
    pub intended_us: u64,
    /// [`recipient_hash`] of whom it is for.
    pub to: u32,
}

impl Marker {
    /// The content of a message of `size` bytes (never shorter than the marker).
    pub fn content(&self, size: usize) -> String {
        let mut s = String::with_capacity(size.max(MAX_LEN));
        let _ = write!(
            s,
            "{TAG}{:x}.{:x}.{:x}.{:x}.{:x};",
            self.run, self.sender, self.seq, self.intended_us, self.to
        );
        const PAD: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
        while s.len() < size {
            let take = (size - s.len()).min(PAD.len());
            s.push_str(&PAD[..take]);
        }
        s
    }

    /// Find and parse the marker in a message's content; `None` if there is none (or it is
    /// damaged). Never panics, whatever the content.
    pub fn find(content: &str) -> Option<Marker> {
        let start = content.find(TAG)? + TAG.len();
        let rest = &content[start..];
        let end = rest.find(';')?;
        let mut fields = rest[..end].split('.');
        let mut next = || fields.next().filter(|f| !f.is_empty() && f.len() <= 16);
        let run = u32::from_str_radix(next()?, 16).ok()?;
        let sender = u32::from_str_radix(next()?, 16).ok()?;
        let seq = u64::from_str_radix(next()?, 16).ok()?;
        let intended_us = u64::from_str_radix(next()?, 16).ok()?;
        let to = u32::from_str_radix(next()?, 16).ok()?;
        if fields.next().is_some() {
            return None;
        }
        Some(Marker {
            run,
            sender,
            seq,
            intended_us,
            to,
        })
    }
}

/// A 32-bit FNV-1a hash of a recipient: `u:<user id>` for a person, `g:<group id>` for a group.
/// Collisions only hide a misdelivery with odds of 1 in 4 billion.
pub fn recipient_hash(kind: u8, id: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in [kind, b':'].into_iter().chain(id.bytes()) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn content_is_the_marker_then_padding_of_the_exact_size() {
        let m = Marker {
            run: 0xab,
            sender: 7,
            seq: 300,
            intended_us: 1_500_000,
            to: 0xdead,
        };
        let c = m.content(64);
        assert_eq!(c.len(), 64);
        assert!(c.starts_with("lg1.ab.7.12c.16e360.dead;abc"), "{c}");
        assert_eq!(Marker::find(&c), Some(m));
        // Shorter than the marker: the marker alone.
        assert_eq!(m.content(4), "lg1.ab.7.12c.16e360.dead;");
        // Found inside other text too (a server may prefix the content).
        assert_eq!(Marker::find(&format!("re: {c}")), Some(m));
    }

    #[test]
    fn damaged_markers_are_none() {
        for bad in [
            "",
            "lg1.",
            "lg1.1.2.3.4;",
            "lg1.1.2.3.4.5.6;",
            "lg1.zz.2.3.4.5;",
            "lg1.1.2.3.4.5",
            "lg1.1..3.4.5;",
        ] {
            assert_eq!(Marker::find(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_and_never_panics(run: u32, sender: u32, seq: u64, t: u64, to: u32, size in 0usize..200, junk in ".{0,64}") {
            let m = Marker { run, sender, seq, intended_us: t, to };
            let c = m.content(size);
            prop_assert!(c.len() >= size && c.len() <= size.max(MAX_LEN));
            prop_assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b';'));
            prop_assert_eq!(Marker::find(&c), Some(m));
            let _ = Marker::find(&junk);
        }
    }
}
