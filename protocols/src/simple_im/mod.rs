//! simple-im: wudixiaotie/simple_im, HTTP login then one-line "TOML" over raw TCP
//! (protocol note `simple-im-toml.md`, code version e2a17cd).
//!
//! * [`document`]: the lenient parser and byte-exact printer of the original's one-line TOML
//!   ([`Table`], [`Value`]);
//! * [`message`]: typed messages, both directions: [`ClientMessage`] (`[r]`, `[m]`, `[gm]`,
//!   `[a]`) and [`ServerMessage`] (`[rr]` as [`Reply`], `[m]`, `[gm]`, `[a]`);
//! * [`codec`]: splitting the unframed TCP stream into documents ([`ClientCodec`] for a client,
//!   [`ServerCodec`] for a server), and when the last one counts as complete;
//! * [`http`]: the picker's form bodies ([`LoginForm`], [`ReconnectForm`], [`FailedForm`]) and
//!   its TOML answers ([`Response`]), both directions;
//! * [`mapping`]: to and from [`crate::Command`] / [`crate::Event`], with a [`Context`];
//! * [`driver`]: the client [`SimpleImConnector`] / [`SimpleImLink`].
//!
//! A server reads client documents and writes replies like this:
//!
//! ```
//! use bytes::BytesMut;
//! use tokio_util::codec::{Decoder, Encoder};
//! use imkit_protocols::simple_im::{ClientMessage, Reply, ServerCodec, ServerMessage};
//!
//! let mut codec = ServerCodec::new(64 * 1024);
//! let mut input = BytesMut::from(
//!     &br#"[r] id = "a_01" t = "login" [r.user] id = "1" device = "android" token = "tok""#[..],
//! );
//! let Some(Ok(ClientMessage::Request(login))) = codec.decode(&mut input)? else {
//!     panic!("a login request");
//! };
//! assert_eq!(login.user.unwrap().token, "tok");
//!
//! let mut output = BytesMut::new();
//! codec.encode(ServerMessage::Reply(Reply::LoginOk), &mut output)?;
//! assert_eq!(&output[..], br#"[rr] id="a_01" t="login" s=0"#);
//! # Ok::<(), imkit_protocols::Error>(())
//! ```

pub mod codec;
pub mod document;
pub mod driver;
pub mod http;
pub mod lookup;
pub mod mapping;
pub mod message;

pub use codec::{ClientCodec, DocumentCodec, ServerCodec};
pub use document::{Table, Value, parse_document};
pub use driver::{SimpleImConnector, SimpleImLink};
pub use http::{FailedForm, LoginForm, ReconnectForm, Response, ResponseUser};
pub use mapping::{
    Context, command_to_message, event_to_message, message_to_command, message_to_event,
};
pub use message::{
    Ack, ChatMessage, ClientMessage, Document, Endpoint, GroupMessage, Reply, Request, RequestUser,
    ServerMessage,
};

use crate::{Capabilities, DriverConfig, Result};

/// What this dialect can express. No offline messages in this version of the original (an
/// offline user's messages are dropped), no ping (no heartbeat message), no group management.
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    password: true,
    lookup: true,
    send_to_user: true,
    send_to_group: true,
    server_accept: true,
    delivery_ack: true,
    resume: true,
    ..Capabilities::NONE
};

/// The client driver.
pub(crate) fn connector(config: &DriverConfig) -> Result<impl crate::driver::Connector> {
    SimpleImConnector::new(config)
}
