//! The dispatcher (D): gRPC `rpc.DService/GetMyNserver` over h2c, naming this server's
//! notificer.
//!
//! The framework hands us one accepted TCP stream; the protocols crate's
//! [`DispatcherServer`] is a tower service, so we run hyper's HTTP/2 server connection on
//! that stream ourselves rather than a whole tonic `Server` (which wants to own the accept
//! loop). The connection is served until the client closes it, the server shuts down
//! (GOAWAY, then the grace period) or it has lived for the idle timeout: the README's lookup
//! is a "short connection", and a client that keeps its channel simply reconnects.

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::body::Incoming;
use hyper::server::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use imkit_protocols::Dialect;
use imkit_protocols::eutamias::proto::{NinfoReq, NinfoRsp, ResultCode};
use imkit_protocols::eutamias::{Dispatcher, DispatcherServer};
use tonic::codegen::Service;

use crate::listener::Accepted;

/// Answers every lookup with one notificer: this server's.
struct Lookup {
    notificer: SocketAddr,
}

impl Dispatcher for Lookup {
    async fn get_my_nserver(&self, request: NinfoReq) -> Result<NinfoRsp, tonic::Status> {
        tracing::debug!(dialect = %Dialect::Eutamias, user = request.id, notificer = %self.notificer, "lookup");
        // As the original: any user gets RC_OK (the password is checked at login).
        Ok(NinfoRsp {
            id: request.id,
            nip: self.notificer.ip().to_string(),
            nport: u64::from(self.notificer.port()),
            rc: ResultCode::RcOk as i32,
        })
    }
}

/// Serve one dispatcher connection; `notificer` is the address to name.
pub(super) async fn serve(conn: Accepted, notificer: SocketAddr) {
    let Accepted {
        stream,
        peer,
        context,
        ..
    } = conn;
    let service = DispatcherServer::new(Lookup { notificer }).max_message(context.limits.max_frame);
    let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
        let mut service = service.clone();
        async move { Ok::<_, Infallible>(service.call(request).await.unwrap_or_else(|e| match e {})) }
    });
    let connection =
        http2::Builder::new(TokioExecutor::new()).serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let lifetime = context
        .limits
        .idle_timeout
        .unwrap_or(std::time::Duration::from_secs(86_400));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = context.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(context.limits.shutdown_grace, connection.as_mut()).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
        _ = tokio::time::sleep(lifetime) => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(context.limits.handshake_timeout, connection.as_mut()).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    };
    match result {
        Ok(()) => {
            tracing::debug!(dialect = %Dialect::Eutamias, %peer, "dispatcher connection ended")
        }
        // Not HTTP/2, or cut short: that client alone is gone.
        Err(error) => {
            tracing::info!(dialect = %Dialect::Eutamias, %peer, %error, "dispatcher connection closed")
        }
    }
}
