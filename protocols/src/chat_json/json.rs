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

use std::borrow::Cow;
use std::fmt;

pub(crate) use crate::go_json::Escaping;
use crate::go_json::{key_matches, write_string};

use bytes::BufMut;
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

/// The string and number fields of a client frame, however they were read (Go's way, or the
/// fast way for exact frames, [`super::exact::ExactFields`]).
pub(crate) trait FrameFields {
    /// A Go `string` field (empty when absent), borrowed where the reader can.
    fn text(&self, name: &str) -> Cow<'_, str>;
    /// A Go `uint64` field (zero when absent).
    fn u64(&self, name: &str) -> u64;

    /// [`FrameFields::text`], owned.
    fn string(&self, name: &str) -> String {
        self.text(name).into_owned()
    }
}

impl FrameFields for Fields {
    fn text(&self, name: &str) -> Cow<'_, str> {
        Cow::Owned(Fields::string(self, name))
    }

    fn u64(&self, name: &str) -> u64 {
        Fields::u64(self, name)
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

/// Writes one compact JSON object, member by member, as Go's `json.Marshal` prints a struct,
/// into its own buffer ([`ObjectWriter::new`]) or after what a caller's buffer holds
/// ([`ObjectWriter::over`]: a server renders frames into one buffer, without an allocation
/// per frame).
pub(crate) struct ObjectWriter<B: BufMut = Vec<u8>> {
    out: B,
    empty: bool,
    escaping: Escaping,
}

/// Room for a typical frame (a push with a short content is ~100 bytes), so writing one
/// allocates once instead of growing the buffer member by member.
const TYPICAL_OBJECT: usize = 128;

impl ObjectWriter<Vec<u8>> {
    pub(crate) fn new(escaping: Escaping) -> Self {
        Self::with_capacity(escaping, TYPICAL_OBJECT)
    }

    /// A writer whose buffer holds `capacity` bytes before it grows.
    pub(crate) fn with_capacity(escaping: Escaping, capacity: usize) -> Self {
        ObjectWriter::over(Vec::with_capacity(capacity.max(2)), escaping)
    }

    pub(crate) fn finish(self) -> String {
        let out = self.end();
        // Only whole UTF-8 strings and ASCII were appended.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

impl<B: BufMut> ObjectWriter<B> {
    /// An object appended to `out`.
    pub(crate) fn over(mut out: B, escaping: Escaping) -> Self {
        out.put_u8(b'{');
        ObjectWriter {
            out,
            empty: true,
            escaping,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.put_u8(b',');
        }
        self.empty = false;
        // Keys are our own field names (plain ASCII): copied without the escaping scan.
        debug_assert!(key.bytes().all(|b| b.is_ascii_alphanumeric()), "{key}");
        self.out.put_u8(b'"');
        self.out.put_slice(key.as_bytes());
        self.out.put_slice(b"\":");
    }

    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        self.quoted(value);
        self
    }

    /// `value` as a string literal (runs of plain bytes are copied in one go).
    fn quoted(&mut self, value: &str) {
        write_string(&mut self.out, value, self.escaping);
    }

    pub(crate) fn u64(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.number(value);
        self
    }

    pub(crate) fn i32(mut self, key: &str, value: i32) -> Self {
        self.key(key);
        self.number(value);
        self
    }

    /// JSON printed ahead of time, appended as it is, commas included: our own keys and
    /// fixed values, ending with the key of the value that follows (`"cmd":"DIALOGUE",
    /// "requestId":`). The per-message frames print this way, in a third of the buffer
    /// writes it takes member by member.
    pub(crate) fn raw(mut self, json: &'static str) -> Self {
        self.empty = false;
        self.out.put_slice(json.as_bytes());
        self
    }

    /// A string, after a key [`ObjectWriter::raw`] printed.
    pub(crate) fn string_value(mut self, value: &str) -> Self {
        self.quoted(value);
        self
    }

    /// A number, after a key [`ObjectWriter::raw`] printed.
    pub(crate) fn u64_value(mut self, value: u64) -> Self {
        self.number(value);
        self
    }

    /// A signed number, after a key [`ObjectWriter::raw`] printed.
    pub(crate) fn i32_value(mut self, value: i32) -> Self {
        self.number(value);
        self
    }

    /// Decimal digits, without the `String` a `to_string` would allocate per number.
    fn number(&mut self, value: impl itoa::Integer) {
        self.out
            .put_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A nested object, already printed.
    pub(crate) fn object(mut self, key: &str, value: ObjectWriter) -> Self {
        self.key(key);
        self.out.put_slice(&value.end());
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

    /// Close the object; the buffer it was written to.
    pub(crate) fn end(mut self) -> B {
        self.out.put_u8(b'}');
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// The copy-through path must print exactly what `write_string` prints.
    #[test]
    fn plain_strings_print_as_write_string_does() {
        let mut samples: Vec<String> = (0u8..0x80).map(|b| format!("a{}z", b as char)).collect();
        samples.extend(
            [
                "",
                "hello world",
                "é",
                "\u{2028}",
                "x\u{2029}",
                "日本",
                "<b>&",
            ]
            .map(String::from),
        );
        for escaping in [Escaping::Go, Escaping::Browser] {
            for sample in &samples {
                let mut expected = Vec::new();
                write_string(&mut expected, sample, escaping);
                let mut writer = ObjectWriter::new(escaping);
                writer.quoted(sample);
                assert_eq!(
                    writer.out[1..],
                    expected[..],
                    "{sample:?} with {escaping:?}"
                );
            }
        }
    }

    #[test]
    fn numbers_print_in_decimal() {
        let json = ObjectWriter::new(Escaping::Go)
            .u64("a", 0)
            .u64("b", u64::MAX)
            .i32("c", i32::MIN)
            .i32("d", -7)
            .i32("e", i32::MAX)
            .u64("f", 1_000_000)
            .finish();
        assert_eq!(
            json,
            format!(
                r#"{{"a":0,"b":{},"c":{},"d":-7,"e":{},"f":1000000}}"#,
                u64::MAX,
                i32::MIN,
                i32::MAX
            )
        );
    }
}
