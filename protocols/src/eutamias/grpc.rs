//! The dispatcher's gRPC lookup, `rpc.DService/GetMyNserver(NinfoReq) returns (NinfoRsp)`,
//! both halves written by hand on tonic + prost (no protoc needed): what `tonic-build` would
//! generate for this one unary method.

use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::codegen::{Body, BoxFuture, StdError, http};
use tonic::server::{NamedService, UnaryService};
use tonic::transport::{Channel, Endpoint};
use tonic_prost::ProstCodec;

use super::proto::{NinfoReq, NinfoRsp};
use crate::{Error, Result};

/// The gRPC service name.
pub const SERVICE_NAME: &str = "rpc.DService";
/// The HTTP/2 path of the one method.
pub const GET_MY_NSERVER_PATH: &str = "/rpc.DService/GetMyNserver";

/// The error with its causes, one line (tonic's transport errors hide the useful part in
/// their sources).
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A client of the dispatcher.
#[derive(Debug, Clone)]
pub struct DispatcherClient {
    inner: tonic::client::Grpc<Channel>,
}

impl DispatcherClient {
    /// Connect to `address` (`http://host:port`) within `connect_timeout`; every call is then
    /// bounded by `reply_timeout`.
    pub async fn connect(
        address: &str,
        local: Option<IpAddr>,
        connect_timeout: Duration,
        reply_timeout: Duration,
    ) -> Result<Self> {
        let endpoint = Endpoint::from_shared(address.to_owned())
            .map_err(|e| Error::BadAddress {
                address: address.to_owned(),
                reason: format!("{} (expected http://host:port)", chain(&e)),
            })?
            .connect_timeout(connect_timeout)
            .timeout(reply_timeout)
            .local_address(local);
        let channel = tokio::time::timeout(connect_timeout, endpoint.connect())
            .await
            .map_err(|_| Error::Timeout {
                what: "the dispatcher's gRPC connection",
                after: connect_timeout,
            })?
            .map_err(|e| {
                Error::Io(std::io::Error::other(format!(
                    "cannot reach the eutamias dispatcher at {address}: {}",
                    chain(&e)
                )))
            })?;
        Ok(DispatcherClient::new(channel))
    }

    pub fn new(channel: Channel) -> Self {
        DispatcherClient {
            inner: tonic::client::Grpc::new(channel),
        }
    }

    /// `GetMyNserver`: which notificer should user `request.id` use.
    pub async fn get_my_nserver(&mut self, request: NinfoReq) -> Result<NinfoRsp> {
        self.inner.ready().await.map_err(|e| {
            Error::Io(std::io::Error::other(format!(
                "the dispatcher connection is not ready: {}",
                chain(&e)
            )))
        })?;
        let path = http::uri::PathAndQuery::from_static(GET_MY_NSERVER_PATH);
        let codec = ProstCodec::<NinfoReq, NinfoRsp>::default();
        let mut request = tonic::Request::new(request);
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new(SERVICE_NAME, "GetMyNserver"));
        let response = self.inner.unary(request, path, codec).await?;
        Ok(response.into_inner())
    }
}

/// What a dispatcher does: the server half's business logic.
pub trait Dispatcher: Send + Sync + 'static {
    fn get_my_nserver(
        &self,
        request: NinfoReq,
    ) -> impl Future<Output = std::result::Result<NinfoRsp, tonic::Status>> + Send;
}

/// The gRPC server half: a tower service answering `/rpc.DService/GetMyNserver` with a
/// [`Dispatcher`] (and `UNIMPLEMENTED` on any other path). Serve it with
/// [`serve_dispatcher`] or any tonic `Server`.
#[derive(Debug)]
pub struct DispatcherServer<T> {
    inner: Arc<T>,
    max_message: usize,
}

impl<T> DispatcherServer<T> {
    pub fn new(dispatcher: T) -> Self {
        DispatcherServer::from_arc(Arc::new(dispatcher))
    }

    pub fn from_arc(dispatcher: Arc<T>) -> Self {
        DispatcherServer {
            inner: dispatcher,
            max_message: crate::DEFAULT_MAX_FRAME,
        }
    }

    /// The largest request accepted (default [`crate::DEFAULT_MAX_FRAME`]).
    pub fn max_message(mut self, limit: usize) -> Self {
        self.max_message = limit;
        self
    }
}

impl<T> Clone for DispatcherServer<T> {
    fn clone(&self) -> Self {
        DispatcherServer {
            inner: Arc::clone(&self.inner),
            max_message: self.max_message,
        }
    }
}

impl<T> NamedService for DispatcherServer<T> {
    const NAME: &'static str = SERVICE_NAME;
}

struct GetMyNserver<T>(Arc<T>);

impl<T: Dispatcher> UnaryService<NinfoReq> for GetMyNserver<T> {
    type Response = NinfoRsp;
    type Future = BoxFuture<tonic::Response<NinfoRsp>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<NinfoReq>) -> Self::Future {
        let dispatcher = Arc::clone(&self.0);
        Box::pin(async move {
            dispatcher
                .get_my_nserver(request.into_inner())
                .await
                .map(tonic::Response::new)
        })
    }
}

impl<T, B> tonic::codegen::Service<http::Request<B>> for DispatcherServer<T>
where
    T: Dispatcher,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        if request.uri().path() != GET_MY_NSERVER_PATH {
            let path = request.uri().path().to_owned();
            return Box::pin(async move {
                Ok(tonic::Status::unimplemented(format!("no method {path}")).into_http())
            });
        }
        let method = GetMyNserver(Arc::clone(&self.inner));
        let limit = self.max_message;
        Box::pin(async move {
            let codec = ProstCodec::<NinfoRsp, NinfoReq>::default();
            let mut grpc = tonic::server::Grpc::new(codec)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit);
            Ok(grpc.unary(method, request).await)
        })
    }
}

/// Serve `dispatcher` over h2c on `listener` until `shutdown` completes.
pub async fn serve_dispatcher<T: Dispatcher>(
    listener: tokio::net::TcpListener,
    dispatcher: T,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .serve_with_incoming_shutdown(DispatcherServer::new(dispatcher), incoming, shutdown)
        .await
        .map_err(|e| Error::Io(std::io::Error::other(chain(&e))))
}
