//! Client frames in, server frames out, for both forms: the length-prefixed JSON of the
//! original and the text lines of `fishchat-text`.
//!
//! The listener frames and types commands itself (with the protocols crate's parsers) rather
//! than through `fishchat::Codec`, because the original treats two kinds of bad body
//! differently and so must we: a body that is no command at all (invalid JSON, a bad line) is
//! logged and ignored with the connection kept, while a known command with too few arguments
//! (which crashes the original's whole process) closes that connection.

use bytes::{Buf, BytesMut};
use imkit_protocols::fishchat::message::names;
use imkit_protocols::fishchat::{Cmd, CmdSimple, go_json, text};
use imkit_protocols::{Dialect, Error, Result};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// Bytes asked of the socket per read (the buffer grows only for a longer frame).
const READ_CHUNK: usize = 2048;

/// How commands are delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// u32 big-endian body length, then the JSON body (`fishchat`).
    Length,
    /// One command per `\n`-terminated line (`fishchat-text`).
    Lines,
}

impl Framing {
    pub(super) fn dialect(self) -> Dialect {
        match self {
            Framing::Length => Dialect::Fishchat,
            Framing::Lines => Dialect::FishchatText,
        }
    }
}

/// One frame from a client.
#[derive(Debug)]
pub(super) enum Frame {
    Cmd(Cmd),
    /// Nothing to do: an empty body or blank line, an unknown command name, or a body that is
    /// no command (already logged). The original ignores all of these.
    Ignored,
    /// A known command with too few arguments: close the connection.
    TooFewArgs(Error),
}

/// The read side: a buffer of what the client sent and not yet decoded.
#[derive(Debug)]
pub(super) struct Inbox {
    framing: Framing,
    max_frame: usize,
    buf: BytesMut,
    /// How far `buf` was searched for `\n` already (lines only; no rescans on partial reads).
    scanned: usize,
}

impl Inbox {
    pub(super) fn new(framing: Framing, max_frame: usize) -> Self {
        Inbox {
            framing,
            max_frame,
            buf: BytesMut::new(),
            scanned: 0,
        }
    }

    /// The next whole frame in the buffer. An error (a declared length or a line over the
    /// limit, checked before allocating for it) means the stream cannot be trusted any more.
    pub(super) fn decode(&mut self) -> Result<Option<Frame>> {
        match self.framing {
            Framing::Length => self.decode_length(),
            Framing::Lines => self.decode_line(),
        }
    }

    fn too_large(&self, len: u64) -> Error {
        Error::FrameTooLarge {
            dialect: self.framing.dialect(),
            len,
            limit: self.max_frame,
        }
    }

    fn decode_length(&mut self) -> Result<Option<Frame>> {
        let Some(header) = self.buf.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > self.max_frame {
            return Err(self.too_large(u64::from(len)));
        }
        if self.buf.len() < 4 + len_usize {
            self.buf.reserve(4 + len_usize - self.buf.len());
            return Ok(None);
        }
        // Parsed in place: the command copies what it keeps.
        let end = 4 + len_usize;
        let frame = if len_usize == 0 {
            Frame::Ignored
        } else {
            match go_json::parse_cmd(&self.buf[4..end]) {
                Ok(cmd) => typed(cmd),
                Err(e) => {
                    tracing::debug!(dialect = %Dialect::Fishchat, "ignoring a frame that is no command: {e}");
                    Frame::Ignored
                }
            }
        };
        self.buf.advance(end);
        Ok(Some(frame))
    }

    fn decode_line(&mut self) -> Result<Option<Frame>> {
        let window = self.buf.len().min(self.max_frame.saturating_add(1));
        let from = self.scanned.min(window);
        let Some(at) = self.buf[from..window].iter().position(|&b| b == b'\n') else {
            if self.buf.len() > self.max_frame {
                return Err(self.too_large(self.buf.len() as u64));
            }
            self.scanned = self.buf.len();
            return Ok(None);
        };
        let line = self.buf.split_to(from + at);
        self.buf.advance(1);
        self.scanned = 0;
        Ok(Some(parse_line(&line)))
    }

    /// The client closed: a last line without its `\n` (someone typing into `nc` and
    /// pressing ^D) still counts. Length frames cut short are dropped.
    pub(super) fn finish(&mut self) -> Option<Frame> {
        if self.framing == Framing::Length || self.buf.is_empty() {
            return None;
        }
        self.scanned = 0;
        let line = self.buf.split();
        Some(parse_line(&line))
    }

    /// Read more from `stream`; false at the end of the stream. Cancel safe: either some
    /// bytes were read into the buffer or none were.
    pub(super) async fn fill(&mut self, stream: &mut TcpStream) -> Result<bool> {
        // An idle connection should not keep the room a long frame once needed.
        if self.buf.is_empty() && self.buf.capacity() > 4 * READ_CHUNK {
            self.buf = BytesMut::new();
        }
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(stream.read_buf(&mut self.buf).await? > 0)
    }
}

fn parse_line(line: &[u8]) -> Frame {
    let parsed = std::str::from_utf8(line)
        .map_err(|e| Error::malformed(Dialect::FishchatText, format!("the line is not UTF-8: {e}")))
        .and_then(text::parse_line);
    match parsed {
        Ok(Some(simple)) => typed(Cmd::from_simple(simple)),
        Ok(None) => Frame::Ignored,
        Err(e) => {
            tracing::debug!(dialect = %Dialect::FishchatText, "ignoring a line that is no command: {e}");
            Frame::Ignored
        }
    }
}

fn typed(cmd: Result<Cmd>) -> Frame {
    match cmd {
        Ok(Cmd::Unknown { name, .. }) => {
            tracing::debug!(%name, "ignoring an unknown command");
            Frame::Ignored
        }
        Ok(cmd) => Frame::Cmd(cmd),
        Err(e) => Frame::TooFewArgs(e),
    }
}

/// The write side's buffer: server commands rendered back to back, written in one go.
#[derive(Debug)]
pub(super) struct Outbox {
    framing: Framing,
    pub(super) bytes: Vec<u8>,
}

impl Outbox {
    pub(super) fn new(framing: Framing) -> Self {
        Outbox {
            framing,
            bytes: Vec::new(),
        }
    }

    /// Append one command. The length form is written straight from borrowed strings, byte
    /// for byte what Go's `json.Encoder` writes (this is the per-message path).
    pub(super) fn push(&mut self, name: &str, args: &[&str]) {
        match self.framing {
            Framing::Length => {
                let out = &mut self.bytes;
                let start = out.len();
                out.extend_from_slice(&[0; 4]);
                out.extend_from_slice(b"{\"CmdName\":");
                go_json::write_string(name, out);
                out.extend_from_slice(b",\"Args\":[");
                for (i, arg) in args.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    go_json::write_string(arg, out);
                }
                out.extend_from_slice(b"]}\n");
                // A body over 4 GiB cannot come from frames bounded by max_frame.
                let len = u32::try_from(out.len() - start - 4).unwrap_or(u32::MAX);
                out[start..start + 4].copy_from_slice(&len.to_be_bytes());
            }
            Framing::Lines => {
                let simple = CmdSimple::new(name, args.iter().map(|a| (*a).to_owned()).collect());
                text::write_line(&simple, &mut self.bytes);
            }
        }
    }

    /// `SELECT_MSG_SERVER_FOR_CLIENT [addr]`.
    pub(super) fn select_msg_server(&mut self, addr: &str) {
        self.push(names::SELECT_MSG_SERVER_FOR_CLIENT, &[addr]);
    }

    /// Forget what was written, and give back most of a buffer a burst made large (idle
    /// connections must stay small).
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        if self.bytes.capacity() > 8 * 1024 {
            self.bytes.shrink_to(2 * 1024);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use imkit_protocols::fishchat::frame_bytes;

    fn decode_all(framing: Framing, input: &[u8]) -> Vec<Frame> {
        let mut inbox = Inbox::new(framing, 1024);
        inbox.buf.extend_from_slice(input);
        let mut frames = Vec::new();
        while let Some(frame) = inbox.decode().unwrap() {
            frames.push(frame);
        }
        frames.extend(inbox.finish());
        frames
    }

    #[test]
    fn tells_ignorable_bodies_from_short_commands() {
        let mut input = Vec::new();
        for body in [
            &b"not json"[..],
            b"",
            b"{\"CmdName\":\"WHATEVER\",\"Args\":[]}",
            b"{\"cmdname\":\"SEND_CLIENT_ID\",\"args\":[\"alice\"]}",
            b"{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[]}\n",
        ] {
            input.extend_from_slice(&(body.len() as u32).to_be_bytes());
            input.extend_from_slice(body);
        }
        let frames = decode_all(Framing::Length, &input);
        assert!(matches!(frames[0], Frame::Ignored));
        assert!(matches!(frames[1], Frame::Ignored));
        assert!(matches!(frames[2], Frame::Ignored));
        assert!(
            matches!(&frames[3], Frame::Cmd(Cmd::SendClientId { client_id }) if client_id == "alice")
        );
        assert!(matches!(frames[4], Frame::TooFewArgs(_)));
        assert_eq!(frames.len(), 5);
    }

    #[test]
    fn refuses_an_oversize_length_before_reading_it() {
        let mut inbox = Inbox::new(Framing::Length, 1024);
        inbox.buf.extend_from_slice(&[0, 0, 4, 1]);
        assert!(matches!(
            inbox.decode(),
            Err(Error::FrameTooLarge { len: 1025, .. })
        ));
        let mut lines = Inbox::new(Framing::Lines, 8);
        lines.buf.extend_from_slice(b"SEND_PING");
        assert!(matches!(lines.decode(), Err(Error::FrameTooLarge { .. })));
    }

    #[test]
    fn lines_with_a_bad_quote_are_ignored_and_short_ones_refused() {
        let frames = decode_all(
            Framing::Lines,
            b"send_client_id alice\r\nSEND_CLIENT_ID \"open\n\nP2P_ACK alice\nSEND_PING",
        );
        assert!(
            matches!(&frames[0], Frame::Cmd(Cmd::SendClientId { client_id }) if client_id == "alice")
        );
        assert!(matches!(frames[1], Frame::Ignored));
        assert!(matches!(frames[2], Frame::Ignored));
        assert!(matches!(frames[3], Frame::TooFewArgs(_)));
        assert!(matches!(frames[4], Frame::Cmd(Cmd::SendPing)));
    }

    #[test]
    fn writes_what_the_protocols_codec_writes() {
        let mut outbox = Outbox::new(Framing::Length);
        outbox.push(names::RESP_MESSAGE_P2P, &["hello <b>&", "alice", "u-1"]);
        outbox.select_msg_server("127.0.0.1:19000");
        let mut expected = frame_bytes(&Cmd::RespMessageP2p {
            msg: "hello <b>&".into(),
            from: "alice".into(),
            uuid: "u-1".into(),
        });
        expected.extend_from_slice(
            b"\0\0\0\x46{\"CmdName\":\"SELECT_MSG_SERVER_FOR_CLIENT\",\"Args\":[\"127.0.0.1:19000\"]}\n",
        );
        assert_eq!(outbox.bytes, expected);

        let mut lines = Outbox::new(Framing::Lines);
        lines.push(names::RESP_MESSAGE_TOPIC, &["t1", "hi all", "bob"]);
        assert_eq!(lines.bytes, b"RESP_MESSAGE_TOPIC t1 \"hi all\" bob\n");
    }
}
