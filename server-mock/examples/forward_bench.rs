//! Forwarding benchmark driver: holds many connections to a server, then measures how many
//! messages per second the server forwards between paired connections, and the server's RSS
//! per idle connection. The same driver runs against the bare baseline relay
//! (`--protocol raw-ws|raw-tcp`, see `baseline_relay.rs`) and against server-mock
//! (`--protocol chat-json|fishchat`), so the two figures compare as a ratio within one run.
//!
//! Each direction of each pair keeps at most `--window` messages in flight (sent, not yet
//! received), so the figure is the server's forwarding rate, not queue growth.
//!
//! ```sh
//! cargo run --release -p imkit-server-mock --example forward_bench -- \
//!     --protocol chat-json --target ws://127.0.0.1:18224/ws --pairs 5000 --server-pid $PID
//! ```
//! Prints one JSON object with the results on stdout.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::{Buf, BytesMut};
use clap::{Parser, ValueEnum};
use futures_util::{SinkExt, StreamExt};
use imkit_protocols::net::{connect_tcp, connect_ws};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    RawWs,
    RawTcp,
    ChatJson,
    Fishchat,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    protocol: Protocol,
    /// `ws://host:port/path` (raw-ws, chat-json) or `host:port` (raw-tcp; fishchat: the gateway).
    #[arg(long)]
    target: String,
    /// Connection pairs (connections = 2 × pairs).
    #[arg(long, default_value_t = 5000)]
    pairs: usize,
    /// Seconds of measured forwarding, after the warm-up.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// Messages in flight per direction of a pair.
    #[arg(long, default_value_t = 8)]
    window: usize,
    /// Message content bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// The server's pid, to read its RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Spread client connections over 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 16)]
    sources: u8,
    /// raw-tcp only: each receiver answers every delivery with an ack-sized frame (as a
    /// fishchat receiver answers with `P2P_ACK`), which the relay forwards to the sender, who
    /// drops it. So the baseline moves the same frames per message as fishchat does.
    /// `--raw-acks false`: one frame per message, the relay's best case.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    raw_acks: bool,
    /// A name for this run in the JSON (`label`), to tell runs of one protocol apart.
    #[arg(long)]
    label: Option<String>,
    /// Connections being set up at once.
    #[arg(long, default_value_t = 256)]
    parallel: usize,
    /// The server runs under `valgrind --tool=callgrind`: zero its counts as the measured
    /// window opens and dump them as it closes (`callgrind_control`), so the dump holds the
    /// instructions of exactly the messages counted (see `benches/instructions.sh`).
    #[arg(long, requires = "server_pid")]
    callgrind: bool,
}

/// Tries per connection before the run fails.
const CONNECT_ATTEMPTS: u64 = 6;

/// A frame to write: text (WebSocket) or bytes (TCP).
enum Out {
    Text(String),
    Bytes(Vec<u8>),
}

/// One client connection: its writer queue, its setup replies, and where its data frames
/// release window permits.
struct Peer {
    out: mpsc::Sender<Out>,
    control: mpsc::Receiver<String>,
    /// The window of the direction that delivers *to* this peer.
    inbound_window: Arc<OnceLock<Arc<Semaphore>>>,
    id: u64,
}

struct Shared {
    protocol: Protocol,
    /// See `Args::raw_acks` (raw-tcp only).
    raw_acks: bool,
    delivered: AtomicU64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let shared = Arc::new(Shared {
        protocol: args.protocol,
        raw_acks: args.raw_acks && args.protocol == Protocol::RawTcp,
        delivered: AtomicU64::new(0),
    });
    let rss_before = args.server_pid.and_then(rss_kib);

    let target = match args.protocol {
        Protocol::Fishchat => fishchat_lookup(&args.target).await?,
        _ => args.target.clone(),
    };

    // Connect everyone, at most `parallel` at a time.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(args.parallel));
    let mut joins = Vec::new();
    for i in 0..args.pairs * 2 {
        let (gate, shared, target) = (gate.clone(), shared.clone(), target.clone());
        let local = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % args.sources as usize) as u8,
        ));
        joins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            // A connection refused or reset while 10,000 come in (a full accept queue, the
            // last run's sockets still closing) is tried again, a bounded number of times.
            let mut attempt = 1;
            loop {
                match open_peer(&shared, &target, local, i as u64).await {
                    Err(e) if attempt < CONNECT_ATTEMPTS => {
                        eprintln!("connection {i}, attempt {attempt}: {e:#}; trying again");
                        tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                        attempt += 1;
                    }
                    done => break done,
                }
            }
        }));
    }
    let mut peers = Vec::with_capacity(joins.len());
    for join in joins {
        peers.push(join.await??);
    }
    let connect_secs = started.elapsed().as_secs_f64();

    let pairs = pair_up(&shared, &mut peers).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = args.server_pid.and_then(rss_kib);

    // Forward: every direction of every pair keeps `window` messages in flight.
    let content = "x".repeat(args.size);
    let stop = Arc::new(tokio::sync::Notify::new());
    let mut senders = Vec::new();
    for (a, b, session) in &pairs {
        for (from, to) in [(*a, *b), (*b, *a)] {
            let window = Arc::new(Semaphore::new(args.window));
            let _ = peers[to].inbound_window.set(window.clone());
            let frame = data_frame(args.protocol, &peers[from], &peers[to], *session, &content);
            let out = peers[from].out.clone();
            let stop = stop.clone();
            senders.push(tokio::spawn(async move {
                loop {
                    let permit = tokio::select! {
                        p = window.acquire() => p,
                        _ = stop.notified() => return,
                    };
                    let Ok(permit) = permit else { return };
                    permit.forget();
                    let frame = match &frame {
                        Out::Text(t) => Out::Text(t.clone()),
                        Out::Bytes(b) => Out::Bytes(b.clone()),
                    };
                    if out.send(frame).await.is_err() {
                        return;
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;
    if args.callgrind {
        callgrind_control("--zero", args.server_pid).await?;
    }
    let count0 = shared.delivered.load(Ordering::Relaxed);
    let server0 = args.server_pid.map(Usage::of);
    let driver0 = Usage::of_self();
    let machine0 = MachineTicks::read();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    if args.callgrind {
        // Done between the two counts as the zeroing was: the messages forwarded while each
        // command is on its way are left out at one end and counted at the other.
        callgrind_control("--dump=measured", args.server_pid).await?;
    }
    let count1 = shared.delivered.load(Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let server =
        server0.map(|before| Usage::of(args.server_pid.unwrap_or_default()).since(&before));
    let driver = Usage::of_self().since(&driver0);
    let steal = machine0
        .zip(MachineTicks::read())
        .map(|(a, b)| b.steal_percent_since(&a));
    let rss_load = args.server_pid.and_then(rss_kib);
    stop.notify_waiters();
    for s in &senders {
        s.abort();
    }

    let connections = peers.len();
    let per_conn = |rss: Option<u64>| match (rss_before, rss) {
        (Some(b), Some(r)) => Some((r.saturating_sub(b)) as f64 / connections as f64),
        _ => None,
    };
    let report = serde_json::json!({
        "protocol": format!("{:?}", args.protocol),
        "label": args.label,
        "connections": connections,
        "pairs_forwarding": pairs.len(),
        "connect_seconds": connect_secs,
        "server_rss_before_kib": rss_before,
        "server_rss_idle_kib": rss_idle,
        "server_rss_under_load_kib": rss_load,
        "server_rss_per_idle_connection_kib": per_conn(rss_idle),
        "forwarded": count1 - count0,
        "seconds": elapsed,
        "forwarded_per_second": (count1 - count0) as f64 / elapsed,
        "window": args.window,
        "size": args.size,
        "raw_acks": shared.raw_acks,
        "server": server.map(|u| u.per_message(count1 - count0)),
        "driver": driver.per_message(count1 - count0),
        "steal_percent": steal,
    });
    println!("{report}");
    Ok(())
}

/// CPU time of a process, from /proc: what each forwarded message costs, which the other
/// load on the machine moves less than it moves messages per second.
#[derive(Debug, Default)]
struct Usage {
    cpu_us: f64,
}

impl Usage {
    fn of(pid: u32) -> Usage {
        Usage::read(&format!("/proc/{pid}/stat")).unwrap_or_default()
    }

    fn of_self() -> Usage {
        Usage::read("/proc/self/stat").unwrap_or_default()
    }

    fn read(path: &str) -> Option<Usage> {
        let stat = std::fs::read_to_string(path).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 14th and
        // 15th fields, in clock ticks (100 per second on Linux).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        Some(Usage {
            cpu_us: ticks as f64 * 10_000.0,
        })
    }

    fn since(&self, before: &Usage) -> Usage {
        Usage {
            cpu_us: self.cpu_us - before.cpu_us,
        }
    }

    fn per_message(&self, messages: u64) -> serde_json::Value {
        serde_json::json!({ "cpu_us_per_message": self.cpu_us / messages.max(1) as f64 })
    }
}

/// Run `callgrind_control ACTION PID` (off the runtime's threads: it waits for the answer).
async fn callgrind_control(action: &'static str, pid: Option<u32>) -> anyhow::Result<()> {
    let pid = pid.context("--callgrind needs --server-pid")?.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("callgrind_control")
            .args([action, &pid])
            .output()
    })
    .await?
    .context("callgrind_control (from Debian's valgrind package) did not run")?;
    if !out.status.success() {
        bail!(
            "callgrind_control {action} failed ({}): is the server under callgrind? {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The machine's CPU time from /proc/stat, to tell how much of it the hypervisor gave to
/// other guests while we measured (steal): on this shared machine that, more than anything
/// in the code, moves a run's messages per second.
#[derive(Debug, Clone, Copy)]
struct MachineTicks {
    steal: u64,
    total: u64,
}

impl MachineTicks {
    fn read() -> Option<MachineTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        // `cpu  user nice system idle iowait irq softirq steal guest guest_nice`; guest time
        // is already counted in user and nice.
        let ticks: Vec<u64> = stat
            .lines()
            .next()?
            .strip_prefix("cpu ")?
            .split_whitespace()
            .take(8)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        Some(MachineTicks {
            steal: *ticks.get(7)?,
            total: ticks.iter().sum(),
        })
    }

    fn steal_percent_since(&self, before: &MachineTicks) -> f64 {
        let total = self.total.saturating_sub(before.total).max(1);
        100.0 * self.steal.saturating_sub(before.steal) as f64 / total as f64
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn fishchat_lookup(gateway: &str) -> anyhow::Result<String> {
    let mut stream = connect_tcp(gateway, None, Duration::from_secs(5)).await?;
    stream
        .write_all(&fish_frame(r#"{"CmdName":"REQ_MSG_SERVER","Args":[]}"#))
        .await?;
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let mut body = vec![0; u32::from_be_bytes(len).min(4096) as usize];
    stream.read_exact(&mut body).await?;
    let reply: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(reply["Args"][0]
        .as_str()
        .context("gateway reply without an address")?
        .to_owned())
}

fn fish_frame(json: &str) -> Vec<u8> {
    let mut frame = Vec::with_capacity(json.len() + 5);
    frame.extend_from_slice(&(json.len() as u32 + 1).to_be_bytes());
    frame.extend_from_slice(json.as_bytes());
    frame.push(b'\n');
    frame
}

fn data_frame(protocol: Protocol, from: &Peer, to: &Peer, session: u64, content: &str) -> Out {
    match protocol {
        Protocol::RawWs => Out::Text(content.to_owned()),
        Protocol::RawTcp => {
            let mut frame = (content.len() as u32).to_be_bytes().to_vec();
            frame.extend_from_slice(content.as_bytes());
            Out::Bytes(frame)
        }
        Protocol::ChatJson => Out::Text(format!(
            r#"{{"cmd":"DIALOGUE","requestId":"b","senderId":{},"sessionId":{session},"content":"{content}"}}"#,
            from.id
        )),
        Protocol::Fishchat => Out::Bytes(fish_frame(&format!(
            r#"{{"CmdName":"SEND_MESSAGE_P2P","Args":["u{}","{content}","u{}"]}}"#,
            to.id, from.id
        ))),
    }
}

/// Connect and log in one peer; spawn its reader and writer.
async fn open_peer(
    shared: &Arc<Shared>,
    target: &str,
    local: IpAddr,
    index: u64,
) -> anyhow::Result<Peer> {
    let timeout = Duration::from_secs(10);
    let (out_tx, out_rx) = mpsc::channel::<Out>(64);
    let (control_tx, control_rx) = mpsc::channel::<String>(16);
    let inbound_window: Arc<OnceLock<Arc<Semaphore>>> = Arc::default();
    match shared.protocol {
        Protocol::RawWs | Protocol::ChatJson => {
            let ws = connect_ws(target, &[], Some(local), timeout, 64 * 1024).await?;
            let (sink, source) = ws.split();
            tokio::spawn(write_ws(sink, out_rx));
            tokio::spawn(read_ws(
                source,
                shared.clone(),
                out_tx.clone(),
                control_tx,
                inbound_window.clone(),
            ));
        }
        Protocol::RawTcp | Protocol::Fishchat => {
            let stream = connect_tcp(target, Some(local), timeout).await?;
            let (read, write) = stream.into_split();
            tokio::spawn(write_tcp(write, out_rx));
            tokio::spawn(read_tcp(
                read,
                shared.clone(),
                (out_tx.clone(), index),
                control_tx,
                inbound_window.clone(),
            ));
        }
    }
    let mut peer = Peer {
        out: out_tx,
        control: control_rx,
        inbound_window,
        id: index,
    };
    match shared.protocol {
        Protocol::ChatJson => {
            peer.send_text(format!(r#"{{"cmd":"CRT_ACCOUNT","nickName":"b{index}"}}"#))
                .await?;
            let reply = peer.expect("CRT_ACCOUNT").await?;
            let value: serde_json::Value = serde_json::from_str(&reply)?;
            peer.id = value["accountId"]
                .as_u64()
                .context("CRT_ACCOUNT without accountId")?;
        }
        Protocol::Fishchat => {
            peer.out
                .send(Out::Bytes(fish_frame(&format!(
                    r#"{{"CmdName":"SEND_CLIENT_ID","Args":["u{index}"]}}"#
                ))))
                .await?;
        }
        Protocol::RawWs | Protocol::RawTcp => {}
    }
    Ok(peer)
}

impl Peer {
    async fn send_text(&self, text: String) -> anyhow::Result<()> {
        self.out.send(Out::Text(text)).await?;
        Ok(())
    }

    /// The next setup reply containing `needle`, within 30 s. Generous: on a busy machine the
    /// server's accept queue overflows while 10,000 connections come in, and the kernel's
    /// retries of those handshakes back off for seconds (seen as `TcpExtListenOverflows`).
    async fn expect(&mut self, needle: &str) -> anyhow::Result<String> {
        let wait = async {
            while let Some(reply) = self.control.recv().await {
                if reply.contains(needle) {
                    return Ok(reply);
                }
            }
            bail!("connection closed while waiting for {needle}")
        };
        tokio::time::timeout(Duration::from_secs(30), wait)
            .await
            .with_context(|| format!("no {needle} within 30 s"))?
    }
}

/// Form pairs: (index a, index b, session id). Raw modes pair 2i with 2i+1 through the relay;
/// chat-json asks the server to MATCH; fishchat addresses users by id.
async fn pair_up(shared: &Shared, peers: &mut [Peer]) -> anyhow::Result<Vec<(usize, usize, u64)>> {
    let mut pairs = Vec::new();
    match shared.protocol {
        Protocol::RawWs | Protocol::RawTcp => {
            for i in 0..peers.len() / 2 {
                for k in [2 * i, 2 * i + 1] {
                    let hello = format!("pair {i}");
                    let out = match shared.protocol {
                        Protocol::RawWs => Out::Text(hello),
                        _ => Out::Bytes(format!("{hello}\n").into_bytes()),
                    };
                    peers[k].out.send(out).await?;
                }
            }
            for i in 0..peers.len() / 2 {
                peers[2 * i].expect("ok").await?;
                peers[2 * i + 1].expect("ok").await?;
                pairs.push((2 * i, 2 * i + 1, 0));
            }
        }
        Protocol::Fishchat => {
            for i in 0..peers.len() / 2 {
                pairs.push((2 * i, 2 * i + 1, 0));
            }
        }
        Protocol::ChatJson => {
            let by_account: std::collections::HashMap<u64, usize> =
                peers.iter().enumerate().map(|(i, p)| (p.id, i)).collect();
            let mut paired = vec![false; peers.len()];
            for i in 0..peers.len() {
                if paired[i] {
                    continue;
                }
                let me = peers[i].id;
                peers[i]
                    .send_text(format!(r#"{{"cmd":"MATCH","accountId":{me}}}"#))
                    .await?;
                let reply = peers[i].expect(r#""cmd":"MATCH""#).await?;
                let value: serde_json::Value = serde_json::from_str(&reply)?;
                if value["code"].as_i64() != Some(0) {
                    continue;
                }
                let partner = value["partnerId"].as_u64().unwrap_or_default();
                let session = value["sessionId"].as_u64().unwrap_or_default();
                if let Some(&j) = by_account.get(&partner)
                    && !paired[j]
                    && j != i
                {
                    paired[i] = true;
                    paired[j] = true;
                    pairs.push((i, j, session));
                }
            }
        }
    }
    Ok(pairs)
}

fn count_delivery(shared: &Shared, window: &OnceLock<Arc<Semaphore>>) {
    shared.delivered.fetch_add(1, Ordering::Relaxed);
    if let Some(window) = window.get() {
        window.add_permits(1);
    }
}

async fn write_ws(
    mut sink: futures_util::stream::SplitSink<imkit_protocols::net::WsStream, Message>,
    mut out: mpsc::Receiver<Out>,
) {
    while let Some(first) = out.recv().await {
        let mut next = Some(first);
        // Feed everything queued, then flush once.
        while let Some(frame) = next {
            let message = match frame {
                Out::Text(t) => Message::text(t),
                Out::Bytes(b) => Message::binary(b),
            };
            if sink.feed(message).await.is_err() {
                return;
            }
            next = out.try_recv().ok();
        }
        if sink.flush().await.is_err() {
            return;
        }
    }
}

async fn read_ws(
    mut source: futures_util::stream::SplitStream<imkit_protocols::net::WsStream>,
    shared: Arc<Shared>,
    out: mpsc::Sender<Out>,
    control: mpsc::Sender<String>,
    window: Arc<OnceLock<Arc<Semaphore>>>,
) {
    while let Some(Ok(message)) = source.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let text = text.as_str();
        match shared.protocol {
            // The relay's reply to our own message (`ws-replies`): nothing to do.
            Protocol::RawWs if text.starts_with('.') => {}
            // The relay's keepalive: answered at once, as a chat-json PING.
            Protocol::RawWs if text.starts_with('?') => {
                let answer = text.replace('?', "!");
                if out.send(Out::Text(answer)).await.is_err() {
                    return;
                }
            }
            Protocol::RawWs if window.get().is_some() => count_delivery(&shared, &window),
            Protocol::ChatJson if text.starts_with(r#"{"cmd":"PUSH_DIALOGUE""#) => {
                count_delivery(&shared, &window)
            }
            Protocol::ChatJson if text.starts_with(r#"{"cmd":"PING""#) => {
                let pong = text.replacen("PING", "PONG", 1);
                if out.send(Out::Text(pong)).await.is_err() {
                    return;
                }
            }
            // The accept of our own DIALOGUE: nothing to do.
            Protocol::ChatJson if text.starts_with(r#"{"cmd":"DIALOGUE""#) => {}
            _ => {
                let _ = control.try_send(text.to_owned());
            }
        }
    }
}

async fn write_tcp(mut write: tokio::net::tcp::OwnedWriteHalf, mut out: mpsc::Receiver<Out>) {
    let mut buffer = Vec::with_capacity(4096);
    while let Some(first) = out.recv().await {
        let mut next = Some(first);
        while let Some(frame) = next {
            match frame {
                Out::Text(t) => buffer.extend_from_slice(t.as_bytes()),
                Out::Bytes(b) => buffer.extend_from_slice(&b),
            }
            next = if buffer.len() < 64 * 1024 {
                out.try_recv().ok()
            } else {
                None
            };
        }
        if write.write_all(&buffer).await.is_err() {
            return;
        }
        buffer.clear();
    }
}

/// Reads frames; a fishchat delivery is acknowledged (`P2P_ACK [me, uuid]`) as the original
/// client does, so the server can let go of it.
async fn read_tcp(
    mut read: tokio::net::tcp::OwnedReadHalf,
    shared: Arc<Shared>,
    (out, me): (mpsc::Sender<Out>, u64),
    control: mpsc::Sender<String>,
    window: Arc<OnceLock<Arc<Semaphore>>>,
) {
    let mut buffer = BytesMut::with_capacity(4096);
    let ack_head = format!(r#"{{"CmdName":"P2P_ACK","Args":["u{me}",""#);
    loop {
        match read.read_buf(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        // Raw TCP: a text `ok\n` first, then u32-length frames; fishchat: u32-length frames.
        if shared.protocol == Protocol::RawTcp
            && window.get().is_none()
            && let Some(end) = buffer.iter().position(|b| *b == b'\n')
        {
            let line = String::from_utf8_lossy(&buffer[..end]).into_owned();
            buffer.advance(end + 1);
            let _ = control.try_send(line);
        }
        while buffer.len() >= 4 {
            let len = u32::from_be_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]) as usize;
            if len > 1 << 20 {
                return;
            }
            if buffer.len() < 4 + len {
                break;
            }
            let body = &buffer[4..4 + len];
            let is_delivery = match shared.protocol {
                Protocol::Fishchat => body.starts_with(br#"{"CmdName":"RESP_MESSAGE_P2P""#),
                // The partner's ack of what we sent: dropped, as a fishchat sender gets none.
                Protocol::RawTcp if body.first() == Some(&RAW_ACK[4]) => {
                    buffer.advance(4 + len);
                    continue;
                }
                _ => true,
            };
            if is_delivery {
                count_delivery(&shared, &window);
                if shared.raw_acks && out.send(Out::Bytes(RAW_ACK.to_vec())).await.is_err() {
                    return;
                }
                if let Some(uuid) = last_string_arg(body)
                    && shared.protocol == Protocol::Fishchat
                    && out
                        .send(Out::Bytes(p2p_ack(ack_head.as_bytes(), uuid)))
                        .await
                        .is_err()
                {
                    return;
                }
            } else {
                let _ = control.try_send(String::from_utf8_lossy(body).into_owned());
            }
            buffer.advance(4 + len);
        }
    }
}

/// raw-tcp's ack: a frame as long as a fishchat `P2P_ACK` (`{"CmdName":"P2P_ACK","Args":
/// ["u123","<uuid>"]}` + newline, 72 bytes), marked by a first byte no data frame starts with.
const RAW_ACK: [u8; 76] = {
    let mut frame = [b'.'; 76];
    frame[0] = 0;
    frame[1] = 0;
    frame[2] = 0;
    frame[3] = 72;
    frame[4] = 0;
    frame
};

/// The last string of a `{"CmdName":…,"Args":[…,"x"]}` body (a fishchat uuid), as bytes:
/// the driver's cost per message should be the protocol's, not its own.
fn last_string_arg(body: &[u8]) -> Option<&[u8]> {
    let end = body.windows(2).rposition(|w| w == b"\"]")?;
    let start = body[..end].iter().rposition(|&b| b == b'"')? + 1;
    Some(&body[start..end])
}

/// `P2P_ACK ["u<me>", "<uuid>"]`, framed: `head` (all before the uuid) is made once per
/// connection, so a message costs no `format!` (the relay's ack is a constant).
fn p2p_ack(head: &[u8], uuid: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(4 + head.len() + uuid.len() + 3);
    frame.extend_from_slice(&[0; 4]);
    frame.extend_from_slice(head);
    frame.extend_from_slice(uuid);
    frame.extend_from_slice(b"\"]}\n");
    let len = (frame.len() - 4) as u32;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    frame
}
