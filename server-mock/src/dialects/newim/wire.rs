//! One upgraded gateway connection: binary frames (one `ChatMessage` each) to hub commands,
//! hub events to binary frames, text frames echoed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use imkit_protocols::newim::{ChatMessage, ChatOp, Context, Frame, decode_chat_message};
use imkit_protocols::{Command, Conversation, Dialect, Event, GroupId, UserId};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message as WsMessage, Utf8Bytes};

use super::copy::stored_copy;
use crate::hub::{CloseReason, ConnId, HubError, Outgoing};
use crate::listener::{End, Wire};

/// Text frames read but not yet echoed. The pump writes before it reads, so there is one at
/// a time in practice; the bound only stops a client that pipelines pings without reading.
const MAX_PENDING_ECHOES: usize = 64;

/// How long the closing handshake may take to write before the socket is simply dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

pub(super) struct NewimWire {
    ws: WebSocketStream<TcpStream>,
    /// The receiver, for rendering join and quit notices.
    context: Context,
    conn: ConnId,
    peer: SocketAddr,
    max_frame: usize,
    /// The text of each echo request, in order; each one went to the hub as a `Ping` and
    /// is written when its `Pong` comes back, so echoes keep their place among the pushes.
    echoes: VecDeque<Utf8Bytes>,
}

impl NewimWire {
    pub(super) fn new(
        ws: WebSocketStream<TcpStream>,
        me: UserId,
        conn: ConnId,
        peer: SocketAddr,
        max_frame: usize,
    ) -> Self {
        NewimWire {
            ws,
            context: Context::new(me),
            conn,
            peer,
            max_frame,
            echoes: VecDeque::new(),
        }
    }

    /// The command a decoded client message asks for, its strings moved, not copied. The
    /// message's `sender` is not read: the gateway overwrites it with the cookie's uid, and
    /// the hub sends as the logged-in user anyway.
    fn command(&self, message: ChatMessage) -> Option<Command> {
        let op = message.chat_op();
        let group = GroupId::new(message.boxid);
        match op {
            Some(ChatOp::Join) => Some(Command::JoinGroup { group }),
            Some(ChatOp::Quit) => Some(Command::LeaveGroup { group }),
            Some(ChatOp::Chat) => Some(Command::Send {
                to: Conversation::Group(group),
                // newim has no client reference on the wire.
                client_ref: String::new(),
                content: message.body.unwrap_or_default(),
            }),
            // The original ignores ACK (nothing stored, no reply). Newim clients never ack
            // otherwise, so the hub does not track their deliveries as unacked either.
            Some(ChatOp::Ack) | None => {
                tracing::trace!(conn = %self.conn, "newim: ACK ignored, as the original does");
                None
            }
        }
    }

    /// The WebSocket message that tells this client `event`, if any.
    fn render(&mut self, event: &Event) -> Option<WsMessage> {
        match event {
            // The stored copy, to every member including the sender: for the sender it is
            // the acceptance (the Accepted that precedes it has nothing of its own to say).
            Event::Delivered(message) => Some(WsMessage::Binary(stored_copy(message))),
            Event::GroupJoined { .. } | Event::MemberJoined { .. } | Event::MemberLeft { .. } => {
                match self.context.event_to_frame(event) {
                    Ok(Frame::Chat(notice)) => Some(WsMessage::Binary(notice.to_bytes().into())),
                    Ok(Frame::Text(_)) | Err(_) => None,
                }
            }
            // The echo of the text frame this Pong answers.
            Event::Pong => self.echoes.pop_front().map(WsMessage::Text),
            // Login is the upgrade itself; acceptance is the sender's own copy.
            Event::LoggedIn { .. } | Event::Accepted { .. } => None,
            other => {
                tracing::debug!(conn = %self.conn, event = other.kind(), "newim: nothing to tell the client");
                None
            }
        }
    }
}

impl Wire for NewimWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> imkit_protocols::Result<bool> {
        loop {
            // `next()` is cancel safe and everything after it is synchronous.
            let message = match self.ws.next().await {
                None | Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                    return Ok(false);
                }
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(message)) => message,
            };
            match message {
                WsMessage::Binary(payload) => {
                    return match decode_chat_message(&payload, self.max_frame) {
                        Ok(message) => {
                            commands.extend(self.command(message));
                            Ok(true)
                        }
                        // As the original: logged, the frame dropped, the connection kept.
                        Err(e) => {
                            tracing::info!(conn = %self.conn, peer = %self.peer, user = %self.context.me, "newim: dropping a bad frame: {e}");
                            Ok(true)
                        }
                    };
                }
                WsMessage::Text(text) => {
                    if self.echoes.len() >= MAX_PENDING_ECHOES {
                        return Err(imkit_protocols::Error::malformed(
                            Dialect::Newim,
                            format!(
                                "more than {MAX_PENDING_ECHOES} text frames sent without reading their echoes"
                            ),
                        ));
                    }
                    self.echoes.push_back(text);
                    commands.push(Command::Ping);
                    return Ok(true);
                }
                WsMessage::Close(_) => return Ok(false),
                // Pings are answered by tungstenite itself.
                WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
            }
        }
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> imkit_protocols::Result<()> {
        for event in items.drain(..).map(Outgoing::into_event) {
            if let Some(message) = self.render(&event) {
                self.ws.feed(message).await?;
            }
        }
        self.ws.flush().await?;
        Ok(())
    }

    async fn refused(
        &mut self,
        command: &'static str,
        _position: usize,
        error: &HubError,
    ) -> imkit_protocols::Result<bool> {
        let keep = match (command, error) {
            // Quitting a box one is not in changes nothing: nothing to refuse loudly.
            ("leave_group", HubError::NotMember { .. } | HubError::UnknownGroup(_)) => true,
            // Someone else's offline store is full: not this client's fault.
            (_, HubError::MailboxFull(_)) => true,
            // CHAT to a box the user has not joined (strict), or anything else: newim has no
            // error message, so the close frame says why.
            _ => false,
        };
        tracing::info!(conn = %self.conn, peer = %self.peer, user = %self.context.me, command, %error,
            "newim: refused{}", if keep { "; the frame is dropped" } else { "; closing the connection" });
        Ok(keep)
    }

    async fn close(&mut self, end: &End) {
        let (code, reason) = match end {
            End::PeerClosed | End::Closed(CloseReason::Detached) => (CloseCode::Normal, None),
            End::Idle => (CloseCode::Away, Some("idle".to_owned())),
            End::Closed(CloseReason::Shutdown) => {
                (CloseCode::Away, Some("server shutting down".to_owned()))
            }
            End::Closed(CloseReason::SlowConsumer) => (
                CloseCode::Policy,
                Some("too slow reading: messages kept for the next connection".to_owned()),
            ),
            End::Closed(CloseReason::Chaos) => (CloseCode::Error, Some("chaos".to_owned())),
            End::Closed(CloseReason::Replaced) => (
                CloseCode::Policy,
                Some("logged in again on the same device".to_owned()),
            ),
            End::Refused(error) => (CloseCode::Policy, Some(refusal(error))),
            End::Wire(imkit_protocols::Error::WebSocket(e))
                if matches!(**e, WsError::Capacity(CapacityError::MessageTooLong { .. })) =>
            {
                (
                    CloseCode::Size,
                    Some(format!("frame larger than {} bytes", self.max_frame)),
                )
            }
            End::Wire(_) => (CloseCode::Protocol, None),
        };
        let frame = CloseFrame {
            code,
            reason: reason.map(|r| short(r).into()).unwrap_or_default(),
        };
        // Best effort: the peer may already be gone.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.ws.close(Some(frame))).await;
    }
}

/// What a refused client reads in the close frame.
fn refusal(error: &HubError) -> String {
    match error {
        HubError::NotMember {
            conversation: Conversation::Group(group),
            ..
        }
        | HubError::UnknownGroup(group) => format!("not in box {group}: send JOIN first"),
        other => other.to_string(),
    }
}

/// A close reason is at most 123 bytes (RFC 6455 §5.5); cut on a character boundary.
fn short(mut reason: String) -> String {
    const MAX: usize = 123;
    if reason.len() > MAX {
        let mut end = MAX;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        assert_eq!(short("é".repeat(100)).len(), 122);
        assert_eq!(short("ok".into()), "ok");
        let refused = refusal(&HubError::NotMember {
            user: UserId::new("john-1"),
            conversation: Conversation::Group(GroupId::new("123")),
        });
        assert_eq!(refused, "not in box 123: send JOIN first");
    }
}
