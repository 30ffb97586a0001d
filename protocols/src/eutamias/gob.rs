//! The few Go `encoding/gob` primitives the envelope needs (eutamias.md §2): unsigned and
//! signed integers, and the constant type definition of `Message{Cmd int, Seq uint, Msg []byte}`.
//!
//! Readers work on a complete slice and say "need more bytes" (`Ok(None)`) apart from "bad
//! bytes" (`Err`), so the stream decoder can tell an incomplete segment from a broken one.

/// The type id Go's fresh encoder gives the first user type, `Message`.
pub const MESSAGE_TYPE_ID: u64 = 65;

/// The type-definition segment a fresh Go encoder writes before every `Message` value:
/// `uint(45)`, `int(-65)`, then `wireType{StructT: {Name: "Message", Id: 65}, Fields: Cmd int,
/// Seq uint, Msg bytes}`.
pub const PREAMBLE: [u8; 46] = [
    0x2d, 0xff, 0x81, 0x03, 0x01, 0x01, 0x07, b'M', b'e', b's', b's', b'a', b'g', b'e', 0x01, 0xff,
    0x82, 0x00, 0x01, 0x03, 0x01, 0x03, b'C', b'm', b'd', 0x01, 0x04, 0x00, 0x01, 0x03, b'S', b'e',
    b'q', 0x01, 0x06, 0x00, 0x01, 0x03, b'M', b's', b'g', 0x01, 0x0a, 0x00, 0x00, 0x00,
];

/// The definition body before the type's own id (`wireType.StructT.CommonType{Name: "Message",`).
pub(crate) const DEFINITION_HEAD: &[u8] = PREAMBLE.split_at(3).1.split_at(12).0;
/// The definition body after the id: the three fields and the end markers.
pub(crate) const DEFINITION_TAIL: &[u8] = PREAMBLE.split_at(17).1;

/// A gob primitive that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GobError {
    /// A uint announcing more than 8 bytes (gob: "encoded unsigned integer out of range").
    UintTooLong(u8),
}

impl std::fmt::Display for GobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GobError::UintTooLong(n) => write!(f, "gob uint announces {n} bytes (at most 8)"),
        }
    }
}

/// Append `v` as a gob uint: one byte below 128, else the negated byte count then the
/// minimal big-endian bytes.
pub fn put_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.push(v as u8);
        return;
    }
    let bytes = v.to_be_bytes();
    let skip = (v.leading_zeros() / 8) as usize;
    let n = bytes.len() - skip;
    out.push((n as u8).wrapping_neg());
    out.extend_from_slice(&bytes[skip..]);
}

/// Append `v` as a gob int (sign in the low bit, the rest complemented when negative).
pub fn put_int(out: &mut Vec<u8>, v: i64) {
    put_uint(out, int_to_uint(v));
}

fn int_to_uint(v: i64) -> u64 {
    if v < 0 {
        ((!v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    }
}

fn uint_to_int(u: u64) -> i64 {
    if u & 1 == 1 {
        !((u >> 1) as i64)
    } else {
        (u >> 1) as i64
    }
}

/// Read a gob uint from the front of `input`: `(value, bytes used)`, or `None` when `input`
/// ends before the number does.
pub fn read_uint(input: &[u8]) -> Result<Option<(u64, usize)>, GobError> {
    let Some(&first) = input.first() else {
        return Ok(None);
    };
    if first < 0x80 {
        return Ok(Some((u64::from(first), 1)));
    }
    let n = first.wrapping_neg();
    if n > 8 {
        return Err(GobError::UintTooLong(n));
    }
    let n = usize::from(n);
    let Some(bytes) = input.get(1..1 + n) else {
        return Ok(None);
    };
    let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    Ok(Some((value, 1 + n)))
}

/// Read a gob int from the front of `input` (see [`read_uint`]).
pub fn read_int(input: &[u8]) -> Result<Option<(i64, usize)>, GobError> {
    Ok(read_uint(input)?.map(|(u, used)| (uint_to_int(u), used)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn uint(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        put_uint(&mut out, v);
        out
    }

    fn int(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        put_int(&mut out, v);
        out
    }

    #[test]
    fn uint_golden() {
        assert_eq!(uint(0), [0x00]);
        assert_eq!(uint(7), [0x07]);
        assert_eq!(uint(127), [0x7f]);
        assert_eq!(uint(128), [0xff, 0x80]);
        assert_eq!(uint(256), [0xfe, 0x01, 0x00]);
        assert_eq!(
            uint(u64::MAX),
            [0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn int_golden() {
        // From the note: type id -65 is ff81, +65 is ff82, Cmd 4 is 08.
        assert_eq!(int(-65), [0xff, 0x81]);
        assert_eq!(int(65), [0xff, 0x82]);
        assert_eq!(int(4), [0x08]);
        assert_eq!(int(-1), [0x01]);
        assert_eq!(
            int(i64::MIN),
            [0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn preamble_parts_match_the_constant() {
        assert_eq!(read_uint(&PREAMBLE), Ok(Some((45, 1))));
        assert_eq!(read_int(&PREAMBLE[1..]), Ok(Some((-65, 2))));
        assert_eq!(DEFINITION_HEAD.len() + 2 + DEFINITION_TAIL.len(), 43);
    }

    #[test]
    fn short_and_overlong_input() {
        assert_eq!(read_uint(&[]), Ok(None));
        assert_eq!(read_uint(&[0xfe, 0x01]), Ok(None));
        assert_eq!(read_uint(&[0xf7]), Err(GobError::UintTooLong(9)));
        assert_eq!(read_uint(&[0x80]), Err(GobError::UintTooLong(128)));
    }

    proptest! {
        #[test]
        fn uint_round_trip(v: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut bytes = uint(v);
            let len = bytes.len();
            prop_assert!(len <= 9);
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(read_uint(&bytes), Ok(Some((v, len))));
            // Any strict prefix is "need more", never a wrong value.
            for cut in 0..len {
                prop_assert_eq!(read_uint(&bytes[..cut]), Ok(None));
            }
        }

        #[test]
        fn int_round_trip(v: i64) {
            let bytes = int(v);
            prop_assert_eq!(read_int(&bytes), Ok(Some((v, bytes.len()))));
        }

        #[test]
        fn read_uint_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok(Some((_, used))) = read_uint(&bytes) {
                prop_assert!(used <= bytes.len());
            }
        }
    }
}
