//! The JSON body of a frame, byte-exact with Go: `json.NewEncoder(w).Encode(&CmdSimple{…})`
//! on the way out, `json.Unmarshal(body, &CmdSimple{})` on the way in.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use super::message::{Cmd, CmdSimple};
use crate::go_json::{self, Escaping, key_matches};
use crate::{Dialect, Error, Result};

/// Append the body Go's `json.Encoder` writes for `cmd`: `{"CmdName":…,"Args":[…]}` and a
/// newline. `Args` is `[]` when empty (never `null`).
pub fn write_body(cmd: &CmdSimple, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"CmdName\":");
    write_string(&cmd.name, out);
    out.extend_from_slice(b",\"Args\":[");
    for (i, arg) in cmd.args.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(arg, out);
    }
    out.extend_from_slice(b"]}\n");
}

/// [`write_body`] for a typed command, without building its [`CmdSimple`] first.
pub fn write_cmd(cmd: &Cmd, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"CmdName\":");
    write_string(cmd.name(), out);
    out.extend_from_slice(b",\"Args\":[");
    let mut first = true;
    cmd.for_each_arg(|arg| {
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(arg, out);
    });
    out.extend_from_slice(b"]}\n");
}

/// Append `s` as Go's encoder writes a string (HTML escaping on), for servers that render
/// frames straight into their own buffer.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    go_json::write_string(out, s, Escaping::Go);
}

/// The body as a fresh buffer (see [`write_body`]).
pub fn body(cmd: &CmdSimple) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        24 + cmd.name.len() + cmd.args.iter().map(|a| a.len() + 3).sum::<usize>(),
    );
    write_body(cmd, &mut out);
    out
}

/// Parse a body the way Go's `json.Unmarshal` into `CmdSimple` does: keys match
/// case-insensitively (a later duplicate wins), extra keys are ignored, a missing or `null`
/// key leaves the field empty, trailing whitespace (the encoder's `\n`) is allowed, and
/// invalid UTF-8 inside strings becomes U+FFFD. Arguments must be strings.
///
/// Differences kept on purpose: a top-level `null` (a no-op in Go) and a lone UTF-16
/// surrogate escape (U+FFFD in Go) are errors here; either way the original drops the frame.
pub fn parse_body(body: &[u8]) -> Result<CmdSimple> {
    if let Some(cmd) = parse_exact(body) {
        return Ok(cmd);
    }
    // Valid UTF-8 (every frame a real client sends) is borrowed as is.
    let text = match std::str::from_utf8(body) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(body),
    };
    let mut de = serde_json::Deserializer::from_str(&text);
    let cmd = de.deserialize_map(CmdVisitor).and_then(|cmd| {
        de.end()?;
        Ok(cmd)
    });
    cmd.map_err(|e| Error::malformed(Dialect::Fishchat, format!("invalid JSON body: {e}")))
}

struct CmdVisitor;

impl<'de> Visitor<'de> for CmdVisitor {
    type Value = CmdSimple;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object {"CmdName":…,"Args":[…]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CmdSimple, A::Error> {
        let mut cmd = CmdSimple::default();
        while let Some(Key(key)) = map.next_key::<Key>()? {
            if key_matches(&key, "CmdName") {
                if let Some(name) = map.next_value::<Option<String>>()? {
                    cmd.name = name;
                }
            } else if key_matches(&key, "Args") {
                // `null` gives Go a nil slice: no arguments.
                cmd.args = map.next_value::<Option<Vec<String>>>()?.unwrap_or_default();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(cmd)
    }
}

/// Parse and type a body: [`parse_body`] then [`Cmd::from_simple`], without copying the
/// name or the arguments a command does not keep when the body has the exact form. The
/// outer error: the body is no command (the original drops it); the inner one: a command
/// with too few arguments (the original crashes on it).
pub fn parse_cmd(body: &[u8]) -> Result<Result<Cmd>> {
    match parse_exact_parts(body) {
        Some(parts) => Ok(Cmd::from_parts(parts.name, parts.args())),
        None => parse_body(body).map(Cmd::from_simple),
    }
}

/// Arguments read without copying; a body with more goes the general way.
const EXACT_ARGS: usize = 4;

/// A body in the exact form, borrowed.
struct ExactParts<'a> {
    name: &'a str,
    args: [&'a str; EXACT_ARGS],
    len: usize,
}

impl<'a> ExactParts<'a> {
    fn args(&self) -> &[&'a str] {
        &self.args[..self.len]
    }
}

/// The body exactly as Go's encoder writes it (`{"CmdName":"…","Args":["…",…]}`, then
/// optional whitespace), with no escape or control byte inside the strings and at most
/// [`EXACT_ARGS`] arguments: what every real client sends, read without serde. Anything
/// else is `None`, for the general parser (which gives the same result on this form, see
/// the tests).
fn parse_exact(body: &[u8]) -> Option<CmdSimple> {
    let parts = parse_exact_parts(body)?;
    Some(CmdSimple {
        name: parts.name.to_owned(),
        args: parts.args().iter().map(|a| (*a).to_owned()).collect(),
    })
}

fn parse_exact_parts(body: &[u8]) -> Option<ExactParts<'_>> {
    // Checked once for the whole body: the strings are cut at ASCII quotes, so each is
    // valid UTF-8 too.
    let body = std::str::from_utf8(body).ok()?;
    let rest = body.strip_prefix("{\"CmdName\":")?;
    let (name, mut rest) = plain_string(rest)?;
    rest = rest.strip_prefix(",\"Args\":[")?;
    let mut parts = ExactParts {
        name,
        args: [""; EXACT_ARGS],
        len: 0,
    };
    if let Some(after) = rest.strip_prefix(']') {
        rest = after;
    } else {
        loop {
            let (arg, after) = plain_string(rest)?;
            *parts.args.get_mut(parts.len)? = arg;
            parts.len += 1;
            if let Some(after) = after.strip_prefix(',') {
                rest = after;
            } else {
                rest = after.strip_prefix(']')?;
                break;
            }
        }
    }
    let rest = rest.strip_prefix('}')?;
    if !rest
        .bytes()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        return None;
    }
    Some(parts)
}

/// A string literal at the start of `input` with no `\\` and no control byte, and what
/// follows it.
fn plain_string(input: &str) -> Option<(&str, &str)> {
    let input = input.strip_prefix('"')?;
    let end = go_json::plain_string_len(input.as_bytes())?;
    Some((&input[..end], &input[end + 1..]))
}

/// An object key, borrowed from the frame when it has no escapes (no allocation per key).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(key)))
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(key.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, args: &[&str]) -> CmdSimple {
        CmdSimple::new(name, args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn writes_go_bytes() {
        assert_eq!(
            body(&s("REQ_MSG_SERVER", &[])),
            b"{\"CmdName\":\"REQ_MSG_SERVER\",\"Args\":[]}\n"
        );
        assert_eq!(
            body(&s("X", &["hello <b>&", "a\"b\\c\n\r\t\u{1}\u{8}\u{c}\u{7f}\u{2028}\u{2029}é"])),
            "{\"CmdName\":\"X\",\"Args\":[\"hello \\u003cb\\u003e\\u0026\",\"a\\\"b\\\\c\\n\\r\\t\\u0001\\u0008\\u000c\u{7f}\\u2028\\u2029é\"]}\n".as_bytes()
        );
    }

    #[test]
    fn exact_bodies_parse_as_the_general_parser_does() {
        for body in [
            &b"{\"CmdName\":\"P2P_ACK\",\"Args\":[\"u1\",\"9c5b\"]}\n"[..],
            b"{\"CmdName\":\"SEND_PING\",\"Args\":[]}",
            b"{\"CmdName\":\"X\",\"Args\":[\"\",\"\xc3\xa9\"]} \r\n",
        ] {
            let fast = parse_exact(body).expect("the exact form");
            let mut general = String::new();
            general.push_str(std::str::from_utf8(body).unwrap());
            // The same text with one key in other case goes the general way.
            let slow = parse_body(general.replacen("CmdName", "cmdname", 1).as_bytes()).unwrap();
            assert_eq!(fast, slow);
        }
        // Escapes, control bytes, other shapes: not the exact form (the general parser decides).
        for body in [
            &b"{\"CmdName\":\"X\",\"Args\":[\"a\\\"b\"]}"[..],
            b"{\"CmdName\":\"X\",\"Args\":[\"a\tb\"]}",
            b"{\"CmdName\":\"X\",\"Args\":[\"a\",]}",
            b"{\"CmdName\":\"X\",\"Args\":[1]}",
            b"{\"CmdName\":\"X\",\"Args\":[\"a\"]} x",
            b"{\"CmdName\":\"X\",\"Args\":[\"a\"]",
            b"{\"CmdName\":\"X\xff\",\"Args\":[]}",
            b"{\"CmdName\":\"X\"}",
        ] {
            assert!(
                parse_exact(body).is_none(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_and_general_parsers_agree(name in "\\PC*", args in proptest::collection::vec("\\PC*", 0..4)) {
            let cmd = CmdSimple::new(&name, args);
            let bytes = body(&cmd);
            proptest::prop_assert_eq!(parse_body(&bytes).unwrap(), cmd);
        }

        #[test]
        fn typing_borrowed_parts_is_typing_the_simple_form(
            name in proptest::sample::select(vec![
                "REQ_MSG_SERVER", "SEND_CLIENT_ID", "SEND_PING", "SEND_MESSAGE_P2P",
                "RESP_MESSAGE_P2P", "P2P_ACK", "CREATE_TOPIC", "JOIN_TOPIC",
                "LOCATE_TOPIC_MSG_ADDR", "SEND_MESSAGE_TOPIC", "RESP_MESSAGE_TOPIC", "NOPE",
            ]),
            args in proptest::collection::vec("[a-z0-9<\"é]{0,6}", 0..7),
        ) {
            let simple = CmdSimple::new(name, args);
            let bytes = body(&simple);
            let typed = |r: Result<Cmd>| r.map_err(|e| e.to_string());
            proptest::prop_assert_eq!(typed(parse_cmd(&bytes).unwrap()), typed(Cmd::from_simple(simple)));
        }
    }

    #[test]
    fn a_typed_command_is_written_as_its_simple_form() {
        for cmd in [
            Cmd::ReqMsgServer,
            Cmd::SendPing,
            Cmd::SendClientId {
                client_id: "42".into(),
            },
            Cmd::SendMessageP2p {
                to: "7".into(),
                msg: "hi <there> \"é\"".into(),
                from: "42".into(),
            },
            Cmd::JoinTopic {
                topic: "t".into(),
                client_id: "42".into(),
            },
            Cmd::Unknown {
                name: "X".into(),
                args: vec!["a".into(), "b".into()],
            },
        ] {
            let mut out = Vec::new();
            write_cmd(&cmd, &mut out);
            assert_eq!(out, body(&cmd.to_simple()), "{cmd:?}");
        }
    }

    #[test]
    fn parses_like_go_unmarshal() {
        assert_eq!(
            parse_body(br#"{"cmdname":"REQ_MSG_SERVER"}"#).unwrap(),
            s("REQ_MSG_SERVER", &[])
        );
        assert_eq!(
            parse_body(br#" {"ARGS":["a"],"Extra":{"x":[1,2]},"CmdName":"N","Args":null} "#)
                .unwrap(),
            s("N", &[])
        );
        assert_eq!(
            parse_body("{\"CmdName\":\"N\",\"Argſ\":[\"\\u003c\"]}\n".as_bytes()).unwrap(),
            s("N", &["<"])
        );
        assert_eq!(
            parse_body(b"{\"CmdName\":\"N\xff\"}").unwrap(),
            s("N\u{fffd}", &[])
        );
        for bad in [
            &b"{\"CmdName\":\"N\",\"Args\":[1]}"[..],
            b"{\"CmdName\":1}",
            b"[]",
            b"{} x",
            b"{",
            b"",
        ] {
            assert!(
                parse_body(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
