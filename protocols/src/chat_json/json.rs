//! JSON the way the original's Go `encoding/json` reads and writes it.
//!
//! Reading ([`Document`]): keys match field names case-insensitively (with Go's folding, so
//! the Kelvin sign `K` matches `k` and the long `ſ` matches `s`); unknown keys are ignored; a
//! value of the wrong type leaves the field as it was (zero), and when a key repeats, the last
//! value of the right type wins, as Go's decoder assigns field by field.
//!
//! Writing ([`ObjectWriter`]): compact, keys in the order written, strings escaped as
//! `json.Marshal` does (HTML-sensitive `<`, `>`, `&` and U+2028/U+2029 as `\uXXXX`) for what
//! the broker prints, or as the browser's `JSON.stringify` does for what the chat-ui sends.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

/// A parsed frame: a JSON object (its members in document order) or some other JSON value.
#[derive(Debug)]
pub(crate) enum Document {
    Object(Fields),
    /// Valid JSON, but not an object: Go leaves every field zero.
    Other,
}

impl Document {
    /// `None` when `text` is not JSON at all (Go's Unmarshal fails before assigning anything).
    pub(crate) fn parse(text: &str) -> Option<Document> {
        serde_json::from_str(text).ok()
    }
}

/// The members of one JSON object, in document order, duplicates kept.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<(String, Value)>);

impl Fields {
    /// Every value whose key Go would assign to the field `name`, in document order.
    fn matching<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.0
            .iter()
            .filter(move |(key, _)| key_matches(key, name))
            .map(|(_, value)| value)
    }

    /// A Go `uint64` field: only a non-negative integer literal that fits counts.
    pub(crate) fn u64(&self, name: &str) -> u64 {
        self.matching(name)
            .filter_map(Value::as_u64)
            .last()
            .unwrap_or(0)
    }

    /// A Go `int32` field (`CodeEnum`).
    pub(crate) fn i32(&self, name: &str) -> i32 {
        self.matching(name)
            .filter_map(|v| v.as_i64().and_then(|n| i32::try_from(n).ok()))
            .last()
            .unwrap_or(0)
    }

    /// A Go `string` field.
    pub(crate) fn string(&self, name: &str) -> String {
        self.matching(name)
            .filter_map(Value::as_str)
            .last()
            .unwrap_or("")
            .to_owned()
    }

    /// A nested Go struct: every object under the key is decoded into the same value, so
    /// repeated keys merge, member by member.
    pub(crate) fn object(&self, name: &str) -> Fields {
        let members = self
            .matching(name)
            .filter_map(Value::as_object)
            .flat_map(|map| map.iter().map(|(k, v)| (k.clone(), v.clone())))
            .collect();
        Fields(members)
    }
}

/// Go matches a key to a field exactly, else by case folding. Our field names are ASCII and
/// no two of a struct fold alike, so "folds equal" decides. Two non-ASCII runes fold onto
/// ASCII letters: KELVIN SIGN onto `k` and LATIN SMALL LETTER LONG S onto `s`.
fn key_matches(key: &str, field: &str) -> bool {
    if key == field {
        return true;
    }
    let mut key_chars = key.chars();
    for f in field.chars() {
        let folded = match key_chars.next() {
            None => return false,
            Some('\u{212A}') => 'k',
            Some('\u{17F}') => 's',
            Some(c) => c.to_ascii_lowercase(),
        };
        if folded != f.to_ascii_lowercase() {
            return false;
        }
    }
    key_chars.next().is_none()
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let mut members = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Value>()? {
            members.push((key, value));
        }
        Ok(Document::Object(Fields(members)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Document::Other)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Document, E> {
        Ok(Document::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Other)
    }
}

/// Whose string escaping to copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escaping {
    /// Go's `json.Marshal` (the broker): also `<`, `>`, `&`, U+2028, U+2029.
    Go,
    /// JavaScript's `JSON.stringify` (the chat-ui): only quotes, backslashes and controls.
    Browser,
}

/// Writes one compact JSON object, member by member, as Go's `json.Marshal` prints a struct.
pub(crate) struct ObjectWriter {
    out: String,
    empty: bool,
    escaping: Escaping,
}

impl ObjectWriter {
    pub(crate) fn new(escaping: Escaping) -> Self {
        ObjectWriter {
            out: String::from("{"),
            empty: true,
            escaping,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        write_string(&mut self.out, key, self.escaping);
        self.out.push(':');
    }

    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.out, value, self.escaping);
        self
    }

    pub(crate) fn u64(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    pub(crate) fn i32(mut self, key: &str, value: i32) -> Self {
        self.key(key);
        self.out.push_str(&value.to_string());
        self
    }

    /// A nested object, already printed.
    pub(crate) fn object(mut self, key: &str, value: ObjectWriter) -> Self {
        self.key(key);
        self.out.push_str(&value.finish());
        self
    }

    /// `omitempty`: skip the member when the value is zero.
    pub(crate) fn u64_nonzero(self, key: &str, value: u64) -> Self {
        if value == 0 {
            self
        } else {
            self.u64(key, value)
        }
    }

    /// `omitempty`: skip the member when the string is empty.
    pub(crate) fn string_nonempty(self, key: &str, value: &str) -> Self {
        if value.is_empty() {
            self
        } else {
            self.string(key, value)
        }
    }

    pub(crate) fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// A JSON string as Go's `encodeState.string` writes it with HTML escaping on (Go ≥ 1.22:
/// `\b` and `\f` get their short escapes; older Go wrote `\u0008`, `\u000c`), or as
/// `JSON.stringify` writes it (the same short escapes, nothing HTML-related).
pub(crate) fn write_string(out: &mut String, s: &str, escaping: Escaping) {
    let go = escaping == Escaping::Go;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\u{2028}' if go => Some("\\u2028"),
            '\u{2029}' if go => Some("\\u2029"),
            '<' | '>' | '&' if go => None,
            c if c < ' ' => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let b = c as u8;
                out.push_str("\\u00");
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = String::new();
        write_string(&mut out, s, Escaping::Go);
        out
    }

    #[test]
    fn escapes_like_the_browser() {
        let mut out = String::new();
        write_string(&mut out, "hi <b>&\u{2028}\"\n\u{1}", Escaping::Browser);
        assert_eq!(out, "\"hi <b>&\u{2028}\\\"\\n\\u0001\"");
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(escaped("hi <b>&"), r#""hi \u003cb\u003e\u0026""#);
        assert_eq!(escaped("a\"b\\c\n\r\t"), r#""a\"b\\c\n\r\t""#);
        assert_eq!(escaped("\u{1}\u{1f}\u{8}\u{c}"), r#""\u0001\u001f\b\f""#);
        assert_eq!(
            escaped("\u{2028}x\u{2029}é\u{7f}"),
            "\"\\u2028x\\u2029é\u{7f}\""
        );
    }

    #[test]
    fn keys_fold_like_go() {
        assert!(key_matches("MsgId", "msgId"));
        assert!(key_matches("CMD", "cmd"));
        assert!(key_matches("\u{17F}essionId", "sessionId"));
        assert!(key_matches("\u{212A}", "k"));
        assert!(!key_matches("msgIds", "msgId"));
        assert!(!key_matches("msgI", "msgId"));
        assert!(!key_matches("m\u{17F}gId", "msgIdx"));
    }

    #[test]
    fn last_well_typed_value_wins() {
        let Some(Document::Object(f)) =
            Document::parse(r#"{"id":1,"ID":"x","Id":2,"id":null,"iD":-3}"#)
        else {
            panic!("an object");
        };
        assert_eq!(f.u64("id"), 2);
        assert_eq!(f.string("id"), "x");
        assert_eq!(f.i32("id"), -3);
        assert_eq!(f.u64("other"), 0);
    }
}
