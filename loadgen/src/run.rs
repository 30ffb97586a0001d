//! A run: start (or reach) the server, release virtual users on the load model's schedule,
//! tick once a second (merge the workers' measurements, extend the timeline, update the
//! view), stop, drain what is still on its way, and build the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use crate::embedded::{Embedded, Placement, Plan};
use crate::resources::{self, Resources};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::error::{Error, Result};
use crate::ledger::window_words;
use crate::live::Snapshot;
use crate::load_model::{Layout, closed_slots, layout_users, open_slots};
use crate::metrics::{Interval, Metrics, TimelinePoint};
use crate::report::hdr_log::IntervalRecord;
use crate::report::{Report, RunFacts};
use crate::roster::Roster;
use crate::scenario::{CredentialSource, LoadModel, Scenario};
use crate::shard::Shard;
use crate::transport::{Drivers, Transport};
use crate::units::Rate;
use crate::virtual_user::{RunContext, VirtualUser};
use crate::workers::Workers;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub shard: Option<Shard>,
    /// Keep interval histograms for `--hdr-log`.
    pub hdr_log: bool,
    /// Where an embedded server-mock runs.
    pub placement: Placement,
    /// Run the users on this many single-threaded runtimes of their own (see [`Workers`]);
    /// `None`: on the caller's runtime.
    pub threads: Option<usize>,
}

/// What a run produced.
pub struct Outcome {
    pub report: Report,
    /// The HdrHistogram interval log, when asked for.
    pub hdr_log: Option<Vec<u8>>,
}

/// Run a scenario with the real drivers: against its target, or an embedded server-mock.
/// `snapshots` receives the state once a second (for the live view or progress line);
/// cancelling `abort` stops the run.
pub async fn run(
    scenario: Scenario,
    options: RunOptions,
    snapshots: watch::Sender<Snapshot>,
    abort: CancellationToken,
) -> Result<Outcome> {
    let dialect = scenario.target.dialect;
    let (address, server) = match &scenario.target.address {
        Some(address) => (address.clone(), None),
        None => {
            let peak = u64::from(scenario.peak_users());
            let plan = Plan {
                dialect,
                chaos: scenario.target.chaos.clone(),
                seed: scenario.seed,
            };
            let (server, address) = Embedded::start(&plan, peak, options.placement).await?;
            (address, Some(server))
        }
    };
    let embedded = server.is_some();
    let in_process = server.as_ref().is_some_and(Embedded::in_process);
    let mut outcome = run_with(
        Arc::new(scenario),
        Drivers,
        address,
        embedded,
        options,
        snapshots,
        abort,
    )
    .await;
    if let Ok(outcome) = &mut outcome
        && let Some(cost) = &mut outcome.report.resources
    {
        cost.server_in_process = in_process;
    }
    if let Some(server) = server {
        server.shutdown().await;
    }
    outcome
}

/// Run with any transport (tests use an in-memory one).
pub async fn run_with<T: Transport>(
    scenario: Arc<Scenario>,
    transport: T,
    address: String,
    embedded: bool,
    options: RunOptions,
    snapshots: watch::Sender<Snapshot>,
    abort: CancellationToken,
) -> Result<Outcome> {
    let shard = options.shard.unwrap_or(Shard::WHOLE);
    let users = layout_users(&scenario);
    let layout = Layout::new(&scenario.behaviours, users);
    let slots = match &scenario.load.model {
        LoadModel::Closed { stages, .. } => closed_slots(stages, &layout, shard),
        LoadModel::Open {
            arrival_rate,
            arrivals,
            duration,
            ..
        } => open_slots(
            arrival_rate.0,
            *arrivals,
            *duration,
            &layout,
            shard,
            scenario.seed,
        ),
    };
    let users_file = match &scenario.target.credentials {
        CredentialSource::File(path) => read_users(path)?,
        _ => Vec::new(),
    };
    let fastest = scenario
        .load
        .forced_rate
        .or(scenario.load.per_user_rate)
        .unwrap_or(Rate(1.0))
        .0
        .max(10.0);
    let run_id = (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u32)
        ^ (shard.index << 24);
    let loopback_target = address.contains("127.") || address.contains("localhost");
    let epoch = Instant::now();
    let ctx = Arc::new(RunContext {
        scenario: scenario.clone(),
        transport,
        address: address.clone(),
        loopback_target,
        metrics: Arc::new(Metrics::default()),
        roster: Roster::new(layout.users as usize),
        layout,
        users_file,
        epoch,
        run: run_id,
        stop: CancellationToken::new(),
        finish: CancellationToken::new(),
        done: AtomicU32::new(0),
        reached: AtomicU32::new(0),
        connect_failures: AtomicU32::new(0),
        first_failure: std::sync::OnceLock::new(),
        window_words: window_words(fastest, scenario.ledger.loss_timeout),
    });

    // Release users on schedule.
    let workers = options
        .threads
        .map(Workers::start)
        .transpose()
        .map_err(|e| Error::Aborted(format!("cannot start the user threads: {e}")))?;
    let spawned = Arc::new(AtomicU32::new(0));
    let spawner_done = CancellationToken::new();
    let max_online = match &scenario.load.model {
        LoadModel::Open { max_users, .. } => Some(i64::from(*max_users)),
        LoadModel::Closed { .. } => None,
    };
    let spawner = {
        let handles: Option<Vec<_>> = workers.as_ref().map(|w| {
            (0..w.count() as u32)
                .map(|i| w.for_user(i).clone())
                .collect()
        });
        let ctx = ctx.clone();
        let spawned = spawned.clone();
        let spawner_done = spawner_done.clone();
        tokio::spawn(async move {
            let mut users = JoinSet::new();
            for slot in slots {
                tokio::select! {
                    _ = sleep_until(epoch + slot.start) => {}
                    _ = ctx.stop.cancelled() => break,
                }
                if max_online.is_some_and(|max| ctx.metrics.online.load(Ordering::Relaxed) >= max) {
                    ctx.metrics.with(|r| r.error("arrival_dropped", None));
                    continue;
                }
                if let Some(vu) =
                    VirtualUser::new(ctx.clone(), slot.index, slot.stop.map(|s| epoch + s))
                {
                    spawned.fetch_add(1, Ordering::AcqRel);
                    match &handles {
                        Some(h) => users.spawn_on(vu.run(), &h[slot.index as usize % h.len()]),
                        None => users.spawn(vu.run()),
                    };
                }
                // Reap finished users so the set stays small.
                while users.try_join_next().is_some() {}
            }
            spawner_done.cancel();
            while users.join_next().await.is_some() {}
        })
    };

    // Tick once a second until the end.
    let load_end = scenario.load_duration().map(|d| epoch + d);
    let mut ticker =
        tokio::time::interval_at(epoch + Duration::from_secs(1), Duration::from_secs(1));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut tick = Interval::default();
    let mut totals = Interval::default();
    let mut timeline = Vec::new();
    let mut hdr = options.hdr_log.then(IntervalRecord::default);
    let mut last_tick = epoch;
    let mut peak = 0i64;
    let mut drain_until: Option<Instant> = None;
    let mut aborted = false;
    let mut take_tick = |totals: &mut Interval,
                         timeline: &mut Vec<TimelinePoint>,
                         hdr: &mut Option<IntervalRecord>,
                         last_tick: &mut Instant,
                         peak: &mut i64| {
        let now = Instant::now();
        ctx.metrics.drain_into(&mut tick);
        let online = ctx.metrics.online.load(Ordering::Relaxed).max(0);
        *peak = (*peak)
            .max(online)
            .max(ctx.metrics.peak.load(Ordering::Relaxed));
        let seconds = (now - *last_tick).as_secs_f64();
        timeline.push(TimelinePoint::from_interval(
            (now - epoch).as_secs_f64(),
            seconds,
            online,
            &tick,
        ));
        if let Some(hdr) = hdr {
            hdr.push(*last_tick - epoch, now - *last_tick, &tick.steps);
        }
        totals.add(&tick);
        *last_tick = now;
    };
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = abort.cancelled(), if !aborted => {
                aborted = true;
                ctx.stop.cancel();
                ctx.finish.cancel();
            }
        }
        take_tick(
            &mut totals,
            &mut timeline,
            &mut hdr,
            &mut last_tick,
            &mut peak,
        );
        let now = Instant::now();
        let all_done = spawner_done.is_cancelled()
            && ctx.done.load(Ordering::Acquire) >= spawned.load(Ordering::Acquire);
        if !ctx.stop.is_cancelled() && (load_end.is_some_and(|end| now >= end) || all_done) {
            ctx.stop.cancel();
        }
        if ctx.stop.is_cancelled() && drain_until.is_none() {
            drain_until = Some(now + scenario.ledger.drain);
        }
        let phase = match drain_until {
            None if now < epoch + slots_ramp(&scenario) => "ramp",
            None => "load",
            Some(_) if aborted => "aborted",
            Some(_) => "drain",
        };
        let report = build(
            &scenario,
            &address,
            embedded,
            shard,
            &totals,
            &timeline,
            spawned.load(Ordering::Relaxed),
            peak,
            (now - epoch).as_secs_f64(),
            true,
        );
        let _ = snapshots.send(Snapshot::new(
            phase,
            &report,
            timeline.last().copied(),
            scenario.peak_users(),
        ));
        // The drain ends when every owed delivery is accounted for, or at its time limit.
        let l = &totals.ledger;
        let settled = l.delivered + l.late >= l.expected
            && ctx.done.load(Ordering::Acquire) >= spawned.load(Ordering::Acquire);
        if aborted || drain_until.is_some_and(|until| now >= until || settled) {
            break;
        }
    }
    ctx.stop.cancel();
    ctx.finish.cancel();
    // Users log out; bounded, so a stuck connection cannot hold the report hostage.
    let _ = tokio::time::timeout(
        Duration::from_secs(10) + scenario.target.connect_timeout,
        spawner,
    )
    .await;
    take_tick(
        &mut totals,
        &mut timeline,
        &mut hdr,
        &mut last_tick,
        &mut peak,
    );
    drop(workers);
    if aborted {
        return Err(Error::Aborted("stopped by the user before the end".into()));
    }
    if ctx.reached.load(Ordering::Relaxed) == 0 && ctx.connect_failures.load(Ordering::Relaxed) > 0
    {
        return Err(Error::Unreachable {
            address,
            dialect: scenario.target.dialect.to_string(),
            reason: ctx.first_failure.get().cloned().unwrap_or_default(),
        });
    }
    let duration_s = (last_tick - epoch).as_secs_f64();
    let mut report = build(
        &scenario,
        &address,
        embedded,
        shard,
        &totals,
        &timeline,
        spawned.load(Ordering::Relaxed),
        peak,
        duration_s,
        false,
    );
    if let (Some(cpu_ms), Some(peak_rss_kib)) = (resources::cpu_ms(), resources::peak_rss_kib()) {
        report.set_resources(Resources {
            cpu_ms,
            peak_rss_kib,
            // `run` says whether its embedded server was in this process; a caller's own
            // transport (tests) lives here.
            server_in_process: embedded,
        });
    }
    let started_at = SystemTime::now() - epoch.elapsed();
    Ok(Outcome {
        report,
        hdr_log: hdr.map(|h| h.render(started_at)),
    })
}

fn slots_ramp(scenario: &Scenario) -> Duration {
    match &scenario.load.model {
        LoadModel::Closed { stages, .. } if stages.len() > 1 => stages[0].over.0,
        _ => Duration::ZERO,
    }
}

#[allow(clippy::too_many_arguments)]
fn build(
    scenario: &Scenario,
    address: &str,
    embedded: bool,
    shard: Shard,
    totals: &Interval,
    timeline: &[TimelinePoint],
    started: u32,
    peak: i64,
    duration_s: f64,
    live: bool,
) -> Report {
    let facts = RunFacts {
        scenario: &scenario.name,
        dialect: scenario.target.dialect.name(),
        target: address,
        embedded_server: embedded,
        shard,
        duration_s,
        started: u64::from(started),
        max_online: peak,
    };
    let thresholds = &scenario.thresholds;
    if live {
        Report::build_live(&facts, totals, timeline.to_vec(), thresholds)
    } else {
        Report::build(&facts, totals, timeline.to_vec(), thresholds)
    }
}

/// A users file: one `user[,password[,device]]` per line; `#` comments.
fn read_users(path: &std::path::Path) -> Result<Vec<imkit_protocols::Credentials>> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let users: Vec<_> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut f = l.split(',').map(str::trim);
            imkit_protocols::Credentials {
                user: f.next().map(imkit_protocols::UserId::from),
                secret: f.next().map(str::to_owned),
                device: f.next().map(str::to_owned),
                nick: None,
            }
        })
        .collect();
    if users.is_empty() {
        return Err(Error::Usage(format!(
            "{}: no users in the file (one user[,password[,device]] per line)",
            path.display()
        )));
    }
    Ok(users)
}
