//! The bare baseline for the forwarding benchmarks: a minimal tokio relay with no protocol
//! logic over the same transports server-mock uses. Whatever it forwards per second on this
//! machine is the ceiling imkit is measured against (as a ratio, in the same run).
//!
//! Pairing is the only logic: a connection first says `pair <n>`; once two connections said the
//! same `n`, both get `ok` and everything after is forwarded verbatim to the partner
//! (WebSocket: message by message; TCP: frame by frame, u32 big-endian length + body).
//!
//! `ws-replies` also answers every message to its sender with a reply-sized text frame (56
//! dots), as a chat-json server answers each `DIALOGUE` with its `msgId`: per message, the
//! same frames as chat-json (one in, one out to the receiver, one back to the sender).
//!
//! A third argument, a number of milliseconds, adds a keepalive to the WebSocket relay: every
//! that often each paired connection is sent a ping-sized text frame (29 `?`, as long as
//! chat-json's `{"cmd":"PING","accountId":10}`), which the client answers with a frame of
//! the same size (`!`), read and dropped here. That is the traffic of chat-json's app
//! heartbeat (v1: 500 ms), done the plain way: a timer per connection.
//!
//! ```sh
//! cargo run --release -p imkit-server-mock --example baseline_relay -- ws 127.0.0.1:0
//! cargo run --release -p imkit-server-mock --example baseline_relay -- ws-replies 127.0.0.1:0
//! cargo run --release -p imkit-server-mock --example baseline_relay -- ws-replies 127.0.0.1:0 500
//! cargo run --release -p imkit-server-mock --example baseline_relay -- tcp 127.0.0.1:0
//! ```
//! Prints `listening baseline-<ws|tcp> <address>` once bound.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use imkit_protocols::net::ws_config;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::codec::{FramedRead, FramedWrite, LengthDelimitedCodec};

/// The allocator server-mock uses, so the ratio measures protocol work, not allocators.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type WsOutbound = mpsc::Sender<Message>;

/// Connections waiting for their partner, by pair number.
type Waiting<T> = Arc<Mutex<HashMap<u64, T>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let transport = args.next().unwrap_or_else(|| "ws".into());
    let address = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let keepalive = match args.next() {
        Some(ms) => Some(Duration::from_millis(ms.parse().map_err(|e| {
            anyhow::anyhow!("keepalive {ms:?} is not a number of milliseconds: {e}")
        })?)),
        None => None,
    };
    let listener = TcpListener::bind(&address).await?;
    let local = listener.local_addr()?;
    match transport.as_str() {
        "ws" | "ws-replies" => {
            println!("listening baseline-ws ws://{local}/ws");
            let replies = transport == "ws-replies";
            serve_ws(listener, WsOptions { replies, keepalive }).await
        }
        "tcp" => {
            println!("listening baseline-tcp {local}");
            serve_tcp(listener).await
        }
        other => anyhow::bail!("unknown transport {other:?}: use ws, ws-replies or tcp"),
    }
}

fn pair_number(text: &str) -> Option<u64> {
    text.trim().strip_prefix("pair ")?.trim().parse().ok()
}

/// What `ws-replies` answers to each message: as long as chat-json's `DIALOGUE` reply
/// (`{"cmd":"DIALOGUE","requestId":"b","msgId":12345,"code":0}`).
const REPLY: &str = "........................................................";

/// The keepalive frame (as long as chat-json's `{"cmd":"PING","accountId":10}`); the client's
/// answer starts with `!`.
const KEEPALIVE: &str = "?????????????????????????????";

#[derive(Debug, Clone, Copy)]
struct WsOptions {
    /// Answer each message to its sender (`ws-replies`).
    replies: bool,
    /// Send each connection a keepalive frame this often.
    keepalive: Option<Duration>,
}

async fn serve_ws(listener: TcpListener, options: WsOptions) -> anyhow::Result<()> {
    let waiting: Waiting<(WsOutbound, oneshot::Sender<WsOutbound>)> = Arc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let waiting = waiting.clone();
        tokio::spawn(async move {
            if let Err(e) = relay_ws(stream, waiting, options).await {
                eprintln!("ws connection ended: {e}");
            }
        });
    }
}

async fn relay_ws(
    stream: TcpStream,
    waiting: Waiting<(WsOutbound, oneshot::Sender<WsOutbound>)>,
    options: WsOptions,
) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    // Frames gather in a 4 KiB write buffer and go out at each flush, as server-mock's do:
    // the baseline batches its writes as well as the server measured against it.
    let config = ws_config(64 * 1024).write_buffer_size(4 * 1024);
    let ws = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await?;
    let (mut sink, mut source) = ws.split();
    let Some(Ok(Message::Text(first))) = source.next().await else {
        return Ok(());
    };
    let Some(n) = pair_number(&first) else {
        return Ok(());
    };
    let (own_tx, mut own_rx) = mpsc::channel::<Message>(1024);
    let own = options.replies.then(|| own_tx.clone());
    let partner = pair_with(&waiting, n, own_tx).await?;
    sink.send(Message::text("ok")).await?;
    let writer = tokio::spawn(async move {
        let mut keepalive = options.keepalive.map(|period| {
            let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            // As chat-json's heartbeat: late ticks are not made up in a burst.
            timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            timer
        });
        loop {
            let message = tokio::select! {
                message = own_rx.recv() => match message {
                    Some(message) => message,
                    None => return,
                },
                _ = tick(&mut keepalive) => Message::text(KEEPALIVE),
            };
            if sink.feed(message).await.is_err() {
                return;
            }
            while let Ok(message) = own_rx.try_recv() {
                if sink.feed(message).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    while let Some(Ok(message)) = source.next().await {
        // The answer to a keepalive: read, not forwarded.
        if let Message::Text(text) = &message
            && text.starts_with('!')
        {
            continue;
        }
        if message.is_close() || partner.send(message).await.is_err() {
            break;
        }
        if let Some(own) = &own
            && own.send(Message::text(REPLY)).await.is_err()
        {
            break;
        }
    }
    drop(partner);
    writer.abort();
    Ok(())
}

/// The next keepalive tick; never without a keepalive.
async fn tick(keepalive: &mut Option<tokio::time::Interval>) {
    match keepalive {
        Some(timer) => {
            timer.tick().await;
        }
        None => std::future::pending().await,
    }
}

async fn serve_tcp(listener: TcpListener) -> anyhow::Result<()> {
    let waiting: Waiting<(TcpOutbound, oneshot::Sender<TcpOutbound>)> = Arc::default();
    loop {
        let (stream, _) = listener.accept().await?;
        let waiting = waiting.clone();
        tokio::spawn(async move {
            if let Err(e) = relay_tcp(stream, waiting).await {
                eprintln!("tcp connection ended: {e}");
            }
        });
    }
}

type TcpOutbound = mpsc::Sender<Bytes>;

/// Frame by frame (u32 big-endian length + body), like the WebSocket relay message by message:
/// the same work per message as a forwarding server, minus the protocol.
async fn relay_tcp(
    stream: TcpStream,
    waiting: Waiting<(TcpOutbound, oneshot::Sender<TcpOutbound>)>,
) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let Some(n) = pair_number(&line) else {
        return Ok(());
    };
    // The client sends nothing after its `pair` line until it reads `ok`, so no bytes are
    // left in the BufReader.
    let (read, mut write) = reader.into_inner().into_split();
    let (own_tx, mut own_rx) = mpsc::channel::<Bytes>(1024);
    let partner = pair_with(&waiting, n, own_tx).await?;
    write.write_all(b"ok\n").await?;
    let writer = tokio::spawn(async move {
        let mut frames = FramedWrite::new(write, frame_codec());
        while let Some(frame) = own_rx.recv().await {
            if frames.feed(frame).await.is_err() {
                return;
            }
            while let Ok(frame) = own_rx.try_recv() {
                if frames.feed(frame).await.is_err() {
                    return;
                }
            }
            if SinkExt::<Bytes>::flush(&mut frames).await.is_err() {
                return;
            }
        }
    });
    let mut frames = FramedRead::new(read, frame_codec());
    while let Some(Ok(frame)) = frames.next().await {
        if partner.send(frame.freeze()).await.is_err() {
            break;
        }
    }
    drop(partner);
    writer.abort();
    Ok(())
}

fn frame_codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(4)
        .max_frame_length(64 * 1024)
        .new_codec()
}

/// Meet the partner that said the same pair number; each side gets the other's queue.
async fn pair_with<T: Send + 'static>(
    waiting: &Waiting<(mpsc::Sender<T>, oneshot::Sender<mpsc::Sender<T>>)>,
    n: u64,
    own: mpsc::Sender<T>,
) -> anyhow::Result<mpsc::Sender<T>> {
    // Take the partner or register, under one lock: with two lock calls both connections of
    // a pair could find the map empty, and the second insert would drop the first's reply
    // channel (its connection ended with "channel closed", its partner waited forever).
    let reply_rx = {
        let mut waiting = waiting.lock().expect("pair map");
        match waiting.remove(&n) {
            Some((partner, reply)) => {
                let _ = reply.send(own);
                return Ok(partner);
            }
            None => {
                let (reply_tx, reply_rx) = oneshot::channel();
                waiting.insert(n, (own, reply_tx));
                reply_rx
            }
        }
    };
    Ok(reply_rx.await?)
}
