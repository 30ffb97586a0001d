//! The HTTP side of the broker: gin routes `GET /ws` to gorilla's upgrader. We read the
//! request head ourselves (tungstenite's acceptor drops a plain GET without answering) and
//! answer as the original does (§9.1): `101` with exactly `Upgrade`, `Connection`,
//! `Sec-WebSocket-Accept` (no subprotocol, no extension); `400 Bad Request` for a `/ws`
//! request that is no valid upgrade (gorilla's `http.Error`); `404 page not found`
//! (gin) for any other path or method.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Error as WsError;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::machine::TryParse;
use tokio_tungstenite::tungstenite::handshake::server::{Request, create_response};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// The path gin serves the WebSocket on.
pub(super) const PATH: &str = "/ws";

/// The longest request head we read (Go allows 1 MB; a browser's upgrade is under 1 KiB).
const MAX_HEAD: usize = 8 * 1024;

/// gin's answer for an unknown route.
const NOT_FOUND: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\
    Content-Length: 18\r\nConnection: close\r\n\r\n404 page not found";

/// gorilla's answer to a request on `/ws` that is not a WebSocket upgrade.
const NOT_AN_UPGRADE: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\nSec-Websocket-Version: 13\r\n\
    X-Content-Type-Options: nosniff\r\nContent-Length: 12\r\nConnection: close\r\n\r\n\
    Bad Request\n";

/// Go's net/http answer to a head it cannot parse (or one too long).
const UNPARSABLE: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
    Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

/// Read the request head, answer it, and on `GET /ws` with valid upgrade headers hand the
/// stream to tungstenite; `None` when it was answered with an HTTP error and closed.
pub(super) async fn upgrade(
    mut stream: TcpStream,
    config: WebSocketConfig,
) -> std::io::Result<Option<WebSocketStream<TcpStream>>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let (request, consumed) = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&chunk[..n]);
        match Request::try_parse(&head) {
            Ok(Some((consumed, request))) => break (request, consumed),
            Ok(None) if head.len() < MAX_HEAD => continue,
            Ok(None) => return refuse(stream, UNPARSABLE, "request head too long").await,
            Err(WsError::Protocol(ProtocolError::WrongHttpMethod)) => {
                return refuse(stream, NOT_FOUND, "not a GET").await;
            }
            Err(_) => return refuse(stream, UNPARSABLE, "unparsable request head").await,
        }
    };
    if request.uri().path() != PATH {
        return refuse(stream, NOT_FOUND, "unknown path").await;
    }
    let key = match create_response(&request) {
        Ok(_) => request
            .headers()
            .get("Sec-WebSocket-Key")
            .map(|key| derive_accept_key(key.as_bytes())),
        Err(_) => None,
    };
    let Some(accept) = key else {
        return refuse(stream, NOT_AN_UPGRADE, "not a WebSocket upgrade").await;
    };
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await?;
    // A client may send its first frame right behind the head.
    let tail = head.split_off(consumed);
    drop(head);
    Ok(Some(
        WebSocketStream::from_partially_read(stream, tail, Role::Server, Some(config)).await,
    ))
}

async fn refuse(
    mut stream: TcpStream,
    response: &[u8],
    why: &'static str,
) -> std::io::Result<Option<WebSocketStream<TcpStream>>> {
    let peer = stream.peer_addr().ok();
    tracing::debug!(?peer, why, "chat-json: no WebSocket upgrade");
    stream.write_all(response).await?;
    stream.shutdown().await?;
    Ok(None)
}
