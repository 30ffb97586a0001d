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

pub(crate) use crate::go_json::Escaping;
use crate::go_json::{key_matches, write_string};

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

/// Writes one compact JSON object, member by member, as Go's `json.Marshal` prints a struct.
pub(crate) struct ObjectWriter {
    out: Vec<u8>,
    empty: bool,
    escaping: Escaping,
}

impl ObjectWriter {
    pub(crate) fn new(escaping: Escaping) -> Self {
        ObjectWriter {
            out: vec![b'{'],
            empty: true,
            escaping,
        }
    }

    fn key(&mut self, key: &str) {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        write_string(&mut self.out, key, self.escaping);
        self.out.push(b':');
    }

    pub(crate) fn string(mut self, key: &str, value: &str) -> Self {
        self.key(key);
        write_string(&mut self.out, value, self.escaping);
        self
    }

    pub(crate) fn u64(mut self, key: &str, value: u64) -> Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    pub(crate) fn i32(mut self, key: &str, value: i32) -> Self {
        self.key(key);
        self.out.extend_from_slice(value.to_string().as_bytes());
        self
    }

    /// A nested object, already printed.
    pub(crate) fn object(mut self, key: &str, value: ObjectWriter) -> Self {
        self.key(key);
        self.out.extend_from_slice(value.finish().as_bytes());
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
        self.out.push(b'}');
        // Only whole UTF-8 strings and ASCII were appended.
        String::from_utf8(self.out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
}
