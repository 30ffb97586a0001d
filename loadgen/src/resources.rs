//! What loadgen itself costs: CPU time and peak resident memory of this process, read from
//! `/proc` (Linux; elsewhere the figures are absent rather than made up).

use serde::{Deserialize, Serialize};

/// The process's own cost over a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// User + system CPU time of this process, milliseconds.
    pub cpu_ms: f64,
    /// Peak resident set size (`VmHWM`), KiB.
    pub peak_rss_kib: u64,
    /// The embedded server-mock ran inside this process: its CPU and memory are counted in.
    pub server_in_process: bool,
}

/// CPU time so far (user + system, all threads), milliseconds.
pub fn cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line; `rest` starts at field 3.
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on every Linux ABI Rust targets.
    Some(ticks as f64 * 10.0)
}

/// Peak resident set size so far, KiB.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Messages for "CPU per 1,000 messages": each sent and received once, so the mean of what
/// was sent and what was delivered (a group message delivered to 9 members counts 5).
pub fn messages(sent: u64, delivered: u64) -> f64 {
    (sent + delivered) as f64 / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process() {
        // Work until the tick-granular counter moves (bounded: 10 s of wall time).
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while cpu_ms().unwrap() == 0.0 && start.elapsed() < std::time::Duration::from_secs(10) {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
            }
        }
        assert!(cpu_ms().unwrap() > 0.0);
        // A test binary holds at least a megabyte resident.
        assert!(peak_rss_kib().unwrap() > 1024);
    }
}
