//! The embedded server-mock, for runs with no target: in this process when both ends of
//! every connection fit under the open-file limit, else in a child process (this same binary,
//! `loadgen serve-embedded`), because 10,000 users held in one process would be 20,000
//! sockets, over the 20,000 files a process may open here. The child also keeps the server's
//! CPU and memory out of loadgen's own figures.

use std::process::Stdio;
use std::time::Duration;

use imkit_protocols::Dialect;
use imkit_server_mock::{ChaosConfig, Server, ServerConfig};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStdin};

use crate::error::{Error, Result};

/// Files this process keeps for itself besides the users' sockets (listeners, runtime,
/// lookups in flight, outputs).
const HEADROOM: u64 = 512;
/// What the child prints first on stdout, followed by the dialect's client address.
const READY: &str = "listening ";
/// The longest wait for the child to say where it listens.
const CHILD_START: Duration = Duration::from_secs(15);

/// Where to run the embedded server (`--embedded`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// In this process when both ends of every connection fit under the open-file limit,
    /// else in a child process.
    #[default]
    Auto,
    /// Always in this process.
    Inline,
    /// Always in a child process (loadgen's own CPU and memory figures then leave the
    /// server out).
    Child,
}

/// Where the embedded server runs.
pub enum Embedded {
    InProcess(Server),
    /// Dropping `stdin` tells the child to stop; `kill_on_drop` is the backstop.
    Child {
        child: Child,
        stdin: ChildStdin,
    },
}

/// Whether `peak_users` (each one connection on each end) fit in this process together with
/// their server.
pub fn fits_in_process(peak_users: u64, open_file_limit: Option<u64>) -> bool {
    let limit = open_file_limit.unwrap_or(1024);
    peak_users.saturating_mul(2).saturating_add(HEADROOM) <= limit
}

/// What the embedded server should do: a dialect, faults, and the scenario's seed (so the
/// same scenario draws the same partners and drops the same share of deliveries).
#[derive(Debug, Clone)]
pub struct Plan {
    pub dialect: Dialect,
    pub chaos: ChaosConfig,
    pub seed: u64,
}

fn config(plan: &Plan) -> ServerConfig {
    let mut config = ServerConfig::ephemeral(&[plan.dialect]);
    config.hub.chaos = plan.chaos.clone();
    config.hub.seed = Some(plan.seed);
    config
}

impl Embedded {
    /// Start a server-mock for `dialect`; its client address.
    pub async fn start(
        plan: &Plan,
        peak_users: u64,
        placement: Placement,
    ) -> Result<(Embedded, String)> {
        let (dialect, chaos) = (plan.dialect, &plan.chaos);
        let limit = imkit_server_mock::listener::open_file_limit();
        let inline = match placement {
            Placement::Auto => fits_in_process(peak_users, limit),
            Placement::Inline => true,
            Placement::Child => false,
        };
        if inline {
            let server = Server::start(config(plan))
                .await
                .map_err(|e| Error::EmbeddedServer(describe(&e)))?;
            let address = server
                .client_address(dialect)
                .ok_or_else(|| Error::EmbeddedServer(format!("it has no {dialect} listener")))?;
            eprintln!(
                "loadgen: no target given: started an embedded server-mock in this process, {dialect} at {address}"
            );
            return Ok((Embedded::InProcess(server), address));
        }
        let exe = std::env::current_exe()
            .map_err(|e| Error::EmbeddedServer(format!("cannot find my own binary: {e}")))?;
        let mut command = tokio::process::Command::new(exe);
        command
            .arg("serve-embedded")
            .arg("--dialect")
            .arg(dialect.name())
            .arg("--seed")
            .arg(plan.seed.to_string());
        if !chaos.is_off() {
            command.arg("--chaos").arg(chaos_text(chaos));
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::EmbeddedServer(format!("cannot start a child process: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::EmbeddedServer("the child has no pipes".into()));
        };
        let mut first = String::new();
        let mut stdout = BufReader::new(stdout.take(4096));
        let read = stdout.read_line(&mut first);
        match tokio::time::timeout(CHILD_START, read).await {
            Ok(Ok(n)) if n > 0 => {}
            Ok(_) => {
                return Err(Error::EmbeddedServer(
                    "the child process stopped before listening (its error is above)".into(),
                ));
            }
            Err(_) => {
                return Err(Error::EmbeddedServer(format!(
                    "the child process said nothing within {CHILD_START:?}"
                )));
            }
        }
        let address = first
            .trim()
            .strip_prefix(READY)
            .ok_or_else(|| Error::EmbeddedServer(format!("the child said {first:?}")))?
            .to_owned();
        let why = if placement == Placement::Child {
            "as asked".to_owned()
        } else {
            format!(
                "{peak_users} users need {} sockets on the two ends, over this process's \
                 open-file limit of {}",
                peak_users * 2,
                limit.unwrap_or(1024)
            )
        };
        eprintln!(
            "loadgen: no target given: started an embedded server-mock in a child process \
             (pid {}; {why}), {dialect} at {address}",
            child.id().unwrap_or(0),
        );
        Ok((Embedded::Child { child, stdin }, address))
    }

    pub fn in_process(&self) -> bool {
        matches!(self, Embedded::InProcess(_))
    }

    /// Stop the server (bounded).
    pub async fn shutdown(self) {
        match self {
            Embedded::InProcess(server) => {
                report_chaos(server.hub().stats().chaos_dropped_deliveries);
                server.shutdown().await;
            }
            Embedded::Child { mut child, stdin } => {
                drop(stdin);
                if tokio::time::timeout(Duration::from_secs(15), child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.kill().await;
                }
            }
        }
    }
}

fn report_chaos(dropped: u64) {
    if dropped > 0 {
        eprintln!(
            "loadgen: the embedded server-mock dropped {dropped} deliveries on purpose (chaos)"
        );
    }
}

fn describe(e: &imkit_server_mock::ServerError) -> String {
    match e.hint() {
        Some(hint) => format!("{e} ({hint})"),
        None => e.to_string(),
    }
}

/// `ChaosConfig` back in `--chaos` syntax, for the child's command line.
fn chaos_text(chaos: &ChaosConfig) -> String {
    let mut parts = Vec::new();
    if let Some(l) = chaos.latency {
        parts.push(format!(
            "latency={}us..{}us",
            l.min.as_micros(),
            l.max.as_micros()
        ));
    }
    if chaos.drop_connection > 0.0 {
        parts.push(format!("drop-connection={}", chaos.drop_connection));
    }
    if chaos.drop_delivery > 0.0 {
        parts.push(format!("drop-delivery={}", chaos.drop_delivery));
    }
    parts.join(",")
}

/// `loadgen serve-embedded`: serve `dialect` on 127.0.0.1 (a free port), say where on stdout,
/// and stop when stdin closes (the parent is done or gone).
pub async fn serve(plan: Plan) -> Result<()> {
    let dialect = plan.dialect;
    let server = Server::start(config(&plan))
        .await
        .map_err(|e| Error::EmbeddedServer(describe(&e)))?;
    let address = server
        .client_address(dialect)
        .ok_or_else(|| Error::EmbeddedServer(format!("it has no {dialect} listener")))?;
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{READY}{address}");
        let _ = out.flush();
    }
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 64];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
    report_chaos(server.hub().stats().chaos_dropped_deliveries);
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_users_do_not_fit_with_their_server_under_twenty_thousand_files() {
        assert!(!fits_in_process(10_000, Some(20_000)));
        assert!(fits_in_process(9_000, Some(20_000)));
        assert!(fits_in_process(200, None));
        assert!(!fits_in_process(400, None));
    }

    #[test]
    fn chaos_survives_the_trip_to_the_child() {
        let chaos: ChaosConfig = "latency=5ms..50ms,drop-connection=0.001,drop-delivery=1%"
            .parse()
            .unwrap();
        let again: ChaosConfig = chaos_text(&chaos).parse().unwrap();
        assert_eq!(again, chaos);
        assert_eq!(chaos_text(&ChaosConfig::default()), "");
    }
}
