//! The fast path for reading a client frame: the members of an object whose keys are exactly
//! the broker's field names, each at most once, each value of its field's type. That is every
//! frame a real client writes, and for those Go's case-insensitive, last-wins, wrong-type-is-zero
//! reading (see [`super::json::Fields`]) gives exactly these values, so the frame can be read
//! straight into typed slots, borrowing its strings, without building a document first.
//! Anything else (another key, a repeat, a wrongly typed value, not an object, not JSON) is
//! "not exact" and goes the Go-compatible way.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

use super::json::FrameFields;

/// The client fields of the broker, by their exact names.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct ExactFields<'a> {
    cmd: Option<Cow<'a, str>>,
    nick_name: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
    content: Option<Cow<'a, str>>,
    token: Option<Cow<'a, str>>,
    account_id: Option<u64>,
    sender_id: Option<u64>,
    session_id: Option<u64>,
    msg_id: Option<u64>,
}

impl<'a> ExactFields<'a> {
    /// `None` when `text` is not an exact frame (then read it with [`super::json::Document`]).
    pub(crate) fn parse(text: &'a str) -> Option<ExactFields<'a>> {
        scan(text).or_else(|| Self::parse_with_serde(text))
    }

    /// The same, through serde: also takes exact frames with escapes in their strings.
    fn parse_with_serde(text: &'a str) -> Option<ExactFields<'a>> {
        serde_json::from_str(text).ok()
    }

    fn string_slot(&self, name: &str) -> Option<&Option<Cow<'a, str>>> {
        Some(match name {
            "cmd" => &self.cmd,
            "nickName" => &self.nick_name,
            "requestId" => &self.request_id,
            "content" => &self.content,
            "token" => &self.token,
            _ => return None,
        })
    }

    fn u64_slot(&self, name: &str) -> Option<Option<u64>> {
        Some(match name {
            "accountId" => self.account_id,
            "senderId" => self.sender_id,
            "sessionId" => self.session_id,
            "msgId" => self.msg_id,
            _ => return None,
        })
    }
}

impl FrameFields for ExactFields<'_> {
    fn text(&self, name: &str) -> Cow<'_, str> {
        Cow::Borrowed(
            self.string_slot(name)
                .and_then(Option::as_deref)
                .unwrap_or(""),
        )
    }

    fn u64(&self, name: &str) -> u64 {
        self.u64_slot(name).flatten().unwrap_or(0)
    }
}

/// A key of an exact frame.
enum Key {
    Cmd,
    NickName,
    RequestId,
    Content,
    Token,
    AccountId,
    SenderId,
    SessionId,
    MsgId,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name of the broker, exactly")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
                Ok(match key {
                    "cmd" => Key::Cmd,
                    "nickName" => Key::NickName,
                    "requestId" => Key::RequestId,
                    "content" => Key::Content,
                    "token" => Key::Token,
                    "accountId" => Key::AccountId,
                    "senderId" => Key::SenderId,
                    "sessionId" => Key::SessionId,
                    "msgId" => Key::MsgId,
                    // Perhaps a case variant Go would match: not exact.
                    other => return Err(E::unknown_field(other, &[])),
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A JSON string, borrowed from the frame where it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

/// A non-negative integer literal that fits a `u64` (what `Value::as_u64` accepts); a
/// negative, fractional or huge number is not exact.
struct Unsigned(u64);

impl<'de> Deserialize<'de> for Unsigned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct UnsignedVisitor;
        impl Visitor<'_> for UnsignedVisitor {
            type Value = Unsigned;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an unsigned integer")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Unsigned, E> {
                Ok(Unsigned(n))
            }
        }
        deserializer.deserialize_any(UnsignedVisitor)
    }
}

impl<'de> Deserialize<'de> for ExactFields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ExactVisitor)
    }
}

struct ExactVisitor;

/// Fill `slot` once; a repeated key is not exact (Go's last-wins rule would apply).
fn fill<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    fill_once(slot, value).ok_or_else(|| E::custom("repeated key"))
}

impl<'de> Visitor<'de> for ExactVisitor {
    type Value = ExactFields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ExactFields<'de>, A::Error> {
        let mut f = ExactFields::default();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Cmd => fill(&mut f.cmd, map.next_value::<Text>()?.0)?,
                Key::NickName => fill(&mut f.nick_name, map.next_value::<Text>()?.0)?,
                Key::RequestId => fill(&mut f.request_id, map.next_value::<Text>()?.0)?,
                Key::Content => fill(&mut f.content, map.next_value::<Text>()?.0)?,
                Key::Token => fill(&mut f.token, map.next_value::<Text>()?.0)?,
                Key::AccountId => fill(&mut f.account_id, map.next_value::<Unsigned>()?.0)?,
                Key::SenderId => fill(&mut f.sender_id, map.next_value::<Unsigned>()?.0)?,
                Key::SessionId => fill(&mut f.session_id, map.next_value::<Unsigned>()?.0)?,
                Key::MsgId => fill(&mut f.msg_id, map.next_value::<Unsigned>()?.0)?,
            }
        }
        Ok(f)
    }
}

/// The exact frame as clients write it, read by hand: strings without escapes or control
/// bytes, unsigned integers without sign, fraction, exponent or leading zero. Several times
/// cheaper than serde for these few short members (this is the per-message path of the
/// broker). `None` for anything else, which [`ExactFields::parse_with_serde`] then decides:
/// where this says `Some`, serde says the same (tested below).
fn scan(text: &str) -> Option<ExactFields<'_>> {
    let mut at = Cursor {
        bytes: text.as_bytes(),
        text,
        i: 0,
    };
    let mut f = ExactFields::default();
    at.skip_space();
    at.expect(b'{')?;
    at.skip_space();
    if !at.eat(b'}') {
        loop {
            let key = at.plain_string()?;
            at.skip_space();
            at.expect(b':')?;
            at.skip_space();
            let text_slot = match key {
                "cmd" => Some(&mut f.cmd),
                "nickName" => Some(&mut f.nick_name),
                "requestId" => Some(&mut f.request_id),
                "content" => Some(&mut f.content),
                "token" => Some(&mut f.token),
                _ => None,
            };
            if let Some(slot) = text_slot {
                fill_once(slot, Cow::Borrowed(at.plain_string()?))?;
            } else {
                let slot = match key {
                    "accountId" => &mut f.account_id,
                    "senderId" => &mut f.sender_id,
                    "sessionId" => &mut f.session_id,
                    "msgId" => &mut f.msg_id,
                    _ => return None,
                };
                fill_once(slot, at.unsigned()?)?;
            }
            at.skip_space();
            if at.eat(b'}') {
                break;
            }
            at.expect(b',')?;
            at.skip_space();
        }
    }
    at.skip_space();
    (at.i == at.bytes.len()).then_some(f)
}

/// Fill `slot` once; `None` for a repeated key (both readers leave those to Go's rules).
fn fill_once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

struct Cursor<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn skip_space(&mut self) {
        while matches!(self.bytes.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.bytes.get(self.i) == Some(&byte);
        self.i += usize::from(found);
        found
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    /// A string with no escape and no control byte, borrowed. It ends at an ASCII quote, so
    /// the slice is on character boundaries of the (valid UTF-8) text.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.i;
        let len = crate::go_json::plain_string_len(&self.bytes[start..])?;
        self.i = start + len + 1;
        self.text.get(start..start + len)
    }

    /// An unsigned integer literal that fits a u64 and ends there (not `1.5`, `1e3`, `01`).
    fn unsigned(&mut self) -> Option<u64> {
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(&b @ b'0'..=b'9') = self.bytes.get(self.i) {
            n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
            self.i += 1;
        }
        let digits = self.i - start;
        let ends = matches!(
            self.bytes.get(self.i),
            Some(b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
        );
        (digits > 0 && ends && (digits == 1 || self.bytes[start] != b'0')).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat_json::json::Document;

    fn exact(text: &str) -> bool {
        ExactFields::parse(text).is_some()
    }

    #[test]
    fn reads_what_clients_write() {
        let text =
            r#"{"cmd":"DIALOGUE","requestId":"r\"2","senderId":11,"sessionId":10,"content":"yo"}"#;
        let f = ExactFields::parse(text).expect("exact");
        assert_eq!(f.string("cmd"), "DIALOGUE");
        assert_eq!(f.string("requestId"), "r\"2");
        assert_eq!(f.u64("senderId"), 11);
        assert_eq!(f.u64("sessionId"), 10);
        assert_eq!(f.string("content"), "yo");
        assert_eq!(f.u64("msgId"), 0);
        assert_eq!(f.string("token"), "");
    }

    #[test]
    fn leaves_the_rest_to_the_go_reader() {
        assert!(exact(r#"{}"#));
        assert!(!exact(r#"{"cmd":"PONG","CMD":"X"}"#), "a case variant");
        assert!(!exact(r#"{"cmd":"PONG","cmd":"PONG"}"#), "a repeat");
        assert!(!exact(r#"{"cmd":"PONG","accountId":-1}"#), "negative");
        assert!(!exact(r#"{"cmd":"PONG","accountId":1.0}"#), "fractional");
        assert!(
            !exact(r#"{"cmd":"PONG","accountId":"1"}"#),
            "a string for a number"
        );
        assert!(!exact(r#"{"cmd":1}"#), "a number for a string");
        assert!(!exact(r#"{"cmd":"PONG","extra":null}"#), "an unknown key");
        assert!(!exact(r#"{"cmd":"PONG"} x"#), "trailing garbage");
        assert!(!exact(r#"["cmd"]"#), "not an object");
        assert!(
            !exact(r#"{"cmd":"PONG","accountId":18446744073709551616}"#),
            "too big"
        );
    }

    #[test]
    fn the_hand_reader_takes_the_plain_frames_and_leaves_escapes_to_serde() {
        let plain = r#" {"cmd":"DIALOGUE", "requestId":"r2","senderId":11 ,"sessionId":0,"content":"yo é"}
"#;
        let f = scan(plain).expect("plain");
        assert_eq!(f, ExactFields::parse_with_serde(plain).expect("exact"));
        assert_eq!(f.u64("senderId"), 11);
        assert_eq!(scan("{}"), Some(ExactFields::default()));
        for unsure in [
            r#"{"cmd":"r\"2"}"#,
            r#"{"cmd":"PONG","accountId":01}"#,
            r#"{"cmd":"PONG","accountId":1e2}"#,
            r#"{"cmd":"PONG","accountId":1.0}"#,
            r#"{"cmd":"PONG","accountId":-1}"#,
            r#"{"cmd":"PONG","accountId":18446744073709551616}"#,
            r#"{"cmd":"PONG",}"#,
            r#"{"cmd":"PONG"}x"#,
            r#"{"cmd":"PONG","cmd":"PONG"}"#,
            r#"{"Cmd":"PONG"}"#,
            "{\"cmd\":\"a\tb\"}",
            r#"{"cmd""#,
            "",
        ] {
            assert_eq!(scan(unsure), None, "{unsure}");
        }
        assert_eq!(
            scan(r#"{"cmd":"PONG","accountId":18446744073709551615}"#).map(|f| f.u64("accountId")),
            Some(u64::MAX)
        );
    }

    /// Members of client frames: mostly well formed (so that whole frames often are), with
    /// the edge cases of each type, and some junk.
    fn member() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let text_key =
            prop::sample::select(vec!["cmd", "nickName", "requestId", "content", "token"]);
        let number_key = prop::sample::select(vec!["accountId", "senderId", "sessionId", "msgId"]);
        let any_key = prop::sample::select(vec![
            "cmd",
            "accountId",
            "CMD",
            "x",
            "a\\\"b",
            "é",
            "\\u0063md",
        ]);
        let text = prop_oneof![
            4 => "\"[a-z<>&é ]{0,6}\"",
            1 => prop::sample::select(vec!["\"\\n\"", "\"\t\"", "\"a\\\"\"", "\"\\u0041\""])
                .prop_map(str::to_owned),
        ];
        let number = prop_oneof![
            4 => "[1-9][0-9]{0,19}",
            1 => "0[0-9]{0,2}",
            1 => prop::sample::select(vec!["-1", "1.5", "2e3", "18446744073709551616", "184467440737095516150"])
                .prop_map(str::to_owned),
        ];
        let junk = prop::sample::select(vec!["null", "true", "[]", "{}", "\"s\"", "7"])
            .prop_map(str::to_owned);
        let space = prop::sample::select(vec!["", "", " ", "\n"]);
        prop_oneof![
            3 => (text_key, text).prop_map(|(k, v)| (k, v)),
            3 => (number_key, number).prop_map(|(k, v)| (k, v)),
            1 => (any_key, junk).prop_map(|(k, v)| (k, v)),
        ]
        .prop_flat_map(move |(k, v)| {
            space
                .clone()
                .prop_map(move |sp| format!("\"{k}\"{sp}:{sp}{v}"))
        })
    }

    proptest::proptest! {
        /// Wherever the hand reader answers, serde answers the same.
        #[test]
        fn the_hand_reader_agrees_with_serde(
            members in proptest::collection::vec(member(), 0..5),
            tail in proptest::sample::select(vec!["", " ", "\n", "x", ",", "}"]),
        ) {
            let text = format!("{{{}}}{tail}", members.join(","));
            if let Some(fast) = scan(&text) {
                proptest::prop_assert_eq!(Some(fast), ExactFields::parse_with_serde(&text), "{}", text);
            }
        }

        #[test]
        fn plain_frames_take_the_hand_path(
            request in "[a-zA-Z0-9 <>&é]{0,12}",
            content in "[^\"\\\\\u{0}-\u{1f}]{0,40}",
            sender in proptest::num::u64::ANY,
            session in 0u64..1000,
        ) {
            let text = format!(
                r#"{{"cmd":"DIALOGUE","requestId":"{request}","senderId":{sender},"sessionId":{session},"content":"{content}"}}"#
            );
            let fast = scan(&text);
            proptest::prop_assert!(fast.is_some(), "{}", text);
            proptest::prop_assert_eq!(fast, ExactFields::parse_with_serde(&text));
        }
    }

    /// Where the fast path answers, the Go reader agrees field by field.
    #[test]
    fn agrees_with_the_go_reader() {
        for text in [
            r#"{"cmd":"DIALOGUE","requestId":"a\u0041","senderId":0,"sessionId":18446744073709551615,"content":"é\n"}"#,
            r#"{"content":"","cmd":"CRT_ACCOUNT","nickName":"n","token":"t","msgId":3,"accountId":4}"#,
            r#" { "c\u006dd" : "PONG" } "#,
        ] {
            let fast = ExactFields::parse(text).expect("exact");
            let Some(Document::Object(slow)) = Document::parse(text) else {
                panic!("an object: {text}");
            };
            for name in ["cmd", "nickName", "requestId", "content", "token"] {
                assert_eq!(fast.string(name), slow.string(name), "{name} in {text}");
            }
            for name in ["accountId", "senderId", "sessionId", "msgId"] {
                assert_eq!(fast.u64(name), slow.u64(name), "{name} in {text}");
            }
        }
    }
}
