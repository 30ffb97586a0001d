//! Which listener serves which dialect: one module per dialect, each a `DialectListener`
//! (and its `Wire`) that only translates between its wire and the hub.

mod chat_json;
mod eutamias;
mod fishchat;
mod newim;
mod simple_im;

use std::net::SocketAddr;

use imkit_protocols::Dialect;

use crate::{Server, ServerConfig, ServerError};

pub(crate) async fn start(
    server: &mut Server,
    dialect: Dialect,
    first: SocketAddr,
    config: &ServerConfig,
) -> Result<(), ServerError> {
    match dialect {
        Dialect::ChatJson => chat_json::start(server, first, config).await,
        Dialect::SimpleIm => simple_im::start(server, first, config).await,
        Dialect::Fishchat | Dialect::FishchatText => {
            fishchat::start(server, dialect, first, config).await
        }
        Dialect::Newim => newim::start(server, first, config).await,
        Dialect::Eutamias => eutamias::start(server, first, config).await,
    }
}
