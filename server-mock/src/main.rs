//! `server-mock`: parse the command line, set up logging, run the library's server.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use imkit_protocols::Dialect;
use imkit_server_mock::cli::{ListenSpec, listen_plan};
use imkit_server_mock::duration::parse_duration;
use imkit_server_mock::hub::AccountsFile;
use imkit_server_mock::{ChaosConfig, Server, ServerConfig, ServerError};

/// Messages are allocated on one worker thread and freed on another (the sender's task
/// builds them, the receiver's writes them): glibc's malloc then contends on the arena's
/// lock (futex calls on the forwarding path), mimalloc frees across threads without one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A reference IM server speaking the five imkit dialects. With no arguments it serves every
/// dialect at the originals' ports on 127.0.0.1 and prints `listening <dialect> <url>` for
/// each one.
#[derive(Debug, Parser)]
#[command(name = "server-mock", version)]
struct Args {
    /// Serve this dialect at its original port (repeatable): chat-json, simple-im, fishchat,
    /// fishchat-text, newim, eutamias.
    #[arg(long = "dialect", value_name = "NAME")]
    dialects: Vec<Dialect>,
    /// Serve a dialect at an address (repeatable): DIALECT=IP:PORT (port 0 picks a free
    /// one); DIALECT.ROLE=ADDR places a second listener (simple-im.tcp, fishchat.msg_server…).
    #[arg(long = "listen", value_name = "DIALECT=ADDR")]
    listens: Vec<ListenSpec>,
    /// Users, passwords and groups (TOML, `[[user]]` tables); unknown users and wrong
    /// passwords are then refused. Without it users are created on first login.
    #[arg(long, value_name = "FILE")]
    accounts: Option<PathBuf>,
    /// Faults on demand: latency=20ms or latency=5ms..50ms, drop-connection=RATE,
    /// drop-delivery=RATE (rates as 0.01 or 1%), comma-separated.
    #[arg(long, value_name = "SPEC")]
    chaos: Option<ChaosConfig>,
    /// Seed of every random choice (partners, tokens, uuids, chaos): the same seed replays them.
    #[arg(long)]
    seed: Option<u64>,
    /// At most this many client connections (always kept below the open-file limit).
    #[arg(long, value_name = "N")]
    max_connections: Option<usize>,
    /// Events queued for one connection before it counts as too slow and is dropped.
    #[arg(long, value_name = "N", default_value_t = 1024)]
    outbound_capacity: usize,
    /// Close a connection that sends nothing for this long (0: never).
    #[arg(long, value_parser = parse_duration, default_value = "10m")]
    idle_timeout: Duration,
    /// From accept to a usable connection.
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    handshake_timeout: Duration,
    /// Close a connection whose client takes nothing we write for this long.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    write_timeout: Duration,
    /// chat: period of the server's PING.
    #[arg(long, value_parser = parse_duration, default_value = "500ms")]
    chat_ping_interval: Duration,
    /// chat: log out a client that has not answered PONG for this long.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    chat_max_wait: Duration,
    /// fishchat: period of the dead-session scan.
    #[arg(long, value_parser = parse_duration, default_value = "50s")]
    fishchat_scan: Duration,
    /// eutamias: log out a client whose heartbeats stop for this long.
    #[arg(long, value_parser = parse_duration, default_value = "9s")]
    eutamias_heartbeat_timeout: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("server-mock: {e:#}");
            if let Some(hint) = e.downcast_ref::<ServerError>().and_then(ServerError::hint) {
                eprintln!("  {hint}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let config = config(&args)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        server
            .run_until_signal()
            .await
            .context("cannot listen for SIGINT/SIGTERM")
    })
}

fn config(args: &Args) -> anyhow::Result<ServerConfig> {
    let plan = listen_plan(&args.dialects, &args.listens);
    let mut config = ServerConfig {
        listen: plan.first,
        endpoints: plan.others,
        max_connections: args.max_connections,
        announce: true,
        ..ServerConfig::default()
    };
    config.hub.accounts = args
        .accounts
        .as_deref()
        .map(AccountsFile::load)
        .transpose()?;
    config.hub.chaos = args.chaos.clone().unwrap_or_default();
    config.hub.seed = args.seed;
    config.hub.outbound_capacity = args.outbound_capacity;
    config.limits.idle_timeout = Some(args.idle_timeout).filter(|d| !d.is_zero());
    config.limits.handshake_timeout = args.handshake_timeout;
    config.limits.write_timeout = args.write_timeout;
    config.timers.chat_ping_interval = args.chat_ping_interval;
    config.timers.chat_max_wait = args.chat_max_wait;
    config.timers.fishchat_scan = args.fishchat_scan;
    config.timers.eutamias_heartbeat_timeout = args.eutamias_heartbeat_timeout;
    Ok(config)
}
