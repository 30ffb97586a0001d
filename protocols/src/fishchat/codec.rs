//! The `fishchat` framing (libnet `PacketN(4, BigEndian)`): a u32 big-endian body length,
//! then the Go JSON body. The wire is the same in both directions, so one codec serves a
//! client (encode commands, decode replies) and a server (decode commands, encode replies).

use bytes::{Buf, BufMut, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::go_json;
use super::message::{Cmd, CmdSimple};
use crate::{Dialect, Error, Result};

/// One decoded frame. The length prefix keeps the stream in step whatever the body holds,
/// so a bad body is reported here and the next frame still decodes (a `Decoder` error would
/// end a `FramedRead`).
#[derive(Debug)]
pub enum Inbound {
    /// A well-formed command.
    Cmd(Cmd),
    /// An empty body (a zero length; in the text form a blank line). The original ignores it.
    Empty,
    /// A body that is not a command (invalid JSON, non-string args, too few args for its
    /// name), as [`Error::Malformed`]. The original logs and drops such a frame (or, for too
    /// few args, crashes); the connection itself is still usable.
    Invalid(Error),
}

impl Inbound {
    /// Type a parsed body.
    pub(crate) fn from_parsed(parsed: Result<CmdSimple>) -> Inbound {
        Inbound::from_typed(parsed.and_then(Cmd::from_simple))
    }

    pub(crate) fn from_typed(typed: Result<Cmd>) -> Inbound {
        match typed {
            Ok(cmd) => Inbound::Cmd(cmd),
            Err(e) => Inbound::Invalid(e),
        }
    }
}

/// The length-prefixed JSON codec. `max_frame` bounds the body length; a larger declared
/// length is [`Error::FrameTooLarge`] before anything is allocated for it (and, since the
/// rest of the stream cannot be trusted, ends the stream).
#[derive(Debug, Clone)]
pub struct FrameCodec {
    max_frame: usize,
}

impl FrameCodec {
    /// `max_frame`: the largest body accepted or sent, in bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameCodec { max_frame }
    }

    pub fn max_frame(&self) -> usize {
        self.max_frame
    }
}

impl Default for FrameCodec {
    fn default() -> Self {
        FrameCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

/// One whole frame (header and body) as Go writes it, for golden tests and raw writes.
pub fn frame_bytes(cmd: &Cmd) -> Vec<u8> {
    let body = go_json::body(&cmd.to_simple());
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

impl Decoder for FrameCodec {
    type Item = Inbound;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>> {
        let Some(header) = src.get(..4) else {
            return Ok(None);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len_usize = usize::try_from(len).unwrap_or(usize::MAX);
        if len_usize > self.max_frame {
            return Err(Error::FrameTooLarge {
                dialect: Dialect::Fishchat,
                len: u64::from(len),
                limit: self.max_frame,
            });
        }
        if src.len() < 4 + len_usize {
            // Bounded by the check above.
            src.reserve(4 + len_usize - src.len());
            return Ok(None);
        }
        // Parsed in place: the command copies what it keeps.
        let frame = 4 + len_usize;
        let inbound = if len_usize == 0 {
            Inbound::Empty
        } else {
            Inbound::from_typed(go_json::parse_cmd(&src[4..frame]).and_then(|typed| typed))
        };
        src.advance(frame);
        Ok(Some(inbound))
    }
}

impl Encoder<&Cmd> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, cmd: &Cmd, dst: &mut BytesMut) -> Result<()> {
        let mut body = Vec::with_capacity(128);
        go_json::write_cmd(cmd, &mut body);
        if body.len() > self.max_frame {
            return Err(Error::FrameTooLarge {
                dialect: Dialect::Fishchat,
                len: body.len() as u64,
                limit: self.max_frame,
            });
        }
        // max_frame may exceed u32 on paper; the wire cannot.
        let len = u32::try_from(body.len()).map_err(|_| Error::FrameTooLarge {
            dialect: Dialect::Fishchat,
            len: body.len() as u64,
            limit: u32::MAX as usize,
        })?;
        dst.reserve(4 + body.len());
        dst.put_u32(len);
        dst.extend_from_slice(&body);
        Ok(())
    }
}

impl Encoder<Cmd> for FrameCodec {
    type Error = Error;

    fn encode(&mut self, cmd: Cmd, dst: &mut BytesMut) -> Result<()> {
        Encoder::<&Cmd>::encode(self, &cmd, dst)
    }
}
