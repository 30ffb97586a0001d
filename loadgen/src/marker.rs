//! The marker every message carries in its content: run, sender, sequence, intended send
//! time and a hash of the intended recipient. The receiving user finds it and so loadgen knows
//! each message without keeping a map of them.
//!
//! Form: `lg2.<run>.<sender>.<seq>.<intended_us>.<to>.<owed>;` in lowercase hex (`owed` is `1`
//! or `0`), then padding up to the message size. Only `[0-9a-z.;]`: nothing any dialect escapes or splits on (no quotes,
//! spaces, `<`, `>` or `&`).

const TAG: &str = "lg2.";
/// The longest a marker can be (every field at its maximum).
pub const MAX_LEN: usize = TAG.len() + 8 + 1 + 8 + 1 + 16 + 1 + 16 + 1 + 8 + 1 + 1 + 1;

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
    /// Whether the sender counted a delivery as owed at every recipient. It does not for a
    /// recipient away on a dialect that keeps no offline messages; when one arrives anyway
    /// (a server that keeps them), the receiver counts it owed then, so `lost` stays exact.
    pub owed: bool,
}

impl Marker {
    /// The content of a message of `size` bytes (never shorter than the marker).
    pub fn content(&self, size: usize) -> String {
        // By hand, not `write!`: this runs for every message sent.
        let mut s = Vec::with_capacity(size.max(MAX_LEN));
        s.extend_from_slice(TAG.as_bytes());
        push_hex(&mut s, u64::from(self.run));
        s.push(b'.');
        push_hex(&mut s, u64::from(self.sender));
        s.push(b'.');
        push_hex(&mut s, self.seq);
        s.push(b'.');
        push_hex(&mut s, self.intended_us);
        s.push(b'.');
        push_hex(&mut s, u64::from(self.to));
        s.push(b'.');
        s.push(if self.owed { b'1' } else { b'0' });
        s.push(b';');
        const PAD: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        while s.len() < size {
            let take = (size - s.len()).min(PAD.len());
            s.extend_from_slice(&PAD[..take]);
        }
        // Only ASCII went in.
        String::from_utf8(s).unwrap_or_default()
    }

    /// Find and parse the marker in a message's content; `None` if there is none (or it is
    /// damaged). Never panics, whatever the content.
    pub fn find(content: &str) -> Option<Marker> {
        let bytes = content.as_bytes();
        // Nearly always at the start (the sender put it there).
        let start = if bytes.starts_with(TAG.as_bytes()) {
            0
        } else {
            content.find(TAG)?
        } + TAG.len();
        let mut rest = &bytes[start..];
        let mut next = |last: bool| -> Option<u64> {
            let end = rest.iter().position(|&b| b == b'.' || b == b';')?;
            if (rest[end] == b';') != last {
                return None;
            }
            let value = parse_hex(&rest[..end])?;
            rest = &rest[end + 1..];
            Some(value)
        };
        let run = u32::try_from(next(false)?).ok()?;
        let sender = u32::try_from(next(false)?).ok()?;
        let seq = next(false)?;
        let intended_us = next(false)?;
        let to = u32::try_from(next(false)?).ok()?;
        let owed = match next(true)? {
            0 => false,
            1 => true,
            _ => return None,
        };
        Some(Marker {
            run,
            sender,
            seq,
            intended_us,
            to,
            owed,
        })
    }
}

/// Lowercase hex without leading zeros (`0` for zero), as `{:x}` writes it.
pub fn push_hex(out: &mut Vec<u8>, value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let nibbles = (64 - value.leading_zeros()).div_ceil(4).max(1);
    for i in (0..nibbles).rev() {
        out.push(DIGITS[((value >> (i * 4)) & 0xf) as usize]);
    }
}

/// 1 to 16 hex digits (either case), as `u64::from_str_radix(s, 16)` reads them but
/// without a sign.
pub fn parse_hex(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut value = 0u64;
    for &b in digits {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        value = value << 4 | u64::from(d);
    }
    Some(value)
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
            owed: true,
        };
        let c = m.content(64);
        assert_eq!(c.len(), 64);
        assert!(c.starts_with("lg2.ab.7.12c.16e360.dead.1;abc"), "{c}");
        assert_eq!(Marker::find(&c), Some(m));
        // Shorter than the marker: the marker alone.
        assert_eq!(m.content(4), "lg2.ab.7.12c.16e360.dead.1;");
        let unowed = Marker { owed: false, ..m };
        assert_eq!(unowed.content(4), "lg2.ab.7.12c.16e360.dead.0;");
        assert_eq!(Marker::find(&unowed.content(64)), Some(unowed));
        // Found inside other text too (a server may prefix the content).
        assert_eq!(Marker::find(&format!("re: {c}")), Some(m));
    }

    #[test]
    fn damaged_markers_are_none() {
        for bad in [
            "",
            "lg2.",
            "lg2.1.2.3.4.5;",
            "lg2.1.2.3.4.5.1.1;",
            "lg2.1.2.3.4.5.2;",
            "lg2.zz.2.3.4.5.1;",
            "lg2.1.2.3.4.5.1",
            "lg2.1..3.4.5.1;",
            // The previous form (no owed flag) is another run's.
            "lg1.1.2.3.4.5;",
        ] {
            assert_eq!(Marker::find(bad), None, "{bad}");
        }
    }

    #[test]
    fn hex_is_written_and_read_like_std() {
        for v in [0u64, 1, 0xf, 0x10, 0xabc, u64::from(u32::MAX), u64::MAX] {
            let mut out = Vec::new();
            push_hex(&mut out, v);
            assert_eq!(out, format!("{v:x}").into_bytes());
            assert_eq!(parse_hex(&out), Some(v));
        }
        assert_eq!(parse_hex(b"FF"), Some(255));
        for bad in [&b""[..], b"+1", b"-1", b"g", b"11111111111111111"] {
            assert_eq!(parse_hex(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trips_and_never_panics(run: u32, sender: u32, seq: u64, t: u64, to: u32, owed: bool, size in 0usize..200, junk in ".{0,64}") {
            let m = Marker { run, sender, seq, intended_us: t, to, owed };
            let c = m.content(size);
            prop_assert!(c.len() >= size && c.len() <= size.max(MAX_LEN));
            prop_assert!(c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b';'));
            prop_assert_eq!(Marker::find(&c), Some(m));
            let _ = Marker::find(&junk);
        }
    }
}
