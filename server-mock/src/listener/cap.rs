//! The connection cap: below the open-file limit, with headroom for the listening sockets,
//! log files and whatever else the process opens, so that hitting the cap refuses one
//! client politely instead of failing `accept` for everyone.

/// Open files kept free whatever the limit (at least this many, or 5% of the limit).
const MIN_HEADROOM: u64 = 64;

/// The soft `RLIMIT_NOFILE` of this process, read from `/proc/self/limits` (no unsafe
/// `getrlimit` call in this crate); `None` where that file does not exist.
pub fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&text)
}

fn parse_open_file_limit(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line
        .trim_start_matches("Max open files")
        .split_whitespace()
        .next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// How many client connections to hold at most: `requested` if given, never more than the
/// open-file limit minus headroom.
pub fn connection_cap(requested: Option<usize>, open_files: Option<u64>) -> usize {
    // Without a readable limit, assume the common default of 1024.
    let limit = open_files.unwrap_or(1024);
    let headroom = MIN_HEADROOM.max(limit / 20);
    let fits = usize::try_from(limit.saturating_sub(headroom))
        .unwrap_or(usize::MAX)
        .max(1);
    requested.map_or(fits, |r| r.min(fits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_soft_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max cpu time              unlimited            unlimited            seconds   \n\
                    Max open files            20000                40000                files     \n";
        assert_eq!(parse_open_file_limit(text), Some(20000));
        assert_eq!(
            parse_open_file_limit("Max open files unlimited unlimited files"),
            Some(u64::MAX)
        );
        assert_eq!(parse_open_file_limit("nothing here"), None);
        // On Linux the real file is there and the limit is sane.
        if std::path::Path::new("/proc/self/limits").exists() {
            assert!(open_file_limit().is_some_and(|n| n >= 16));
        }
    }

    #[test]
    fn the_cap_keeps_headroom() {
        assert_eq!(connection_cap(None, Some(20_000)), 19_000);
        assert_eq!(connection_cap(None, Some(1024)), 960);
        assert_eq!(connection_cap(Some(100), Some(20_000)), 100);
        assert_eq!(connection_cap(Some(50_000), Some(20_000)), 19_000);
        assert_eq!(connection_cap(None, None), 960);
        assert_eq!(connection_cap(None, Some(10)), 1);
    }
}
