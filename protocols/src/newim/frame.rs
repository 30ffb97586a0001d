//! WebSocket framing: one binary frame = one serialised [`ChatMessage`], a text frame is the
//! echo (client ping, server echo). Plus the gateway-side rules the server-mock needs: the
//! echo and the uid taken from the upgrade's `Cookie` header.

use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::http::HeaderMap;

use super::message::{ChatMessage, decode_chat_message};
use crate::{Dialect, Error, Result, UserId};

/// One application frame, the same in both directions.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A binary frame: one `ChatMessage`.
    Chat(ChatMessage),
    /// A text frame: from a client, a request to echo; from the gateway, the echo.
    Text(String),
}

impl Frame {
    /// Decode a WebSocket message. Control frames (ping, pong, close) are the WebSocket
    /// layer's business and give `Ok(None)`. Payloads above `max_frame` are refused before
    /// they are parsed (Netty's limit is 65536).
    pub fn decode(message: &WsMessage, max_frame: usize) -> Result<Option<Frame>> {
        match message {
            WsMessage::Binary(payload) => decode_chat_message(payload, max_frame)
                .map(Frame::Chat)
                .map(Some),
            WsMessage::Text(text) => {
                check_len(text.len(), max_frame)?;
                Ok(Some(Frame::Text(text.as_str().to_owned())))
            }
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Close(_) | WsMessage::Frame(_) => {
                Ok(None)
            }
        }
    }

    /// The WebSocket message that carries this frame.
    pub fn to_ws(&self) -> WsMessage {
        match self {
            Frame::Chat(message) => WsMessage::binary(message.to_bytes()),
            Frame::Text(text) => WsMessage::text(text.clone()),
        }
    }
}

/// Server side: decode a client's frame (see [`Frame::decode`]).
pub fn decode_client_frame(message: &WsMessage, max_frame: usize) -> Result<Option<Frame>> {
    Frame::decode(message, max_frame)
}

/// Server side: a stored copy, as pushed to each member of its box.
pub fn encode_server_frame(message: &ChatMessage) -> WsMessage {
    WsMessage::binary(message.to_bytes())
}

/// Server side: the gateway echoes every text frame verbatim as a text frame, and answers
/// nothing else this way.
pub fn echo(message: &WsMessage) -> Option<WsMessage> {
    match message {
        WsMessage::Text(text) => Some(WsMessage::Text(text.clone())),
        _ => None,
    }
}

/// Server side: the uid of a connection, from the upgrade request's headers, the way the
/// gateway computes it: the first `Cookie` header's whole value split on `=`, element [1].
/// `sid=john-1` gives `john-1`; `a=1; b=2` gives `1; b`. No cookie (or no element [1], where
/// Java would throw) means no identity: the original then drops every binary frame.
pub fn uid_from_headers(headers: &HeaderMap) -> Option<UserId> {
    let value = headers.get("cookie")?.to_str().ok()?;
    uid_from_cookie(value)
}

/// [`uid_from_headers`] on the header value itself. Follows Java's `String.split("=")`,
/// which drops trailing empty elements (`sid=` has no element [1]).
pub fn uid_from_cookie(value: &str) -> Option<UserId> {
    let mut parts: Vec<&str> = value.split('=').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts.get(1).map(|uid| UserId::new(*uid))
}

/// The `Cookie` header value a client sends to be `uid`.
pub fn cookie_for(uid: &UserId) -> String {
    format!("sid={uid}")
}

fn check_len(len: usize, max_frame: usize) -> Result<()> {
    if len > max_frame {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::Newim,
            len: len as u64,
            limit: max_frame,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_tungstenite::tungstenite::http::HeaderValue;

    #[test]
    fn cookie_split_like_java() {
        let uid = |v| uid_from_cookie(v).map(|u| u.0);
        assert_eq!(uid("sid=john-1").as_deref(), Some("john-1"));
        assert_eq!(uid("a=1; b=2").as_deref(), Some("1; b"));
        assert_eq!(uid("sid="), None);
        assert_eq!(uid("sid"), None);
        assert_eq!(uid("=x").as_deref(), Some("x"));
        assert_eq!(uid("sid==x").as_deref(), Some(""));
    }

    #[test]
    fn no_cookie_no_identity() {
        let mut headers = HeaderMap::new();
        assert_eq!(uid_from_headers(&headers), None);
        headers.insert("Cookie", HeaderValue::from_static("sid=john-2"));
        assert_eq!(uid_from_headers(&headers), Some(UserId::new("john-2")));
    }

    #[test]
    fn only_text_is_echoed() {
        let text = WsMessage::text("imkit-ping-1");
        assert_eq!(echo(&text), Some(text));
        assert_eq!(echo(&WsMessage::binary(vec![1u8])), None);
        assert_eq!(echo(&WsMessage::Ping(Default::default())), None);
    }

    #[test]
    fn oversized_text_is_refused() {
        let text = WsMessage::text("x".repeat(11));
        assert!(matches!(
            Frame::decode(&text, 10),
            Err(Error::FrameTooLarge { len: 11, .. })
        ));
    }
}
