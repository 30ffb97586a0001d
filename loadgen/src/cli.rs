//! Command-line arguments and what the binary does with them.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result, exit};
use crate::report::{self, Report};
use crate::run::{RunOptions, run};
use crate::scenario::{Overrides, Scenario};
use crate::shard::Shard;

const EXIT_CODES: &str = "Exit codes:
  0  every threshold passed
  1  a threshold failed
  2  bad arguments or scenario
  3  the run could not be done (target unreachable, aborted, output not writable)";

/// Scenario-driven load on IM servers, with honest latency and an exact message ledger.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, after_help = EXIT_CODES, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// The scenario to run (TOML).
    pub scenario: Option<PathBuf>,
    /// The server to load (else the scenario's; with neither, an embedded server-mock).
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The dialect to speak (chat-json, simple-im, fishchat, fishchat-text, newim, eutamias).
    #[arg(long, value_name = "NAME")]
    pub dialect: Option<String>,
    /// Users (closed model: the peak, stages scaled; open model: the most at once).
    #[arg(long)]
    pub users: Option<u32>,
    /// How long to hold the load (closed) or keep arrivals coming (open), e.g. 2m.
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Message rate for every send step: per user (2/s) or in total (total:20000/s).
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,
    /// Faults for the embedded server-mock, as server-mock's --chaos: drop-delivery=1%,
    /// drop-connection=0.001, latency=5ms..50ms (comma-separated).
    #[arg(long, value_name = "SPEC")]
    pub chaos: Option<String>,
    /// Where the embedded server-mock runs: auto (in this process when both ends of every
    /// connection fit under the open-file limit, else a child process), inline, child.
    #[arg(long, value_name = "WHERE", default_value = "auto")]
    pub embedded: crate::embedded::Placement,
    /// Run slice i of n (0-based) of the users; combine the JSON results with `loadgen merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Threads running the virtual users, each a single-threaded runtime with its share of
    /// the users [default: the number of cores]; 0: on the shared multi-threaded runtime.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=1024))]
    pub threads: Option<u16>,
    /// No live view: a progress line on stderr every few seconds.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub outputs: Outputs,
}

#[derive(Debug, clap::Args, Default)]
pub struct Outputs {
    /// Write the results as JSON (schema in the README).
    #[arg(long, value_name = "FILE", global = true)]
    pub json: Option<PathBuf>,
    /// Write one JUnit test case per threshold.
    #[arg(long, value_name = "FILE", global = true)]
    pub junit: Option<PathBuf>,
    /// Write a self-contained HTML report with plots.
    #[arg(long, value_name = "FILE", global = true)]
    pub html: Option<PathBuf>,
    /// Write an HdrHistogram interval log (one entry per step per second).
    #[arg(long, value_name = "FILE")]
    pub hdr_log: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Combine the JSON results of shards and judge the thresholds on the whole.
    Merge {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// (Internal) the embedded server-mock in a child process, for runs too big to hold both
    /// ends of every connection in one process. Prints `listening ADDRESS`, stops at stdin EOF.
    #[command(hide = true)]
    ServeEmbedded {
        #[arg(long)]
        dialect: String,
        #[arg(long)]
        chaos: Option<String>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

/// Run what the arguments ask; the exit code.
pub async fn main(cli: Cli) -> Result<u8> {
    let report = match &cli.command {
        Some(Command::Merge { files }) => {
            let reports = files
                .iter()
                .map(|f| report::json::read(f))
                .collect::<Result<Vec<_>>>()?;
            report::merge(&reports).map_err(|e| Error::Usage(format!("cannot merge: {e}")))?
        }
        Some(Command::ServeEmbedded {
            dialect,
            chaos,
            seed,
        }) => {
            let dialect =
                dialect
                    .parse()
                    .map_err(|e: imkit_protocols::dialect::UnknownDialect| {
                        Error::Usage(format!("--dialect: {e}"))
                    })?;
            let chaos = parse_chaos(chaos.as_deref())?.unwrap_or_default();
            let plan = crate::embedded::Plan {
                dialect,
                chaos,
                seed: *seed,
            };
            crate::embedded::serve(plan).await?;
            return Ok(exit::PASSED);
        }
        None => run_scenario(&cli).await?,
    };
    print!("{}", report::summary::render(&report));
    write_outputs(&report, &cli.outputs)?;
    Ok(if report.passed {
        exit::PASSED
    } else {
        exit::THRESHOLD_FAILED
    })
}

fn overrides(cli: &Cli) -> Result<Overrides> {
    Ok(Overrides {
        target: cli.target.clone(),
        dialect: cli.dialect.as_deref().map(str::parse).transpose().map_err(
            |e: imkit_protocols::dialect::UnknownDialect| Error::Usage(format!("--dialect: {e}")),
        )?,
        users: cli.users,
        duration: cli
            .duration
            .as_deref()
            .map(crate::units::parse_duration)
            .transpose()
            .map_err(|e| Error::Usage(format!("--duration: {e}")))?,
        rate: cli.rate.clone(),
        chaos: parse_chaos(cli.chaos.as_deref())?,
    })
}

fn parse_chaos(text: Option<&str>) -> Result<Option<imkit_server_mock::ChaosConfig>> {
    text.map(str::parse)
        .transpose()
        .map_err(|e: String| Error::Usage(format!("--chaos: {e}")))
}

async fn run_scenario(cli: &Cli) -> Result<Report> {
    let path = cli.scenario.as_ref().ok_or_else(|| {
        Error::Usage("give a scenario file: loadgen SCENARIO.toml (see --help)".into())
    })?;
    let shard = cli
        .shard
        .as_deref()
        .map(str::parse::<Shard>)
        .transpose()
        .map_err(Error::Usage)?;
    let scenario = Scenario::load(path, &overrides(cli)?)?;
    let (tx, rx) = watch::channel(Default::default());
    let abort = CancellationToken::new();
    let interactive = !cli.quiet && std::io::stdout().is_terminal();
    let view = if interactive {
        let (rx, abort) = (rx, abort.clone());
        Some(tokio::task::spawn_blocking(move || {
            crate::live::view(rx, abort)
        }))
    } else {
        tokio::spawn(crate::live::progress(rx, Duration::from_secs(3)));
        None
    };
    let ctrl_c = {
        let abort = abort.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                abort.cancel();
            }
        })
    };
    let options = RunOptions {
        shard,
        hdr_log: cli.outputs.hdr_log.is_some(),
        placement: cli.embedded,
        threads: match cli.threads {
            None => Some(crate::workers::default_count()),
            Some(0) => None,
            Some(n) => Some(usize::from(n)),
        },
    };
    let outcome = run(scenario, options, tx, abort).await;
    ctrl_c.abort();
    if let Some(view) = view {
        let _ = view.await;
    }
    let outcome = outcome?;
    if let (Some(path), Some(log)) = (&cli.outputs.hdr_log, &outcome.hdr_log) {
        std::fs::write(path, log).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
    }
    Ok(outcome.report)
}

fn write_outputs(report: &Report, outputs: &Outputs) -> Result<()> {
    if let Some(path) = &outputs.json {
        report::json::write(report, path)?;
    }
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })
    };
    if let Some(path) = &outputs.junit {
        write(path, report::junit::render(report))?;
    }
    if let Some(path) = &outputs.html {
        write(path, report::html::render(report))?;
    }
    Ok(())
}
