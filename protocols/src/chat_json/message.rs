//! The typed messages of vearne/chat, both directions, mirroring the wire field for field
//! (protocol note §3 for v1, §7 for v2), and their printing as Go's `json.Marshal` prints them.

use std::fmt;

use bytes::BufMut;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::json::{Escaping, ObjectWriter};
use crate::{Dialect, Error, Result};

/// Which command names a frame uses: v1 (the seed, bare names, responses echo the request's
/// `cmd`) or v2 (`X_REQ` / `X_RESP`, tokens and `RECONNECT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V1,
    V2,
}

/// The result codes (`CodeEnum`). A newtype, so a code the original never sends still
/// survives a round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Code(pub i32);

impl Code {
    /// `C000` / `Success`.
    pub const SUCCESS: Code = Code(0);
    /// `C001` / `ParamErr`.
    pub const PARAM_ERR: Code = Code(1);
    /// `C002` / `InternalErr`.
    pub const INTERNAL_ERR: Code = Code(2);
    /// `C003` / `UnknowErr`.
    pub const UNKNOWN_ERR: Code = Code(3);
    /// `C004` / `NoDataFound`: MATCH found no partner; v2 RECONNECT with a bad id or token.
    pub const NO_DATA_FOUND: Code = Code(4);

    pub fn is_success(self) -> bool {
        self == Code::SUCCESS
    }

    /// The v2 name, for messages to users.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "Success",
            1 => "ParamErr",
            2 => "InternalErr",
            3 => "UnknowErr",
            4 => "NoDataFound",
            _ => "unknown code",
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0, self.name())
    }
}

/// `PUSH_SIGNAL.signalType`: the protobuf `SignalTypeEnum` by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SignalType {
    /// 0: a session partner left (logged out or closed the socket).
    PartnerExit,
    /// 1: somebody matched us into a new session.
    NewSession,
    /// 2: defined, never pushed.
    DeleteMsg,
    /// 3: defined; the broker turns it into `PUSH_VIEWED_ACK` instead.
    ViewedAck,
    /// Any other name (Go prints an unknown enum value as its number).
    Other(String),
}

impl SignalType {
    pub fn as_str(&self) -> &str {
        match self {
            SignalType::PartnerExit => "PartnerExit",
            SignalType::NewSession => "NewSession",
            SignalType::DeleteMsg => "DeleteMsg",
            SignalType::ViewedAck => "ViewedAck",
            SignalType::Other(name) => name,
        }
    }

    pub fn from_name(name: &str) -> SignalType {
        match name {
            "PartnerExit" => SignalType::PartnerExit,
            "NewSession" => SignalType::NewSession,
            "DeleteMsg" => SignalType::DeleteMsg,
            "ViewedAck" => SignalType::ViewedAck,
            other => SignalType::Other(other.to_owned()),
        }
    }
}

/// `PUSH_SIGNAL.data`. Both members are `omitempty`: NewSession carries the matcher's id and
/// nick, PartnerExit only the id of who left; zero values vanish (`"data":{}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SignalData {
    pub account_id: u64,
    pub nick_name: String,
}

/// What a client sends to the broker.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientMessage {
    /// `CRT_ACCOUNT` / `CRT_ACCOUNT_REQ` `{cmd, nickName}`.
    CreateAccount { nick_name: String },
    /// `MATCH` / `MATCH_REQ` `{cmd, accountId}`.
    Match { account_id: u64 },
    /// `DIALOGUE` / `DIALOGUE_REQ` `{cmd, requestId, senderId, sessionId, content}`.
    Dialogue {
        request_id: String,
        sender_id: u64,
        session_id: u64,
        content: String,
    },
    /// The answer to a server ping: `PONG` (v1) / `PING_RESP` (v2) `{cmd, accountId}`.
    Pong { account_id: u64 },
    /// `VIEWED_ACK` / `VIEWED_ACK_REQ` `{cmd, sessionId, accountId, msgId}`: `account_id`
    /// (the reader) read everything in the session up to `msg_id`.
    ViewedAck {
        session_id: u64,
        account_id: u64,
        msg_id: u64,
    },
    /// v2 only: a client-initiated `PING_REQ` `{cmd, accountId}`.
    Ping { account_id: u64 },
    /// v2 only: `RECONNECT_REQ` `{cmd, accountId, token}`.
    Reconnect { account_id: u64, token: String },
}

impl ClientMessage {
    /// The `cmd` string, `None` where `version` has no such message.
    pub fn cmd(&self, version: Version) -> Option<&'static str> {
        use Version::{V1, V2};
        Some(match (self, version) {
            (ClientMessage::CreateAccount { .. }, V1) => "CRT_ACCOUNT",
            (ClientMessage::CreateAccount { .. }, V2) => "CRT_ACCOUNT_REQ",
            (ClientMessage::Match { .. }, V1) => "MATCH",
            (ClientMessage::Match { .. }, V2) => "MATCH_REQ",
            (ClientMessage::Dialogue { .. }, V1) => "DIALOGUE",
            (ClientMessage::Dialogue { .. }, V2) => "DIALOGUE_REQ",
            (ClientMessage::Pong { .. }, V1) => "PONG",
            (ClientMessage::Pong { .. }, V2) => "PING_RESP",
            (ClientMessage::ViewedAck { .. }, V1) => "VIEWED_ACK",
            (ClientMessage::ViewedAck { .. }, V2) => "VIEWED_ACK_REQ",
            (ClientMessage::Ping { .. }, V2) => "PING_REQ",
            (ClientMessage::Reconnect { .. }, V2) => "RECONNECT_REQ",
            (ClientMessage::Ping { .. } | ClientMessage::Reconnect { .. }, V1) => return None,
        })
    }

    /// The account the message claims to come from (the broker trusts it for PONG).
    pub fn claimed_account(&self) -> Option<u64> {
        match self {
            ClientMessage::CreateAccount { .. } => None,
            ClientMessage::Match { account_id }
            | ClientMessage::Pong { account_id }
            | ClientMessage::ViewedAck { account_id, .. }
            | ClientMessage::Ping { account_id }
            | ClientMessage::Reconnect { account_id, .. } => Some(*account_id),
            ClientMessage::Dialogue { sender_id, .. } => Some(*sender_id),
        }
    }

    /// The JSON text of the frame, as the chat-ui sends it (`JSON.stringify`: key order as
    /// listed, no HTML escaping; the broker reads either escaping the same).
    pub fn to_json(&self, version: Version) -> Result<String> {
        let cmd = self.cmd(version).ok_or_else(|| {
            Error::unsupported(Dialect::ChatJson, "send this in v1 (v2-only command)")
        })?;
        let w = ObjectWriter::new(Escaping::Browser).string("cmd", cmd);
        Ok(match self {
            ClientMessage::CreateAccount { nick_name } => w.string("nickName", nick_name),
            ClientMessage::Match { account_id }
            | ClientMessage::Pong { account_id }
            | ClientMessage::Ping { account_id } => w.u64("accountId", *account_id),
            ClientMessage::Dialogue {
                request_id,
                sender_id,
                session_id,
                content,
            } => w
                .string("requestId", request_id)
                .u64("senderId", *sender_id)
                .u64("sessionId", *session_id)
                .string("content", content),
            ClientMessage::ViewedAck {
                session_id,
                account_id,
                msg_id,
            } => w
                .u64("sessionId", *session_id)
                .u64("accountId", *account_id)
                .u64("msgId", *msg_id),
            ClientMessage::Reconnect { account_id, token } => {
                w.u64("accountId", *account_id).string("token", token)
            }
        }
        .finish())
    }

    /// One WebSocket text frame.
    pub fn to_frame(&self, version: Version) -> Result<WsMessage> {
        Ok(WsMessage::text(self.to_json(version)?))
    }
}

/// What the broker sends to a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ServerMessage {
    /// v1 `CRT_ACCOUNT` `{cmd, nickName, accountId}` (no code, no token);
    /// v2 `CRT_ACCOUNT_RESP` `{cmd, code, nickName, accountId, token}`.
    AccountCreated {
        code: Code,
        nick_name: String,
        account_id: u64,
        token: String,
    },
    /// v1 `MATCH` `{cmd, partnerId?, partnerName?, sessionId?, code}`;
    /// v2 `MATCH_RESP` `{cmd, code, partnerId?, partnerName?, sessionId?}`. `?`: omitempty.
    MatchResult {
        code: Code,
        partner_id: u64,
        partner_name: String,
        session_id: u64,
    },
    /// v1 `DIALOGUE` `{cmd, requestId, msgId, code}`; v2 `DIALOGUE_RESP` `{cmd, code, requestId, msgId}`.
    DialogueResult {
        code: Code,
        request_id: String,
        msg_id: u64,
    },
    /// `PUSH_DIALOGUE` / `PUSH_DIALOGUE_REQ` `{cmd, msgId, senderId, sessionId, content}`.
    PushDialogue {
        msg_id: u64,
        sender_id: u64,
        session_id: u64,
        content: String,
    },
    /// `PUSH_SIGNAL` / `PUSH_SIGNAL_REQ` `{cmd, senderId, sessionId, receiverId, signalType, data}`.
    PushSignal {
        sender_id: u64,
        session_id: u64,
        receiver_id: u64,
        signal_type: SignalType,
        data: SignalData,
    },
    /// The app heartbeat: `PING` / `PING_REQ` `{cmd, accountId}`; answer with
    /// [`ClientMessage::Pong`].
    Ping { account_id: u64 },
    /// v1 `VIEWED_ACK` `{cmd, code}`; v2 `VIEWED_ACK_RESP` `{cmd, code}`.
    ViewedAckResult { code: Code },
    /// `PUSH_VIEWED_ACK` / `PUSH_VIEWED_ACK_REQ` `{cmd, sessionId, accountId, msgId}`;
    /// `account_id` is the reader.
    PushViewedAck {
        session_id: u64,
        account_id: u64,
        msg_id: u64,
    },
    /// v2 only: `PING_RESP` `{cmd, accountId}`, the answer to a client `PING_REQ`.
    PingReply { account_id: u64 },
    /// v2 only: `RECONNECT_RESP` `{cmd, code}`; code 4 means a bad id or token.
    ReconnectResult { code: Code },
}

impl ServerMessage {
    /// The `cmd` string, `None` where `version` has no such message.
    pub fn cmd(&self, version: Version) -> Option<&'static str> {
        use Version::{V1, V2};
        Some(match (self, version) {
            (ServerMessage::AccountCreated { .. }, V1) => "CRT_ACCOUNT",
            (ServerMessage::AccountCreated { .. }, V2) => "CRT_ACCOUNT_RESP",
            (ServerMessage::MatchResult { .. }, V1) => "MATCH",
            (ServerMessage::MatchResult { .. }, V2) => "MATCH_RESP",
            (ServerMessage::DialogueResult { .. }, V1) => "DIALOGUE",
            (ServerMessage::DialogueResult { .. }, V2) => "DIALOGUE_RESP",
            (ServerMessage::PushDialogue { .. }, V1) => "PUSH_DIALOGUE",
            (ServerMessage::PushDialogue { .. }, V2) => "PUSH_DIALOGUE_REQ",
            (ServerMessage::PushSignal { .. }, V1) => "PUSH_SIGNAL",
            (ServerMessage::PushSignal { .. }, V2) => "PUSH_SIGNAL_REQ",
            (ServerMessage::Ping { .. }, V1) => "PING",
            (ServerMessage::Ping { .. }, V2) => "PING_REQ",
            (ServerMessage::ViewedAckResult { .. }, V1) => "VIEWED_ACK",
            (ServerMessage::ViewedAckResult { .. }, V2) => "VIEWED_ACK_RESP",
            (ServerMessage::PushViewedAck { .. }, V1) => "PUSH_VIEWED_ACK",
            (ServerMessage::PushViewedAck { .. }, V2) => "PUSH_VIEWED_ACK_REQ",
            (ServerMessage::PingReply { .. }, V2) => "PING_RESP",
            (ServerMessage::ReconnectResult { .. }, V2) => "RECONNECT_RESP",
            (ServerMessage::PingReply { .. } | ServerMessage::ReconnectResult { .. }, V1) => {
                return None;
            }
        })
    }

    /// The JSON text of the frame, byte for byte as the Go broker prints it. In v1 the
    /// `code` and `token` of [`ServerMessage::AccountCreated`] are not on the wire.
    pub fn to_json(&self, version: Version) -> Result<String> {
        Ok(self
            .members(version, ObjectWriter::new(Escaping::Go))?
            .finish())
    }

    /// [`ServerMessage::to_json`], appended to `out` (a server renders many frames into one
    /// buffer instead of allocating a string per frame).
    pub fn write_json(&self, version: Version, out: &mut impl BufMut) -> Result<()> {
        self.members(version, ObjectWriter::over(out, Escaping::Go))?
            .end();
        Ok(())
    }

    fn members<B: BufMut>(&self, version: Version, w: ObjectWriter<B>) -> Result<ObjectWriter<B>> {
        let cmd = self.cmd(version).ok_or_else(|| {
            Error::unsupported(Dialect::ChatJson, "send this in v1 (v2-only reply)")
        })?;
        let v2 = version == Version::V2;
        // `cmd` first; v2 responses embed BaseRespCmd {cmd, code}, so their code follows.
        let head = |w: ObjectWriter<B>, code: Option<Code>| {
            let w = w.string("cmd", cmd);
            match code {
                Some(code) if v2 => w.i32("code", code.0),
                _ => w,
            }
        };
        Ok(match self {
            ServerMessage::AccountCreated {
                code,
                nick_name,
                account_id,
                token,
            } => {
                let w = head(w, Some(*code))
                    .string("nickName", nick_name)
                    .u64("accountId", *account_id);
                if v2 { w.string("token", token) } else { w }
            }
            ServerMessage::MatchResult {
                code,
                partner_id,
                partner_name,
                session_id,
            } => {
                let w = head(w, Some(*code))
                    .u64_nonzero("partnerId", *partner_id)
                    .string_nonempty("partnerName", partner_name)
                    .u64_nonzero("sessionId", *session_id);
                if v2 { w } else { w.i32("code", code.0) }
            }
            // The per-message frames print from borrowed fields, so a server can print them
            // from its own message without building a ServerMessage.
            ServerMessage::DialogueResult {
                code,
                request_id,
                msg_id,
            } => dialogue_result(w, version, *code, request_id, *msg_id),
            ServerMessage::PushDialogue {
                msg_id,
                sender_id,
                session_id,
                content,
            } => PushDialogue {
                msg_id: *msg_id,
                sender_id: *sender_id,
                session_id: *session_id,
                content,
            }
            .members(w, version),
            ServerMessage::PushSignal {
                sender_id,
                session_id,
                receiver_id,
                signal_type,
                data,
            } => head(w, None)
                .u64("senderId", *sender_id)
                .u64("sessionId", *session_id)
                .u64("receiverId", *receiver_id)
                .string("signalType", signal_type.as_str())
                .object(
                    "data",
                    ObjectWriter::new(Escaping::Go)
                        .u64_nonzero("accountId", data.account_id)
                        .string_nonempty("nickName", &data.nick_name),
                ),
            ServerMessage::Ping { account_id } | ServerMessage::PingReply { account_id } => {
                head(w, None).u64("accountId", *account_id)
            }
            ServerMessage::ViewedAckResult { code } | ServerMessage::ReconnectResult { code } => {
                head(w, None).i32("code", code.0)
            }
            ServerMessage::PushViewedAck {
                session_id,
                account_id,
                msg_id,
            } => head(w, None)
                .u64("sessionId", *session_id)
                .u64("accountId", *account_id)
                .u64("msgId", *msg_id),
        })
    }

    /// One WebSocket text frame.
    pub fn to_frame(&self, version: Version) -> Result<WsMessage> {
        Ok(WsMessage::text(self.to_json(version)?))
    }
}

/// The reply to a `DIALOGUE`: v1 `DIALOGUE` `{cmd, requestId, msgId, code}`, v2
/// `DIALOGUE_RESP` `{cmd, code, requestId, msgId}`.
pub(crate) fn dialogue_result<B: BufMut>(
    w: ObjectWriter<B>,
    version: Version,
    code: Code,
    request_id: &str,
    msg_id: u64,
) -> ObjectWriter<B> {
    // Once per message sent: from fixed fragments (`w` is a fresh object).
    match version {
        Version::V1 => w
            .raw(r#""cmd":"DIALOGUE","requestId":"#)
            .string_value(request_id)
            .raw(r#","msgId":"#)
            .u64_value(msg_id)
            .raw(r#","code":"#)
            .i32_value(code.0),
        Version::V2 => w
            .raw(r#""cmd":"DIALOGUE_RESP","code":"#)
            .i32_value(code.0)
            .raw(r#","requestId":"#)
            .string_value(request_id)
            .raw(r#","msgId":"#)
            .u64_value(msg_id),
    }
}

/// A message pushed to its receiver, borrowed: v1 `PUSH_DIALOGUE`, v2 `PUSH_DIALOGUE_REQ`,
/// `{cmd, msgId, senderId, sessionId, content}`.
pub(crate) struct PushDialogue<'a> {
    pub msg_id: u64,
    pub sender_id: u64,
    pub session_id: u64,
    pub content: &'a str,
}

impl PushDialogue<'_> {
    pub(crate) fn members<B: BufMut>(
        &self,
        w: ObjectWriter<B>,
        version: Version,
    ) -> ObjectWriter<B> {
        // Once per message delivered: from fixed fragments (`w` is a fresh object).
        let head = match version {
            Version::V1 => r#""cmd":"PUSH_DIALOGUE","msgId":"#,
            Version::V2 => r#""cmd":"PUSH_DIALOGUE_REQ","msgId":"#,
        };
        w.raw(head)
            .u64_value(self.msg_id)
            .raw(r#","senderId":"#)
            .u64_value(self.sender_id)
            .raw(r#","sessionId":"#)
            .u64_value(self.session_id)
            .raw(r#","content":"#)
            .string_value(self.content)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The per-message frames print from fragments; member by member must give the same.
    #[test]
    fn per_message_frames_print_as_member_by_member() {
        let fresh = || ObjectWriter::new(Escaping::Go);
        for version in [Version::V1, Version::V2] {
            for (msg_id, code, request_id) in [(0, 0, ""), (u64::MAX, -7, "r\"<2>"), (12, 3, "a")] {
                let code = Code(code);
                let by_member = match version {
                    Version::V1 => fresh()
                        .string("cmd", "DIALOGUE")
                        .string("requestId", request_id)
                        .u64("msgId", msg_id)
                        .i32("code", code.0),
                    Version::V2 => fresh()
                        .string("cmd", "DIALOGUE_RESP")
                        .i32("code", code.0)
                        .string("requestId", request_id)
                        .u64("msgId", msg_id),
                };
                assert_eq!(
                    dialogue_result(fresh(), version, code, request_id, msg_id).finish(),
                    by_member.finish()
                );
                let push = PushDialogue {
                    msg_id,
                    sender_id: msg_id / 3,
                    session_id: 10,
                    content: request_id,
                };
                let cmd = match version {
                    Version::V1 => "PUSH_DIALOGUE",
                    Version::V2 => "PUSH_DIALOGUE_REQ",
                };
                let by_member = fresh()
                    .string("cmd", cmd)
                    .u64("msgId", push.msg_id)
                    .u64("senderId", push.sender_id)
                    .u64("sessionId", push.session_id)
                    .string("content", push.content);
                assert_eq!(push.members(fresh(), version).finish(), by_member.finish());
            }
        }
    }
}
