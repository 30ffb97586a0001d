//! One error type for the whole crate: decoding, mapping, transport and driver failures.

use std::time::Duration;

use crate::Dialect;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dialect has no way to express this operation (see [`crate::Capabilities`]).
    #[error("the {dialect} dialect cannot {operation}")]
    Unsupported {
        dialect: Dialect,
        operation: &'static str,
    },

    /// Bytes that do not form a valid message of the dialect.
    #[error("malformed {dialect} message: {reason}")]
    Malformed { dialect: Dialect, reason: String },

    /// A frame (or an unframed document) larger than the configured limit. Raised before any
    /// allocation for the frame body.
    #[error("{dialect} frame of {len} bytes exceeds the {limit}-byte limit")]
    FrameTooLarge {
        dialect: Dialect,
        len: u64,
        limit: usize,
    },

    /// The server refused us (wrong password, bad token, unknown user…), in its own words.
    #[error("{dialect} server refused {operation}: {reason}")]
    Refused {
        dialect: Dialect,
        operation: &'static str,
        reason: String,
    },

    /// A wait that did not end in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },

    /// An address or URL we cannot use.
    #[error("bad address {address:?}: {reason}")]
    BadAddress { address: String, reason: String },

    /// The peer closed the connection.
    #[error("connection closed by peer")]
    Closed,

    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),

    #[error("websocket error: {0}")]
    WebSocket(#[from] Box<tokio_tungstenite::tungstenite::Error>),

    #[error("gRPC error: {0}")]
    Grpc(#[from] Box<tonic::Status>),

    #[error("HTTP error: {0}")]
    Http(String),
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Error::WebSocket(Box::new(e))
    }
}

impl From<tonic::Status> for Error {
    fn from(e: tonic::Status) -> Self {
        Error::Grpc(Box::new(e))
    }
}

impl Error {
    pub fn malformed(dialect: Dialect, reason: impl Into<String>) -> Self {
        Error::Malformed {
            dialect,
            reason: reason.into(),
        }
    }

    pub fn unsupported(dialect: Dialect, operation: &'static str) -> Self {
        Error::Unsupported { dialect, operation }
    }

    /// Errors after which the same connection cannot go on (as opposed to one bad message).
    pub fn is_fatal_for_connection(&self) -> bool {
        !matches!(self, Error::Malformed { .. } | Error::Unsupported { .. })
    }
}
