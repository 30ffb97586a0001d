//! The newim gateway (yamingd/NewIM): protobuf `ChatMessage`s in WebSocket binary frames
//! (notes: `protocols/newim-protobuf.md`).
//!
//! * One WebSocket endpoint (8180), any path. The upgrade's `Cookie` header is the login,
//!   parsed as the original does ([`uid_from_headers`]); the user is logged in on the hub
//!   during the upgrade.
//! * Binary frame = one `ChatMessage`, at most 65536 bytes (Netty's aggregator); the sender
//!   is always the cookie's uid, whatever the frame says. JOIN joins the box (created on the
//!   first join), QUIT leaves it, CHAT goes to every member of the box **the sender
//!   included**, as the stored copy with `uuid` = the box's increasing id. Text frames are
//!   echoed verbatim (the client's ping).
//!
//! Where we differ from the original, and why:
//! * The original cannot deliver (it looks the stored copy up under the client's `uuid`, not
//!   the one it assigned) and redelivers every earlier message of the box on each new one.
//!   We deliver each message once to every member, as it evidently meant to.
//! * No cookie, or one without a uid (`sid=`, `sid==x`): the original completes the upgrade
//!   and then drops every binary frame (NullPointerException). We refuse the upgrade with
//!   `403 Forbidden` and a body saying to send `Cookie: sid=<uid>`: a connection that can
//!   never send is better refused where the client sees it. With `--accounts`, an unknown
//!   uid is refused the same way.
//! * Malformed protobuf or a missing required field: logged, the frame dropped, the
//!   connection kept (as the original). A frame over 65536 bytes closes that connection
//!   (close 1009), as Netty's aggregator fails the channel.
//! * CHAT to a box the user has not joined: the original publishes it anyway; we are strict
//!   and close the connection (close 1008, "not in box X: send JOIN first"), since newim has
//!   no error message. QUIT of a box one is not in is ignored.
//! * ACK is ignored, as in the original: its clients never ack, so tracking their deliveries
//!   as unacked would only make them slow consumers.
//! * Membership is the hub's: per user (every connection of the user receives the box),
//!   kept across reconnects. So messages sent to a box while a member is offline are kept
//!   and delivered at its next upgrade (the original has no offline delivery; its messages
//!   expire from Redis after 600 s unread). Re-joining is harmless: the joiner gets its JOIN
//!   notice back, the others hear of a member only when it is new.
//! * The stored copy is rebuilt from the hub's neutral message: `boxid`, `group` 0, `uuid`,
//!   `sender`, `body`, `mtype` SmallText, `op` CHAT. The client's `receiver`, `group` and
//!   `mtype` are not carried through the hub (which carries text for every dialect).
//!   JOIN/QUIT notices carry no `uuid`: the hub numbers messages, not membership notices.
//! * A message from another dialect addressed to a newim user arrives in the box named
//!   after the conversation (the sender's id): newim's P2P chat is a box of two.

mod copy;
mod wire;

use std::net::SocketAddr;

use imkit_protocols::net::ws_config;
use imkit_protocols::newim::uid_from_headers;
use imkit_protocols::{Command, Dialect, UserId};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

use crate::hub::HubError;
use crate::listener::{Accepted, DialectListener, Endpoint, HubConn, pump};
use crate::{Server, ServerConfig, ServerError};
use wire::NewimWire;

/// Netty's `HttpObjectAggregator(65536)`: the largest frame the gateway takes.
pub const MAX_FRAME: usize = 65536;

pub(crate) async fn start(
    server: &mut Server,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    server.add_listener(Newim, first, config).await
}

struct Newim;

impl DialectListener for Newim {
    fn dialect(&self) -> Dialect {
        Dialect::Newim
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint {
            role: "ws",
            default_port: 8180,
        }]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        // Any path works; this is the demo's.
        format!("ws://{first}/websocket")
    }

    async fn serve(&self, conn: Accepted) {
        let (hub_conn, outbound) = conn.attach();
        let Accepted {
            stream,
            peer,
            context,
            ..
        } = conn;
        let max_frame = context.limits.max_frame.min(MAX_FRAME);
        let mut user = None;
        #[allow(
            clippy::result_large_err,
            reason = "the signature of tungstenite's upgrade callback"
        )]
        let upgrade = |request: &Request, response: Response| match log_in(request, &hub_conn) {
            Ok(uid) => {
                user = Some(uid);
                Ok(response)
            }
            Err((status, body)) => Err(refuse(status, body)),
        };
        let handshake = tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            upgrade,
            Some(ws_config(max_frame)),
        );
        let ws = match tokio::time::timeout(context.limits.handshake_timeout, handshake).await {
            Ok(Ok(ws)) => ws,
            Ok(Err(e)) => {
                tracing::debug!(%peer, "newim: upgrade failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "newim: no upgrade within the handshake timeout");
                return;
            }
        };
        let Some(user) = user else {
            // Unreachable: the upgrade only completes once the user is logged in.
            return;
        };
        let mut wire = NewimWire::new(ws, user, hub_conn.id(), peer, max_frame);
        pump(&mut wire, &hub_conn, outbound, &context).await;
    }
}

/// The upgrade's login: the uid from the cookie, logged in on the hub, or the status and
/// body that refuse the upgrade and say what to do.
fn log_in(request: &Request, conn: &HubConn) -> Result<UserId, (StatusCode, String)> {
    let Some(user) = uid_from_headers(request.headers()).filter(|u| !u.as_str().is_empty()) else {
        tracing::info!(conn = %conn.id(), "newim: upgrade without a uid in the Cookie header: refused");
        return Err((
            StatusCode::FORBIDDEN,
            "newim: no user id: send the header `Cookie: sid=<user id>` with the upgrade\n".into(),
        ));
    };
    let login = Command::Login {
        user: user.clone(),
        secret: None,
        device: None,
    };
    match conn.handle(login) {
        Ok(()) => {
            tracing::debug!(conn = %conn.id(), %user, "newim: logged in");
            Ok(user)
        }
        Err(error @ (HubError::UnknownUser(_) | HubError::WrongPassword(_))) => {
            tracing::info!(conn = %conn.id(), %user, %error, "newim: login refused");
            Err((
                StatusCode::FORBIDDEN,
                format!("newim: {error}: use a user id listed in the accounts file\n"),
            ))
        }
        Err(error) => {
            tracing::info!(conn = %conn.id(), %user, %error, "newim: login failed");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                format!("newim: {error}: try again\n"),
            ))
        }
    }
}

fn refuse(status: StatusCode, body: String) -> ErrorResponse {
    let mut response = ErrorResponse::new(Some(body));
    *response.status_mut() = status;
    response
}
