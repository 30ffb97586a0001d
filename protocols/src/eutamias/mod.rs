//! eutamias: yummyliu/Eutamias, gRPC lookup then Go-gob envelopes carrying proto3 over TCP.

pub mod codec;
pub mod gob;
pub mod grpc;
pub mod mapping;
pub mod message;
pub mod proto;

use crate::{Capabilities, Dialect, DriverConfig, Error, Result};

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

/// The client driver (not built yet).
pub(crate) fn connector(_config: &DriverConfig) -> Result<crate::driver::Unbuilt> {
    Err(Error::unsupported(
        Dialect::Eutamias,
        "connect (driver not built yet)",
    ))
}
