//! eutamias: yummyliu/Eutamias, gRPC lookup then Go-gob envelopes carrying proto3 over TCP
//! (protocol note: `eutamias.md`).
//!
//! # Layers
//!
//! * [`gob`]: gob uint/int and the constant 46-byte [`gob::PREAMBLE`] (the type definition of
//!   `Message{Cmd int, Seq uint, Msg []byte}` every Go sender repeats before each value).
//! * [`proto`]: the proto3 schema (package `rpc`) as prost structs and enums. Beware:
//!   `ResultCode::RcOk` is **1**.
//! * [`message`]: [`Envelope`] (raw `Cmd`/`Seq`/`Msg`), and the typed payloads per
//!   direction: [`ClientMessage`] (to N, S or D's TCP port) and [`ServerMessage`] (from N or S),
//!   carried as [`Frame`]`{seq, message}`.
//! * [`codec`]: tokio-util codecs: [`EnvelopeCodec`] (raw), [`ClientCodec`] (client side:
//!   reads `Frame<ServerMessage>`, writes `Frame<ClientMessage>`) and [`ServerCodec`] (server
//!   side: the reverse). Every segment length is checked against `max_frame` before allocating.
//! * [`grpc`]: the dispatcher lookup `rpc.DService/GetMyNserver(NinfoReq) returns (NinfoRsp)`:
//!   [`DispatcherClient`], and the server half [`DispatcherServer`] around a [`Dispatcher`]
//!   implementation, served by [`serve_dispatcher`].
//! * [`mapping`]: the neutral model. Client side: [`ClientContext`] (`Command` → wire, wire →
//!   `Event`). Server side: [`command_from_wire`] and [`ServerContext::event_to_wire`].
//! * [`driver`]: [`EutamiasConnector`] / [`EutamiasLink`] for the generic driver loop.
//!
//! # The flows (what the server-mock implements)
//!
//! The original implements only lookup, login (always RC_OK), heartbeat and logout; there is
//! no switcher. imkit defines the README's flows with the original's own message types and
//! `Cmd` ids (note §5). Every message is one gob envelope: [`gob::PREAMBLE`] then the value.
//! "Reply" below means: same `Cmd`, envelope `Seq` echoed.
//!
//! **Seq.** A client numbers its requests with its own counter, per connection, starting at 1
//! (the login). Exceptions: a heartbeat goes with `Seq = 0` (as in the note's example), and an
//! ack echoes the `Seq` of the delivery it acknowledges. A server echoes the request's `Seq` in
//! its reply; a server `C_MSGDATA` carries the server's message id as its `Seq`; a peer's
//! session notice has `Seq = 0`.
//!
//! 1. **Lookup** (gRPC, D, default `http://127.0.0.1:54321`): `GetMyNserver(NinfoReq{Id: user})`
//!    → `NinfoRsp{Id, Nip, Nport, rc: RC_OK}`. An empty `Nip` or `Nport = 0` means "no N": the
//!    client gives up this attempt. The client closes the channel.
//! 2. **Login** (TCP to N, default port 54323): `C_LOGIN(LoginReq{id, passwd, online_statue:
//!    OS_ONLINE})` → reply `C_LOGIN(LoginRsp{id, result_code})`: `RC_OK`, or `RC_WRONGPW` for a
//!    wrong password (the connection stays open; the client closes it).
//! 3. **Unread messages**: right after a successful `LoginRsp`, N sends each message kept for
//!    the user as its own `C_MSGDATA(MsgData{id: sender, session_id, content})`, `Seq` = the
//!    message id, exactly as a live delivery (4c). The client acks them with `C_MSGACK` (4d) on
//!    the connection it has: N if no switcher link is open yet. (The original's
//!    `UnreadMsgReq/Rsp` types exist in [`proto`] but no flow uses them.) A server should write
//!    each message separately (the original client loses the second of two messages that
//!    arrive in one read); imkit's own client copes either way.
//! 4. **Sessions and chat**:
//!    * **4a.** `C_CREATESESSION(CreateSessionReq{fromid: me, peerid})` to N → reply
//!      `C_CREATESESSION(CreateSessionRsp{fromid: me, peerid, session_id, result_code: RC_OK,
//!      Sip, Sport})` naming the switcher. If the peer is online, N also sends the peer the same
//!      `CreateSessionRsp` (`fromid` = the initiator, `peerid` = the peer) with `Seq = 0`.
//!      A refusal (unknown peer…) is the reply with `result_code = RC_SERVER_ERROR` and a
//!      `result_str`.
//!    * **4b.** On a `CreateSessionRsp` with RC_OK, a client that has no link to `Sip:Sport`
//!      yet opens a second TCP connection there (same gob framing) and identifies with
//!      `C_LOGIN(LoginReq{id, passwd})` (`Seq = 1`) → reply `C_LOGIN(LoginRsp{RC_OK})`. One
//!      switcher link per client; a different address replaces it.
//!    * **4c.** Chat: `C_MSGDATA(MsgData{id: me, session_id, content})` to S → S accepts with
//!      the reply `C_MSGACK(MsgDataReadAck{result_code: RC_OK, result_str: "<message id>"})` (the
//!      server's message id in decimal; a refusal has another result code and a reason in
//!      `result_str`). S delivers to the peer (on the peer's S link, or on N when the peer has
//!      none; kept as unread when the peer is offline) as `C_MSGDATA(MsgData{id: sender,
//!      session_id, content})` with `Seq = <message id>`.
//!    * **4d.** The receiver acknowledges: `C_MSGACK(MsgDataReadAck{result_code: RC_OK,
//!      result_str: "<session id>"})` with `Seq = <message id>`, to S (or N, see 3). No reply.
//!      A message S has delivered but not seen acked is kept as unread (3) when the receiver's
//!      connection is dropped.
//!    * **4e.** `C_CLOSESESSION(CloseSessionReq{fromid: me, peerid, session_id})` to N → reply
//!      `C_CLOSESESSION(CloseSessionRsq{result_code: RC_OK})`. The peer is not told.
//! 5. **Heartbeat**: `C_HEARTBEAT`, `Seq = 0`, empty `Msg` (`preamble + 05 ff82 01 02 00`), every
//!    3 s ([`HEARTBEAT_INTERVAL`]) on every open connection (N and S). No reply. A server drops a
//!    connection on which nothing arrived for 3 intervals (9 s).
//! 6. **Logout**: `C_LOGOUT(LogoutReq{id})` to N. No reply; the client then closes both
//!    connections.
//!
//! Anything else (`C_SENDMSG`, unknown `Cmd`) gets no answer and the connection stays open, as
//! in the original. A message that does not decode closes that one connection (the original
//! exits the whole process on it).
//!
//! # Neutral mapping
//!
//! | Command | wire | | Event | wire |
//! |---|---|---|---|---|
//! | `Login{user, secret}` | `C_LOGIN` LoginReq | | `LoggedIn` | LoginRsp RC_OK |
//! | `OpenSession{peer}` | `C_CREATESESSION` | | `SessionOpened{by_peer}` | CreateSessionRsp (`by_peer` = `fromid` is not us) |
//! | `Send{to: Session}` | `C_MSGDATA` to S | | `Accepted{id}` | `C_MSGACK` RC_OK from S |
//! | `Ack{Session, id}` | `C_MSGACK` | | `Delivered{Session}` | `C_MSGDATA` from S or N |
//! | `CloseSession` | `C_CLOSESESSION` | | `SessionClosed` | CloseSessionRsq RC_OK |
//! | `Ping` | `C_HEARTBEAT` | | `Error{code: result_code}` | any reply without RC_OK |
//! | `Logout` | `C_LOGOUT` | | | |
//!
//! Server side, `Send.client_ref` is the envelope `Seq` in decimal; client side,
//! `Accepted.client_ref` is the `client_ref` of the `Send` it answers.
//!
//! # Server-side example
//!
//! ```
//! use bytes::BytesMut;
//! use tokio_util::codec::{Decoder, Encoder};
//! use imkit_protocols::eutamias::{
//!     ReplyTo, ServerCodec, ServerContext, command_from_wire, proto::MsgCmd,
//! };
//! use imkit_protocols::{Command, Event, UserId};
//!
//! // The note's LOGIN frame (63 bytes).
//! let login = "2dff81030101074d65737361676501ff820001030103436d64010400010353657101060001\
//!              034d7367010a00000010ff8201080107010708ea011202707700";
//! let bytes: Vec<u8> = (0..login.len()).step_by(2)
//!     .map(|i| u8::from_str_radix(&login[i..i + 2], 16).unwrap()).collect();
//! let mut codec = ServerCodec::new(64 * 1024);
//! let frame = codec.decode(&mut BytesMut::from(&bytes[..])).unwrap().unwrap();
//! let command = command_from_wire(&frame).unwrap();
//! assert!(matches!(command, Command::Login { ref user, .. } if user.as_str() == "234"));
//!
//! let context = ServerContext { user: 234, switcher_ip: "127.0.0.1".into(), switcher_port: 54324 };
//! let reply = context.event_to_wire(
//!     &Event::LoggedIn { user: UserId::from(234), token: None },
//!     Some(ReplyTo { cmd: MsgCmd::CLogin, seq: frame.seq }),
//! ).unwrap();
//! let mut out = BytesMut::new();
//! codec.encode(reply, &mut out).unwrap();
//! assert_eq!(out.len(), 46 + 15);
//! ```

pub mod codec;
pub mod driver;
pub mod gob;
pub mod grpc;
pub mod mapping;
pub mod message;
pub mod proto;

pub use codec::{ClientCodec, EnvelopeCodec, GobCodec, ServerCodec, encode_envelope};
pub use driver::{DEFAULT_PAUSE, EutamiasConnector, EutamiasLink, HEARTBEAT_INTERVAL, host_port};
pub use grpc::{Dispatcher, DispatcherClient, DispatcherServer, serve_dispatcher};
pub use mapping::{Awaiting, ClientContext, ReplyTo, Request, ServerContext, command_from_wire};
pub use message::{ClientMessage, Envelope, Frame, ServerMessage, WireMessage};

use crate::{Capabilities, DriverConfig, Result};

/// What this dialect can express.
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    password: true,
    lookup: true,
    open_session: true,
    close_session: true,
    send_to_session: true,
    server_accept: true,
    server_message_id: true,
    delivery_ack: true,
    client_ping: true,
    offline_messages: true,
    ..Capabilities::NONE
};

/// The client driver.
pub(crate) fn connector(config: &DriverConfig) -> Result<EutamiasConnector> {
    EutamiasConnector::new(config)
}
