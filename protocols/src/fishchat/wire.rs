//! One codec type for both forms, so a driver or a listener serves `fishchat` and
//! `fishchat-text` with the same code.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use super::codec::{FrameCodec, Inbound};
use super::message::Cmd;
use super::text::TextCodec;
use crate::{Dialect, Error, Result};

/// [`FrameCodec`] or [`TextCodec`]: same items, same commands.
#[derive(Debug, Clone)]
pub enum Codec {
    Frame(FrameCodec),
    Text(TextCodec),
}

impl Codec {
    /// The text codec for [`Dialect::FishchatText`], the length-prefixed one otherwise.
    pub fn for_dialect(dialect: Dialect, max_frame: usize) -> Self {
        match dialect {
            Dialect::FishchatText => Codec::Text(TextCodec::new(max_frame)),
            _ => Codec::Frame(FrameCodec::new(max_frame)),
        }
    }
}

impl Decoder for Codec {
    type Item = Inbound;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>> {
        match self {
            Codec::Frame(c) => c.decode(src),
            Codec::Text(c) => c.decode(src),
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Inbound>> {
        match self {
            Codec::Frame(c) => c.decode_eof(src),
            Codec::Text(c) => c.decode_eof(src),
        }
    }
}

impl Encoder<&Cmd> for Codec {
    type Error = Error;

    fn encode(&mut self, cmd: &Cmd, dst: &mut BytesMut) -> Result<()> {
        match self {
            Codec::Frame(c) => c.encode(cmd, dst),
            Codec::Text(c) => c.encode(cmd, dst),
        }
    }
}

impl Encoder<Cmd> for Codec {
    type Error = Error;

    fn encode(&mut self, cmd: Cmd, dst: &mut BytesMut) -> Result<()> {
        Encoder::<&Cmd>::encode(self, &cmd, dst)
    }
}
