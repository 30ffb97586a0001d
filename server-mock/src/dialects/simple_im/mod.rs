//! The simple-im listener (protocol note `simple-im-toml.md`, code version e2a17cd): an HTTP
//! "server picker" that logs users in and names the IM node, and the IM node itself, raw TCP
//! carrying one-line "TOML" documents.
//!
//! * [`picker`]: `POST /server/login`, `/server/reconnect`, `/server/failed` (hyper 1);
//! * [`handshake`]: the first TCP document, `[r] t = "login"` / `"reconnect"`;
//! * [`seats`]: the original's session table, one seat per user and device;
//! * [`wire`]: the logged-in connection (documents in, hub events out), run by `pump`;
//! * [`stream`]: client documents out of the unframed TCP stream, and the write buffer;
//! * [`render`]: the server's documents, byte for byte as the original prints them.
//!
//! Where this differs from the original, on purpose:
//! * messages to an offline user are kept and delivered at their next login or reconnect
//!   (the README's intent; the original drops them);
//! * the receiver's `[a]` is accepted and ignored, as the original does: a message counts as
//!   delivered once written to a live connection (client ids such as `a_02` are not unique
//!   across senders, so they cannot settle anything reliably);
//! * a `[gm.group]` with keys besides `id` is delivered (the original acks and drops it);
//! * user ids are integers (the original crashes on a non-integer `to.id`: here that
//!   connection alone is closed); tokens do not expire and a replaced seat's token stays valid;
//! * the sender's device in a delivered `[m]`/`[gm]` is `android` (the hub does not carry
//!   devices), and a `"` in content from another dialect is sent as `'` (no escaping exists);
//! * the HTTP picker serves one request per connection, within the handshake timeout.

mod handshake;
mod picker;
mod render;
mod seats;
mod stream;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;

use imkit_protocols::Dialect;

use crate::listener::{Accepted, DialectListener, Endpoint};
use crate::{Server, ServerConfig, ServerError};

use seats::Seats;

/// The HTTP picker first (what clients dial), then the IM node.
const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        role: "http",
        default_port: 8080,
    },
    Endpoint {
        role: "tcp",
        default_port: 1987,
    },
];

struct SimpleIm {
    seats: Arc<Seats>,
}

impl DialectListener for SimpleIm {
    fn dialect(&self) -> Dialect {
        Dialect::SimpleIm
    }

    fn endpoints(&self) -> &'static [Endpoint] {
        ENDPOINTS
    }

    fn client_url(&self, first: SocketAddr) -> String {
        format!("http://{first}")
    }

    async fn serve(&self, conn: Accepted) {
        match conn.endpoint {
            "http" => picker::serve(conn).await,
            _ => handshake::serve(conn, &self.seats).await,
        }
    }
}

pub(crate) async fn start(
    server: &mut Server,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let listener = SimpleIm {
        seats: Arc::new(Seats::default()),
    };
    server.add_listener(listener, first, config).await
}
