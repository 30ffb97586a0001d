//! The eutamias listener: the dispatcher (D), notificer (N) and switcher (S) of
//! yummyliu/Eutamias in one process, on three ports, so clients still make the D → N → S
//! hops. The flows are the ones `imkit_protocols::eutamias` documents (the original is
//! unfinished: no switcher, no sessions, no delivery; note `eutamias.md` §5).
//!
//! | endpoint | role | default port | what |
//! |---|---|---|---|
//! | D | `dispatcher` | 54321 (`ClientListenport`) | gRPC `GetMyNserver` → this server's N ([`dispatcher`]) |
//! | N | `notificer` | 54323 (`Listenport`) | login, heartbeat, logout, sessions, unread messages ([`wire`]) |
//! | S | `switcher` | 54324 (ours: the original has no S and no port; the next one after N) | identify, chat, acks ([`wire`]) |
//!
//! The client URL is the dispatcher's, `http://ADDR`. With D on port 0, N and S get free
//! ports too; `--listen eutamias.notificer=…` / `eutamias.switcher=…` place them. N and S
//! name themselves by the address the client reached (so a server bound to 0.0.0.0
//! advertises an address the client can dial).
//!
//! A client's S connection is attached to the hub as its *message link*: while it is open,
//! messages go there rather than to N, and identifying on it replays nothing (the N login
//! did). The original's N does not exist as a separate process here, so the note's N → D
//! registration port (54322) is not served.
//!
//! Differences from the original, on purpose: the password is checked against the hub
//! (RC_WRONGPW with `--accounts`); a silent connection is dropped after the heartbeat timeout
//! (`Timers::eutamias_heartbeat_timeout`, 9 s = 3 missed 3 s beats; the original never drops
//! anyone); and a message that does not decode (bad gob, bad protobuf, a close in the
//! middle of a message, an oversize segment) closes that one connection — the original's N
//! calls `log.Fatal` on any decode error, EOF included, so any client disconnect ends the
//! whole process. Our reader also takes several messages from one TCP read (the original
//! loses all but the first).

mod dispatcher;
mod socket;
mod wire;

use std::net::SocketAddr;

use imkit_protocols::Dialect;

use crate::hub::AttachOptions;
use crate::listener::{Accepted, DialectListener, Endpoint, pump};
use crate::{Server, ServerConfig, ServerError};
use wire::{EutamiasWire, Role};

const DISPATCHER: &str = "dispatcher";
const NOTIFICER: &str = "notificer";
const SWITCHER: &str = "switcher";

pub(crate) async fn start(
    server: &mut Server,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    server.add_listener(Eutamias, first, config).await
}

struct Eutamias;

impl DialectListener for Eutamias {
    fn dialect(&self) -> Dialect {
        Dialect::Eutamias
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        &[
            Endpoint {
                role: DISPATCHER,
                default_port: 54321,
            },
            Endpoint {
                role: NOTIFICER,
                default_port: 54323,
            },
            Endpoint {
                role: SWITCHER,
                default_port: 54324,
            },
        ]
    }

    fn client_url(&self, first: SocketAddr) -> String {
        format!("http://{first}")
    }

    async fn serve(&self, conn: Accepted) {
        match conn.endpoint {
            DISPATCHER => {
                let notificer = advertised(&conn, NOTIFICER);
                dispatcher::serve(conn, notificer).await;
            }
            NOTIFICER => serve_gob(conn, Role::Notificer).await,
            SWITCHER => serve_gob(conn, Role::Switcher).await,
            other => tracing::error!(endpoint = other, "eutamias has no such endpoint"),
        }
    }
}

/// The address of our endpoint `role` as the client of `conn` can dial it: its bound
/// address, with the IP the client reached if it is bound to all interfaces.
fn advertised(conn: &Accepted, role: &str) -> SocketAddr {
    let reached = conn
        .stream
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    match conn.context.address_of(role) {
        Some(bound) if bound.ip().is_unspecified() => SocketAddr::new(reached.ip(), bound.port()),
        Some(bound) => bound,
        None => reached,
    }
}

async fn serve_gob(conn: Accepted, role: Role) {
    let options = AttachOptions {
        message_link: role == Role::Switcher,
        ..AttachOptions::for_dialect(Dialect::Eutamias)
    };
    let switcher = advertised(&conn, SWITCHER);
    let (hub_conn, outbound) = conn.attach_with(options);
    let Accepted {
        stream, context, ..
    } = conn;
    let mut wire = EutamiasWire::new(role, stream, &hub_conn, switcher, &context);
    pump(&mut wire, &hub_conn, outbound, &context).await;
}
