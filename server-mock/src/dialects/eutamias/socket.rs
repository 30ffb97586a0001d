//! A gob connection seen from the server (N or S): frames in, frames out, both cancel safe.
//!
//! Reading decodes with the protocols' [`ServerCodec`] over our own buffer, so messages
//! that arrive together (a pipelining client) are all read, in order — the original's
//! throw-away `bufio.Reader` per message would lose the second one.
//!
//! Writing appends each frame to an outgoing buffer and sends it before the next one: the
//! original client reads one message per TCP read, so frames go out one write each rather
//! than batched. Bytes not yet written stay in the buffer when a write is cancelled and go
//! out first at the next one, so the stream never tears.

use bytes::{Buf, BytesMut};
use imkit_protocols::eutamias::{ClientMessage, Frame, ServerCodec, ServerMessage};
use imkit_protocols::{Dialect, Error, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::codec::{Decoder, Encoder};

/// Room kept free in the read buffer before each read: small, so an idle connection
/// costs little; a bigger message makes the codec reserve what its length announces.
const READ_CHUNK: usize = 1024;

pub(super) struct GobSocket {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    codec: ServerCodec,
    incoming: BytesMut,
    outgoing: BytesMut,
}

impl GobSocket {
    /// `max_frame` bounds every gob segment a client may send.
    pub(super) fn new(stream: TcpStream, max_frame: usize) -> Self {
        let (reader, writer) = stream.into_split();
        GobSocket {
            reader,
            writer,
            codec: ServerCodec::new(max_frame),
            incoming: BytesMut::new(),
            outgoing: BytesMut::new(),
        }
    }

    /// The next frame; `None` when the client closed between messages. A message cut
    /// short by the close, or one that does not decode, is an error. Cancel safe.
    pub(super) async fn next_frame(&mut self) -> Result<Option<Frame<ClientMessage>>> {
        loop {
            if let Some(frame) = self.codec.decode(&mut self.incoming)? {
                return Ok(Some(frame));
            }
            self.incoming.reserve(READ_CHUNK);
            if self.reader.read_buf(&mut self.incoming).await? == 0 {
                if self.incoming.is_empty() {
                    return Ok(None);
                }
                return Err(Error::malformed(
                    Dialect::Eutamias,
                    format!(
                        "the client closed in the middle of a message ({} bytes of it)",
                        self.incoming.len()
                    ),
                ));
            }
        }
    }

    /// Send `frame` on its own write (after whatever an interrupted write left).
    pub(super) async fn send(&mut self, frame: Frame<ServerMessage>) -> Result<()> {
        self.flush().await?;
        self.queue(frame)?;
        self.flush().await
    }

    /// Put `frame` in the outgoing buffer; [`GobSocket::flush`] sends it. Not async, so a
    /// reply queued here survives the caller's cancellation.
    pub(super) fn queue(&mut self, frame: Frame<ServerMessage>) -> Result<()> {
        self.codec.encode(frame, &mut self.outgoing)
    }

    /// Write out what is buffered. Cancel safe: what is written is removed from the buffer.
    pub(super) async fn flush(&mut self) -> Result<()> {
        while self.outgoing.has_remaining() {
            if self.writer.write_buf(&mut self.outgoing).await? == 0 {
                return Err(Error::Closed);
            }
        }
        Ok(())
    }

    /// Flush and close our side.
    pub(super) async fn shutdown(&mut self) {
        if self.flush().await.is_ok() {
            let _ = self.writer.shutdown().await;
        }
    }
}
