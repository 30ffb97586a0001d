//! Splitting a TCP byte stream into documents, and writing documents.
//!
//! The original has no framing: it parses every socket read as one document. A robust peer
//! cannot rely on that (two writes may arrive in one read, one write in two reads), so the
//! decoder splits the stream on top-level table headers (`[r]`, `[rr]`, `[m]`, `[gm]`, `[a]`;
//! any header without a dot starts a document), lexing token by token so that a `[m]` inside
//! a quoted string is not taken for a header.
//!
//! # When is the last document in the buffer complete?
//! * when the next top-level header has arrived (the document is *delimited*);
//! * at end of stream ([`Decoder::decode_eof`]) or when the caller knows the peer has gone quiet
//!   ([`DocumentCodec::decode_idle`]), whatever is buffered is one document;
//! * otherwise (nothing follows yet) only when all of these hold:
//!   1. every token is complete: no open string or header, no key without its value;
//!   2. the last value is a closed string, or an integer that cannot grow: followed by
//!      whitespace, or exactly `0` (integers have no leading zeros, so `s=0` is final; this
//!      is what makes the original's login success line `[rr] id="a_01" t="login" s=0`
//!      complete as soon as it arrives);
//!   3. the document is a complete message of the expected type: every required key and
//!      sub-table is present (`[m]` needs `[m.to]` and `[m.from]` with its `device`, a
//!      failure `[rr]` needs its `r`, …). Because the original (and our printer) write the
//!      sender's table last and end it with a string, no strict prefix of a printed message
//!      passes this test.
//!
//!   A trailing integer other than `0` with nothing after it (`... id = 12`) is ambiguous:
//!   more digits may be on the way. The decoder waits for the next byte, the end of the stream
//!   or [`DocumentCodec::decode_idle`]. None of the original's messages ends that way.
//!
//! # Bad input
//! * Bytes that do not start with a top-level header are skipped up to the next known header
//!   and reported as one error item (`Ok(Some(Err(_)))`): the stream goes on.
//! * A document that breaks the grammar is reported as an error item covering it up to the
//!   next known header (or what is buffered, when none is).
//! * A document longer than the frame limit is a fatal error ([`Error::FrameTooLarge`]): the
//!   decoder never buffers more than `max_frame` bytes of one document.

use std::marker::PhantomData;

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::document::{Lexed, Token, is_ws, next_token, parse_document};
use super::message::{ClientMessage, Document, ServerMessage};
use crate::{Dialect, Error, Result};

/// The headers a resync after garbage looks for.
const KNOWN_HEADERS: [&[u8]; 5] = [b"[r]", b"[rr]", b"[m]", b"[gm]", b"[a]"];

/// A stream codec: decodes `In` documents, encodes `Out` documents. Each decoded item is a
/// `Result` of its own: a malformed document is an error item, and the stream goes on.
#[derive(Debug)]
pub struct DocumentCodec<In, Out> {
    max_frame: usize,
    _types: PhantomData<fn(Out) -> In>,
}

/// The client's side: reads [`ServerMessage`]s, writes [`ClientMessage`]s.
pub type ClientCodec = DocumentCodec<ServerMessage, ClientMessage>;
/// The server's side: reads [`ClientMessage`]s, writes [`ServerMessage`]s.
pub type ServerCodec = DocumentCodec<ClientMessage, ServerMessage>;

impl<In, Out> Clone for DocumentCodec<In, Out> {
    fn clone(&self) -> Self {
        DocumentCodec::new(self.max_frame)
    }
}

impl<In, Out> Default for DocumentCodec<In, Out> {
    fn default() -> Self {
        DocumentCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

/// What the buffer holds at its start.
enum Split {
    /// Not enough bytes to tell.
    Wait,
    /// A document in `..end`; `delimited` when a header (or the stream's end) closes it.
    Document { end: usize, delimited: bool },
    /// `..end` is not a document.
    Garbage { end: usize },
}

impl<In, Out> DocumentCodec<In, Out> {
    /// `max_frame`: the longest document accepted, in bytes.
    pub fn new(max_frame: usize) -> Self {
        DocumentCodec {
            max_frame,
            _types: PhantomData,
        }
    }

    fn too_large(&self, len: usize) -> Error {
        Error::FrameTooLarge {
            dialect: Dialect::SimpleIm,
            len: len as u64,
            limit: self.max_frame,
        }
    }
}

impl<In: Document, Out> DocumentCodec<In, Out> {
    /// The peer has gone quiet (or is about to be cut off): take whatever is buffered as the
    /// last document, as [`Decoder::decode_eof`] does, without ending the stream. For a server
    /// whose clients may end a message with a multi-digit integer.
    pub fn decode_idle(&mut self, buf: &mut BytesMut) -> Result<Option<Result<In>>> {
        self.next_item(buf, true)
    }

    fn next_item(&mut self, buf: &mut BytesMut, flush: bool) -> Result<Option<Result<In>>> {
        let blank = buf.iter().take_while(|&&b| is_ws(b)).count();
        buf.advance(blank);
        if buf.is_empty() {
            return Ok(None);
        }
        // Never look (or wait) past one frame's worth of bytes.
        let window = &buf[..buf.len().min(self.max_frame.saturating_add(1))];
        match split(window, flush) {
            Split::Wait if buf.len() > self.max_frame => Err(self.too_large(buf.len())),
            Split::Wait => Ok(None),
            Split::Garbage { end } => {
                let shown = String::from_utf8_lossy(&buf[..end.min(40)]).into_owned();
                buf.advance(end);
                Ok(Some(Err(Error::malformed(
                    Dialect::SimpleIm,
                    format!("{end} bytes that are not a document, starting {shown:?}"),
                ))))
            }
            Split::Document { end, .. } if end > self.max_frame => Err(self.too_large(end)),
            Split::Document { end, delimited } => {
                let item = parse_document(&buf[..end]).and_then(|t| In::from_table(&t));
                if item.is_err() && !delimited {
                    // An undelimited prefix that is not yet a whole message: wait for more.
                    return if buf.len() > self.max_frame {
                        Err(self.too_large(buf.len()))
                    } else {
                        Ok(None)
                    };
                }
                buf.advance(end);
                Ok(Some(item))
            }
        }
    }
}

/// Where the next known header starts, at or after `from`.
fn find_known_header(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find(|&i| KNOWN_HEADERS.iter().any(|h| buf[i..].starts_with(h)))
}

/// How many bytes at the end of `buf` could be the start of a known header.
fn partial_header_suffix(buf: &[u8]) -> usize {
    (1..=3)
        .rev()
        .filter(|&n| n <= buf.len())
        .find(|&n| {
            let tail = &buf[buf.len() - n..];
            KNOWN_HEADERS
                .iter()
                .any(|h| h.len() > n && h.starts_with(tail))
        })
        .unwrap_or(0)
}

/// Skip to the next known header (at or after `from`), or report all but a possible partial
/// header at the end.
fn garbage_until_header(buf: &[u8], from: usize, flush: bool) -> Split {
    match find_known_header(buf, from) {
        Some(end) => Split::Garbage { end },
        None if flush => Split::Garbage { end: buf.len() },
        None => match buf.len() - partial_header_suffix(&buf[from..]) {
            0 => Split::Wait,
            end => Split::Garbage { end },
        },
    }
}

/// Classify the start of `buf` (which starts with a non-blank byte).
fn split(buf: &[u8], flush: bool) -> Split {
    match next_token(buf, 0) {
        Lexed::Token {
            token: Token::Header(path),
            ..
        } if !path.contains(&b'.') => {}
        Lexed::Incomplete if buf[0] == b'[' && !flush => return Split::Wait,
        _ => return garbage_until_header(buf, 1, flush),
    }

    #[derive(PartialEq)]
    enum Expect {
        KeyOrHeader,
        Equals,
        Value,
    }
    #[derive(PartialEq)]
    enum Last {
        Header,
        Str,
        /// An integer that may still grow.
        OpenInt,
        /// An integer that cannot: whitespace follows, or it is `0`.
        ClosedInt,
    }
    let mut expect = Expect::KeyOrHeader;
    let mut last = Last::Header;
    let mut pos = match next_token(buf, 0) {
        Lexed::Token { end, .. } => end,
        _ => unreachable!("matched above"),
    };
    loop {
        match next_token(buf, pos) {
            Lexed::Token {
                token: Token::Header(path),
                start,
                ..
            } if !path.contains(&b'.') => {
                return Split::Document {
                    end: start,
                    delimited: true,
                };
            }
            Lexed::Token { token, start, end } => {
                pos = end;
                match (&expect, token) {
                    (Expect::KeyOrHeader, Token::Header(_)) => last = Last::Header,
                    (Expect::KeyOrHeader, Token::Bare(_)) => expect = Expect::Equals,
                    (Expect::Equals, Token::Equals) => expect = Expect::Value,
                    (Expect::Value, Token::Str(_)) => {
                        expect = Expect::KeyOrHeader;
                        last = Last::Str;
                    }
                    (Expect::Value, Token::Bare(word)) => {
                        expect = Expect::KeyOrHeader;
                        last = if end < buf.len() || word == b"0" {
                            Last::ClosedInt
                        } else {
                            Last::OpenInt
                        };
                    }
                    _ => return garbage_or_broken(buf, start, flush),
                }
            }
            Lexed::End => {
                let complete =
                    expect == Expect::KeyOrHeader && matches!(last, Last::Str | Last::ClosedInt);
                return if flush || complete {
                    Split::Document {
                        end: buf.len(),
                        delimited: flush,
                    }
                } else {
                    Split::Wait
                };
            }
            Lexed::Incomplete if flush => {
                return Split::Document {
                    end: buf.len(),
                    delimited: true,
                };
            }
            Lexed::Incomplete => return Split::Wait,
            Lexed::Invalid { at, .. } => return garbage_or_broken(buf, at, flush),
        }
    }
}

/// A document that breaks the grammar at `at`: it runs to the next known header.
fn garbage_or_broken(buf: &[u8], at: usize, flush: bool) -> Split {
    match garbage_until_header(buf, at.max(1), flush) {
        Split::Garbage { end } => Split::Document {
            end,
            delimited: true,
        },
        other => other,
    }
}

impl<In: Document, Out: Document> Decoder for DocumentCodec<In, Out> {
    type Item = Result<In>;
    type Error = Error;

    fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>> {
        self.next_item(buf, false)
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>> {
        self.next_item(buf, true)
    }
}

impl<In: Document, Out: Document> Encoder<&Out> for DocumentCodec<In, Out> {
    type Error = Error;

    fn encode(&mut self, item: &Out, dst: &mut BytesMut) -> Result<()> {
        let text = item.print()?;
        if text.len() > self.max_frame {
            return Err(self.too_large(text.len()));
        }
        dst.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

impl<In: Document, Out: Document> Encoder<Out> for DocumentCodec<In, Out> {
    type Error = Error;

    fn encode(&mut self, item: Out, dst: &mut BytesMut) -> Result<()> {
        Encoder::<&Out>::encode(self, &item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simple_im::message::Ack;

    fn decode_all(codec: &mut ServerCodec, buf: &mut BytesMut) -> Vec<Result<ClientMessage>> {
        let mut out = Vec::new();
        while let Some(item) = codec.decode(buf).unwrap() {
            out.push(item);
        }
        out
    }

    #[test]
    fn a_header_inside_a_string_is_content() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&br#"[a] id = "[m] x"[a] id = "y""#[..]);
        let items = decode_all(&mut codec, &mut buf);
        let ids: Vec<_> = items
            .into_iter()
            .map(|i| match i.unwrap() {
                ClientMessage::Ack(Ack { id }) => id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["[m] x", "y"]);
    }

    #[test]
    fn a_trailing_integer_waits_unless_zero_or_idle() {
        let mut codec = ClientCodec::default();
        let mut buf = BytesMut::from(&br#"[rr] id = "q" t = "x" s = 12"#[..]);
        assert!(codec.decode(&mut buf).unwrap().is_none(), "12 may grow");
        // s = 12 without r is no complete reply either: idle flush reports it.
        assert!(codec.decode_idle(&mut buf).unwrap().unwrap().is_err());
        assert!(buf.is_empty());
        let mut buf = BytesMut::from(&br#"[rr] id="a_01" t="login" s=0"#[..]);
        assert!(codec.decode(&mut buf).unwrap().unwrap().is_ok());
    }

    #[test]
    fn a_broken_document_costs_one_error_item() {
        let mut codec = ServerCodec::default();
        let mut buf = BytesMut::from(&br#"[a] id = = "x" [a] id = "ok""#[..]);
        let items = decode_all(&mut codec, &mut buf);
        assert_eq!(items.len(), 2);
        assert!(items[0].is_err());
        assert_eq!(
            items[1].as_ref().unwrap(),
            &ClientMessage::Ack(Ack { id: "ok".into() })
        );
    }

    #[test]
    fn an_oversized_document_is_refused_before_buffering_it() {
        let mut codec = ServerCodec::new(32);
        let mut buf =
            BytesMut::from(&br#"[m] id = "a" c = "0123456789012345678901234567890123456789"#[..]);
        let err = codec.decode(&mut buf).unwrap_err();
        assert!(
            matches!(err, Error::FrameTooLarge { limit: 32, .. }),
            "{err}"
        );
        let mut buf = BytesMut::from(&br#"[a] id = "0123456789012345678901234567890123""#[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(Error::FrameTooLarge { .. })
        ));
    }
}
