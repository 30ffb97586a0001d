//! The end-of-run table on stdout.

use std::fmt::Write;

use super::Report;
use crate::thresholds::StepMetric;

fn ms(v: Option<u64>) -> String {
    v.map_or("-".into(), |us| format!("{:.2}", us as f64 / 1000.0))
}

pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scenario {} · {} · {} · {:.1}s · shard {}",
        r.scenario, r.dialect, r.target, r.duration_s, r.shard
    );
    let _ = writeln!(
        out,
        "users started {} · most online {} · throughput {:.1} delivered/s",
        r.users.started, r.users.max_online, r.throughput
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<10} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "step", "count", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for step in StepMetric::ALL {
        let Some(s) = r.steps.get(step.name()) else {
            continue;
        };
        if s.count == 0 && s.errors == 0 {
            continue;
        }
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            step.name(),
            s.count,
            s.errors,
            ms(s.p50_us),
            ms(s.p90_us),
            ms(s.p99_us),
            ms(s.p999_us),
            ms(s.max_us)
        );
    }
    let l = &r.ledger;
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "ledger  sent {} · accepted {} · owed {} · delivered {} · lost {} · duplicated {} · reordered {} · misdelivered {} · late {}",
        l.sent,
        l.accepted,
        l.expected,
        l.delivered,
        l.lost,
        l.duplicated,
        l.reordered,
        l.misdelivered,
        l.late
    );
    if l.foreign + l.unmarked + l.unjudged > 0 {
        let _ = writeln!(
            out,
            "        not judged: other runs {} · no marker {} · older than the window {}",
            l.foreign, l.unmarked, l.unjudged
        );
    }
    let _ = writeln!(
        out,
        "errors  {} of {} operations ({:.3}%)",
        r.errors.total,
        r.errors.operations,
        r.errors.rate * 100.0
    );
    for (kind, n) in &r.errors.by_kind {
        let _ = writeln!(out, "        {kind}: {n}");
    }
    if let Some(cost) = &r.resources {
        let per = |v: Option<f64>, unit: &str| v.map_or("-".into(), |v| format!("{v:.1} {unit}"));
        let _ = writeln!(
            out,
            "cost    cpu {:.0} ms ({} per 1,000 messages) · peak rss {} KiB ({} per user){}",
            cost.cpu_ms,
            per(r.cpu_ms_per_1000_messages, "ms"),
            cost.peak_rss_kib,
            per(r.rss_kib_per_user, "KiB"),
            if cost.server_in_process {
                " · the embedded server-mock ran in this process and is counted in"
            } else {
                ""
            }
        );
    }
    if !r.thresholds.is_empty() {
        let _ = writeln!(out);
        for v in &r.thresholds {
            let _ = writeln!(out, "{v}");
        }
    }
    let _ = writeln!(out, "{}", if r.passed { "PASSED" } else { "FAILED" });
    out
}
