//! What each dialect can express. Asking a dialect for anything else is
//! [`crate::Error::Unsupported`], never a silent no-op.

use serde::Serialize;

use crate::{Command, Conversation, Dialect, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capabilities {
    /// Create an account from a nickname (chat `CRT_ACCOUNT`).
    pub register: bool,
    /// Log in as an existing user (with or without a secret).
    pub login: bool,
    /// The login checks a password or token.
    pub password: bool,
    /// A lookup hop before the chat connection (HTTP, gateway, dispatcher).
    pub lookup: bool,
    /// Random partner matching (chat `MATCH`).
    pub match_partner: bool,
    /// Open / close a two-party session with a chosen peer.
    pub open_session: bool,
    pub close_session: bool,
    /// Send addressed to a user id.
    pub send_to_user: bool,
    /// Send into a session id.
    pub send_to_session: bool,
    /// Send to a group / topic / box.
    pub send_to_group: bool,
    /// The server confirms an accepted message to its sender.
    pub server_accept: bool,
    /// The server assigns message ids (returned on accept or delivery).
    pub server_message_id: bool,
    /// The receiver acknowledges delivery.
    pub delivery_ack: bool,
    /// Read receipts travel back to the sender.
    pub read_receipts: bool,
    pub create_group: bool,
    pub join_group: bool,
    pub leave_group: bool,
    /// The client can ping (and, where the server answers, measure a round trip).
    pub client_ping: bool,
    /// The server pings and expects an answer.
    pub server_ping: bool,
    /// Messages to an offline user are kept and delivered at their next login.
    pub offline_messages: bool,
    /// A dropped connection can resume the same identity.
    pub resume: bool,
    /// The server tells when a session partner leaves.
    pub partner_left: bool,
}

impl Capabilities {
    /// Nothing at all; dialect tables start from here.
    pub const NONE: Capabilities = Capabilities {
        register: false,
        login: false,
        password: false,
        lookup: false,
        match_partner: false,
        open_session: false,
        close_session: false,
        send_to_user: false,
        send_to_session: false,
        send_to_group: false,
        server_accept: false,
        server_message_id: false,
        delivery_ack: false,
        read_receipts: false,
        create_group: false,
        join_group: false,
        leave_group: false,
        client_ping: false,
        server_ping: false,
        offline_messages: false,
        resume: false,
        partner_left: false,
    };

    /// Whether a client of this dialect can send `command`; the error names dialect and operation.
    pub fn check(&self, dialect: Dialect, command: &Command) -> Result<(), Error> {
        let (ok, operation) = match command {
            Command::Register { .. } => (self.register, "register an account"),
            Command::Login { .. } => (self.login, "log in"),
            Command::Resume { .. } => (self.resume, "resume a session"),
            Command::Match => (self.match_partner, "match a partner"),
            Command::OpenSession { .. } => (self.open_session, "open a session with a chosen peer"),
            Command::CloseSession { .. } => (self.close_session, "close a session"),
            Command::Send { to, .. } => match to {
                Conversation::User(_) => (self.send_to_user, "send to a user"),
                Conversation::Session(_) => (self.send_to_session, "send into a session"),
                Conversation::Group(_) => (self.send_to_group, "send to a group"),
            },
            Command::Ack { .. } => (self.delivery_ack, "acknowledge a delivery"),
            Command::Read { .. } => (self.read_receipts, "send a read receipt"),
            Command::CreateGroup { .. } => (self.create_group, "create a group"),
            Command::JoinGroup { .. } => (self.join_group, "join a group"),
            Command::LeaveGroup { .. } => (self.leave_group, "leave a group"),
            Command::Ping => (self.client_ping, "ping the server"),
            Command::Pong => (self.server_ping, "answer a server ping"),
            Command::Logout => (true, "log out"),
        };
        if ok {
            Ok(())
        } else {
            Err(Error::unsupported(dialect, operation))
        }
    }
}
