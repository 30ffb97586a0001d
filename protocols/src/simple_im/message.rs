//! Typed messages mirroring the wire (protocol note §3–§5), both directions.
//!
//! Every type converts from a parsed [`Table`] (`from_table`, lenient: unknown keys are
//! ignored, as the original ignores them) and prints itself byte for byte as the original
//! does (`print`). Ids of users and groups keep their wire type ([`Value`]): the original
//! accepts `id = 1` and `id = "1"` and re-serialises whichever it got.

use super::document::{Table, Value, parse_document, print_value};
use crate::{Dialect, Error, Result};

/// The request id the original hard-codes into its login success reply.
pub const LOGIN_REPLY_ID: &str = "a_01";
/// The request id the reference client uses for login and reconnect.
pub const DEFAULT_REQUEST_ID: &str = "a_01";
/// Devices the original accepts (`device_list` in env.erl).
pub const DEVICES: [&str; 3] = ["android", "iphone", "ipad"];
/// The device a client uses when none is given, and the one assumed for a sender whose
/// device the neutral model does not know.
pub const DEFAULT_DEVICE: &str = "android";
/// `t` of a login request.
pub const LOGIN: &str = "login";
/// `t` of a reconnect request.
pub const RECONNECT: &str = "reconnect";

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::SimpleIm, reason)
}

fn req<'a>(table: &'a Table, key: &str) -> Result<&'a Value> {
    table
        .get(key)
        .ok_or_else(|| malformed(format!("[{}] lacks the key {key:?}", table.name)))
}

fn req_str(table: &Table, key: &str) -> Result<String> {
    match req(table, key)? {
        Value::Str(s) => Ok(s.clone()),
        Value::Int(_) => Err(malformed(format!(
            "[{}] {key} must be a string",
            table.name
        ))),
    }
}

fn opt_str(table: &Table, key: &str) -> Result<Option<String>> {
    match table.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(Value::Int(_)) => Err(malformed(format!(
            "[{}] {key} must be a string",
            table.name
        ))),
    }
}

fn req_int(table: &Table, key: &str) -> Result<i64> {
    match req(table, key)? {
        Value::Int(n) => Ok(*n),
        Value::Str(_) => Err(malformed(format!(
            "[{}] {key} must be an integer",
            table.name
        ))),
    }
}

fn req_table<'a>(table: &'a Table, name: &str) -> Result<&'a Table> {
    table.table(name).ok_or_else(|| {
        malformed(format!(
            "[{}] lacks the sub-table [{}.{name}]",
            table.name, table.name
        ))
    })
}

fn expect_name(table: &Table, name: &str) -> Result<()> {
    if table.name == name {
        Ok(())
    } else {
        Err(malformed(format!(
            "expected [{name}], got [{}]",
            table.name
        )))
    }
}

/// `[r.user]`: who logs in or reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUser {
    /// The user id; the server compares it as a decimal string, so `1` and `"1"` both work.
    pub id: Value,
    pub device: String,
    pub token: String,
}

/// `[r]`, client → server: `t = "login"` / `"reconnect"` (with `[r.user]`), or any other
/// request type (the original answers those with "Unknown request").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    /// `t`: `"login"`, `"reconnect"` or anything else.
    pub kind: String,
    pub user: Option<RequestUser>,
}

impl Request {
    /// `[r] id = "a_01" t = "login" [r.user] id = "<user>" device = ".." token = ".."`.
    pub fn login(user: impl Into<Value>, device: &str, token: &str) -> Self {
        Request {
            id: DEFAULT_REQUEST_ID.into(),
            kind: LOGIN.into(),
            user: Some(RequestUser {
                id: user.into(),
                device: device.into(),
                token: token.into(),
            }),
        }
    }

    /// The same with `t = "reconnect"`.
    pub fn reconnect(user: impl Into<Value>, device: &str, token: &str) -> Self {
        Request {
            kind: RECONNECT.into(),
            ..Request::login(user, device, token)
        }
    }

    pub fn to_table(&self) -> Table {
        let mut table = Table::new("r")
            .with("id", self.id.as_str())
            .with("t", self.kind.as_str());
        if let Some(user) = &self.user {
            table = table.with_table(
                Table::new("user")
                    .with("id", user.id.clone())
                    .with("device", user.device.as_str())
                    .with("token", user.token.as_str()),
            );
        }
        table
    }

    pub fn from_table(table: &Table) -> Result<Self> {
        expect_name(table, "r")?;
        let kind = req_str(table, "t")?;
        let user = match table.table("user") {
            Some(user) => Some(RequestUser {
                id: req(user, "id")?.clone(),
                device: req_str(user, "device")?,
                token: req_str(user, "token")?,
            }),
            // The original's client factory requires [r.user] for these two.
            None if kind == LOGIN || kind == RECONNECT => {
                return Err(malformed(format!("a {kind} request lacks [r.user]")));
            }
            None => None,
        };
        Ok(Request {
            id: req_str(table, "id")?,
            kind,
            user,
        })
    }
}

/// `[m.from]`, `[m.to]`, `[gm.user]`: a user, and one of their devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: Value,
    /// Required for the sender (`[m.from]`, `[gm.user]`), optional (and ignored by the
    /// original) for the receiver (`[m.to]`).
    pub device: Option<String>,
}

impl Endpoint {
    fn to_table(&self, name: &str) -> Table {
        let table = Table::new(name).with("id", self.id.clone());
        match &self.device {
            Some(device) => table.with("device", device.as_str()),
            None => table,
        }
    }

    fn from_table(table: &Table, device_required: bool) -> Result<Self> {
        let device = if device_required {
            Some(req_str(table, "device")?)
        } else {
            opt_str(table, "device")?
        };
        Ok(Endpoint {
            id: req(table, "id")?.clone(),
            device,
        })
    }
}

/// `[m]`, both directions: a direct message. The server forwards the same table to every
/// device of `to.id`. Printed `[m] id = .. c = .. [m.to] .. [m.from] ..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// The sender's own id for it (e.g. `"a_02"`), echoed in the server's `[a]`.
    pub id: String,
    /// `c`.
    pub content: String,
    pub from: Endpoint,
    pub to: Endpoint,
}

impl ChatMessage {
    pub fn to_table(&self) -> Table {
        Table::new("m")
            .with("id", self.id.as_str())
            .with("c", self.content.as_str())
            // Term order from, to: printed reversed, `[m.to]` first.
            .with_table(self.from.to_table("from"))
            .with_table(self.to.to_table("to"))
    }

    pub fn from_table(table: &Table) -> Result<Self> {
        expect_name(table, "m")?;
        Ok(ChatMessage {
            id: req_str(table, "id")?,
            content: req_str(table, "c")?,
            from: Endpoint::from_table(req_table(table, "from")?, true)?,
            to: Endpoint::from_table(req_table(table, "to")?, false)?,
        })
    }
}

/// `[gm]`, both directions: a group message; the server forwards it to every device of every
/// member, the sender's own included. Printed `[gm] id = .. c = .. [gm.group] id = .. [gm.user] ..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMessage {
    pub id: String,
    pub content: String,
    /// The sender (`[gm.user]`, device required).
    pub user: Endpoint,
    /// `[gm.group] id`: the only key the original allows there.
    pub group: Value,
}

impl GroupMessage {
    pub fn to_table(&self) -> Table {
        Table::new("gm")
            .with("id", self.id.as_str())
            .with("c", self.content.as_str())
            .with_table(self.user.to_table("user"))
            .with_table(Table::new("group").with("id", self.group.clone()))
    }

    pub fn from_table(table: &Table) -> Result<Self> {
        expect_name(table, "gm")?;
        Ok(GroupMessage {
            id: req_str(table, "id")?,
            content: req_str(table, "c")?,
            user: Endpoint::from_table(req_table(table, "user")?, true)?,
            group: req(req_table(table, "group")?, "id")?.clone(),
        })
    }
}

/// `[a] id = ".."`, both directions: the server's "received it" for `[m]`/`[gm]`, or the
/// client's delivery ack (which the original ignores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub id: String,
}

impl Ack {
    pub fn to_table(&self) -> Table {
        Table::new("a").with("id", self.id.as_str())
    }

    pub fn from_table(table: &Table) -> Result<Self> {
        expect_name(table, "a")?;
        Ok(Ack {
            id: req_str(table, "id")?,
        })
    }
}

/// `[rr]`, server → client. The original writes these by hand, with their own spacing; each
/// variant prints exactly as the original does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `[rr] id="a_01" t="login" s=0`: login success (also after a reconnect that lands on
    /// another node). The id is hard-coded by the original, whatever the request's id was.
    LoginOk,
    /// `[rr] id = "<id>" t = "<kind>" s = 0`: a success the README describes (e.g. for a
    /// reconnect) but the original never sends.
    Ok { id: String, kind: String },
    /// `[rr] id = "<id>" t = "login" s = 1 r = "<reason>"`: "Token error", "Wrong device",
    /// "Unknown error"; the server closes the socket after it.
    LoginFailed { id: String, reason: String },
    /// `[rr] id = "<id>"t = "reconnect" s = 1 r = "<reason>"` (no space after the id: the
    /// original's typo): "offline", "Token not match", "Wrong device"; then the socket closes.
    ReconnectFailed { id: String, reason: String },
    /// Any other failure: `[rr] id = "<id>" t = "<kind>" s = <status> r = "<reason>"`.
    Failed {
        id: String,
        kind: String,
        status: i64,
        reason: String,
    },
    /// `[rr] id = "<id>" c = "Unknown request"`: a request the server does not handle.
    UnknownRequest { id: String },
}

/// The `c` text of [`Reply::UnknownRequest`].
pub const UNKNOWN_REQUEST: &str = "Unknown request";

impl Reply {
    /// The request id this reply answers.
    pub fn id(&self) -> &str {
        match self {
            Reply::LoginOk => LOGIN_REPLY_ID,
            Reply::Ok { id, .. }
            | Reply::LoginFailed { id, .. }
            | Reply::ReconnectFailed { id, .. }
            | Reply::Failed { id, .. }
            | Reply::UnknownRequest { id } => id,
        }
    }

    /// Whether this reply reports success.
    pub fn is_success(&self) -> bool {
        matches!(self, Reply::LoginOk | Reply::Ok { .. })
    }

    /// The failure reason, for failures.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Reply::LoginFailed { reason, .. }
            | Reply::ReconnectFailed { reason, .. }
            | Reply::Failed { reason, .. } => Some(reason),
            Reply::UnknownRequest { .. } => Some(UNKNOWN_REQUEST),
            Reply::LoginOk | Reply::Ok { .. } => None,
        }
    }

    pub fn print(&self) -> Result<String> {
        let q = |s: &str| -> Result<String> {
            let mut out = String::new();
            print_value(&mut out, &Value::from(s))?;
            Ok(out)
        };
        Ok(match self {
            Reply::LoginOk => format!("[rr] id=\"{LOGIN_REPLY_ID}\" t=\"login\" s=0"),
            Reply::Ok { id, kind } => format!("[rr] id = {} t = {} s = 0", q(id)?, q(kind)?),
            Reply::LoginFailed { id, reason } => {
                format!(
                    "[rr] id = {} t = \"login\" s = 1 r = {}",
                    q(id)?,
                    q(reason)?
                )
            }
            Reply::ReconnectFailed { id, reason } => {
                format!(
                    "[rr] id = {}t = \"reconnect\" s = 1 r = {}",
                    q(id)?,
                    q(reason)?
                )
            }
            Reply::Failed {
                id,
                kind,
                status,
                reason,
            } => format!(
                "[rr] id = {} t = {} s = {status} r = {}",
                q(id)?,
                q(kind)?,
                q(reason)?
            ),
            Reply::UnknownRequest { id } => {
                format!("[rr] id = {} c = \"{UNKNOWN_REQUEST}\"", q(id)?)
            }
        })
    }

    /// Parse a `[rr]`. Valid forms: `id` + `c`; `id` + `t` + `s = 0`; `id` + `t` + `s` + `r`.
    /// (A failure without its reason is incomplete: the stream splitter relies on that.)
    pub fn from_table(table: &Table) -> Result<Self> {
        expect_name(table, "rr")?;
        let id = req_str(table, "id")?;
        if table.get("c").is_some() && table.get("t").is_none() {
            req_str(table, "c")?;
            return Ok(Reply::UnknownRequest { id });
        }
        let kind = req_str(table, "t")?;
        let status = req_int(table, "s")?;
        let reason = opt_str(table, "r")?;
        Ok(match (status, reason) {
            (0, None) if id == LOGIN_REPLY_ID && kind == LOGIN => Reply::LoginOk,
            (0, None) => Reply::Ok { id, kind },
            (1, Some(reason)) if kind == LOGIN => Reply::LoginFailed { id, reason },
            (1, Some(reason)) if kind == RECONNECT => Reply::ReconnectFailed { id, reason },
            (status, Some(reason)) => Reply::Failed {
                id,
                kind,
                status,
                reason,
            },
            (status, None) => {
                return Err(malformed(format!(
                    "[rr] with s = {status} lacks its reason r"
                )));
            }
        })
    }
}

/// What a client sends on the TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    Request(Request),
    Message(ChatMessage),
    GroupMessage(GroupMessage),
    Ack(Ack),
}

/// What the server sends on the TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    Reply(Reply),
    Message(ChatMessage),
    GroupMessage(GroupMessage),
    Ack(Ack),
}

/// A message type that travels as one document on the TCP stream.
pub trait Document: Sized {
    /// Convert a parsed document (one top-level table).
    fn from_table(table: &Table) -> Result<Self>;
    /// The exact bytes the original writes (one line, no terminator).
    fn print(&self) -> Result<String>;

    /// Parse one complete document.
    fn parse(bytes: &[u8]) -> Result<Self> {
        Self::from_table(&parse_document(bytes)?)
    }
}

impl Document for ClientMessage {
    fn from_table(table: &Table) -> Result<Self> {
        Ok(match table.name.as_str() {
            "r" => ClientMessage::Request(Request::from_table(table)?),
            "m" => ClientMessage::Message(ChatMessage::from_table(table)?),
            "gm" => ClientMessage::GroupMessage(GroupMessage::from_table(table)?),
            "a" => ClientMessage::Ack(Ack::from_table(table)?),
            other => return Err(malformed(format!("[{other}] is not a client message"))),
        })
    }

    fn print(&self) -> Result<String> {
        match self {
            ClientMessage::Request(r) => r.to_table().print(),
            ClientMessage::Message(m) => m.to_table().print(),
            ClientMessage::GroupMessage(g) => g.to_table().print(),
            ClientMessage::Ack(a) => a.to_table().print(),
        }
    }
}

impl Document for ServerMessage {
    fn from_table(table: &Table) -> Result<Self> {
        Ok(match table.name.as_str() {
            "rr" => ServerMessage::Reply(Reply::from_table(table)?),
            "m" => ServerMessage::Message(ChatMessage::from_table(table)?),
            "gm" => ServerMessage::GroupMessage(GroupMessage::from_table(table)?),
            "a" => ServerMessage::Ack(Ack::from_table(table)?),
            other => return Err(malformed(format!("[{other}] is not a server message"))),
        })
    }

    fn print(&self) -> Result<String> {
        match self {
            ServerMessage::Reply(r) => r.print(),
            ServerMessage::Message(m) => m.to_table().print(),
            ServerMessage::GroupMessage(g) => g.to_table().print(),
            ServerMessage::Ack(a) => a.to_table().print(),
        }
    }
}
