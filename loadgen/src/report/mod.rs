//! The results of a run (what `--json` writes, what `merge` reads) and its renderings.

pub mod hdr_log;
pub mod html;
pub mod json;
pub mod junit;
pub mod summary;

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::ledger::LedgerCounts;
use crate::metrics::{Interval, TimelinePoint};
use crate::resources::{self, Resources};
use crate::shard::Shard;
use crate::thresholds::{LedgerField, Metric, Stat, StepMetric, Threshold, Verdict};

/// Bumped when a key changes meaning or goes away.
pub const SCHEMA: &str = "imkit-loadgen/1";

/// Everything a run measured. Serialised as the `--json` file (schema in the README).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Report {
    pub schema: String,
    pub scenario: String,
    pub dialect: String,
    pub target: String,
    /// Whether loadgen ran its own server-mock.
    pub embedded_server: bool,
    pub shard: Shard,
    pub duration_s: f64,
    pub passed: bool,
    pub thresholds: Vec<Verdict>,
    pub users: Users,
    pub steps: BTreeMap<String, StepReport>,
    pub errors: Errors,
    pub ledger: LedgerCounts,
    /// Delivered messages per second over the run.
    pub throughput: f64,
    pub timeline: Vec<TimelinePoint>,
    /// What loadgen itself cost (absent where `/proc` is not there).
    pub resources: Option<Resources>,
    /// loadgen CPU ms per 1,000 messages, each sent and received once.
    pub cpu_ms_per_1000_messages: Option<f64>,
    /// Peak RSS over the most users online at once, KiB.
    pub rss_kib_per_user: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Users {
    pub started: u64,
    pub max_online: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Errors {
    pub total: u64,
    pub operations: u64,
    /// `total / operations`.
    pub rate: f64,
    pub by_kind: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepReport {
    pub count: u64,
    pub errors: u64,
    pub min_us: Option<u64>,
    pub mean_us: Option<f64>,
    pub p50_us: Option<u64>,
    pub p90_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p999_us: Option<u64>,
    pub max_us: Option<u64>,
    /// The whole histogram, HdrHistogram V2 deflate, hex (what `loadgen merge` adds up).
    pub histogram: String,
}

impl StepReport {
    pub fn from_histogram(h: &Histogram<u64>, errors: u64) -> StepReport {
        let mut step = StepReport::summary(h, errors);
        step.histogram = encode_histogram(h);
        step
    }

    /// The figures without the encoded histogram (deflating every step's histogram once a
    /// second cost more than all the messages of a small run).
    pub fn summary(h: &Histogram<u64>, errors: u64) -> StepReport {
        // Each figure walks the buckets: none for an empty histogram.
        let some = |f: &dyn Fn(&Histogram<u64>) -> u64| (!h.is_empty()).then(|| f(h));
        StepReport {
            count: h.len(),
            errors,
            min_us: some(&|h| h.min()),
            mean_us: (!h.is_empty()).then(|| h.mean()),
            p50_us: some(&|h| h.value_at_quantile(0.5)),
            p90_us: some(&|h| h.value_at_quantile(0.9)),
            p99_us: some(&|h| h.value_at_quantile(0.99)),
            p999_us: some(&|h| h.value_at_quantile(0.999)),
            max_us: some(&|h| h.max()),
            histogram: String::new(),
        }
    }

    pub fn histogram(&self) -> Option<Histogram<u64>> {
        decode_histogram(&self.histogram)
    }
}

pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    let _ = V2DeflateSerializer::new().serialize(h, &mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn decode_histogram(hex: &str) -> Option<Histogram<u64>> {
    if !hex.len().is_multiple_of(2) || hex.len() > 64 * 1024 * 1024 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Deserializer::new().deserialize(&mut bytes?.as_slice()).ok()
}

/// What the report is built from.
pub struct RunFacts<'a> {
    pub scenario: &'a str,
    pub dialect: &'a str,
    pub target: &'a str,
    pub embedded_server: bool,
    pub shard: Shard,
    pub duration_s: f64,
    pub started: u64,
    pub max_online: i64,
}

impl Report {
    pub fn build(
        facts: &RunFacts<'_>,
        totals: &Interval,
        timeline: Vec<TimelinePoint>,
        thresholds: &[Threshold],
    ) -> Report {
        Report::build_with(facts, totals, timeline, thresholds, |_| true)
    }

    /// The report as it stands during the run (the live view, once a second): histograms
    /// are encoded only for steps whose thresholds need more than the stored percentiles.
    pub fn build_live(
        facts: &RunFacts<'_>,
        totals: &Interval,
        timeline: Vec<TimelinePoint>,
        thresholds: &[Threshold],
    ) -> Report {
        Report::build_with(facts, totals, timeline, thresholds, |step| {
            thresholds.iter().any(|t| {
                matches!(t.metric, Metric::Step(s, Stat::Percentile(q))
                    if s == step && !matches!(q, 500 | 900 | 990 | 999))
            })
        })
    }

    fn build_with(
        facts: &RunFacts<'_>,
        totals: &Interval,
        timeline: Vec<TimelinePoint>,
        thresholds: &[Threshold],
        encode: impl Fn(StepMetric) -> bool,
    ) -> Report {
        let steps = StepMetric::ALL
            .iter()
            .map(|s| {
                let (h, errors) = (totals.step(*s), totals.step_errors[s.index()]);
                let step = if encode(*s) {
                    StepReport::from_histogram(h, errors)
                } else {
                    StepReport::summary(h, errors)
                };
                (s.name().to_owned(), step)
            })
            .collect();
        let total = totals.error_total();
        let mut ledger = totals.ledger;
        ledger.settle();
        let mut report = Report {
            schema: SCHEMA.into(),
            scenario: facts.scenario.into(),
            dialect: facts.dialect.into(),
            target: facts.target.into(),
            embedded_server: facts.embedded_server,
            shard: facts.shard,
            duration_s: facts.duration_s,
            passed: true,
            thresholds: Vec::new(),
            users: Users {
                started: facts.started,
                max_online: facts.max_online,
            },
            steps,
            errors: Errors {
                total,
                operations: totals.operations,
                rate: ratio(total, totals.operations),
                by_kind: totals.errors.clone(),
            },
            ledger,
            throughput: if facts.duration_s > 0.0 {
                ledger.delivered as f64 / facts.duration_s
            } else {
                0.0
            },
            timeline,
            resources: None,
            cpu_ms_per_1000_messages: None,
            rss_kib_per_user: None,
        };
        report.judge(thresholds);
        report
    }

    /// Attach what the run cost and derive the per-message and per-user figures.
    pub fn set_resources(&mut self, cost: Resources) {
        let messages = resources::messages(self.ledger.sent, self.ledger.delivered);
        self.cpu_ms_per_1000_messages = (messages > 0.0).then(|| cost.cpu_ms * 1000.0 / messages);
        self.rss_kib_per_user = (self.users.max_online > 0)
            .then(|| cost.peak_rss_kib as f64 / self.users.max_online as f64);
        self.resources = Some(cost);
    }

    /// Judge every threshold against this report (sets `passed`).
    pub fn judge(&mut self, thresholds: &[Threshold]) {
        self.thresholds = thresholds
            .iter()
            .map(|t| t.judge(self.value(t.metric)))
            .collect();
        self.passed = self.thresholds.iter().all(|v| v.passed);
    }

    /// A metric's value in its canonical unit; `None` when nothing was measured.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Step(step, stat) => {
                let s = self.steps.get(step.name())?;
                let v = match stat {
                    Stat::Count => return Some(s.count as f64),
                    Stat::Errors => return Some(s.errors as f64),
                    Stat::Mean => return s.mean_us,
                    Stat::Min => s.min_us,
                    Stat::Max => s.max_us,
                    Stat::Percentile(500) => s.p50_us,
                    Stat::Percentile(900) => s.p90_us,
                    Stat::Percentile(990) => s.p99_us,
                    Stat::Percentile(999) => s.p999_us,
                    Stat::Percentile(q) => {
                        let h = s.histogram().filter(|h| !h.is_empty())?;
                        Some(h.value_at_quantile(f64::from(q) / 1000.0))
                    }
                };
                v.map(|v| v as f64)
            }
            Metric::ErrorsRate => Some(self.errors.rate),
            Metric::ErrorsCount => Some(self.errors.total as f64),
            Metric::Ledger(field) => Some(ledger_field(&self.ledger, field) as f64),
            Metric::LedgerRate(field) => Some(ratio(
                ledger_field(&self.ledger, field),
                self.ledger.expected.max(self.ledger.sent),
            )),
            Metric::Throughput => Some(self.throughput),
            Metric::UsersMax => Some(self.users.max_online as f64),
        }
    }
}

pub fn ledger_field(l: &LedgerCounts, field: LedgerField) -> u64 {
    match field {
        LedgerField::Sent => l.sent,
        LedgerField::Accepted => l.accepted,
        LedgerField::Expected => l.expected,
        LedgerField::Delivered => l.delivered,
        LedgerField::Lost => l.lost,
        LedgerField::Duplicated => l.duplicated,
        LedgerField::Reordered => l.reordered,
        LedgerField::Misdelivered => l.misdelivered,
        LedgerField::Late => l.late,
    }
}

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

/// `loadgen merge`: add the shards' results up and judge the thresholds on the whole.
pub fn merge(reports: &[Report]) -> Result<Report, String> {
    let first = reports.first().ok_or("nothing to merge")?;
    let mut merged = first.clone();
    let mut totals = Interval::default();
    let mut by_second: BTreeMap<u64, TimelinePoint> = BTreeMap::new();
    let mut thresholds = Vec::new();
    for v in &first.thresholds {
        thresholds.push(
            Threshold::parse(&v.metric, &v.condition)
                .map_err(|e| format!("threshold {}: {e}", v.metric))?,
        );
    }
    merged.users = Users {
        started: 0,
        max_online: 0,
    };
    merged.duration_s = 0.0;
    for r in reports {
        if r.schema != SCHEMA {
            return Err(format!("schema {:?}, expected {SCHEMA:?}", r.schema));
        }
        for step in StepMetric::ALL {
            let s = r
                .steps
                .get(step.name())
                .ok_or_else(|| format!("no step {}", step.name()))?;
            let h = s
                .histogram()
                .ok_or_else(|| format!("step {}: unreadable histogram", step.name()))?;
            totals.steps[step.index()]
                .add(&h)
                .map_err(|e| format!("{e:?}"))?;
            totals.step_errors[step.index()] += s.errors;
        }
        for (k, n) in &r.errors.by_kind {
            *totals.errors.entry(k.clone()).or_default() += n;
        }
        totals.operations += r.errors.operations;
        totals.ledger.add(&r.ledger);
        merged.users.started += r.users.started;
        merged.duration_s = merged.duration_s.max(r.duration_s);
        for p in &r.timeline {
            let e = by_second
                .entry(p.t_s.round() as u64)
                .or_insert(TimelinePoint {
                    t_s: p.t_s.round(),
                    users_online: 0,
                    sent_per_s: 0.0,
                    delivered_per_s: 0.0,
                    errors_per_s: 0.0,
                    deliver_p50_us: None,
                    deliver_p99_us: None,
                });
            e.users_online += p.users_online;
            e.sent_per_s += p.sent_per_s;
            e.delivered_per_s += p.delivered_per_s;
            e.errors_per_s += p.errors_per_s;
            // Per-second percentiles do not add up: keep the worst shard's (an upper bound).
            e.deliver_p50_us = e.deliver_p50_us.max(p.deliver_p50_us);
            e.deliver_p99_us = e.deliver_p99_us.max(p.deliver_p99_us);
        }
    }
    let timeline: Vec<_> = by_second.into_values().collect();
    let max_online = timeline
        .iter()
        .map(|p| p.users_online)
        .max()
        .unwrap_or(0)
        .max(
            reports
                .iter()
                .map(|r| r.users.max_online)
                .max()
                .unwrap_or(0),
        );
    let facts = RunFacts {
        scenario: &first.scenario,
        dialect: &first.dialect,
        target: &first.target,
        embedded_server: first.embedded_server,
        shard: Shard::WHOLE,
        duration_s: merged.duration_s,
        started: merged.users.started,
        max_online,
    };
    let mut whole = Report::build(&facts, &totals, timeline, &thresholds);
    // Shards are separate processes: their costs add up, and so do their peaks of users.
    if reports.iter().all(|r| r.resources.is_some()) {
        let cost = reports.iter().filter_map(|r| r.resources).fold(
            Resources {
                cpu_ms: 0.0,
                peak_rss_kib: 0,
                server_in_process: false,
            },
            |a, r| Resources {
                cpu_ms: a.cpu_ms + r.cpu_ms,
                peak_rss_kib: a.peak_rss_kib + r.peak_rss_kib,
                server_in_process: a.server_in_process || r.server_in_process,
            },
        );
        let peaks: i64 = reports.iter().map(|r| r.users.max_online).sum();
        whole.set_resources(cost);
        whole.rss_kib_per_user = (peaks > 0).then(|| cost.peak_rss_kib as f64 / peaks as f64);
    }
    Ok(whole)
}
