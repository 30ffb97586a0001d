//! `--html FILE`: one self-contained page (inline SVG, no scripts, no fetches): latency over
//! time, the latency percentile distribution, throughput and users over time, the ledger.

use std::fmt::Write;

use super::{Report, summary};
use crate::thresholds::StepMetric;

const W: f64 = 760.0;
const H: f64 = 220.0;
const PAD: f64 = 48.0;

struct Series<'a> {
    name: &'a str,
    colour: &'a str,
    points: Vec<(f64, f64)>,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart; `log_x` for the percentile plot.
fn chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
    x_ticks: &[(f64, String)],
) -> String {
    let xs = series.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = series.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let (x0, x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    let y1 = ys.fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let (x0, x1) = if x0 >= x1 {
        (x0.min(0.0), x0.max(0.0) + 1.0)
    } else {
        (x0, x1)
    };
    let sx = |x: f64| PAD + (x - x0) / (x1 - x0) * (W - 2.0 * PAD);
    let sy = |y: f64| H - PAD + -(y / y1) * (H - 2.0 * PAD);
    let mut svg = format!(
        "<h2>{}</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">\n",
        escape(title),
        escape(title)
    );
    let _ = writeln!(
        svg,
        "<rect x=\"{PAD}\" y=\"{PAD}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>",
        W - 2.0 * PAD,
        H - 2.0 * PAD
    );
    for i in 0..=4 {
        let y = y1 * f64::from(i) / 4.0;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{}</text>",
            PAD - 4.0,
            sy(y) + 3.0,
            short(y)
        );
    }
    for (x, label) in x_ticks {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>",
            sx(*x),
            H - PAD + 14.0,
            escape(label)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
        W / 2.0,
        H - 8.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        "<text x=\"12\" y=\"{}\" font-size=\"11\" transform=\"rotate(-90 12 {})\" text-anchor=\"middle\">{}</text>",
        H / 2.0,
        H / 2.0,
        escape(y_label)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|(x, y)| format!("{:.1},{:.1}", sx(*x), sy(*y)))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>",
            s.colour,
            pts.join(" ")
        );
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"11\" fill=\"{}\">{}</text>",
            PAD + 8.0 + 110.0 * i as f64,
            PAD - 8.0,
            s.colour,
            escape(s.name)
        );
    }
    svg.push_str("</svg>\n");
    svg
}

fn short(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

fn time_ticks(r: &Report) -> Vec<(f64, String)> {
    let end = r.timeline.last().map_or(1.0, |p| p.t_s);
    (0..=5)
        .map(|i| end * f64::from(i) / 5.0)
        .map(|t| (t, format!("{t:.0}s")))
        .collect()
}

pub fn render(r: &Report) -> String {
    let mut page =
        String::from("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    let _ = writeln!(page, "<title>loadgen: {}</title>", escape(&r.scenario));
    page.push_str("<style>body{font-family:sans-serif;max-width:820px;margin:2em auto}pre{background:#f4f4f4;padding:1em;overflow-x:auto}.pass{color:#080}.fail{color:#b00}</style></head><body>\n");
    let verdict = if r.passed {
        "<span class=\"pass\">PASSED</span>"
    } else {
        "<span class=\"fail\">FAILED</span>"
    };
    let _ = writeln!(page, "<h1>{} — {verdict}</h1>", escape(&r.scenario));
    let _ = writeln!(page, "<pre>{}</pre>", escape(&summary::render(r)));

    let ms = |v: Option<u64>| v.map(|us| us as f64 / 1000.0);
    let line = |f: &dyn Fn(&crate::metrics::TimelinePoint) -> Option<f64>| {
        r.timeline
            .iter()
            .filter_map(|p| f(p).map(|v| (p.t_s, v)))
            .collect::<Vec<_>>()
    };
    page.push_str(&chart(
        "send → deliver latency over time",
        "time",
        "ms",
        &[
            Series {
                name: "p50",
                colour: "#1f77b4",
                points: line(&|p| ms(p.deliver_p50_us)),
            },
            Series {
                name: "p99",
                colour: "#d62728",
                points: line(&|p| ms(p.deliver_p99_us)),
            },
        ],
        &time_ticks(r),
    ));

    // The percentile distribution, HdrHistogram style: x = 1/(1-q) on a log scale.
    let mut dist = Vec::new();
    for step in [StepMetric::Deliver, StepMetric::Accept, StepMetric::Connect] {
        if let Some(h) = r
            .steps
            .get(step.name())
            .and_then(|s| s.histogram())
            .filter(|h| !h.is_empty())
        {
            let points: Vec<(f64, f64)> = [
                0.0f64, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 0.9995, 0.9999, 0.99999,
            ]
            .iter()
            .map(|q| {
                (
                    (1.0f64 / (1.0 - q)).log10(),
                    h.value_at_quantile(*q) as f64 / 1000.0,
                )
            })
            .collect();
            dist.push((step.name(), points));
        }
    }
    let colours = ["#d62728", "#2ca02c", "#9467bd"];
    let series: Vec<Series<'_>> = dist
        .iter()
        .zip(colours)
        .map(|((name, points), colour)| Series {
            name,
            colour,
            points: points.clone(),
        })
        .collect();
    let ticks: Vec<(f64, String)> = [
        (0.0, "0%"),
        (1.0, "90%"),
        (2.0, "99%"),
        (3.0, "99.9%"),
        (4.0, "99.99%"),
        (5.0, "99.999%"),
    ]
    .iter()
    .map(|(x, l)| (*x, (*l).to_owned()))
    .collect();
    page.push_str(&chart(
        "latency by percentile",
        "percentile",
        "ms",
        &series,
        &ticks,
    ));

    page.push_str(&chart(
        "throughput over time",
        "time",
        "messages/s",
        &[
            Series {
                name: "sent/s",
                colour: "#1f77b4",
                points: line(&|p| Some(p.sent_per_s)),
            },
            Series {
                name: "delivered/s",
                colour: "#2ca02c",
                points: line(&|p| Some(p.delivered_per_s)),
            },
            Series {
                name: "errors/s",
                colour: "#d62728",
                points: line(&|p| Some(p.errors_per_s)),
            },
        ],
        &time_ticks(r),
    ));
    page.push_str(&chart(
        "users online",
        "time",
        "users",
        &[Series {
            name: "online",
            colour: "#ff7f0e",
            points: line(&|p| Some(p.users_online as f64)),
        }],
        &time_ticks(r),
    ));

    // The ledger as bars.
    let l = &r.ledger;
    let bars = [
        ("sent", l.sent),
        ("accepted", l.accepted),
        ("owed", l.expected),
        ("delivered", l.delivered),
        ("lost", l.lost),
        ("duplicated", l.duplicated),
        ("reordered", l.reordered),
        ("misdelivered", l.misdelivered),
        ("late", l.late),
    ];
    let top = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let _ = writeln!(
        page,
        "<h2>message ledger</h2>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{}\" role=\"img\" aria-label=\"message ledger\">",
        bars.len() * 22 + 10
    );
    for (i, (name, n)) in bars.iter().enumerate() {
        let y = 5 + i * 22;
        let w = (*n as f64 / top) * (W - 260.0);
        let colour = if matches!(
            *name,
            "lost" | "duplicated" | "reordered" | "misdelivered" | "late"
        ) && *n > 0
        {
            "#d62728"
        } else {
            "#1f77b4"
        };
        let _ = writeln!(
            page,
            "<text x=\"100\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{name}</text><rect x=\"110\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"{colour}\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{n}</text>",
            y + 12,
            116.0 + w,
            y + 12
        );
    }
    page.push_str("</svg>\n</body></html>\n");
    page
}
