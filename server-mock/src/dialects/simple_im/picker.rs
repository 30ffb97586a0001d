//! The HTTP "server picker" (protocol note §3, §4): logs users in, names the IM node (this
//! server's TCP endpoint), answers reconnects and failure reports. Every answer is HTTP 200
//! with a one-line TOML body, except 404 for an unknown path; this mock also answers 405 for
//! a method other than POST and 413 / 400 for a body too large / unreadable, in the same form.
//!
//! | path | form | answers |
//! |---|---|---|
//! | `/server/login` | `phone`, `password` | `status = 0` + node + `[response.user] token id`; 1 wrong password; 2 unknown user (with `--accounts`) |
//! | `/server/reconnect` | `id`, `token` | `status = 0` + node; 1 unknown token; 2 the token is another user's |
//! | `/server/failed` | `token` | `status = 3 r = "IM is online"` (this node is up); 1 unknown token |
//!
//! One request per connection (no keep-alive), and the whole exchange within the handshake
//! timeout, so a silent or trickling client cannot hold a connection.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use imkit_protocols::UserId;
use imkit_protocols::simple_im::http::{
    FAILED_PATH, FailedForm, LOGIN_PATH, LoginForm, RECONNECT_PATH, ReconnectForm, Response,
};

use crate::hub::HubError;
use crate::listener::{Accepted, ListenContext};

/// The largest form accepted (a phone and a password, or an id and a token).
const MAX_FORM: usize = 4096;
/// The largest request head (hyper's smallest allowed buffer).
const MAX_HEAD: usize = 8192;

type Answer = http::Response<Full<Bytes>>;

pub(super) async fn serve(conn: Accepted) {
    let Accepted {
        stream,
        peer,
        context,
        ..
    } = conn;
    // The IM node is on the TCP endpoint's address; bound to "any", it is reachable on the
    // address this client reached us on.
    let here = stream.local_addr().ok().map(|a| a.ip());
    let service = {
        let context = context.clone();
        service_fn(move |request| {
            let context = context.clone();
            async move { Ok::<_, Infallible>(answer(request, &context, here).await) }
        })
    };
    let limit = context.limits.handshake_timeout;
    let connection = http1::Builder::new()
        .keep_alive(false)
        .max_buf_size(MAX_HEAD)
        .timer(TokioTimer::new())
        .header_read_timeout(limit)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        served = connection.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(%peer, %error, "simple-im http: connection error");
            }
        }
        _ = tokio::time::sleep(limit) => {
            tracing::info!(%peer, ?limit, "simple-im http: request not done in time: closed");
        }
        _ = context.shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(context.limits.shutdown_grace, connection).await;
        }
    }
}

fn respond(status: StatusCode, body: &Response) -> Answer {
    let text = body
        .print()
        .unwrap_or_else(|_| "[response] status = 2".to_owned());
    let mut answer = http::Response::new(Full::new(Bytes::from(text)));
    *answer.status_mut() = status;
    answer.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    answer
}

fn ok(body: &Response) -> Answer {
    respond(StatusCode::OK, body)
}

/// An HTTP error in the picker's own words: `[response] status = <the HTTP status>`.
fn http_error(status: StatusCode) -> Answer {
    respond(status, &Response::status(i64::from(status.as_u16())))
}

async fn answer(
    request: http::Request<Incoming>,
    context: &Arc<ListenContext>,
    here: Option<IpAddr>,
) -> Answer {
    let path = request.uri().path();
    if ![LOGIN_PATH, RECONNECT_PATH, FAILED_PATH].contains(&path) {
        return http_error(StatusCode::NOT_FOUND);
    }
    if request.method() != Method::POST {
        let mut answer = http_error(StatusCode::METHOD_NOT_ALLOWED);
        answer
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return answer;
    }
    let path = path.to_owned();
    let body = match Limited::new(request.into_body(), MAX_FORM).collect().await {
        Ok(body) => body.to_bytes(),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
            tracing::info!(path, limit = MAX_FORM, "simple-im http: form too large");
            return http_error(StatusCode::PAYLOAD_TOO_LARGE);
        }
        Err(error) => {
            tracing::debug!(path, %error, "simple-im http: cannot read the form");
            return http_error(StatusCode::BAD_REQUEST);
        }
    };
    let node = node_address(context, here);
    let response = match path.as_str() {
        LOGIN_PATH => login(context, &body, node),
        RECONNECT_PATH => reconnect(context, &body, node),
        _ => failed(context, &body),
    };
    ok(&response)
}

/// Where the IM node (our TCP endpoint) is reached.
fn node_address(context: &ListenContext, here: Option<IpAddr>) -> Option<SocketAddr> {
    let mut tcp = context.address_of("tcp")?;
    if tcp.ip().is_unspecified()
        && let Some(here) = here
    {
        tcp.set_ip(here);
    }
    Some(tcp)
}

fn login(context: &ListenContext, body: &[u8], node: Option<SocketAddr>) -> Response {
    // The original's lookup of a missing phone fails in the database: status 2.
    let Ok(form) = LoginForm::parse(body) else {
        return Response::status(2);
    };
    let Some(node) = node else {
        return Response::status(2);
    };
    match context
        .hub
        .password_login(&form.phone, &form.password, true)
    {
        Ok((user, token)) => match integer_id(&user) {
            Some(id) => Response::login_ok(&node.ip().to_string(), node.port(), &token, id),
            None => {
                tracing::warn!(%user, "simple-im http: user ids must be integers here; refusing the login");
                Response::status(2)
            }
        },
        Err(HubError::WrongPassword(user)) => {
            tracing::info!(%user, "simple-im http: wrong password");
            Response::status(1)
        }
        Err(error) => {
            tracing::info!(phone = %form.phone, %error, "simple-im http: login refused");
            Response::status(2)
        }
    }
}

/// The id as `[response.user] id` carries it: an integer that reads back as the same user.
fn integer_id(user: &UserId) -> Option<i64> {
    let id: i64 = user.as_str().parse().ok()?;
    (id >= 0 && id.to_string() == user.as_str()).then_some(id)
}

fn reconnect(context: &ListenContext, body: &[u8], node: Option<SocketAddr>) -> Response {
    // No token is an unknown token.
    let Ok(form) = ReconnectForm::parse(body) else {
        return Response::status(1);
    };
    match context.hub.token_user(&form.token) {
        None => Response::status(1),
        Some(user) if user.as_str() == form.id => match node {
            Some(node) => Response::node(&node.ip().to_string(), node.port()),
            None => Response::status(2),
        },
        Some(_) => Response::status(2),
    }
}

fn failed(context: &ListenContext, body: &[u8]) -> Response {
    let Ok(form) = FailedForm::parse(body) else {
        return Response::status(1);
    };
    // The node this picker names is this very server, and it is up.
    match context.hub.token_user(&form.token) {
        Some(_) => Response::im_online(),
        None => Response::status(1),
    }
}
