//! The floor under loadgen's CPU per message: what the kernel and tokio alone cost for the
//! traffic shape of `scenarios/10k.toml` (thousands of connections, each sending one small
//! message at a steady pace and reading its partner's), with no protocol, marker, ledger or
//! histogram. It talks to server-mock's bare relay (`baseline_relay tcp`), one task per
//! connection as loadgen has one per virtual user, and prints its own CPU per 1,000 messages
//! (each sent once and received once) over the measured window.
//!
//! ```sh
//! cargo build --release -p imkit-server-mock --example baseline_relay
//! cargo build --release -p imkit-loadgen --example paced_floor
//! target/release/examples/baseline_relay tcp 127.0.0.1:0 &      # prints its address
//! target/release/examples/paced_floor --target 127.0.0.1:PORT --pairs 5000 --rate 1
//! ```

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use imkit_protocols::net::connect_tcp;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

#[derive(Debug, Parser)]
struct Args {
    /// The bare relay's `host:port`.
    #[arg(long)]
    target: String,
    /// Connection pairs (connections = 2 × pairs).
    #[arg(long, default_value_t = 5000)]
    pairs: u64,
    /// Messages per second each connection sends.
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Seconds measured, after every connection is up and a warm-up second.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Message bytes.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Spread connections over 127.0.0.1 ..= 127.0.0.N.
    #[arg(long, default_value_t = 32)]
    sources: u8,
    /// Run on one current-thread runtime instead of tokio's multi-thread one.
    #[arg(long)]
    current_thread: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.rate <= 0.0 {
        bail!("--rate must be above 0");
    }
    let runtime = if args.current_thread {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Runtime::new()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let received = Arc::new(AtomicU64::new(0));
    let connections = args.pairs * 2;
    let period = Duration::from_secs_f64(1.0 / args.rate);
    let payload = Bytes::from(vec![b'x'; args.size]);
    let mut streams = Vec::with_capacity(connections as usize);
    for i in 0..connections {
        let local = IpAddr::V4(Ipv4Addr::new(
            127,
            0,
            0,
            1 + (i % u64::from(args.sources.max(1))) as u8,
        ));
        let mut stream = connect_tcp(&args.target, Some(local), Duration::from_secs(10))
            .await
            .with_context(|| format!("connection {i} to {}", args.target))?;
        stream
            .write_all(format!("pair {}\n", i / 2).as_bytes())
            .await?;
        streams.push(BufReader::new(stream));
    }
    // Every connection starts at its own offset in the period: a steady load, not bursts.
    let start = Instant::now() + Duration::from_secs(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, mut stream) in streams.into_iter().enumerate() {
        let offset = period.mul_f64(i as f64 / connections as f64);
        let received = received.clone();
        let payload = payload.clone();
        tasks.spawn(async move {
            let mut ok = String::new();
            if stream.read_line(&mut ok).await.is_err() || ok.trim() != "ok" {
                return;
            }
            let codec = LengthDelimitedCodec::builder()
                .length_field_length(4)
                .max_frame_length(64 * 1024)
                .new_codec();
            let mut framed = Framed::new(stream.into_inner(), codec);
            let mut ticks = interval_at(start + offset, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {
                        if framed.send(payload.clone()).await.is_err() {
                            return;
                        }
                    }
                    frame = framed.next() => match frame {
                        Some(Ok(_)) => {
                            received.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => return,
                    },
                }
            }
        });
    }
    let now = Instant::now();
    if now < start {
        sleep(start - now).await;
    }
    sleep(Duration::from_secs(1)).await;
    let (cpu0, n0, t0) = (
        cpu_seconds(),
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    sleep(Duration::from_secs(args.seconds)).await;
    let (cpu1, n1, t1) = (
        cpu_seconds(),
        received.load(Ordering::Relaxed),
        Instant::now(),
    );
    let messages = n1 - n0;
    let (user, system) = (cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
    let per_1000 = |s: f64| s * 1e3 / (messages.max(1) as f64 / 1000.0);
    println!(
        "{}",
        serde_json::json!({
            "connections": connections,
            "runtime": if args.current_thread { "current_thread" } else { "multi_thread" },
            "rate_per_connection": args.rate,
            "messages": messages,
            "messages_per_second": messages as f64 / (t1 - t0).as_secs_f64(),
            "cpu_ms_per_1000_messages": per_1000(user + system),
            "user_ms_per_1000_messages": per_1000(user),
            "system_ms_per_1000_messages": per_1000(system),
        })
    );
    tasks.abort_all();
    Ok(())
}

/// This process's user and system CPU seconds so far (`/proc/self/stat`).
fn cpu_seconds() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Clock ticks are 1/100 s on Linux (USER_HZ).
    (ticks(11) / 100.0, ticks(12) / 100.0)
}
