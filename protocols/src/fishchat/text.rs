//! `fishchat-text`: the README's human form, one command per line, so a person can drive a
//! server with `nc`:
//!
//! ```text
//! SEND_CLIENT_ID alice
//! SEND_MESSAGE_P2P bob "hello there" alice
//! SEND_MESSAGE_TOPIC t1 "say \"hi\"\n(two lines)"
//! ```
//!
//! The line grammar (imkit's own; the original has no text form):
//! * a line ends with `\n`; a `\r` right before it is dropped (`\r\n` works); a blank line is
//!   ignored; the printer writes `\n`;
//! * words are separated by runs of spaces or tabs; the first word is the command name (a
//!   catalog name matches in any ASCII case, `send_ping` is `SEND_PING`), the rest are the args;
//! * a *bare* word is one or more characters other than space, tab, `"`, `\` and control
//!   characters; anything else (an empty arg, spaces, quotes, backslashes, newlines) is written
//!   *quoted*: `"…"` with the escapes `\"` `\\` `\n` `\r` `\t` and `\xHH` (any other ASCII
//!   control character); a quoted word must be followed by whitespace or the end of the line;
//! * raw control characters (other than the separating tabs) are errors, so a line never hides
//!   anything; the printer quotes a word exactly when it cannot be bare, so printing then
//!   parsing gives back the same command.

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::codec::Inbound;
use super::message::{Cmd, CmdSimple, names};
use crate::{Dialect, Error, Result};

/// Append one command as a line (with its `\n`).
pub fn write_line(cmd: &CmdSimple, out: &mut Vec<u8>) {
    write_word(&cmd.name, out);
    for arg in &cmd.args {
        out.push(b' ');
        write_word(arg, out);
    }
    out.push(b'\n');
}

/// One command as a line (see [`write_line`]).
pub fn line(cmd: &CmdSimple) -> Vec<u8> {
    let mut out = Vec::new();
    write_line(cmd, &mut out);
    out
}

fn is_bare_char(c: char) -> bool {
    !matches!(c, ' ' | '\t' | '"' | '\\') && !c.is_ascii_control()
}

fn write_word(word: &str, out: &mut Vec<u8>) {
    if !word.is_empty() && word.chars().all(is_bare_char) {
        out.extend_from_slice(word.as_bytes());
        return;
    }
    out.push(b'"');
    for c in word.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if c.is_ascii_control() => {
                out.extend_from_slice(format!("\\x{:02x}", c as u8).as_bytes());
            }
            c => {
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

/// Parse one line (without its `\n`; a trailing `\r` is dropped). `Ok(None)` for a blank line.
pub fn parse_line(line: &str) -> Result<Option<CmdSimple>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let bad = |reason: String| Error::malformed(Dialect::FishchatText, reason);
    let mut words: Vec<String> = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| matches!(c, ' ' | '\t')).is_some() {}
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(bad("unterminated quoted argument".into())),
                    Some('"') => break,
                    Some('\\') => word.push(match chars.next() {
                        Some('"') => '"',
                        Some('\\') => '\\',
                        Some('n') => '\n',
                        Some('r') => '\r',
                        Some('t') => '\t',
                        Some('x') => {
                            let hex: String = chars.by_ref().take(2).collect();
                            let digits =
                                hex.len() == 2 && hex.bytes().all(|b| b.is_ascii_hexdigit());
                            match u8::from_str_radix(&hex, 16) {
                                Ok(b) if digits && b.is_ascii() => char::from(b),
                                _ => {
                                    return Err(bad(format!(
                                        "bad escape \\x{hex}: use two hex digits below 80"
                                    )));
                                }
                            }
                        }
                        Some(c) => return Err(bad(format!("unknown escape \\{c}"))),
                        None => return Err(bad("unterminated quoted argument".into())),
                    }),
                    Some(c) if c.is_ascii_control() => {
                        return Err(bad(format!(
                            "raw control character {:#04x}: write it as \\x{:02x}",
                            c as u8, c as u8
                        )));
                    }
                    Some(c) => word.push(c),
                }
            }
            if chars.peek().is_some_and(|c| !matches!(c, ' ' | '\t')) {
                return Err(bad("a quoted argument must be followed by a space".into()));
            }
        } else {
            while let Some(c) = chars.next_if(|c| !matches!(c, ' ' | '\t')) {
                if !is_bare_char(c) {
                    return Err(bad(format!(
                        "{c:?} inside an unquoted argument: quote the argument (\"…\") and escape it"
                    )));
                }
                word.push(c);
            }
        }
        words.push(word);
    }
    let mut words = words.into_iter();
    let Some(mut name) = words.next() else {
        return Ok(None);
    };
    if let Some(known) = names::ALL.iter().find(|n| n.eq_ignore_ascii_case(&name)) {
        name = (*known).to_owned();
    }
    Ok(Some(CmdSimple::new(name, words.collect())))
}

/// The line codec, both directions. `max_line` bounds a line (without its `\n`): a longer
/// one is [`Error::FrameTooLarge`] as soon as that many bytes are buffered without a newline,
/// and ends the stream. A bad line is [`Inbound::Invalid`] and the next line still decodes.
#[derive(Debug, Clone)]
pub struct TextCodec {
    max_line: usize,
    /// How far the buffer was searched for `\n` already (no rescans on partial reads).
    scanned: usize,
}

impl TextCodec {
    pub fn new(max_line: usize) -> Self {
        TextCodec {
            max_line,
            scanned: 0,
        }
    }

    fn too_large(&self, len: usize) -> Error {
        Error::FrameTooLarge {
            dialect: Dialect::FishchatText,
            len: len as u64,
            limit: self.max_line,
        }
    }

    fn parse(line: &[u8]) -> Inbound {
        match std::str::from_utf8(line) {
            Err(e) => Inbound::Invalid(Error::malformed(
                Dialect::FishchatText,
                format!("the line is not UTF-8: {e}"),
            )),
            Ok(text) => match parse_line(text) {
                Ok(None) => Inbound::Empty,
                parsed => Inbound::from_parsed(parsed.map(|p| p.unwrap_or_default())),
            },
        }
    }
}

impl Default for TextCodec {
    fn default() -> Self {
        TextCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

impl Decoder for TextCodec {
    type Item = Inbound;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>> {
        let window = src.len().min(self.max_line.saturating_add(1));
        let newline = src[self.scanned.min(window)..window]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + self.scanned.min(window));
        let Some(at) = newline else {
            if src.len() > self.max_line {
                return Err(self.too_large(src.len()));
            }
            self.scanned = src.len();
            return Ok(None);
        };
        self.scanned = 0;
        let line = src.split_to(at);
        src.advance(1);
        Ok(Some(TextCodec::parse(&line)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>> {
        if let Some(item) = self.decode(src)? {
            return Ok(Some(item));
        }
        // A last line without its newline (a person typing into nc and pressing ^D).
        if src.is_empty() {
            return Ok(None);
        }
        self.scanned = 0;
        let line = src.split();
        Ok(Some(TextCodec::parse(&line)))
    }
}

impl Encoder<&Cmd> for TextCodec {
    type Error = Error;

    fn encode(&mut self, cmd: &Cmd, dst: &mut BytesMut) -> Result<()> {
        let bytes = line(&cmd.to_simple());
        if bytes.len() - 1 > self.max_line {
            return Err(self.too_large(bytes.len() - 1));
        }
        dst.put_slice(&bytes);
        Ok(())
    }
}

impl Encoder<Cmd> for TextCodec {
    type Error = Error;

    fn encode(&mut self, cmd: Cmd, dst: &mut BytesMut) -> Result<()> {
        Encoder::<&Cmd>::encode(self, &cmd, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, args: &[&str]) -> CmdSimple {
        CmdSimple::new(name, args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn prints_bare_and_quoted_words() {
        assert_eq!(line(&s("SEND_CLIENT_ID", &["42"])), b"SEND_CLIENT_ID 42\n");
        assert_eq!(
            line(&s(
                "SEND_MESSAGE_P2P",
                &["bob", "hi there", "", "a\"b\\c\n\r\t\u{1}\u{7f}é"]
            )),
            b"SEND_MESSAGE_P2P bob \"hi there\" \"\" \"a\\\"b\\\\c\\n\\r\\t\\x01\\x7f\xc3\xa9\"\n"
        );
    }

    #[test]
    fn parses_what_people_type() {
        assert_eq!(
            parse_line("  send_client_id\t42  \r").unwrap(),
            Some(s("SEND_CLIENT_ID", &["42"]))
        );
        assert_eq!(
            parse_line(r#"SEND_MESSAGE_TOPIC t1 "say \"hi\"\x41" """#).unwrap(),
            Some(s("SEND_MESSAGE_TOPIC", &["t1", "say \"hi\"A", ""]))
        );
        assert_eq!(parse_line(" \t\r").unwrap(), None);
        for bad in [
            "X \"open",
            "X \"a\"b",
            "X a\"b",
            "X a\\b",
            "X \"\\q\"",
            "X \"\\x8f\"",
            "X \"\\x4\"",
            "X \"\\x+4\"",
            "X \u{1}",
        ] {
            assert!(parse_line(bad).is_err(), "{bad:?}");
        }
    }
}
