//! simple-im: wudixiaotie/simple_im, HTTP login then one-line "TOML" over raw TCP.

use crate::{Capabilities, Dialect, DriverConfig, Error, Result};

/// What this dialect can express.
pub const CAPABILITIES: Capabilities = Capabilities {
    login: true,
    password: true,
    lookup: true,
    send_to_user: true,
    send_to_group: true,
    server_accept: true,
    delivery_ack: true,
    offline_messages: true,
    resume: true,
    ..Capabilities::NONE
};

/// The client driver (not built yet).
pub(crate) fn connector(_config: &DriverConfig) -> Result<crate::driver::Unbuilt> {
    Err(Error::unsupported(
        Dialect::SimpleIm,
        "connect (driver not built yet)",
    ))
}
