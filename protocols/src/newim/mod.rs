//! newim: yamingd/NewIM, protobuf proto2 `ChatMessage` in WebSocket binary frames
//! (notes: `protocols/newim-protobuf.md`).
//!
//! * Transport: `ws://host:8180/<any path>`. The uid is the upgrade's `Cookie: sid=<uid>`;
//!   there is no login message ([`uid_from_headers`] is the gateway's rule).
//! * One binary frame = one [`ChatMessage`], both ways ([`Frame`]). Text frames are echoed by
//!   the gateway ([`echo`]); the client uses that as its ping.
//! * Boxes (rooms) are joined with `op = JOIN`, left with `QUIT`, written to with `CHAT`; the
//!   gateway stores each message under an increasing id (`uuid`, decimal) and sends it to every
//!   member of the box, **the sender included** ([`Context`] maps one's own copy to
//!   [`crate::Event::Accepted`]).
//! * The internal chat-node → gateway hop: [`ExchangeCodec`] and [`PushCountCodec`].
//!
//! The original cannot deliver as written (it looks the stored message up under the client's
//! `uuid`, not the assigned one); imkit implements the intent: each message is stored once
//! with a fresh id and delivered once to every joined connection.
//!
//! ```
//! use imkit_protocols::newim::{Context, Frame, decode_client_frame, frame_to_command};
//! use imkit_protocols::{Command, Conversation, Event, GroupId, Message, MessageId, UserId};
//!
//! // Client: a command becomes one binary frame.
//! let mut client = Context::new("john-1");
//! let join = client.command_to_frame(&Command::JoinGroup { group: GroupId::new("123") })?;
//! let ws = join.unwrap().to_ws();
//!
//! // Server: the frame becomes a command again...
//! let frame = decode_client_frame(&ws, imkit_protocols::DEFAULT_MAX_FRAME)?.unwrap();
//! assert_eq!(frame_to_command(&frame)?, Command::JoinGroup { group: GroupId::new("123") });
//!
//! // ...and a delivery to john-2 becomes one binary frame.
//! let john2 = Context::new("john-2");
//! let delivered = Event::Delivered(Message {
//!     conversation: Conversation::Group(GroupId::new("123")),
//!     from: UserId::new("john-1"),
//!     id: Some(MessageId::Seq(42)),
//!     content: "hi".into(),
//! });
//! let frame = john2.event_to_frame(&delivered)?;
//! assert_eq!(john2.frame_to_event(frame)?, Some(delivered));
//! # Ok::<(), imkit_protocols::Error>(())
//! ```

mod driver;
mod exchange;
mod frame;
mod mapping;
mod message;

pub use driver::{NewimConnector, NewimLink};
pub use exchange::{ExchangeCodec, PushCountCodec};
pub use frame::{
    Frame, cookie_for, decode_client_frame, echo, encode_server_frame, uid_from_cookie,
    uid_from_headers,
};
pub use mapping::{Context, PING_PREFIX, frame_to_command, parse_id};
pub use message::{
    ChatMessage, ChatOp, ChatStatus, ExchangeMessage, MessageType, decode_chat_message,
    decode_chat_status, decode_exchange_message,
};

use crate::{Capabilities, DriverConfig, Result};

/// What this dialect can express. No `server_ping` (the gateway never pings at the
/// application level), no offline messages, no read receipts.
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    send_to_group: true,
    server_accept: true,
    server_message_id: true,
    delivery_ack: true,
    create_group: true,
    join_group: true,
    leave_group: true,
    client_ping: true,
    ..Capabilities::NONE
};

/// The client driver for `config.address` (`ws://host:port/<path>`) as `credentials.user`.
pub(crate) fn connector(config: &DriverConfig) -> Result<NewimConnector> {
    NewimConnector::new(config)
}
