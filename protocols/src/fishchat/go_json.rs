//! The JSON body of a frame, byte-exact with Go: `json.NewEncoder(w).Encode(&CmdSimple{…})`
//! on the way out, `json.Unmarshal(body, &CmdSimple{})` on the way in.

use std::fmt;

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
    // Most strings need no escape at all: copy them whole (every message goes through here).
    if s.bytes().all(plain) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        go_json::write_string(out, s, Escaping::Go);
    }
}

/// A byte Go's encoder writes as it is and the decoder reads as it is: printable ASCII but
/// for the quote, the backslash and the HTML-escaped `<` `>` `&`.
fn plain(b: u8) -> bool {
    PLAIN[usize::from(b)]
}

/// [`plain`] as a table: one load per byte of every message, both ways.
static PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b <= 0x7e {
        table[b] = !matches!(b as u8, b'"' | b'\\' | b'<' | b'>' | b'&');
        b += 1;
    }
    table
};

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
    if let Some(cmd) = parse_plain(body) {
        return Ok(cmd);
    }
    let text = String::from_utf8_lossy(body);
    let mut de = serde_json::Deserializer::from_str(&text);
    let cmd = de.deserialize_map(CmdVisitor).and_then(|cmd| {
        de.end()?;
        Ok(cmd)
    });
    cmd.map_err(|e| Error::malformed(Dialect::Fishchat, format!("invalid JSON body: {e}")))
}

/// The exact form Go's encoder writes, `{"CmdName":"…","Args":["…",…]}` and trailing
/// whitespace, with only plain bytes (see [`plain`]) in the strings: read directly, with the
/// result [`parse_body`]'s general path would give. `None`: anything else (the general path
/// decides).
fn parse_plain(body: &[u8]) -> Option<CmdSimple> {
    fn string(rest: &mut &[u8]) -> Option<String> {
        let inner = rest.strip_prefix(b"\"")?;
        let end = inner.iter().position(|&b| !plain(b))?;
        if inner[end] != b'"' {
            return None;
        }
        // Plain bytes are ASCII: valid UTF-8.
        let s = std::str::from_utf8(&inner[..end]).ok()?.to_owned();
        *rest = &inner[end + 1..];
        Some(s)
    }
    let mut rest = body.strip_prefix(b"{\"CmdName\":")?;
    let name = string(&mut rest)?;
    rest = rest.strip_prefix(b",\"Args\":[")?;
    let mut args = Vec::with_capacity(3);
    if let Some(after) = rest.strip_prefix(b"]") {
        rest = after;
    } else {
        loop {
            args.push(string(&mut rest)?);
            match rest.split_first()? {
                (b',', after) => rest = after,
                (b']', after) => {
                    rest = after;
                    break;
                }
                _ => return None,
            }
        }
    }
    rest = rest.strip_prefix(b"}")?;
    rest.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .then_some(CmdSimple { name, args })
}

struct CmdVisitor;

impl<'de> Visitor<'de> for CmdVisitor {
    type Value = CmdSimple;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(r#"an object {"CmdName":…,"Args":[…]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CmdSimple, A::Error> {
        let mut cmd = CmdSimple::default();
        while let Some(key) = map.next_key::<String>()? {
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
    fn the_plain_form_reads_as_the_general_path_does() {
        let general = |body: &[u8]| {
            let text = String::from_utf8_lossy(body);
            let mut de = serde_json::Deserializer::from_str(&text);
            let cmd = de.deserialize_map(CmdVisitor).ok()?;
            de.end().ok().map(|()| cmd)
        };
        for body in [
            &b"{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"lg1.a.b;x\",\"42\",\"5f0c-uuid\"]}\n"
                [..],
            b"{\"CmdName\":\"REQ_MSG_SERVER\",\"Args\":[]}\n",
            b"{\"CmdName\":\"\",\"Args\":[\"\"]} \r\n\t",
        ] {
            let plain = parse_plain(body);
            assert!(plain.is_some(), "{:?}", String::from_utf8_lossy(body));
            assert_eq!(plain, general(body));
            assert_eq!(parse_body(body).ok(), plain);
        }
        // Anything else goes the general way (and still parses where Go would).
        for body in [
            &b"{\"CmdName\":\"N\",\"Args\":[\"a\\u003cb\"]}"[..],
            b"{\"CmdName\":\"N\",\"Args\":[\"caf\xc3\xa9\"]}",
            b"{\"cmdname\":\"N\",\"Args\":[]}",
            b"{\"CmdName\":\"N\",\"Args\":[\"a\",]}",
            b"{\"CmdName\":\"N\",\"Args\":[\"a\"]} x",
            b"{\"CmdName\":\"N\",\"Args\":[\"a\tb\"]}",
            b"{\"CmdName\":\"N\",\"Args\":null}",
            b"{\"CmdName\":\"N\",\"Args\":[\"a\"]",
        ] {
            assert_eq!(
                parse_plain(body),
                None,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(parse_body(body).ok(), general(body));
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
    fn plain_strings_are_written_as_go_writes_them() {
        for s in ["", "hello world", "lg1.a.b;xyz", "a<b", "q\"", "é", "tab\t"] {
            let mut fast = Vec::new();
            write_string(s, &mut fast);
            let mut general = Vec::new();
            go_json::write_string(&mut general, s, Escaping::Go);
            assert_eq!(fast, general, "{s:?}");
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
