//! Thresholds: `"deliver.p99" = "< 50ms"`, `"errors.rate" = "< 0.1%"`, `"lost" = "== 0"`.
//! Parsed with the scenario, judged once at the end, reported one by one.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::units::{parse_duration, split_unit};

/// The timed steps: one HdrHistogram each, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepMetric {
    /// The whole connect: lookup hop, dial and login.
    Connect,
    /// The lookup hop that names the server (fishchat, simple-im, eutamias).
    Lookup,
    /// The login exchange, from its first byte to the server's answer.
    Login,
    Match,
    /// From a message's intended send time to the server's accept.
    Accept,
    /// From a message's intended send time to its arrival at the recipient.
    Deliver,
    /// From a delivery to our acknowledgement of it being handed to the connection.
    Ack,
    /// From a message's intended send time to its read receipt back at the sender.
    Read,
    /// From a lost (or dropped) connection to being online again.
    Reconnect,
}

impl StepMetric {
    pub const ALL: [StepMetric; 9] = [
        StepMetric::Connect,
        StepMetric::Lookup,
        StepMetric::Login,
        StepMetric::Match,
        StepMetric::Accept,
        StepMetric::Deliver,
        StepMetric::Ack,
        StepMetric::Read,
        StepMetric::Reconnect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StepMetric::Connect => "connect",
            StepMetric::Lookup => "lookup",
            StepMetric::Login => "login",
            StepMetric::Match => "match",
            StepMetric::Accept => "accept",
            StepMetric::Deliver => "deliver",
            StepMetric::Ack => "ack",
            StepMetric::Read => "read",
            StepMetric::Reconnect => "reconnect",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn parse(name: &str) -> Option<StepMetric> {
        StepMetric::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A statistic of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// A percentile, in thousandths (p99 = 990, p999 = 999).
    Percentile(u32),
    Max,
    Min,
    Mean,
    Count,
    Errors,
}

/// The counters of the message ledger a threshold can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerField {
    Sent,
    Accepted,
    Expected,
    Delivered,
    Lost,
    Duplicated,
    Reordered,
    Misdelivered,
    Late,
}

impl LedgerField {
    const ALL: [(LedgerField, &'static str); 9] = [
        (LedgerField::Sent, "sent"),
        (LedgerField::Accepted, "accepted"),
        (LedgerField::Expected, "expected"),
        (LedgerField::Delivered, "delivered"),
        (LedgerField::Lost, "lost"),
        (LedgerField::Duplicated, "duplicated"),
        (LedgerField::Reordered, "reordered"),
        (LedgerField::Misdelivered, "misdelivered"),
        (LedgerField::Late, "late"),
    ];

    pub fn name(self) -> &'static str {
        LedgerField::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |(_, n)| n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Step(StepMetric, Stat),
    /// Errors of every kind over operations attempted.
    ErrorsRate,
    ErrorsCount,
    Ledger(LedgerField),
    /// A ledger count over the messages expected (`lost.rate`).
    LedgerRate(LedgerField),
    /// Delivered messages per second, over the whole run.
    Throughput,
    /// The most users online at once.
    UsersMax,
}

/// What unit a metric is in, which decides how a threshold's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Microseconds; written with a duration unit.
    Latency,
    Count,
    /// A fraction; written as a percentage (`0.1%`) or a fraction (`0.001`).
    Ratio,
    PerSecond,
}

impl Metric {
    pub fn quantity(self) -> Quantity {
        match self {
            Metric::Step(_, Stat::Count | Stat::Errors) => Quantity::Count,
            Metric::Step(..) => Quantity::Latency,
            Metric::ErrorsRate | Metric::LedgerRate(_) => Quantity::Ratio,
            Metric::ErrorsCount | Metric::Ledger(_) | Metric::UsersMax => Quantity::Count,
            Metric::Throughput => Quantity::PerSecond,
        }
    }

    pub fn parse(name: &str) -> Result<Metric, String> {
        let unknown = || {
            format!(
                "unknown metric {name:?}; metrics are <step>.<stat> with step one of {} and stat one of p50, p75, p90, p95, p99, p999, min, max, mean, count, errors; or errors.rate, errors.count, {}, <ledger>.rate, throughput, users.max",
                StepMetric::ALL.map(|s| s.name()).join(", "),
                LedgerField::ALL.map(|(_, n)| n).join(", ")
            )
        };
        match name {
            "errors.rate" => return Ok(Metric::ErrorsRate),
            "errors" | "errors.count" => return Ok(Metric::ErrorsCount),
            "throughput" => return Ok(Metric::Throughput),
            "users.max" => return Ok(Metric::UsersMax),
            _ => {}
        }
        let (head, tail) = match name.split_once('.') {
            Some((h, t)) => (h, Some(t)),
            None => (name, None),
        };
        if let Some((field, _)) = LedgerField::ALL.iter().find(|(_, n)| *n == head) {
            return match tail {
                None | Some("count") => Ok(Metric::Ledger(*field)),
                Some("rate") => Ok(Metric::LedgerRate(*field)),
                Some(_) => Err(unknown()),
            };
        }
        let step = StepMetric::parse(head).ok_or_else(unknown)?;
        let stat = match tail.ok_or_else(unknown)? {
            "max" => Stat::Max,
            "min" => Stat::Min,
            "mean" => Stat::Mean,
            "count" => Stat::Count,
            "errors" => Stat::Errors,
            "p999" => Stat::Percentile(999),
            p => {
                let n: u32 = p
                    .strip_prefix('p')
                    .and_then(|d| d.parse().ok())
                    .filter(|n| (1..=99).contains(n))
                    .ok_or_else(unknown)?;
                Stat::Percentile(n * 10)
            }
        };
        Ok(Metric::Step(step, stat))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Le => actual <= limit,
            Op::Gt => actual > limit,
            Op::Ge => actual >= limit,
            Op::Eq => actual == limit,
            Op::Ne => actual != limit,
        }
    }
}

/// One parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// The metric as written (`deliver.p99`).
    pub key: String,
    /// The condition as written (`< 50ms`).
    pub condition: String,
    pub metric: Metric,
    pub op: Op,
    /// In the metric's canonical unit: µs, a count, a fraction, per second.
    pub limit: f64,
}

impl Threshold {
    /// Parse `key = condition`. Errors name what is allowed.
    pub fn parse(key: &str, condition: &str) -> Result<Threshold, String> {
        let metric = Metric::parse(key.trim())?;
        let text = condition.trim();
        let (op, rest) = [
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<", Op::Lt),
            (">", Op::Gt),
        ]
        .into_iter()
        .find_map(|(sym, op)| text.strip_prefix(sym).map(|rest| (op, rest.trim())))
        .ok_or_else(|| {
            format!(
                "{condition:?} is not a condition; write an operator (<, <=, >, >=, ==, !=) and a value, e.g. \"< 50ms\""
            )
        })?;
        let limit = parse_limit(metric.quantity(), key, rest)?;
        Ok(Threshold {
            key: key.trim().to_owned(),
            condition: text.to_owned(),
            metric,
            op,
            limit,
        })
    }

    /// Judge against the run's value of the metric. No value (a latency with no samples)
    /// fails: a threshold nothing was measured for proves nothing.
    pub fn judge(&self, actual: Option<f64>) -> Verdict {
        let passed = actual.is_some_and(|a| self.op.holds(a, self.limit));
        Verdict {
            metric: self.key.clone(),
            condition: self.condition.clone(),
            actual,
            actual_text: match actual {
                Some(a) => format_value(self.metric.quantity(), a),
                None => "no samples".into(),
            },
            passed,
        }
    }
}

fn parse_limit(quantity: Quantity, key: &str, text: &str) -> Result<f64, String> {
    let (number, unit) = split_unit(text);
    let bad = |what: &str| format!("{key}: {text:?} is not {what}");
    match quantity {
        Quantity::Latency => parse_duration(text)
            .map(|d| d.as_secs_f64() * 1e6)
            .map_err(|_| {
                format!("{key} is a latency: write a duration such as \"50ms\" or \"800us\" (got {text:?})")
            }),
        Quantity::Ratio => {
            let value: f64 = number.parse().map_err(|_| bad("a percentage or fraction"))?;
            match unit {
                "%" => Ok(value / 100.0),
                "" => Ok(value),
                _ => Err(format!(
                    "{key} is a ratio: write a percentage (\"0.1%\") or a fraction (\"0.001\"), got {text:?}"
                )),
            }
        }
        Quantity::Count => match unit {
            "" => number.replace('_', "").parse().map_err(|_| bad("a number")),
            _ => Err(format!("{key} is a count: write a plain number (got {text:?})")),
        },
        Quantity::PerSecond => match unit {
            "" | "/s" => number.parse().map_err(|_| bad("a rate")),
            _ => crate::units::parse_rate(text).map(|r| r.0),
        },
    }
}

/// A value in its natural unit, for reports.
pub fn format_value(quantity: Quantity, value: f64) -> String {
    match quantity {
        Quantity::Latency => {
            if value >= 1e6 {
                format!("{:.2}s", value / 1e6)
            } else if value >= 1e3 {
                format!("{:.2}ms", value / 1e3)
            } else {
                format!("{value:.0}us")
            }
        }
        Quantity::Count => format!("{value:.0}"),
        Quantity::Ratio => format!("{:.3}%", value * 100.0),
        Quantity::PerSecond => format!("{value:.1}/s"),
    }
}

/// The judgement of one threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    pub metric: String,
    pub condition: String,
    /// In the metric's canonical unit (µs, count, fraction, per second); null if no samples.
    pub actual: Option<f64>,
    pub actual_text: String,
    pub passed: bool,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} (actual {})",
            if self.passed { "PASS" } else { "FAIL" },
            self.metric,
            self.condition,
            self.actual_text
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_design_examples_parse_into_canonical_units() {
        let t = Threshold::parse("deliver.p99", "< 50ms").unwrap();
        assert_eq!(
            t.metric,
            Metric::Step(StepMetric::Deliver, Stat::Percentile(990))
        );
        assert_eq!((t.op, t.limit), (Op::Lt, 50_000.0));
        let t = Threshold::parse("errors.rate", "< 0.1%").unwrap();
        assert_eq!((t.metric, t.op), (Metric::ErrorsRate, Op::Lt));
        assert!((t.limit - 0.001).abs() < 1e-12);
        let t = Threshold::parse("lost", "== 0").unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit),
            (Metric::Ledger(LedgerField::Lost), Op::Eq, 0.0)
        );
        let t = Threshold::parse("connect.p999", ">= 1s").unwrap();
        assert_eq!(
            t.metric,
            Metric::Step(StepMetric::Connect, Stat::Percentile(999))
        );
        assert_eq!(t.limit, 1e6);
        let t = Threshold::parse("lost.rate", "<= 1%").unwrap();
        assert_eq!(t.metric, Metric::LedgerRate(LedgerField::Lost));
        let t = Threshold::parse("throughput", "> 1000/s").unwrap();
        assert_eq!(t.limit, 1000.0);
    }

    #[test]
    fn mistakes_say_what_is_allowed() {
        let e = Threshold::parse("deliver.p99", "< 50").unwrap_err();
        assert!(e.contains("latency") && e.contains("50ms"), "{e}");
        let e = Threshold::parse("delivr.p99", "< 50ms").unwrap_err();
        assert!(e.contains("unknown metric") && e.contains("deliver"), "{e}");
        let e = Threshold::parse("lost", "none").unwrap_err();
        assert!(e.contains("operator"), "{e}");
        let e = Threshold::parse("lost", "== 1ms").unwrap_err();
        assert!(e.contains("count"), "{e}");
        assert!(Threshold::parse("deliver.p100", "< 1s").is_err());
    }

    #[test]
    fn judgement_compares_and_missing_samples_fail() {
        let t = Threshold::parse("deliver.p99", "< 50ms").unwrap();
        assert!(t.judge(Some(49_999.0)).passed);
        assert!(!t.judge(Some(50_000.0)).passed);
        let none = t.judge(None);
        assert!(!none.passed);
        assert_eq!(none.actual_text, "no samples");
        let t = Threshold::parse("lost", "== 0").unwrap();
        assert!(t.judge(Some(0.0)).passed);
        assert!(!t.judge(Some(1.0)).passed);
        assert_eq!(t.judge(Some(3.0)).to_string(), "FAIL lost == 0 (actual 3)");
    }
}
