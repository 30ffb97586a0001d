//! The chat_json listener (next round).

use std::net::SocketAddr;

use imkit_protocols::Dialect;

use crate::{Server, ServerConfig, ServerError};

pub(crate) async fn start(
    _server: &mut Server,
    _first: SocketAddr,
    _config: &ServerConfig,
) -> Result<(), ServerError> {
    Err(ServerError::NotBuilt(Dialect::ChatJson))
}
