//! What `update` asks the outside world to do: the only way state changes turn into I/O.

use imkit_protocols::{Command, Dialect};

/// Everything the network worker needs to (re)connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTarget {
    pub dialect: Dialect,
    pub address: String,
    /// The user id for dialects that log in, or the nick for dialects that register.
    pub user: Option<String>,
    pub password: Option<String>,
    /// A shell command printing the password (run by the network worker, not by `update`).
    pub password_cmd: Option<String>,
    /// chat-json: speak v2 (token, RECONNECT, client ping).
    pub chat_v2: bool,
}

impl ConnectTarget {
    /// Whether `user` is a nickname to register (chat) rather than an account to log in as.
    pub fn registers(&self) -> bool {
        self.dialect.capabilities().register
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Drop any current connection and connect to this target.
    Connect(ConnectTarget),
    /// Hand a command to the current connection.
    Send(Command),
    /// Ring the terminal bell.
    Bell,
    /// A desktop notification (where a notifier exists).
    Notify { title: String, body: String },
    /// Leave the program (after closing the connection).
    Quit,
}
