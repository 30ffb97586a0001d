//! Measurements: one HdrHistogram (µs) per timed step, errors by kind, ledger counters.
//! Recorded per worker thread into a [`Recorder`] that only that thread and the once-a-second
//! tick touch (no channel send per message: the bottleneck oha and goose hit), merged per tick.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::ledger::LedgerCounts;
use crate::thresholds::StepMetric;

/// The largest latency kept: an hour, in µs (larger values are clamped).
pub const HIGHEST_US: u64 = 3_600_000_000;

pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("static bounds are valid")
}

/// What one worker thread measured since the last tick.
pub struct Recorder {
    pub steps: Vec<Histogram<u64>>,
    pub step_errors: [u64; StepMetric::ALL.len()],
    pub errors: Vec<(&'static str, u64)>,
    pub operations: u64,
    pub ledger: LedgerCounts,
}

impl Recorder {
    fn new() -> Recorder {
        Recorder {
            steps: StepMetric::ALL.iter().map(|_| new_histogram()).collect(),
            step_errors: [0; StepMetric::ALL.len()],
            errors: Vec::new(),
            operations: 0,
            ledger: LedgerCounts::default(),
        }
    }

    pub fn latency(&mut self, step: StepMetric, micros: u64) {
        let _ = self.steps[step.index()].record(micros.clamp(1, HIGHEST_US));
    }

    /// An error of `kind` (a short snake_case word), charged to `step` if it belongs to one.
    pub fn error(&mut self, kind: &'static str, step: Option<StepMetric>) {
        if let Some(step) = step {
            self.step_errors[step.index()] += 1;
        }
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) => *n += 1,
            None => self.errors.push((kind, 1)),
        }
    }
}

static NEXT_RUN: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// This thread's recorder for each live run (tests run several runs in one process).
    static LOCAL: RefCell<Vec<(u64, Arc<Mutex<Recorder>>)>> = const { RefCell::new(Vec::new()) };
}

/// The measurements of one run: the per-thread recorders, and users online.
pub struct Metrics {
    id: u64,
    workers: Mutex<Vec<Arc<Mutex<Recorder>>>>,
    pub online: AtomicI64,
    /// The most users online at once.
    pub peak: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            id: NEXT_RUN.fetch_add(1, Ordering::Relaxed),
            workers: Mutex::new(Vec::new()),
            online: AtomicI64::new(0),
            peak: AtomicI64::new(0),
        }
    }
}

impl Metrics {
    /// One more user online (and the peak follows).
    pub fn came_online(&self) {
        let now = self.online.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Record into this thread's recorder (created on first use).
    pub fn with<R>(&self, f: impl FnOnce(&mut Recorder) -> R) -> R {
        LOCAL.with(|local| {
            // Borrowed, not cloned, on the way (several times per message): the recorder
            // is this thread's, uncontended but for the tick.
            let at = local.borrow().iter().position(|(id, _)| *id == self.id);
            let at = at.unwrap_or_else(|| {
                let mut local = local.borrow_mut();
                // Forget recorders of runs that are over (only this thread still holds them).
                local.retain(|(_, r)| Arc::strong_count(r) > 1);
                let r = Arc::new(Mutex::new(Recorder::new()));
                self.workers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(r.clone());
                local.push((self.id, r));
                local.len() - 1
            });
            let local = local.borrow();
            let mut guard = local[at].1.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut guard)
        })
    }

    /// Move everything recorded since the last call into `interval` (which is reset first).
    pub fn drain_into(&self, interval: &mut Interval) {
        interval.reset();
        let workers = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for worker in workers {
            let mut r = worker.lock().unwrap_or_else(|e| e.into_inner());
            for (into, from) in interval.steps.iter_mut().zip(r.steps.iter_mut()) {
                if !from.is_empty() {
                    let _ = into.add(&*from);
                    from.reset();
                }
            }
            for (into, from) in interval
                .step_errors
                .iter_mut()
                .zip(r.step_errors.iter_mut())
            {
                *into += std::mem::take(from);
            }
            for (kind, n) in r.errors.drain(..) {
                *interval.errors.entry(kind.to_owned()).or_default() += n;
            }
            interval.operations += std::mem::take(&mut r.operations);
            interval.ledger.add(&std::mem::take(&mut r.ledger));
        }
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        // Release the recorders so threads forget them on their next run.
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Measurements over some span (one tick, or the whole run).
pub struct Interval {
    pub steps: Vec<Histogram<u64>>,
    pub step_errors: [u64; StepMetric::ALL.len()],
    pub errors: BTreeMap<String, u64>,
    pub operations: u64,
    pub ledger: LedgerCounts,
}

impl Default for Interval {
    fn default() -> Self {
        Interval {
            steps: StepMetric::ALL.iter().map(|_| new_histogram()).collect(),
            step_errors: [0; StepMetric::ALL.len()],
            errors: BTreeMap::new(),
            operations: 0,
            ledger: LedgerCounts::default(),
        }
    }
}

impl Interval {
    pub fn reset(&mut self) {
        // A reset clears every bucket (~180 KB): only where something was recorded.
        self.steps
            .iter_mut()
            .filter(|h| !h.is_empty())
            .for_each(Histogram::reset);
        self.step_errors = [0; StepMetric::ALL.len()];
        self.errors.clear();
        self.operations = 0;
        self.ledger = LedgerCounts::default();
    }

    pub fn add(&mut self, other: &Interval) {
        for (into, from) in self.steps.iter_mut().zip(&other.steps) {
            if !from.is_empty() {
                let _ = into.add(from);
            }
        }
        for (into, from) in self.step_errors.iter_mut().zip(other.step_errors) {
            *into += from;
        }
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
        self.operations += other.operations;
        self.ledger.add(&other.ledger);
    }

    pub fn step(&self, step: StepMetric) -> &Histogram<u64> {
        &self.steps[step.index()]
    }

    pub fn error_total(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// One second of the run, for the timeline.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelinePoint {
    /// Seconds since the start, at the end of this interval.
    pub t_s: f64,
    pub users_online: i64,
    pub sent_per_s: f64,
    pub delivered_per_s: f64,
    pub errors_per_s: f64,
    /// send→deliver latency percentiles in this interval (null if nothing was delivered).
    pub deliver_p50_us: Option<u64>,
    pub deliver_p99_us: Option<u64>,
}

impl TimelinePoint {
    pub fn from_interval(t_s: f64, seconds: f64, users_online: i64, i: &Interval) -> TimelinePoint {
        let per_s = |n: u64| {
            if seconds > 0.0 {
                n as f64 / seconds
            } else {
                0.0
            }
        };
        let deliver = i.step(StepMetric::Deliver);
        let pct = |q: f64| (!deliver.is_empty()).then(|| deliver.value_at_quantile(q));
        TimelinePoint {
            t_s,
            users_online,
            sent_per_s: per_s(i.ledger.sent),
            delivered_per_s: per_s(i.ledger.delivered),
            errors_per_s: per_s(i.error_total()),
            deliver_p50_us: pct(0.5),
            deliver_p99_us: pct(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recordings_from_many_threads_merge_exactly_once() {
        let metrics = Arc::new(Metrics::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let m = metrics.clone();
                std::thread::spawn(move || {
                    for i in 0..1000u64 {
                        m.with(|r| {
                            r.latency(StepMetric::Deliver, 100 + i);
                            r.ledger.sent += 1;
                            r.operations += 1;
                        });
                    }
                    m.with(|r| r.error("connect_failed", Some(StepMetric::Connect)));
                    t
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut tick = Interval::default();
        metrics.drain_into(&mut tick);
        assert_eq!(tick.step(StepMetric::Deliver).len(), 4000);
        assert_eq!(tick.ledger.sent, 4000);
        assert_eq!(tick.errors.get("connect_failed"), Some(&4));
        assert_eq!(tick.step_errors[StepMetric::Connect.index()], 4);
        // A second drain sees nothing new.
        metrics.drain_into(&mut tick);
        assert_eq!(tick.step(StepMetric::Deliver).len(), 0);
        assert_eq!(tick.ledger.sent, 0);
    }
}
