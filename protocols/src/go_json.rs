//! Go's `encoding/json` conventions, which two originals put on the wire (vearne/chat's broker
//! and FishChatServer): how `json.Marshal`/`json.Encoder` escape a string, and how
//! `json.Unmarshal` matches an object key to a struct field.
//!
//! Both originals predate Go 1.22, so `\b` and `\f` are written `\u0008` and `\u000c` (Go 1.22
//! added the short forms).

use bytes::BufMut;

/// Whose string escaping to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    /// Go's encoder with HTML escaping on (its default): `"` `\` and `\n` `\r` `\t` short,
    /// other control bytes `\u00XX`, `<` `>` `&` as `\u003c` `\u003e` `\u0026`, U+2028/U+2029
    /// as `\u2028`/`\u2029`.
    Go,
    /// JavaScript's `JSON.stringify` (vearne/chat-ui): `\b` `\f` short too, nothing
    /// HTML-related.
    Browser,
}

/// Append `s` as a JSON string literal, escaped as `escaping` says.
///
/// Scans bytes, not chars: every byte that may need escaping is ASCII or the first byte of
/// U+2028/U+2029 (`E2 80 A8`/`E2 80 A9`), so runs of plain bytes (nearly all chat text) are
/// copied in one go. This is the per-message path of two servers.
pub(crate) fn write_string<B: BufMut + ?Sized>(out: &mut B, s: &str, escaping: Escaping) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let go = escaping == Escaping::Go;
    let bytes = s.as_bytes();
    out.put_u8(b'"');
    // Most strings (ids, commands, chat text) have no byte to look at twice: found with a
    // branch-free pass the compiler vectorizes, then copied whole.
    let plain = !bytes.iter().fold(false, |seen, &b| {
        seen | (b < 0x20)
            | (b == b'"')
            | (b == b'\\')
            | (b == b'<')
            | (b == b'>')
            | (b == b'&')
            | (b == 0xe2)
    });
    if plain {
        out.put_slice(bytes);
        out.put_u8(b'"');
        return;
    }
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !MAYBE_ESCAPED[usize::from(b)] {
            i += 1;
            continue;
        }
        let (escape, len): (Option<&[u8]>, usize) = match b {
            b'"' => (Some(b"\\\""), 1),
            b'\\' => (Some(b"\\\\"), 1),
            b'\n' => (Some(b"\\n"), 1),
            b'\r' => (Some(b"\\r"), 1),
            b'\t' => (Some(b"\\t"), 1),
            0x08 if !go => (Some(b"\\b"), 1),
            0x0c if !go => (Some(b"\\f"), 1),
            b'<' | b'>' | b'&' if go => (None, 1),
            0x00..=0x1f => (None, 1),
            0xe2 if go && bytes.get(i + 1) == Some(&0x80) => match bytes.get(i + 2) {
                Some(0xa8) => (Some(b"\\u2028"), 3),
                Some(0xa9) => (Some(b"\\u2029"), 3),
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                i += 1;
                continue;
            }
        };
        out.put_slice(&bytes[start..i]);
        match escape {
            Some(escaped) => out.put_slice(escaped),
            None => {
                out.put_slice(b"\\u00");
                out.put_u8(HEX[usize::from(b >> 4)]);
                out.put_u8(HEX[usize::from(b & 0xf)]);
            }
        }
        i += len;
        start = i;
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

/// The bytes `write_string` looks at twice (either escaping): control bytes, `"`, `\\`, the
/// HTML-sensitive `<` `>` `&`, and `E2` (which may start U+2028/U+2029).
const MAYBE_ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table[b'<' as usize] = true;
    table[b'>' as usize] = true;
    table[b'&' as usize] = true;
    table[0xe2] = true;
    table
};

/// The length of a JSON string's body (after its opening quote) up to the closing quote,
/// if it has no escape and no control byte: the form every real client writes, read
/// without unescaping. This runs for every string of every frame (keys too), and most are
/// a few bytes long, where memchr's setup alone cost more than the string (168
/// instructions per string before): so eight bytes at a time, in a `u64`.
pub(crate) fn plain_string_len(body: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // The high bit of each byte of `w` below `n` (n <= 0x80). A byte above a flagged one
    // may be flagged falsely (a borrow), never one below it: the lowest flag is exact.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGHS;
    let mut at = 0;
    while let Some(chunk) = body.get(at..at + 8) {
        let w = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // A quote or a backslash is a zero byte after the XOR, i.e. a byte below 1.
        let special = below(w ^ (ONES * u64::from(b'"')), 1)
            | below(w ^ (ONES * u64::from(b'\\')), 1)
            | below(w, 0x20);
        if special != 0 {
            let end = at + special.trailing_zeros() as usize / 8;
            return (body[end] == b'"').then_some(end);
        }
        at += 8;
    }
    for (i, &b) in body.iter().enumerate().skip(at) {
        match b {
            b'"' => return Some(i),
            b'\\' | 0x00..=0x1f => return None,
            _ => {}
        }
    }
    None
}

/// Whether Go's `json.Unmarshal` puts object key `key` into the struct field named `field`
/// (ASCII): an exact match, or equal under Go's case folding, which also folds two non-ASCII
/// letters onto ASCII ones (U+017F long s onto `s`, U+212A Kelvin sign onto `k`).
pub(crate) fn key_matches(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut expected = field.bytes();
    for c in key.chars() {
        let folded = match c {
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => c.to_ascii_lowercase(),
        };
        match expected.next() {
            Some(b) if folded == char::from(b.to_ascii_lowercase()) => {}
            _ => return false,
        }
    }
    expected.next().is_none()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The char-by-char form the byte scan replaced: the two must agree on every string.
    fn reference(s: &str, escaping: Escaping) -> Vec<u8> {
        let go = escaping == Escaping::Go;
        let mut out = vec![b'"'];
        for c in s.chars() {
            let escaped = match c {
                '"' => "\\\"".to_owned(),
                '\\' => "\\\\".to_owned(),
                '\n' => "\\n".to_owned(),
                '\r' => "\\r".to_owned(),
                '\t' => "\\t".to_owned(),
                '\u{8}' if !go => "\\b".to_owned(),
                '\u{c}' if !go => "\\f".to_owned(),
                '\u{2028}' if go => "\\u2028".to_owned(),
                '\u{2029}' if go => "\\u2029".to_owned(),
                '<' | '>' | '&' if go => format!("\\u{:04x}", u32::from(c)),
                '\u{0}'..='\u{1f}' => format!("\\u{:04x}", u32::from(c)),
                c => c.to_string(),
            };
            out.extend_from_slice(escaped.as_bytes());
        }
        out.push(b'"');
        out
    }

    proptest! {
        #[test]
        fn byte_scan_matches_char_by_char(
            s in "(\\PC|[\\x00-\\x1f\"\\\\<>&\u{2028}\u{2029}\u{2027}\u{202a}\u{20ac}])*"
        ) {
            for escaping in [Escaping::Go, Escaping::Browser] {
                let mut out = Vec::new();
                write_string(&mut out, &s, escaping);
                prop_assert_eq!(out, reference(&s, escaping));
            }
        }
    }

    /// Byte by byte: the end of a plain string body, or `None` at an escape or control byte.
    fn plain_reference(body: &[u8]) -> Option<usize> {
        for (i, &b) in body.iter().enumerate() {
            match b {
                b'"' => return Some(i),
                b'\\' | 0x00..=0x1f => return None,
                _ => {}
            }
        }
        None
    }

    proptest! {
        /// Quotes, backslashes and control bytes at every place in a word and across words.
        #[test]
        fn plain_string_len_matches_byte_by_byte(
            body in proptest::collection::vec(
                prop_oneof![8 => Just(b'x'), 1 => Just(b'"'), 1 => Just(b'\\'), 1 => Just(0x1f_u8), 1 => any::<u8>()],
                0..48,
            )
        ) {
            prop_assert_eq!(plain_string_len(&body), plain_reference(&body));
        }
    }

    #[test]
    fn plain_strings_end_at_their_quote_at_any_length() {
        for len in 0..40 {
            let mut body = vec![b'a'; len];
            body.extend_from_slice(b"\",\"b\"");
            assert_eq!(plain_string_len(&body), Some(len), "{len}");
            if len > 0 {
                body[len / 2] = b'\n';
                assert_eq!(plain_string_len(&body), None, "control at {}", len / 2);
            }
        }
    }

    fn go(s: &str) -> String {
        let mut out = Vec::new();
        write_string(&mut out, s, Escaping::Go);
        String::from_utf8(out).expect("utf-8")
    }

    #[test]
    fn escapes_as_go_before_1_22() {
        assert_eq!(
            go("hi <b>&\"\\\n\r\t\u{1}\u{8}\u{c}\u{7f}\u{2028}\u{2029}é"),
            "\"hi \\u003cb\\u003e\\u0026\\\"\\\\\\n\\r\\t\\u0001\\u0008\\u000c\u{7f}\\u2028\\u2029é\""
        );
    }

    #[test]
    fn browser_escaping_leaves_html_alone() {
        let mut out = Vec::new();
        write_string(&mut out, "<b>&\u{8}\u{2028}", Escaping::Browser);
        assert_eq!(out, "\"<b>&\\b\u{2028}\"".as_bytes());
    }

    #[test]
    fn keys_fold_like_go() {
        assert!(key_matches("msgId", "msgId"));
        assert!(key_matches("MSGID", "msgId"));
        assert!(key_matches("\u{212a}ey", "key"));
        assert!(key_matches("argſ", "Args"));
        assert!(!key_matches("msgIds", "msgId"));
        assert!(!key_matches("msgI", "msgId"));
    }
}
