//! Go's `encoding/json` conventions, which two originals put on the wire (vearne/chat's broker
//! and FishChatServer): how `json.Marshal`/`json.Encoder` escape a string, and how
//! `json.Unmarshal` matches an object key to a struct field.
//!
//! Both originals predate Go 1.22, so `\b` and `\f` are written `\u0008` and `\u000c` (Go 1.22
//! added the short forms).

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
pub(crate) fn write_string(out: &mut Vec<u8>, s: &str, escaping: Escaping) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let go = escaping == Escaping::Go;
    out.push(b'"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&[u8]> = match c {
            '"' => Some(b"\\\""),
            '\\' => Some(b"\\\\"),
            '\n' => Some(b"\\n"),
            '\r' => Some(b"\\r"),
            '\t' => Some(b"\\t"),
            '\u{8}' if !go => Some(b"\\b"),
            '\u{c}' if !go => Some(b"\\f"),
            '\u{2028}' if go => Some(b"\\u2028"),
            '\u{2029}' if go => Some(b"\\u2029"),
            '<' | '>' | '&' if go => None,
            '\u{0}'..='\u{1f}' => None,
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        match escape {
            Some(bytes) => out.extend_from_slice(bytes),
            None => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
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
    use super::*;

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
