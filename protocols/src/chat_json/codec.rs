//! Frames to typed messages and back. The transport is WebSocket: one text frame holds one
//! JSON object, so "decoding" is per frame, not per byte stream; tungstenite does the framing
//! (built with [`crate::net::ws_config`] it refuses oversize frames before buffering them).
//!
//! Like the original broker, the decoders never fail on content: non-JSON, an unknown `cmd`
//! or a binary frame come back as [`Inbound::Ignored`] and the connection goes on. Only a
//! payload above the frame limit is an error ([`Error::FrameTooLarge`]), and a close frame
//! ([`Error::Closed`]).

use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::exact::ExactFields;
use super::json::{Document, Fields, FrameFields};
use super::message::{ClientMessage, Code, ServerMessage, SignalData, SignalType, Version};
use crate::{Dialect, Error, Result};

/// v1's limit on a client frame (melody's `MaxMessageSize`): 512 bytes pass, 513 close the
/// socket with 1009.
pub const V1_MAX_FRAME: usize = 512;
/// v2's limit on a client frame: 10 KiB.
pub const V2_MAX_FRAME: usize = 10 * 1024;

/// The client-frame limit of the original for `version`.
pub fn max_frame(version: Version) -> usize {
    match version {
        Version::V1 => V1_MAX_FRAME,
        Version::V2 => V2_MAX_FRAME,
    }
}

/// The outcome of decoding one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound<M> {
    /// A message, and the name set it used (answer in the same one).
    Message { message: M, version: Version },
    /// Something the original reads and drops; the connection stays open.
    Ignored(Ignored),
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ignored {
    /// A binary frame (melody's binary handler is a no-op in the original).
    Binary { len: usize },
    /// A WebSocket ping, pong or raw frame: tungstenite answers pings by itself.
    Control,
    /// Text that is not JSON (or JSON with trailing garbage).
    NotJson,
    /// JSON that is not an object (Go decodes it as all-zero, so `cmd` is empty).
    NotObject,
    /// A `cmd` this side does not handle (compared exactly, as Go's `switch` does), with the
    /// `cmd` as sent (possibly empty).
    UnknownCmd(String),
}

fn check_len(len: usize, limit: usize) -> Result<()> {
    if len > limit {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::ChatJson,
            len: len as u64,
            limit,
        });
    }
    Ok(())
}

/// Parse the frame text into its members, or say why it is ignored.
fn fields(text: &str, limit: usize) -> Result<std::result::Result<Fields, Ignored>> {
    check_len(text.len(), limit)?;
    Ok(match Document::parse(text) {
        None => Err(Ignored::NotJson),
        Some(Document::Other) => Err(Ignored::NotObject),
        Some(Document::Object(fields)) => Ok(fields),
    })
}

/// Decode the payload of a client text frame (what a broker reads).
pub fn decode_client_text(text: &str, limit: usize) -> Result<Inbound<ClientMessage>> {
    check_len(text.len(), limit)?;
    // Real clients write the field names exactly: read those frames straight into their
    // fields; the Go-compatible reading gives the same values for them, and takes the rest.
    if let Some(exact) = ExactFields::parse(text) {
        return Ok(client_message(&exact));
    }
    Ok(match fields(text, limit)? {
        Ok(f) => client_message(&f),
        Err(ignored) => Inbound::Ignored(ignored),
    })
}

/// The message a client frame's fields make.
fn client_message(f: &impl FrameFields) -> Inbound<ClientMessage> {
    let cmd = f.text("cmd");
    let (message, version) = match &*cmd {
        "CRT_ACCOUNT" | "CRT_ACCOUNT_REQ" => (
            ClientMessage::CreateAccount {
                nick_name: f.string("nickName"),
            },
            cmd == "CRT_ACCOUNT",
        ),
        "MATCH" | "MATCH_REQ" => (
            ClientMessage::Match {
                account_id: f.u64("accountId"),
            },
            cmd == "MATCH",
        ),
        "DIALOGUE" | "DIALOGUE_REQ" => (
            ClientMessage::Dialogue {
                request_id: f.string("requestId"),
                sender_id: f.u64("senderId"),
                session_id: f.u64("sessionId"),
                content: f.string("content"),
            },
            cmd == "DIALOGUE",
        ),
        "PONG" | "PING_RESP" => (
            ClientMessage::Pong {
                account_id: f.u64("accountId"),
            },
            cmd == "PONG",
        ),
        "VIEWED_ACK" | "VIEWED_ACK_REQ" => (
            ClientMessage::ViewedAck {
                session_id: f.u64("sessionId"),
                account_id: f.u64("accountId"),
                msg_id: f.u64("msgId"),
            },
            cmd == "VIEWED_ACK",
        ),
        "PING_REQ" => (
            ClientMessage::Ping {
                account_id: f.u64("accountId"),
            },
            false,
        ),
        "RECONNECT_REQ" => (
            ClientMessage::Reconnect {
                account_id: f.u64("accountId"),
                token: f.string("token"),
            },
            false,
        ),
        _ => return Inbound::Ignored(Ignored::UnknownCmd(cmd.into_owned())),
    };
    Inbound::Message {
        message,
        version: if version { Version::V1 } else { Version::V2 },
    }
}

/// Decode the payload of a server text frame (what a client reads). v1 and v2 names differ
/// for every message, so one decoder takes both.
pub fn decode_server_text(text: &str, limit: usize) -> Result<Inbound<ServerMessage>> {
    let f = match fields(text, limit)? {
        Ok(f) => f,
        Err(ignored) => return Ok(Inbound::Ignored(ignored)),
    };
    let cmd = f.string("cmd");
    let code = Code(f.i32("code"));
    let (message, v1) = match cmd.as_str() {
        "CRT_ACCOUNT" | "CRT_ACCOUNT_RESP" => (
            ServerMessage::AccountCreated {
                code,
                nick_name: f.string("nickName"),
                account_id: f.u64("accountId"),
                token: f.string("token"),
            },
            cmd == "CRT_ACCOUNT",
        ),
        "MATCH" | "MATCH_RESP" => (
            ServerMessage::MatchResult {
                code,
                partner_id: f.u64("partnerId"),
                partner_name: f.string("partnerName"),
                session_id: f.u64("sessionId"),
            },
            cmd == "MATCH",
        ),
        "DIALOGUE" | "DIALOGUE_RESP" => (
            ServerMessage::DialogueResult {
                code,
                request_id: f.string("requestId"),
                msg_id: f.u64("msgId"),
            },
            cmd == "DIALOGUE",
        ),
        "PUSH_DIALOGUE" | "PUSH_DIALOGUE_REQ" => (
            ServerMessage::PushDialogue {
                msg_id: f.u64("msgId"),
                sender_id: f.u64("senderId"),
                session_id: f.u64("sessionId"),
                content: f.string("content"),
            },
            cmd == "PUSH_DIALOGUE",
        ),
        "PUSH_SIGNAL" | "PUSH_SIGNAL_REQ" => {
            let data = f.object("data");
            (
                ServerMessage::PushSignal {
                    sender_id: f.u64("senderId"),
                    session_id: f.u64("sessionId"),
                    receiver_id: f.u64("receiverId"),
                    signal_type: SignalType::from_name(&f.string("signalType")),
                    data: SignalData {
                        account_id: data.u64("accountId"),
                        nick_name: data.string("nickName"),
                    },
                },
                cmd == "PUSH_SIGNAL",
            )
        }
        "PING" | "PING_REQ" => (
            ServerMessage::Ping {
                account_id: f.u64("accountId"),
            },
            cmd == "PING",
        ),
        "VIEWED_ACK" | "VIEWED_ACK_RESP" => {
            (ServerMessage::ViewedAckResult { code }, cmd == "VIEWED_ACK")
        }
        "PUSH_VIEWED_ACK" | "PUSH_VIEWED_ACK_REQ" => (
            ServerMessage::PushViewedAck {
                session_id: f.u64("sessionId"),
                account_id: f.u64("accountId"),
                msg_id: f.u64("msgId"),
            },
            cmd == "PUSH_VIEWED_ACK",
        ),
        "PING_RESP" => (
            ServerMessage::PingReply {
                account_id: f.u64("accountId"),
            },
            false,
        ),
        "RECONNECT_RESP" => (ServerMessage::ReconnectResult { code }, false),
        _ => return Ok(Inbound::Ignored(Ignored::UnknownCmd(cmd))),
    };
    Ok(Inbound::Message {
        message,
        version: if v1 { Version::V1 } else { Version::V2 },
    })
}

/// Text of a frame payload given as bytes. Go replaces invalid UTF-8 inside strings with
/// U+FFFD; the lossy conversion does the same (and outside strings it still fails to parse).
/// The limit applies to the payload: the replacement may grow it (at most threefold), so the
/// text is not checked again.
fn text_of(payload: &[u8], limit: usize) -> Result<String> {
    check_len(payload.len(), limit)?;
    Ok(String::from_utf8_lossy(payload).into_owned())
}

/// [`decode_client_text`] for a raw payload (any bytes).
pub fn decode_client_payload(payload: &[u8], limit: usize) -> Result<Inbound<ClientMessage>> {
    decode_client_text(&text_of(payload, limit)?, usize::MAX)
}

/// [`decode_server_text`] for a raw payload (any bytes).
pub fn decode_server_payload(payload: &[u8], limit: usize) -> Result<Inbound<ServerMessage>> {
    decode_server_text(&text_of(payload, limit)?, usize::MAX)
}

/// Decode one WebSocket message from a client. Binary and control frames are ignored; a
/// close frame is [`Error::Closed`].
pub fn decode_client_frame(frame: &WsMessage, limit: usize) -> Result<Inbound<ClientMessage>> {
    match frame {
        WsMessage::Text(text) => decode_client_text(text.as_str(), limit),
        other => non_text(other, limit),
    }
}

/// Decode one WebSocket message from the server. Binary and control frames are ignored; a
/// close frame is [`Error::Closed`].
pub fn decode_server_frame(frame: &WsMessage, limit: usize) -> Result<Inbound<ServerMessage>> {
    match frame {
        WsMessage::Text(text) => decode_server_text(text.as_str(), limit),
        other => non_text(other, limit),
    }
}

fn non_text<M>(frame: &WsMessage, limit: usize) -> Result<Inbound<M>> {
    match frame {
        WsMessage::Binary(data) => {
            check_len(data.len(), limit)?;
            Ok(Inbound::Ignored(Ignored::Binary { len: data.len() }))
        }
        WsMessage::Close(_) => Err(Error::Closed),
        _ => Ok(Inbound::Ignored(Ignored::Control)),
    }
}
