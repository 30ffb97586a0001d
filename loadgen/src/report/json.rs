//! `--json FILE` and reading it back for `loadgen merge`.

use std::path::Path;

use super::Report;
use crate::error::{Error, Result};

pub fn write(report: &Report, path: &Path) -> Result<()> {
    let text = serde_json::to_string_pretty(report).expect("a report always serialises");
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })
}

pub fn read(path: &Path) -> Result<Report> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| Error::BadResult {
        path: path.to_owned(),
        reason: e.to_string(),
    })
}
