//! The chat-json listener: vearne/chat's broker (`/work/shared/protocols/chat-json.md`), one
//! JSON object per WebSocket text frame on `ws://HOST:18224/ws`, v1 and v2 names on the same
//! port.
//!
//! * [`handshake`]: the HTTP upgrade as gin + gorilla answer it (101 on `GET /ws`, 400 for a
//!   `/ws` request that is no WebSocket upgrade, 404 elsewhere);
//! * [`wire`]: frames to hub commands and hub events to frames, the account checks, the
//!   refusals in the dialect's codes, the frame limits;
//! * [`heartbeat`]: the broker's app-level `PING` and the logout on silence.
//!
//! Decisions where the original is unfinished or unsafe (each also said where it is made):
//! * one port serves v1 and v2: replies and pushes go out in the version of the client's
//!   last command (v1 until it sent one);
//! * the account named in a body (`MATCH`/`PONG`/`VIEWED_ACK` `accountId`, `DIALOGUE`
//!   `senderId`) must be the socket's own. The original trusts the body; we answer a
//!   mismatching `MATCH`, `DIALOGUE` or `VIEWED_ACK` with code 1 (ParamErr) and run
//!   nothing, and close the connection (1008) on a `PONG` or `PING_REQ` for another
//!   account, which has no reply to carry an error;
//! * a `DIALOGUE` the hub refuses gets a non-zero code, never code 0: 4 (NoDataFound) for
//!   an ended or unknown session (the original answers 0 with a fresh msgId and delivers
//!   nothing; we never accept what we cannot deliver). The sender still gets `PartnerExit`
//!   for an ended session, as in the original, but after the reply (§9.2: clients must not
//!   rely on the order); 1 (ParamErr) when not logged in or not in the session;
//! * `MATCH` and `VIEWED_ACK` before `CRT_ACCOUNT` (or after the logout on silence) get
//!   code 1, where the original runs them as account 0;
//! * the frame limit is the version's (512 bytes v1, 10 KiB v2, never above
//!   `--max-frame`): a frame is judged by the version of its own `cmd`, frames without
//!   one by the connection's version; over it, close 1009 at once as melody does;
//! * one set of heartbeat timers for both versions (`Timers::chat_ping_interval`,
//!   `chat_max_wait`: v1's 500 ms / 2 s by default; set 3 s / 20 s for v2's);
//! * v2 `RECONNECT_REQ` with the right token binds the account to the new socket and
//!   hands out what was kept for it (deliveries its lost socket had not written); an old
//!   socket of the account that is still open keeps receiving too (the hub routes to
//!   every connection of a user);
//! * WebSocket pings from the client are answered; the broker's own WebSocket pings (54 s,
//!   cut at 60 s) are not sent: the app heartbeat and the idle timeout cover dead peers.

mod handshake;
mod heartbeat;
mod wire;

use std::net::SocketAddr;

use imkit_protocols::Dialect;
use imkit_protocols::chat_json::{V2_MAX_FRAME, Version, max_frame};
use imkit_protocols::net::ws_config;
use tokio::time::timeout;

use crate::listener::{Accepted, DialectListener, Endpoint, pump};
use crate::{Server, ServerConfig, ServerError};

use wire::{ChatWire, FrameLimits};

/// Bytes of frames gathered before a write reaches the socket: a batch of events goes out
/// in one write, and an idle connection's buffer stays small.
const WRITE_BATCH_BYTES: usize = 4 * 1024;

pub(crate) async fn start(
    server: &mut Server,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    server.add_listener(ChatJson, first, config).await
}

/// The chat-json broker.
struct ChatJson;

impl DialectListener for ChatJson {
    fn dialect(&self) -> Dialect {
        Dialect::ChatJson
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[Endpoint {
            role: "ws",
            default_port: 18224,
        }]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        format!("ws://{first}/ws")
    }

    async fn serve(&self, conn: Accepted) {
        let configured = conn.limits().max_frame;
        let limits = FrameLimits {
            v1: max_frame(Version::V1).min(configured),
            v2: max_frame(Version::V2).min(configured),
        };
        let config = ws_config(V2_MAX_FRAME.min(configured)).write_buffer_size(WRITE_BATCH_BYTES);
        let handshake_timeout = conn.limits().handshake_timeout;
        let peer = conn.peer;
        let (hub_conn, outbound) = conn.attach();
        let Accepted {
            stream, context, ..
        } = conn;
        let ws = match timeout(handshake_timeout, handshake::upgrade(stream, config)).await {
            Ok(Ok(Some(ws))) => ws,
            Ok(Ok(None)) => return,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "chat-json: handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, after = ?handshake_timeout, "chat-json: handshake timed out");
                return;
            }
        };
        let mut wire = ChatWire::new(ws, &hub_conn, limits, &context.timers);
        pump(&mut wire, &hub_conn, outbound, &context).await;
    }
}
