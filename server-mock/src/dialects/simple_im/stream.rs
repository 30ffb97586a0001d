//! The TCP stream of documents: client documents split out of the unframed byte stream
//! (the protocols codec, which also splits documents glued into one read), and the write
//! buffer every server document goes through.
//!
//! The codec waits while the last document could still grow (a trailing multi-digit
//! integer, a login whose `[r.user]` has not arrived). The original parses each socket read
//! as one document, so once the client has been quiet for [`QUIET`] whatever is buffered is
//! taken as one document.

use std::time::Duration;

use bytes::{Buf, BytesMut};
use imkit_protocols::Result;
use imkit_protocols::simple_im::{ClientMessage, ServerCodec, parse_document};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, sleep_until};
use tokio_util::codec::Decoder;

/// How long a client must be silent before an unfinished-looking document counts as whole.
const QUIET: Duration = Duration::from_millis(200);
/// Room made for each socket read.
const READ_CHUNK: usize = 2048;
/// A buffer grown beyond this by a burst is released once empty (idle connections stay small).
const KEEP_CAPACITY: usize = 16 * 1024;

/// One client document, or what could be made of a broken one.
#[derive(Debug)]
pub(super) enum Inbound {
    Message(ClientMessage),
    /// A document that does not parse as a client message. `request_id`: the `id` of a
    /// broken `[r]` (say, a login without `[r.user]`), which the original answers with
    /// "Unknown request".
    Broken {
        request_id: Option<String>,
        error: imkit_protocols::Error,
    },
}

impl Inbound {
    /// The id the client gave the document, if it can be read.
    pub(super) fn id(&self) -> Option<&str> {
        match self {
            Inbound::Message(ClientMessage::Request(r)) => Some(&r.id),
            Inbound::Message(ClientMessage::Message(m)) => Some(&m.id),
            Inbound::Message(ClientMessage::GroupMessage(g)) => Some(&g.id),
            Inbound::Message(ClientMessage::Ack(a)) => Some(&a.id),
            Inbound::Broken { request_id, .. } => request_id.as_deref(),
        }
    }
}

#[derive(Debug)]
pub(super) struct DocumentStream {
    stream: TcpStream,
    codec: ServerCodec,
    input: BytesMut,
    /// What is still to be written (server documents back to back, each one whole).
    pub(super) out: BytesMut,
    /// When buffered input is taken as a whole document if nothing more arrives.
    quiet_at: Option<Instant>,
    /// The client closed its side.
    eof: bool,
}

impl DocumentStream {
    pub(super) fn new(stream: TcpStream, max_frame: usize) -> Self {
        DocumentStream {
            stream,
            codec: ServerCodec::new(max_frame),
            input: BytesMut::new(),
            out: BytesMut::new(),
            quiet_at: None,
            eof: false,
        }
    }

    /// The next document; `Ok(None)` once the client closed and everything was read. An
    /// oversize document is an error. Cancel safe.
    pub(super) async fn next(&mut self) -> Result<Option<Inbound>> {
        loop {
            if let Some(item) = self.decode(false)? {
                self.quiet_at = None;
                return Ok(Some(item));
            }
            if self.eof {
                return self.decode(true);
            }
            if self.input.is_empty() {
                self.quiet_at = None;
                if self.input.capacity() > KEEP_CAPACITY {
                    self.input = BytesMut::new();
                }
            } else if self.quiet_at.is_none() {
                self.quiet_at = Some(Instant::now() + QUIET);
            }
            if self.input.capacity() - self.input.len() < READ_CHUNK / 4 {
                self.input.reserve(READ_CHUNK);
            }
            let quiet_at = self.quiet_at;
            tokio::select! {
                read = self.stream.read_buf(&mut self.input) => {
                    if read? == 0 {
                        self.eof = true;
                    }
                }
                _ = sleep_until(quiet_at.unwrap_or_else(Instant::now)), if quiet_at.is_some() => {
                    self.quiet_at = None;
                    if let Some(item) = self.decode(true)? {
                        return Ok(Some(item));
                    }
                }
            }
        }
    }

    /// A document already buffered, without waiting.
    pub(super) fn ready(&mut self) -> Result<Option<Inbound>> {
        self.decode(false)
    }

    /// `flush`: take what is buffered as the last document (end of stream, quiet client).
    fn decode(&mut self, flush: bool) -> Result<Option<Inbound>> {
        let blank = self
            .input
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
        self.input.advance(blank);
        // A broken `[r]` still gets its answer if its id can be read; those are rare (one
        // login per connection), so only they pay for a copy.
        let request = self.input.starts_with(b"[r]").then(|| self.input.clone());
        let before = self.input.len();
        let item = if flush {
            self.codec.decode_idle(&mut self.input)?
        } else {
            self.codec.decode(&mut self.input)?
        };
        Ok(item.map(|item| match item {
            Ok(message) => Inbound::Message(message),
            Err(error) => {
                let used = before - self.input.len();
                let request_id = request.and_then(|bytes| {
                    let table = parse_document(&bytes[..used]).ok()?;
                    table.get("id")?.as_str().map(str::to_owned)
                });
                Inbound::Broken { request_id, error }
            }
        }))
    }

    /// Write out everything in [`DocumentStream::out`]. Cancel safe: what was written is
    /// gone from the buffer, the rest stays for the next call.
    pub(super) async fn write_out(&mut self) -> Result<()> {
        while !self.out.is_empty() {
            if self.stream.write_buf(&mut self.out).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::WriteZero).into());
            }
        }
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = BytesMut::new();
        }
        Ok(())
    }

    /// Write what is pending (bounded by `within`) and close our side.
    pub(super) async fn finish(&mut self, within: Duration) {
        let _ = tokio::time::timeout(within, async {
            if self.write_out().await.is_ok() {
                let _ = self.stream.shutdown().await;
            }
        })
        .await;
    }
}
