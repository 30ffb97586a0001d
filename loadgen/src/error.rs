//! One error type for the library, and the exit codes the binary turns it into.

use std::fmt;
use std::path::PathBuf;

/// Exit codes (also in `--help` and the README).
pub mod exit {
    /// Every threshold passed.
    pub const PASSED: u8 = 0;
    /// At least one threshold failed.
    pub const THRESHOLD_FAILED: u8 = 1;
    /// Bad arguments or a bad scenario.
    pub const BAD_INPUT: u8 = 2;
    /// The run could not be done (target unreachable, aborted, output not writable).
    pub const RUN_FAILED: u8 = 3;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A mistake in a scenario file, with where it is.
    #[error("{0}")]
    Scenario(#[from] ScenarioError),

    /// A bad command-line argument or override.
    #[error("{0}")]
    Usage(String),

    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },

    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },

    /// A results file given to `loadgen merge` that is not loadgen's JSON.
    #[error("{}: not a loadgen JSON result: {reason}", path.display())]
    BadResult { path: PathBuf, reason: String },

    /// Nobody could connect: the target is down, wrong, or speaks another dialect.
    #[error(
        "the target {address} ({dialect}) is unreachable: {reason}\n  check the address and dialect (--target, --dialect), or leave the target out to use the embedded server-mock"
    )]
    Unreachable {
        address: String,
        dialect: String,
        reason: String,
    },

    /// The embedded server-mock could not start.
    #[error("cannot start the embedded server-mock: {0}")]
    EmbeddedServer(String),

    /// The run was stopped before its end (Ctrl-C, the live view's `q`).
    #[error("run aborted: {0}")]
    Aborted(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Usage(_) | Error::Read { .. } | Error::BadResult { .. } => {
                exit::BAD_INPUT
            }
            Error::Write { .. }
            | Error::Unreachable { .. }
            | Error::EmbeddedServer(_)
            | Error::Aborted(_) => exit::RUN_FAILED,
        }
    }
}

/// Where a scenario is wrong: file, line, column, the key, and what is allowed instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the mistake has no place in the file (e.g. a command-line override).
    pub line: usize,
    pub column: usize,
    /// The key the mistake is at, as a path (`load.users`, `behaviour[1].steps[2]`).
    pub key: Option<String>,
    pub message: String,
}

impl ScenarioError {
    /// An error at byte `offset` of `source`.
    pub fn at(
        file: &str,
        source: &str,
        offset: Option<usize>,
        key: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = match offset {
            Some(offset) => line_column(source, offset),
            None => (0, 0),
        };
        ScenarioError {
            file: file.to_owned(),
            line,
            column,
            key,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        write!(f, ": ")?;
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let mut cut = offset;
    while !source.is_char_boundary(cut) {
        cut -= 1;
    }
    let before = &source[..cut];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}
