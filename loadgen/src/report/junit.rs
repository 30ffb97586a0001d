//! `--junit FILE`: one test case per threshold, for CI dashboards.

use std::fmt::Write;

use super::Report;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub fn render(r: &Report) -> String {
    let failures = r.thresholds.iter().filter(|v| !v.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"loadgen\" tests=\"{}\" failures=\"{failures}\">",
        r.thresholds.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        escape(&r.scenario),
        r.thresholds.len(),
        r.duration_s
    );
    for v in &r.thresholds {
        let name = escape(&format!("{} {}", v.metric, v.condition));
        if v.passed {
            let _ = writeln!(
                out,
                "    <testcase classname=\"thresholds\" name=\"{name}\"/>"
            );
        } else {
            let _ = writeln!(
                out,
                "    <testcase classname=\"thresholds\" name=\"{name}\">"
            );
            let _ = writeln!(
                out,
                "      <failure message=\"{}\">actual {}</failure>",
                escape(&format!("{} {} failed", v.metric, v.condition)),
                escape(&v.actual_text)
            );
            let _ = writeln!(out, "    </testcase>");
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
