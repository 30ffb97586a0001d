//! fishchat: oikomi/FishChatServer, u32 BE length + Go-encoded JSON commands; and
//! fishchat-text, the same commands as text lines (protocol note `fishchat-text.md`).
//!
//! * [`message`]: [`CmdSimple`] (the Go struct: name + string args) and [`Cmd`] (typed, both
//!   directions, arity checked: too few args is an error, extra args are ignored);
//! * [`go_json`]: the body printer, byte-exact with Go's `json.Encoder` (key order, `[]`,
//!   HTML escapes, the trailing `\n`), and a parser as lenient as Go's `json.Unmarshal`;
//! * [`codec`]: [`FrameCodec`], the length framing, and [`Inbound`], its item: a bad body is
//!   [`Inbound::Invalid`] and the next frame still decodes; only a declared length above the
//!   limit ([`crate::Error::FrameTooLarge`], checked before allocating) ends the stream;
//! * [`text`]: [`TextCodec`] and the line grammar (bare words, `"…"` with escapes);
//! * [`Codec`]: either of the two, picked by dialect;
//! * [`mapping`]: to and from [`crate::Command`] / [`crate::Event`], with a [`Context`]
//!   (the logged-in client id);
//! * [`driver`]: the client [`FishchatConnector`] / [`FishchatLink`].
//!
//! The wire is the same in both directions, so the codecs serve clients and servers alike.
//! A server (the mock) reads client commands and answers like this:
//!
//! ```
//! use bytes::BytesMut;
//! use tokio_util::codec::{Decoder, Encoder};
//! use imkit_protocols::fishchat::{self, Cmd, Codec, Inbound};
//! use imkit_protocols::{Command, Dialect, Event, UserId};
//!
//! let mut codec = Codec::for_dialect(Dialect::Fishchat, 64 * 1024);
//! let mut input = BytesMut::from(&b"\0\0\0\x2e{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"alice\"]}\n"[..]);
//! let Some(Inbound::Cmd(cmd)) = codec.decode(&mut input).unwrap() else { panic!() };
//! assert_eq!(
//!     fishchat::cmd_to_command(cmd).unwrap(),
//!     Command::Login { user: UserId::from("alice"), secret: None, device: None },
//! );
//!
//! // The gateway's answer, as the original writes it.
//! let reply = fishchat::event_to_cmd(&Event::LookedUp { address: "127.0.0.1:19000".into() })
//!     .unwrap()
//!     .unwrap();
//! let mut out = BytesMut::new();
//! codec.encode(&reply, &mut out).unwrap();
//! assert_eq!(
//!     &out[..],
//!     &b"\0\0\0\x46{\"CmdName\":\"SELECT_MSG_SERVER_FOR_CLIENT\",\"Args\":[\"127.0.0.1:19000\"]}\n"[..]
//! );
//!
//! // The same answer in the text form.
//! let mut text = Codec::for_dialect(Dialect::FishchatText, 1024);
//! let mut line = BytesMut::new();
//! text.encode(&reply, &mut line).unwrap();
//! assert_eq!(&line[..], b"SELECT_MSG_SERVER_FOR_CLIENT 127.0.0.1:19000\n");
//! ```
//!
//! Differences from the original a server should keep: too few args must close that client
//! (the original crashes the whole process), nothing is ever answered to `SEND_CLIENT_ID`,
//! `SEND_PING`, `P2P_ACK`, `CREATE_TOPIC`, or to the sender of `SEND_MESSAGE_P2P`.

pub mod codec;
pub mod driver;
pub mod go_json;
pub mod mapping;
pub mod message;
pub mod text;
mod wire;

pub use codec::{FrameCodec, Inbound, frame_bytes};
pub use driver::{FishchatConnector, FishchatLink, HEARTBEAT_INTERVAL};
pub use mapping::{
    Context, cmd_to_command, cmd_to_event, command_to_cmd, event_to_cmd, new_message_id,
};
pub use message::{Cmd, CmdSimple, PING_ARG};
pub use text::TextCodec;
pub use wire::Codec;

use crate::{Capabilities, DriverConfig, Result};

/// What this dialect can express (both forms).
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    lookup: true,
    send_to_user: true,
    send_to_group: true,
    server_message_id: true,
    delivery_ack: true,
    create_group: true,
    join_group: true,
    client_ping: true,
    offline_messages: true,
    ..Capabilities::NONE
};

/// The client driver for `config.dialect` (`fishchat` or `fishchat-text`).
pub(crate) fn connector(config: &DriverConfig) -> Result<FishchatConnector> {
    FishchatConnector::new(config)
}
