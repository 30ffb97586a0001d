//! The fishchat listeners (protocol note `fishchat-text.md`, which describes FishChatServer).
//!
//! * `fishchat`: two endpoints like the original. The `gateway` (first; 17000) answers
//!   `REQ_MSG_SERVER` with the `msg_server` address and closes; the `msg_server` (19000)
//!   serves the clients ([`session`]).
//! * `fishchat-text`: one endpoint (`text`, 17001) speaking the same commands as lines, so a
//!   person can drive it with `nc`. It is gateway and msg_server at once: `REQ_MSG_SERVER`
//!   is answered with its own address and the connection stays open.
//!
//! Differences from the original, all where it crashes, loses or is unfinished:
//! * too few arguments (a panic that kills the whole original process), any command but
//!   `SEND_CLIENT_ID` before it, or an id argument that is not the logged-in user
//!   (`SEND_MESSAGE_P2P`'s `from`, `P2P_ACK`'s and `JOIN_TOPIC`'s id): that connection
//!   alone is closed, with the reason logged. Invalid JSON and unknown commands are ignored
//!   and the connection kept, as in the original;
//! * `P2P_ACK` really acknowledges: what a receiver has not acked is delivered again at its
//!   next `SEND_CLIENT_ID` (same uuid); messages to a disconnected user wait offline and are
//!   flushed at its next `SEND_CLIENT_ID` (the original loses them for up to 100 s);
//! * the dead-session scan (`Timers::fishchat_scan`, 50 s): a session without `SEND_PING` or
//!   `SEND_CLIENT_ID` for two scans is logged out AND its socket closed (the original only
//!   drops the route and leaves a socket that then panics on the next `SEND_PING`); the
//!   client sees the close, reconnects, and gets what arrived meanwhile;
//! * topic messages are kept for offline members like any other message; a topic message
//!   has no uuid to ack, so writing it to the socket settles it;
//! * sending to a topic one has not joined closes the connection (the original delivers it
//!   to the members but not to the sender);
//! * on the `msg_server` endpoint, `SEND_CLIENT_ID` must come within the handshake timeout
//!   (on the text endpoint a person may take their time: the idle timeout applies).

mod frames;
mod gateway;
mod session;

use std::net::SocketAddr;

use imkit_protocols::Dialect;
use tokio::net::TcpStream;

use crate::listener::{Accepted, DialectListener, Endpoint, ListenContext};
use crate::{Server, ServerConfig, ServerError};

const GATEWAY: &str = "gateway";
const MSG_SERVER: &str = "msg_server";
const TEXT: &str = "text";

pub(crate) async fn start(
    server: &mut Server,
    dialect: Dialect,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    match dialect {
        Dialect::Fishchat => server.add_listener(Fishchat, first, config).await,
        Dialect::FishchatText => server.add_listener(FishchatText, first, config).await,
        other => Err(ServerError::NotBuilt(other)),
    }
}

/// `fishchat`: gateway + msg_server, length-prefixed JSON.
struct Fishchat;

impl DialectListener for Fishchat {
    fn dialect(&self) -> Dialect {
        Dialect::Fishchat
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[
            Endpoint {
                role: GATEWAY,
                default_port: 17000,
            },
            Endpoint {
                role: MSG_SERVER,
                default_port: 19000,
            },
        ]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        first.to_string()
    }

    async fn serve(&self, conn: Accepted) {
        if conn.endpoint == GATEWAY {
            gateway::serve(conn).await;
        } else {
            session::serve(conn, frames::Framing::Length).await;
        }
    }
}

/// `fishchat-text`: one line-based endpoint doing both jobs.
struct FishchatText;

impl DialectListener for FishchatText {
    fn dialect(&self) -> Dialect {
        Dialect::FishchatText
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint {
            role: TEXT,
            default_port: 17001,
        }]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        first.to_string()
    }

    async fn serve(&self, conn: Accepted) {
        session::serve(conn, frames::Framing::Lines).await;
    }
}

/// The address to give clients for the endpoint `role`: its bound address, or, when bound to
/// every interface (0.0.0.0), the local address this client reached us on.
fn advertised(context: &ListenContext, role: &str, stream: &TcpStream) -> Option<String> {
    let Some(mut address) = context.address_of(role) else {
        tracing::error!(role, "fishchat: endpoint not bound");
        return None;
    };
    if address.ip().is_unspecified()
        && let Ok(local) = stream.local_addr()
    {
        address.set_ip(local.ip());
    }
    Some(address.to_string())
}
