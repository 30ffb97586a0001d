//! fishchat: oikomi/FishChatServer, u32 BE length + Go-encoded JSON commands; and fishchat-text, the same commands as text lines.

use crate::{Capabilities, Dialect, DriverConfig, Error, Result};

/// What this dialect can express.
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

/// The client driver (not built yet).
pub(crate) fn connector(_config: &DriverConfig) -> Result<crate::driver::Unbuilt> {
    Err(Error::unsupported(
        Dialect::Fishchat,
        "connect (driver not built yet)",
    ))
}
