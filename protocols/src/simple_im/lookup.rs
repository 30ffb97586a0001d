//! The HTTP hop: one `POST` to the picker (hyper 1, HTTP/1.1 over [`crate::net::connect_tcp`]),
//! with a timeout on the connect and on the whole exchange, and a body limit.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio_util::task::AbortOnDropHandle;

use super::http::{FORM_CONTENT_TYPE, Response};
use crate::{DriverConfig, Error, Result};

/// `host:port` of an `http://host:port` base URL (the original has no TLS in this version).
pub fn http_authority(base_url: &str) -> Result<String> {
    let bad = |reason: &str| Error::BadAddress {
        address: base_url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = base_url
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad(
            "simple-im needs the http:// base URL of its HTTP server, e.g. http://127.0.0.1:8080",
        ));
    }
    let host = uri.host().ok_or_else(|| bad("the URL has no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    Ok(if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// `POST <path>` with a form body to the picker at `authority`; the answer's TOML body.
pub async fn post_form(
    authority: &str,
    path: &str,
    form: String,
    config: &DriverConfig,
) -> Result<Response> {
    let stream =
        crate::net::connect_tcp(authority, config.local_addr, config.connect_timeout).await?;
    let http_err = |e: hyper::Error| Error::Http(format!("POST {path}: {e}"));
    let exchange = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(http_err)?;
        // The connection future drives the socket; it ends with this function.
        let _connection = AbortOnDropHandle::new(tokio::spawn(connection));
        let request = http::Request::post(path)
            .header(HOST, authority)
            .header(CONTENT_TYPE, FORM_CONTENT_TYPE)
            .body(Full::new(Bytes::from(form)))
            .map_err(|e| Error::Http(format!("POST {path}: {e}")))?;
        let response = sender.send_request(request).await.map_err(http_err)?;
        let status = response.status();
        let body = Limited::new(response.into_body(), config.max_frame)
            .collect()
            .await
            .map_err(|e| Error::Http(format!("POST {path}: reading the body: {e}")))?
            .to_bytes();
        match Response::parse(&body) {
            Ok(parsed) if status == StatusCode::OK || status == StatusCode::NOT_FOUND => Ok(parsed),
            _ => Err(Error::Http(format!(
                "POST {path} answered {status} with {:?}; is this a simple-im HTTP server?",
                String::from_utf8_lossy(&body[..body.len().min(80)])
            ))),
        }
    };
    tokio::time::timeout(config.reply_timeout, exchange)
        .await
        .map_err(|_| Error::Timeout {
            what: "the simple-im HTTP server's answer",
            after: config.reply_timeout,
        })?
}
