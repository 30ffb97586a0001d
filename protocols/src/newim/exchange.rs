//! The internal hop from a chat node to a gateway (TCP 8181): Netty `LengthFieldPrepender(4)`
//! framing, a 4-byte big-endian length (header excluded) then the body. The chat node sends an
//! [`ExchangeMessage`]; the gateway answers with the ASCII decimal count of connections it
//! pushed to (`00 00 00 01 32` = 2). Not client-facing; here for completeness (a mock chat
//! node, or a mock gateway driven by one).

use bytes::{Buf, BufMut, BytesMut};
use prost::Message as _;
use tokio_util::codec::{Decoder, Encoder};

use super::message::{ExchangeMessage, decode_exchange_message};
use crate::{Dialect, Error, Result};

const HEADER: usize = 4;

/// Frames [`ExchangeMessage`]s (both sides: the chat node encodes, the gateway decodes).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeCodec {
    max_frame: usize,
}

impl ExchangeCodec {
    pub fn new(max_frame: usize) -> Self {
        ExchangeCodec { max_frame }
    }
}

impl Default for ExchangeCodec {
    fn default() -> Self {
        ExchangeCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

impl Decoder for ExchangeCodec {
    type Item = ExchangeMessage;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<ExchangeMessage>> {
        match take_frame(src, self.max_frame)? {
            Some(body) => decode_exchange_message(&body, self.max_frame).map(Some),
            None => Ok(None),
        }
    }
}

impl Encoder<&ExchangeMessage> for ExchangeCodec {
    type Error = Error;

    fn encode(&mut self, item: &ExchangeMessage, dst: &mut BytesMut) -> Result<()> {
        let len = item.encoded_len();
        put_header(len, self.max_frame, dst)?;
        item.encode(dst)
            .map_err(|e| Error::malformed(Dialect::Newim, e.to_string()))
    }
}

/// Frames the gateway's reply: the number of connections it pushed to, in ASCII decimal.
#[derive(Debug, Clone, Copy)]
pub struct PushCountCodec {
    max_frame: usize,
}

impl PushCountCodec {
    pub fn new(max_frame: usize) -> Self {
        PushCountCodec { max_frame }
    }
}

impl Default for PushCountCodec {
    fn default() -> Self {
        PushCountCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

impl Decoder for PushCountCodec {
    type Item = u64;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<u64>> {
        let Some(body) = take_frame(src, self.max_frame)? else {
            return Ok(None);
        };
        let malformed = || {
            Error::malformed(
                Dialect::Newim,
                format!(
                    "push count {:?} is not a decimal number",
                    String::from_utf8_lossy(&body)
                ),
            )
        };
        if body.is_empty() || !body.iter().all(u8::is_ascii_digit) {
            return Err(malformed());
        }
        // All ASCII digits, so valid UTF-8; only the range can still fail.
        std::str::from_utf8(&body)
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Some)
            .ok_or_else(malformed)
    }
}

impl Encoder<u64> for PushCountCodec {
    type Error = Error;

    fn encode(&mut self, count: u64, dst: &mut BytesMut) -> Result<()> {
        let text = count.to_string();
        put_header(text.len(), self.max_frame, dst)?;
        dst.put_slice(text.as_bytes());
        Ok(())
    }
}

/// One length-prefixed body, once complete. The declared length is checked against the limit
/// before anything is reserved for it.
fn take_frame(src: &mut BytesMut, max_frame: usize) -> Result<Option<BytesMut>> {
    if src.len() < HEADER {
        return Ok(None);
    }
    let len = u32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
    if len > max_frame {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::Newim,
            len: len as u64,
            limit: max_frame,
        });
    }
    if src.len() < HEADER + len {
        src.reserve(HEADER + len - src.len());
        return Ok(None);
    }
    src.advance(HEADER);
    Ok(Some(src.split_to(len)))
}

fn put_header(len: usize, max_frame: usize, dst: &mut BytesMut) -> Result<()> {
    if len > max_frame || u32::try_from(len).is_err() {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::Newim,
            len: len as u64,
            limit: max_frame,
        });
    }
    dst.reserve(HEADER + len);
    dst.put_u32(len as u32);
    Ok(())
}
