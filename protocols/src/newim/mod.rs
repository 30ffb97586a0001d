//! newim: yamingd/NewIM, protobuf proto2 ChatMessage in WebSocket binary frames.

use crate::{Capabilities, Dialect, DriverConfig, Error, Result};

/// What this dialect can express.
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    send_to_group: true,
    server_accept: true,
    server_message_id: true,
    delivery_ack: true,
    create_group: true,
    join_group: true,
    leave_group: true,
    client_ping: true,
    ..Capabilities::NONE
};

/// The client driver (not built yet).
pub(crate) fn connector(_config: &DriverConfig) -> Result<crate::driver::Unbuilt> {
    Err(Error::unsupported(
        Dialect::Newim,
        "connect (driver not built yet)",
    ))
}
