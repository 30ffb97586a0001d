//! The gob stream codec (eutamias.md §2).
//!
//! Encoding does what a fresh Go `gob.Encoder` does for every message: the constant 46-byte
//! type definition of `Message`, then the value segment with zero fields left out.
//!
//! Decoding loops over segments: `uint(length)` (checked against the frame limit before any
//! allocation), then `int(typeId)`. A negative id defines a type: it must be the `Message`
//! definition (any id), which is recorded. A positive id must be the recorded one and carries
//! a value. Repeated definitions are skipped, since every Go sender repeats it per message.

use std::marker::PhantomData;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::gob::{
    DEFINITION_HEAD, DEFINITION_TAIL, GobError, MESSAGE_TYPE_ID, PREAMBLE, put_int, put_uint,
    read_int, read_uint,
};
use super::message::{ClientMessage, Envelope, Frame, ServerMessage, WireMessage};
use crate::{Dialect, Error, Result};

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::Eutamias, reason)
}

fn gob_error(e: GobError) -> Error {
    malformed(e.to_string())
}

/// Reads and writes raw [`Envelope`]s: the same framing in both directions.
#[derive(Debug, Clone)]
pub struct EnvelopeCodec {
    max_frame: usize,
    /// The type id the last `Message` definition announced.
    message_type: Option<u64>,
}

impl EnvelopeCodec {
    /// `max_frame` bounds every gob segment (and so every message's payload).
    pub fn new(max_frame: usize) -> Self {
        EnvelopeCodec {
            max_frame,
            message_type: None,
        }
    }
}

impl Default for EnvelopeCodec {
    fn default() -> Self {
        EnvelopeCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

/// Append one envelope as a fresh Go encoder writes it: [`PREAMBLE`] + value segment.
pub fn encode_envelope(envelope: &Envelope, max_frame: usize, dst: &mut BytesMut) -> Result<()> {
    let mut body = Vec::with_capacity(16 + envelope.msg.len());
    put_int(&mut body, MESSAGE_TYPE_ID as i64);
    // Field deltas count from the last field written; zero values are left out, as gob does.
    let mut last: i64 = -1;
    if envelope.cmd != 0 {
        put_uint(&mut body, (0 - last) as u64);
        put_int(&mut body, i64::from(envelope.cmd));
        last = 0;
    }
    if envelope.seq != 0 {
        put_uint(&mut body, (1 - last) as u64);
        put_uint(&mut body, envelope.seq);
        last = 1;
    }
    if !envelope.msg.is_empty() {
        put_uint(&mut body, (2 - last) as u64);
        put_uint(&mut body, envelope.msg.len() as u64);
        body.extend_from_slice(&envelope.msg);
    }
    body.push(0);
    if body.len() > max_frame {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::Eutamias,
            len: body.len() as u64,
            limit: max_frame,
        });
    }
    let mut length = Vec::with_capacity(9);
    put_uint(&mut length, body.len() as u64);
    dst.reserve(PREAMBLE.len() + length.len() + body.len());
    dst.put_slice(&PREAMBLE);
    dst.put_slice(&length);
    dst.put_slice(&body);
    Ok(())
}

/// Check a type-definition body (after its negative id): it must define `Message` with the
/// fields Cmd int, Seq uint, Msg bytes, under the id it announced.
fn check_definition(body: &[u8], announced: u64) -> Result<()> {
    let rest = body
        .strip_prefix(DEFINITION_HEAD)
        .ok_or_else(|| malformed("a gob type definition other than Message{Cmd, Seq, Msg}"))?;
    let (id, used) = read_int(rest)
        .map_err(gob_error)?
        .ok_or_else(|| malformed("truncated gob type definition"))?;
    if u64::try_from(id).ok() != Some(announced) {
        return Err(malformed(format!(
            "gob type definition of id {announced} names itself {id}"
        )));
    }
    if &rest[used..] != DEFINITION_TAIL {
        return Err(malformed(
            "a gob type definition other than Message{Cmd, Seq, Msg}",
        ));
    }
    Ok(())
}

/// Parse the fields of a `Message` value (after its type id); `body` is the rest of the
/// segment and must end exactly with the struct.
fn parse_value(mut body: &[u8]) -> Result<Envelope> {
    fn need<T>(read: std::result::Result<Option<(T, usize)>, GobError>) -> Result<(T, usize)> {
        read.map_err(gob_error)?
            .ok_or_else(|| malformed("gob value ends inside a field"))
    }
    let mut envelope = Envelope::default();
    let mut field: i64 = -1;
    loop {
        let (delta, used) = need(read_uint(body))?;
        body = &body[used..];
        if delta == 0 {
            break;
        }
        field = field.saturating_add(i64::try_from(delta).unwrap_or(i64::MAX));
        match field {
            0 => {
                let (cmd, used) = need(read_int(body))?;
                body = &body[used..];
                envelope.cmd = i32::try_from(cmd)
                    .map_err(|_| malformed(format!("Cmd {cmd} is out of the int32 range")))?;
            }
            1 => {
                let (seq, used) = need(read_uint(body))?;
                body = &body[used..];
                envelope.seq = seq;
            }
            2 => {
                let (len, used) = need(read_uint(body))?;
                body = &body[used..];
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= body.len())
                    .ok_or_else(|| malformed("Msg is longer than its gob segment"))?;
                envelope.msg = Bytes::copy_from_slice(&body[..len]);
                body = &body[len..];
            }
            other => return Err(malformed(format!("Message has no gob field {other}"))),
        }
    }
    if !body.is_empty() {
        return Err(malformed(format!(
            "{} stray bytes after the Message value",
            body.len()
        )));
    }
    Ok(envelope)
}

impl Decoder for EnvelopeCodec {
    type Item = Envelope;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Envelope>> {
        // Each turn consumes one whole segment, so the loop ends with the buffer.
        loop {
            let Some((len, header)) = read_uint(src).map_err(gob_error)? else {
                return Ok(None);
            };
            if len > self.max_frame as u64 {
                return Err(Error::FrameTooLarge {
                    dialect: Dialect::Eutamias,
                    len,
                    limit: self.max_frame,
                });
            }
            let len = len as usize;
            if len == 0 {
                return Err(malformed("empty gob segment"));
            }
            if src.len() < header + len {
                src.reserve(header + len - src.len());
                return Ok(None);
            }
            src.advance(header);
            let segment = src.split_to(len);
            let (type_id, used) = read_int(&segment)
                .map_err(gob_error)?
                .ok_or_else(|| malformed("gob segment ends inside its type id"))?;
            let body = &segment[used..];
            if type_id < 0 {
                let announced = type_id.unsigned_abs();
                check_definition(body, announced)?;
                self.message_type = Some(announced);
                continue;
            }
            if self.message_type != Some(type_id as u64) {
                return Err(malformed(format!(
                    "gob value of type {type_id} without its type definition"
                )));
            }
            return parse_value(body).map(Some);
        }
    }
}

impl Encoder<Envelope> for EnvelopeCodec {
    type Error = Error;

    fn encode(&mut self, item: Envelope, dst: &mut BytesMut) -> Result<()> {
        encode_envelope(&item, self.max_frame, dst)
    }
}

/// A typed codec: decodes `Frame<In>`, encodes `Frame<Out>`.
#[derive(Debug)]
pub struct GobCodec<In, Out> {
    envelopes: EnvelopeCodec,
    _types: PhantomData<fn(Out) -> In>,
}

impl<In, Out> GobCodec<In, Out> {
    pub fn new(max_frame: usize) -> Self {
        GobCodec {
            envelopes: EnvelopeCodec::new(max_frame),
            _types: PhantomData,
        }
    }
}

impl<In, Out> Default for GobCodec<In, Out> {
    fn default() -> Self {
        GobCodec::new(crate::DEFAULT_MAX_FRAME)
    }
}

impl<In, Out> Clone for GobCodec<In, Out> {
    fn clone(&self) -> Self {
        GobCodec {
            envelopes: self.envelopes.clone(),
            _types: PhantomData,
        }
    }
}

/// The client side of a connection to N or S: reads [`ServerMessage`]s, writes
/// [`ClientMessage`]s.
pub type ClientCodec = GobCodec<ServerMessage, ClientMessage>;
/// The server side (N, S, or the dispatcher's TCP port): reads [`ClientMessage`]s, writes
/// [`ServerMessage`]s.
pub type ServerCodec = GobCodec<ClientMessage, ServerMessage>;

impl<In: WireMessage, Out> Decoder for GobCodec<In, Out> {
    type Item = Frame<In>;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame<In>>> {
        match self.envelopes.decode(src)? {
            Some(envelope) => Frame::from_envelope(&envelope).map(Some),
            None => Ok(None),
        }
    }
}

impl<In, Out: WireMessage> Encoder<Frame<Out>> for GobCodec<In, Out> {
    type Error = Error;

    fn encode(&mut self, item: Frame<Out>, dst: &mut BytesMut) -> Result<()> {
        encode_envelope(&item.to_envelope(), self.envelopes.max_frame, dst)
    }
}
