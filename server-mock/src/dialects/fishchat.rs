//! The fishchat and fishchat-text listeners (next round).

use std::net::SocketAddr;

use imkit_protocols::Dialect;

use crate::{Server, ServerConfig, ServerError};

pub(crate) async fn start(
    _server: &mut Server,
    dialect: Dialect,
    _first: SocketAddr,
    _config: &ServerConfig,
) -> Result<(), ServerError> {
    Err(ServerError::NotBuilt(dialect))
}
