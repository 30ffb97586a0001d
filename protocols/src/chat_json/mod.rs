//! chat-json: vearne/chat, one JSON object per WebSocket text frame.

use crate::{Capabilities, Dialect, DriverConfig, Error, Result};

/// What this dialect can express.
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

/// The client driver (not built yet).
pub(crate) fn connector(_config: &DriverConfig) -> Result<crate::driver::Unbuilt> {
    Err(Error::unsupported(
        Dialect::ChatJson,
        "connect (driver not built yet)",
    ))
}
