//! Dialing helpers shared by every driver: a timeout on every connect, an optional local
//! source address (to spread many clients over 127.0.0.x), and WebSocket settings sized for
//! tens of thousands of connections.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::{Error, Result};

/// A client WebSocket over a plain TCP stream (no TLS: every original speaks plain `ws://`).
pub type WsStream = WebSocketStream<TcpStream>;

/// Initial read and write buffer of a framed client link (tokio-util's default is 8 KiB each):
/// a chat message is a few hundred bytes, and 10,000 connections at 16 KiB each would be
/// 160 MB. The buffers still grow for a larger frame (up to the frame limit).
pub const LINK_BUFFER: usize = 1024;

/// WebSocket settings: a small read buffer (tungstenite's 128 KiB default costs far more than
/// a chat connection needs; and tungstenite zeroes the free part of it before every read,
/// `WouldBlock` ones included, so 4 KiB cost a fifth of a chat server's CPU per message) and
/// message/frame limits at `max_frame`. A larger frame is read in more turns.
pub fn ws_config(max_frame: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(LINK_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(max_frame.saturating_mul(16).max(64 * 1024))
        .max_message_size(Some(max_frame))
        .max_frame_size(Some(max_frame))
}

/// Resolve `address` (`host:port`) and connect within `timeout`, from `local` when given.
pub async fn connect_tcp(
    address: &str,
    local: Option<IpAddr>,
    timeout: Duration,
) -> Result<TcpStream> {
    let attempt = async {
        let mut last_err = None;
        for addr in tokio::net::lookup_host(address).await? {
            match connect_one(addr, local).await {
                Ok(stream) => return Ok(stream),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or_else(|| Error::BadAddress {
            address: address.to_owned(),
            reason: "it resolves to no address".into(),
        }))
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .map_err(|_| Error::Timeout {
            what: "TCP connect",
            after: timeout,
        })?
}

async fn connect_one(addr: SocketAddr, local: Option<IpAddr>) -> Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = local.filter(|ip| ip.is_ipv4() == addr.is_ipv4()) {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Open a WebSocket to `url` (`ws://host:port/path`) with extra request `headers`
/// (newim's `Cookie: sid=<uid>`), all within `timeout`.
pub async fn connect_ws(
    url: &str,
    headers: &[(&str, String)],
    local: Option<IpAddr>,
    timeout: Duration,
    max_frame: usize,
) -> Result<WsStream> {
    let bad = |reason: &str| Error::BadAddress {
        address: url.to_owned(),
        reason: reason.to_owned(),
    };
    let mut request = url.into_client_request().map_err(|e| bad(&e.to_string()))?;
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| bad(&e.to_string()))?;
        let value = HeaderValue::from_str(value).map_err(|e| bad(&e.to_string()))?;
        request.headers_mut().insert(name, value);
    }
    let uri = request.uri().clone();
    if uri.scheme_str() != Some("ws") {
        return Err(bad(
            "only ws:// URLs are supported (the originals have no TLS)",
        ));
    }
    let host = uri.host().ok_or_else(|| bad("the URL has no host"))?;
    let port = uri.port_u16().unwrap_or(80);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let tcp_address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let handshake = async {
        let stream = connect_tcp(&tcp_address, local, timeout).await?;
        let (ws, _response) = tokio_tungstenite::client_async_with_config(
            request,
            stream,
            Some(ws_config(max_frame)),
        )
        .await?;
        Ok::<_, Error>(ws)
    };
    tokio::time::timeout(timeout, handshake)
        .await
        .map_err(|_| Error::Timeout {
            what: "WebSocket handshake",
            after: timeout,
        })?
}
