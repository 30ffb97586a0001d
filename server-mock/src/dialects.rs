//! Which listener serves which dialect. Each dialect's listener (next round) is one
//! `DialectListener` implementation; adding it is one line here.

use std::net::SocketAddr;

use imkit_protocols::Dialect;

use crate::{Server, ServerConfig, ServerError};

pub(crate) async fn start(
    server: &mut Server,
    dialect: Dialect,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    let _ = (&server, first, config);
    match dialect {
        // e.g. Dialect::ChatJson => server.add_listener(chat_json::Listener, first, config).await,
        Dialect::ChatJson
        | Dialect::SimpleIm
        | Dialect::Fishchat
        | Dialect::FishchatText
        | Dialect::Newim
        | Dialect::Eutamias => Err(ServerError::NotBuilt(dialect)),
    }
}
