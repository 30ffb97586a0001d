//! chat-json: vearne/chat, one JSON object per WebSocket text frame
//! (`/work/shared/protocols/chat-json.md`).
//!
//! * [`message`]: the typed messages, [`ClientMessage`] (client → broker) and
//!   [`ServerMessage`] (broker → client), printed byte for byte as Go's `json.Marshal`
//!   prints them ([`ClientMessage::to_json`], [`ServerMessage::to_json`], `to_frame`), in
//!   either name set ([`Version::V1`], the seed, or [`Version::V2`], `X_REQ`/`X_RESP`);
//! * [`codec`]: frames to typed messages, read as Go's `encoding/json` reads them (keys match
//!   case-insensitively, unknown keys ignored, a wrongly typed field is zero). Both versions
//!   are recognised at once and the result says which one the peer used. Non-JSON, unknown
//!   `cmd` and binary frames are [`Inbound::Ignored`], not errors; only an oversize frame is
//!   ([`crate::Error::FrameTooLarge`]; the originals' limits are [`V1_MAX_FRAME`],
//!   [`V2_MAX_FRAME`]);
//! * [`mapping`]: the neutral model, both halves: client side [`client_from_command`] and
//!   [`events_from_server`], server side [`command_from_client`] and [`server_from_event`],
//!   with the bound account in a [`Context`];
//! * the client driver ([`ChatConnector`], [`ChatLink`]), used through
//!   [`crate::Connection::connect`] with `Dialect::ChatJson`.
//!
//! A broker answering one frame, in the version the client used:
//!
//! ```
//! use imkit_protocols::chat_json::{
//!     Context, Inbound, ServerMessage, V1_MAX_FRAME, command_from_client, decode_client_text,
//!     server_from_event, write_event_json,
//! };
//! use imkit_protocols::{Command, Event, MessageId};
//!
//! let frame = r#"{"cmd":"DIALOGUE","requestId":"r2","senderId":11,"sessionId":10,"content":"yo"}"#;
//! let Inbound::Message { message, version } = decode_client_text(frame, V1_MAX_FRAME)? else {
//!     unreachable!("a known command");
//! };
//! assert!(matches!(command_from_client(&message), Command::Send { .. }));
//! let accepted = Event::Accepted { client_ref: Some("r2".into()), id: Some(MessageId::Seq(12)) };
//! let reply = server_from_event(&accepted, &Context::new(11, version))?;
//! assert_eq!(
//!     reply.to_json(version)?,
//!     r#"{"cmd":"DIALOGUE","requestId":"r2","msgId":12,"code":0}"#
//! );
//! # Ok::<(), imkit_protocols::Error>(())
//! ```
//!
//! Decisions where the note is silent: client frames are printed as the chat-ui's
//! `JSON.stringify` prints them (no HTML escaping: §9.3's `81 f6` DIALOGUE carries a raw
//! `hi <b>&`), server frames as Go prints them; `PUSH_SIGNAL.data` is read as a struct (repeated
//! `data` keys merge, as Go decodes into one struct value); strings are escaped as Go ≥ 1.22
//! does (`\b`, `\f` short); v2 `PING_RESP` has no `code` (as the note lists it); the v2
//! driver falls back to a new account on `RECONNECT_RESP` code 4 and fails (to be retried
//! with backoff) on any other non-zero code. A broker serving both versions on one port
//! knows the version only after decoding, so it reads with [`V2_MAX_FRAME`] (or
//! [`V1_MAX_FRAME`] to be as strict as the seed).

pub mod codec;
mod driver;
mod exact;
mod json;
pub mod mapping;
pub mod message;

pub use codec::{
    Ignored, Inbound, V1_MAX_FRAME, V2_MAX_FRAME, decode_client_frame, decode_client_payload,
    decode_client_text, decode_server_frame, decode_server_payload, decode_server_text, max_frame,
};
pub use driver::{ChatConnector, ChatLink};
pub use mapping::{
    Context, READ_DONE, client_from_command, command_from_client, events_from_server, into_command,
    server_from_event, write_event_json, write_push_json,
};
pub use message::{ClientMessage, Code, ServerMessage, SignalData, SignalType, Version};

use crate::{Capabilities, DriverConfig, Result};

/// What this dialect can express. `client_ping` and `resume` are v2 only (a v1 link answers
/// them with [`crate::Error::Unsupported`]; a v1 reconnect registers a new account).
pub const CAPABILITIES: Capabilities = Capabilities {
    register: true,
    match_partner: true,
    send_to_session: true,
    server_accept: true,
    server_message_id: true,
    read_receipts: true,
    server_ping: true,
    partner_left: true,
    resume: true,
    client_ping: true,
    ..Capabilities::NONE
};

/// The client driver.
pub(crate) fn connector(config: &DriverConfig) -> Result<ChatConnector> {
    Ok(ChatConnector::new(config))
}
