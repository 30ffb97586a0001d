//! The neutral model: [`Command`] (what a client intends) and [`Event`] (what a server tells),
//! the union of what the five dialects can express (DESIGN.md §3).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A user as the server knows them. Dialects differ (chat, simple-im and eutamias use integers;
/// fishchat and newim free strings), so the neutral form is the decimal or textual id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub String);

impl UserId {
    pub fn new(id: impl Into<String>) -> Self {
        UserId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The numeric form, for dialects whose ids are integers.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }
}

impl From<u64> for UserId {
    fn from(id: u64) -> Self {
        UserId(id.to_string())
    }
}

impl From<&str> for UserId {
    fn from(id: &str) -> Self {
        UserId(id.to_owned())
    }
}

impl From<String> for UserId {
    fn from(id: String) -> Self {
        UserId(id)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A two-party conversation id assigned by the server (chat sessions, eutamias sessions).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A group, topic or box: the many-party conversations.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(pub String);

impl GroupId {
    pub fn new(id: impl Into<String>) -> Self {
        GroupId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for GroupId {
    fn from(id: &str) -> Self {
        GroupId(id.to_owned())
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message id. Servers that count use [`MessageId::Seq`] (increasing within a conversation:
/// chat msgId, newim uuid, eutamias); fishchat uses a random uuid and simple-im the client's
/// own id, both [`MessageId::Text`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageId {
    Seq(u64),
    Text(String),
}

impl MessageId {
    pub fn as_seq(&self) -> Option<u64> {
        match self {
            MessageId::Seq(n) => Some(*n),
            MessageId::Text(s) => s.parse().ok(),
        }
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessageId::Seq(n) => n.fmt(f),
            MessageId::Text(s) => f.write_str(s),
        }
    }
}

/// Where a message goes: a server session, a user directly, or a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conversation {
    Session(SessionId),
    User(UserId),
    Group(GroupId),
}

impl fmt::Display for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conversation::Session(s) => write!(f, "session {s}"),
            Conversation::User(u) => write!(f, "@{u}"),
            Conversation::Group(g) => write!(f, "#{g}"),
        }
    }
}

/// A chat message as delivered to a receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The conversation as the *receiver* sees it: for a direct message that is the sender.
    pub conversation: Conversation,
    pub from: UserId,
    /// The server's id for it, where the dialect has one.
    pub id: Option<MessageId>,
    pub content: String,
}

/// What a client intends. Login-type commands are normally issued by the driver itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Create an account from a nickname (chat `CRT_ACCOUNT`).
    Register {
        nick: String,
    },
    /// Log in as an existing user. `secret` is a password or a token, `device` where the
    /// dialect has devices (simple-im).
    Login {
        user: UserId,
        secret: Option<String>,
        device: Option<String>,
    },
    /// Take an existing identity over onto a new connection (chat v2 `RECONNECT`, simple-im
    /// `t = "reconnect"`).
    Resume {
        user: UserId,
        token: String,
        device: Option<String>,
    },
    /// Ask the server for a random partner (chat `MATCH`).
    Match,
    /// Open a two-party session with a chosen peer (eutamias `CREATESESSION`).
    OpenSession {
        peer: UserId,
    },
    CloseSession {
        session: SessionId,
        peer: UserId,
    },
    /// Send `content`. `client_ref` is the client's own id for it, echoed on accept where the
    /// dialect echoes one (chat requestId, simple-im id).
    Send {
        to: Conversation,
        client_ref: String,
        content: String,
    },
    /// Acknowledge the delivery of message `id` (fishchat `P2P_ACK`, simple-im `[a]`, …).
    Ack {
        conversation: Conversation,
        id: MessageId,
    },
    /// Everything up to `up_to` in `conversation` has been read (chat `VIEWED_ACK`).
    Read {
        conversation: Conversation,
        up_to: MessageId,
    },
    CreateGroup {
        group: GroupId,
    },
    JoinGroup {
        group: GroupId,
    },
    LeaveGroup {
        group: GroupId,
    },
    /// A client-initiated heartbeat or ping.
    Ping,
    /// The answer to a server ping (the drivers send it themselves).
    Pong,
    Logout,
}

impl Command {
    /// A short name for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Register { .. } => "register",
            Command::Login { .. } => "login",
            Command::Resume { .. } => "resume",
            Command::Match => "match",
            Command::OpenSession { .. } => "open_session",
            Command::CloseSession { .. } => "close_session",
            Command::Send { .. } => "send",
            Command::Ack { .. } => "ack",
            Command::Read { .. } => "read",
            Command::CreateGroup { .. } => "create_group",
            Command::JoinGroup { .. } => "join_group",
            Command::LeaveGroup { .. } => "leave_group",
            Command::Ping => "ping",
            Command::Pong => "pong",
            Command::Logout => "logout",
        }
    }
}

/// What a server tells a client (plus, as [`Event::Connection`], what the driver observed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The lookup hop named the server to talk to.
    LookedUp {
        address: String,
    },
    /// An account was created (chat); `token` where the dialect has one (chat v2).
    Registered {
        user: UserId,
        nick: String,
        token: Option<String>,
    },
    /// Login (or resume) succeeded. `token` where the dialect hands one out (simple-im).
    LoggedIn {
        user: UserId,
        token: Option<String>,
    },
    /// We were matched with a partner (our own `Match` succeeded).
    Matched {
        session: SessionId,
        peer: UserId,
        peer_name: Option<String>,
    },
    /// `Match` found nobody free (chat code 4).
    NoPartner,
    /// A session now exists that includes us: opened by us (`OpenSession`) or by a peer
    /// (chat `NewSession`, eutamias peer notification).
    SessionOpened {
        session: SessionId,
        peer: UserId,
        peer_name: Option<String>,
        by_peer: bool,
    },
    SessionClosed {
        session: SessionId,
    },
    /// The server accepted a message we sent. `id` is the server's message id, if any.
    Accepted {
        client_ref: Option<String>,
        id: Option<MessageId>,
    },
    /// A message for us.
    Delivered(Message),
    /// `reader` read everything up to `up_to` in `conversation`.
    ReadUpTo {
        conversation: Conversation,
        reader: UserId,
        up_to: MessageId,
    },
    /// A request succeeded with nothing more to say (chat VIEWED_ACK code 0, …).
    Done {
        operation: String,
    },
    /// We are a member of `group` (`server`: where it lives, fishchat LOCATE_TOPIC_MSG_ADDR).
    GroupJoined {
        group: GroupId,
        server: Option<String>,
    },
    /// Someone joined or left a group we are in (newim JOIN/QUIT notices).
    MemberJoined {
        group: GroupId,
        user: UserId,
    },
    MemberLeft {
        group: GroupId,
        user: UserId,
    },
    /// A session partner left (chat `PartnerExit`).
    PartnerLeft {
        session: SessionId,
        user: UserId,
    },
    /// A server heartbeat (the driver answers it).
    Ping,
    /// The answer to our ping.
    Pong,
    /// An error the server reported for one request, in its words.
    Error {
        code: Option<i64>,
        message: String,
    },
    /// What happened to the connection itself (from the driver, not the server).
    Connection(ConnectionState),
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LookedUp { .. } => "looked_up",
            Event::Registered { .. } => "registered",
            Event::LoggedIn { .. } => "logged_in",
            Event::Matched { .. } => "matched",
            Event::NoPartner => "no_partner",
            Event::SessionOpened { .. } => "session_opened",
            Event::SessionClosed { .. } => "session_closed",
            Event::Accepted { .. } => "accepted",
            Event::Delivered(_) => "delivered",
            Event::ReadUpTo { .. } => "read_up_to",
            Event::Done { .. } => "done",
            Event::GroupJoined { .. } => "group_joined",
            Event::MemberJoined { .. } => "member_joined",
            Event::MemberLeft { .. } => "member_left",
            Event::PartnerLeft { .. } => "partner_left",
            Event::Ping => "ping",
            Event::Pong => "pong",
            Event::Error { .. } => "error",
            Event::Connection(_) => "connection",
        }
    }
}

/// Connection life, as seen by a driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Connected and logged in (again, when `reconnect` is true).
    Online { reconnect: bool },
    /// The connection was lost; `reason` in plain words.
    Lost { reason: String },
    /// Trying again: attempt number and the wait before it.
    Reconnecting { attempt: u32, delay: Duration },
    /// Gave up (or logged out): no more events will follow.
    Closed { reason: String },
}
