//! One broker connection after the upgrade: client frames to hub commands (through the
//! protocols codec and mapping), hub events to frames byte for byte as the Go broker prints
//! them, the checks the original leaves out (the account in the body, frame limits), and
//! the refusals in chat's codes.

use std::future::poll_fn;
use std::task::Poll;

use bytes::BytesMut;
use futures_util::{SinkExt, StreamExt};
use imkit_protocols::chat_json::{
    ClientMessage, Code, Context, Inbound, ServerMessage, Version, decode_client_text,
    into_command, write_event_json, write_push_json,
};
use imkit_protocols::{Command, Dialect, Error, Event, Result};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::heartbeat::{Heartbeat, Tick};
use crate::config::Timers;
use crate::hub::{CloseReason, ConnId, Hub, HubError, IdStyle, Outgoing};
use crate::listener::{End, HubConn, Wire};

/// Room made in the print buffer before each frame (a reply or a push with a short content
/// is 100–200 bytes; a longer frame grows it).
const PRINT_ROOM: usize = 512;

/// Client frames handled per read at most (one hub call and one write for their replies).
const READ_BATCH: usize = 32;

/// How a client's stream ended.
#[derive(Debug)]
enum Ended {
    Closed,
    Failed(Error),
}

/// The longest we wait to hand a close frame to a client that may not be reading.
const CLOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// The largest client frame per version (the originals' limits, capped by `--max-frame`).
#[derive(Debug, Clone, Copy)]
pub(super) struct FrameLimits {
    pub v1: usize,
    pub v2: usize,
}

impl FrameLimits {
    fn of(self, version: Version) -> usize {
        match version {
            Version::V1 => self.v1,
            Version::V2 => self.v2,
        }
    }
}

pub(super) struct ChatWire {
    ws: WebSocketStream<TcpStream>,
    hub: Hub,
    conn: ConnId,
    limits: FrameLimits,
    /// The version of the client's last command: replies and pushes use it.
    version: Version,
    /// The account this socket was told it is (`CRT_ACCOUNT` / `RECONNECT` reply written);
    /// `None` while a bind is in flight or after the logout, then the hub is asked.
    account: Option<u64>,
    heartbeat: Heartbeat,
    /// Each `DIALOGUE` of the batch being handled, by its place in the batch: a refusal's
    /// reply names its `requestId`. The frame is kept (a reference, not a copy) and read
    /// again in the rare case of a refusal, so a message costs no copy of its id for it.
    dialogues: Vec<(usize, Utf8Bytes)>,
    /// Frames tungstenite queued (a pong, a close echo) wait for the next flush.
    flush_owed: bool,
    /// How the stream ended while a batch was read: told at the next read, once the
    /// batch's commands ran.
    ended: Option<Ended>,
    /// A reply decided while reading (a refused claim), sent before the next read.
    pending: Option<WsMessage>,
    /// Events are printed here and split off as frame payloads. tungstenite copies a frame
    /// out before the next one is printed, so the same memory is used again and a frame
    /// costs no allocation of its own.
    print: BytesMut,
}

impl ChatWire {
    pub(super) fn new(
        ws: WebSocketStream<TcpStream>,
        conn: &HubConn,
        limits: FrameLimits,
        timers: &Timers,
    ) -> ChatWire {
        ChatWire {
            ws,
            hub: conn.hub().clone(),
            conn: conn.id(),
            limits,
            version: Version::V1,
            account: None,
            heartbeat: Heartbeat::new(timers.chat_ping_interval, timers.chat_max_wait),
            dialogues: Vec::new(),
            flush_owed: false,
            ended: None,
            pending: None,
            print: BytesMut::new(),
        }
    }

    /// The account the hub has bound to this socket.
    fn bound_account(&self) -> Option<u64> {
        self.account
            .or_else(|| self.hub.user_of(self.conn).and_then(|user| user.as_u64()))
    }

    fn too_large(&self, len: usize, limit: usize) -> Error {
        Error::FrameTooLarge {
            dialect: Dialect::ChatJson,
            len: len as u64,
            limit,
        }
    }

    /// One client frame into the batch (the command to run, if any), or the end.
    fn take_frame(&mut self, frame: WsMessage, commands: &mut Vec<Command>) -> Result<(), Ended> {
        match frame {
            WsMessage::Text(text) => {
                if let Some(command) = self.on_text(&text).map_err(Ended::Failed)? {
                    if matches!(command, Command::Send { .. }) {
                        self.dialogues.push((commands.len(), text));
                    }
                    commands.push(command);
                }
            }
            WsMessage::Binary(data) => {
                // melody's binary handler is a no-op, but its size limit holds.
                let limit = self.limits.of(self.version);
                if data.len() > limit {
                    return Err(Ended::Failed(self.too_large(data.len(), limit)));
                }
                tracing::debug!(conn = %self.conn, len = data.len(), "chat-json: binary frame ignored");
            }
            // tungstenite queued the pong.
            WsMessage::Ping(_) => self.flush_owed = true,
            // tungstenite queued the close echo.
            WsMessage::Close(_) => {
                self.flush_owed = true;
                return Err(Ended::Closed);
            }
            WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
        Ok(())
    }

    /// One text frame: the command to run, if any.
    fn on_text(&mut self, text: &str) -> Result<Option<Command>> {
        let len = text.len();
        let (message, version) = match decode_client_text(text, self.limits.v2)? {
            Inbound::Message { message, version } => (message, version),
            Inbound::Ignored(why) => {
                // No cmd to tell the version: the connection's limit applies.
                if len > self.limits.of(self.version) {
                    return Err(self.too_large(len, self.limits.of(self.version)));
                }
                tracing::debug!(conn = %self.conn, ?why, "chat-json: frame ignored");
                return Ok(None);
            }
        };
        if len > self.limits.of(version) {
            return Err(self.too_large(len, self.limits.of(version)));
        }
        self.version = version;
        if !self.claim_holds(&message)? {
            return Ok(None);
        }
        match &message {
            ClientMessage::CreateAccount { .. } | ClientMessage::Reconnect { .. } => {
                // The socket is about to change accounts: ask the hub until it is told.
                self.account = None;
            }
            // The heartbeat is this socket's own business: the hub does nothing with a PONG.
            ClientMessage::Pong { .. } => {
                self.heartbeat.pong(Instant::now());
                return Ok(None);
            }
            ClientMessage::Ping { .. } => {
                self.heartbeat.pong(Instant::now());
            }
            ClientMessage::Dialogue { .. }
            | ClientMessage::Match { .. }
            | ClientMessage::ViewedAck { .. } => {}
        }
        Ok(Some(into_command(message)))
    }

    /// Whether the account the body names is the socket's own. The original trusts it; a
    /// mismatch here is answered with code 1 where the command has a reply (and the
    /// command is not run), and ends the connection where it has none (`PONG`,
    /// `PING_REQ`). Before an account is bound the hub decides (not logged in).
    fn claim_holds(&mut self, message: &ClientMessage) -> Result<bool> {
        let claimed = match message {
            ClientMessage::CreateAccount { .. } | ClientMessage::Reconnect { .. } => {
                return Ok(true);
            }
            other => other.claimed_account().unwrap_or_default(),
        };
        let Some(actual) = self.bound_account() else {
            return Ok(true);
        };
        if claimed == actual {
            return Ok(true);
        }
        let cmd = message.cmd(self.version).unwrap_or("?");
        tracing::warn!(conn = %self.conn, cmd, claimed, actual, "chat-json: command names another account: refused");
        let reply = match message {
            ClientMessage::Match { .. } => no_match(Code::PARAM_ERR),
            ClientMessage::Dialogue { request_id, .. } => ServerMessage::DialogueResult {
                code: Code::PARAM_ERR,
                request_id: request_id.clone(),
                msg_id: 0,
            },
            ClientMessage::ViewedAck { .. } => ServerMessage::ViewedAckResult {
                code: Code::PARAM_ERR,
            },
            _ => {
                return Err(Error::malformed(
                    Dialect::ChatJson,
                    format!("{cmd} for account {claimed} on the socket of account {actual}"),
                ));
            }
        };
        self.pending = Some(reply.to_frame(self.version)?);
        Ok(false)
    }

    async fn send_pending(&mut self) -> Result<()> {
        if let Some(frame) = self.pending.take() {
            self.ws.send(frame).await?;
        }
        Ok(())
    }

    /// The `requestId` of the `DIALOGUE` at `position` in the batch (read again from its
    /// frame, which was read once already, so it decodes).
    fn request_id_at(&self, position: usize) -> String {
        let frame = self.dialogues.iter().find(|(at, _)| *at == position);
        match frame.map(|(_, text)| decode_client_text(text.as_str(), self.limits.v2)) {
            Some(Ok(Inbound::Message {
                message: ClientMessage::Dialogue { request_id, .. },
                ..
            })) => request_id,
            _ => String::new(),
        }
    }

    /// Note what the client is told about its account before it is told.
    fn observe(&mut self, event: &Event) {
        if let Event::Registered { user, .. } | Event::LoggedIn { user, .. } = event {
            self.account = user.as_u64();
            self.heartbeat.start(Instant::now());
        }
    }

    /// Print `event` into the print buffer, in the version it is said in.
    fn print_event(&mut self, event: &Event) -> Result<()> {
        self.observe(event);
        let version = version_for(event, self.version);
        let ctx = Context::new(self.account.unwrap_or_default(), version);
        self.print.reserve(PRINT_ROOM);
        write_event_json(event, &ctx, &mut self.print)
    }

    async fn send_message(&mut self, message: &ServerMessage, version: Version) -> Result<()> {
        let frame = self.print_message(message, version)?;
        self.ws.send(frame).await?;
        Ok(())
    }

    /// `message` as a frame, printed in the print buffer (no allocation of its own: a
    /// PING goes out 20,000 times a second on 10,000 v1 sockets).
    fn print_message(&mut self, message: &ServerMessage, version: Version) -> Result<WsMessage> {
        self.print.reserve(PRINT_ROOM);
        message.write_json(version, &mut self.print)?;
        self.printed_frame()
    }

    /// What was printed last, split off the print buffer as a text frame.
    fn printed_frame(&mut self) -> Result<WsMessage> {
        let payload = self.print.split().freeze();
        let text = Utf8Bytes::try_from(payload).map_err(|e| {
            Error::malformed(
                Dialect::ChatJson,
                format!("printed a frame that is not UTF-8: {e}"),
            )
        })?;
        Ok(WsMessage::Text(text))
    }
}

fn no_match(code: Code) -> ServerMessage {
    ServerMessage::MatchResult {
        code,
        partner_id: 0,
        partner_name: String::new(),
        session_id: 0,
    }
}

/// chat's code for a refusal: 4 (NoDataFound) where the thing named is not (or no longer)
/// there, 1 (ParamErr) where the client asked for what it may not, 2 (InternalErr) else.
fn code_for(error: &HubError) -> Code {
    match error {
        HubError::SessionEnded(_)
        | HubError::UnknownSession(_)
        | HubError::BadToken(_)
        | HubError::UnknownUser(_) => Code::NO_DATA_FOUND,
        HubError::NotLoggedIn
        | HubError::NotMember { .. }
        | HubError::SenderMismatch { .. }
        | HubError::SelfSession
        | HubError::WrongPassword(_) => Code::PARAM_ERR,
        HubError::ConnectionClosed(_) | HubError::UnknownGroup(_) | HubError::MailboxFull(_) => {
            Code::INTERNAL_ERR
        }
    }
}

/// The events only a v2 command produces are always printed in v2.
fn version_for(event: &Event, connection: Version) -> Version {
    match event {
        Event::Pong | Event::LoggedIn { .. } => Version::V2,
        _ => connection,
    }
}

impl Wire for ChatWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> Result<bool> {
        self.dialogues.clear();
        loop {
            if commands.is_empty() {
                // What the last frames left owed, before waiting on the client again.
                if std::mem::take(&mut self.flush_owed) {
                    let flushed = self.ws.flush().await;
                    // A peer that closed may be gone already.
                    if !matches!(self.ended, Some(Ended::Closed)) {
                        flushed?;
                    }
                }
                self.send_pending().await?;
                match self.ended.take() {
                    Some(Ended::Closed) => return Ok(false),
                    Some(Ended::Failed(e)) => return Err(e),
                    None => {}
                }
            }
            let next = if commands.is_empty() {
                self.ws.next().await
            } else {
                // Frames already here (or readable without waiting) join the batch, so
                // their replies go out in one write. Nothing is awaited while commands are
                // in hand: a cancelled read loses none.
                match poll_fn(|cx| Poll::Ready(self.ws.poll_next_unpin(cx))).await {
                    Poll::Ready(next) => next,
                    Poll::Pending => return Ok(true),
                }
            };
            let taken = match next {
                None => Err(Ended::Closed),
                Some(Err(e)) => Err(Ended::Failed(e.into())),
                Some(Ok(frame)) => self.take_frame(frame, commands),
            };
            if let Err(end) = taken {
                self.ended = Some(end);
            }
            // The batch ends where the client is owed something or the stream ended: the
            // batch's own replies go first.
            let owed = self.ended.is_some() || self.pending.is_some() || self.flush_owed;
            if !commands.is_empty() && (owed || commands.len() >= READ_BATCH) {
                return Ok(true);
            }
        }
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> Result<()> {
        for item in items.iter() {
            let printed = match item {
                // Printed from the hub's copy of the message.
                Outgoing::Delivery(delivery) if delivery.style() == IdStyle::Seq => {
                    let ctx = Context::new(self.account.unwrap_or_default(), self.version);
                    self.print.reserve(PRINT_ROOM);
                    write_push_json(
                        delivery.conversation(),
                        delivery.from(),
                        delivery.seq(),
                        delivery.content(),
                        &ctx,
                        &mut self.print,
                    )
                }
                Outgoing::Delivery(delivery) => {
                    self.print_event(&Event::Delivered(delivery.to_message()))
                }
                Outgoing::Event(event) => self.print_event(event),
            };
            match printed {
                Ok(()) => {
                    let frame = self.printed_frame()?;
                    self.ws.feed(frame).await?
                }
                // Only what another dialect can address and chat cannot say (a direct
                // message outside a session, a group notice).
                Err(e) => {
                    tracing::warn!(conn = %self.conn, event = item.kind(), error = %e, "chat-json: event not expressible: skipped");
                }
            }
        }
        // A PING due soon rides along rather than costing a write of its own.
        if self.writable() && self.heartbeat.ping_early(Instant::now()) {
            let ping = ServerMessage::Ping {
                account_id: self.account.unwrap_or_default(),
            };
            let frame = self.print_message(&ping, self.version)?;
            self.ws.feed(frame).await?;
        }
        self.ws.flush().await?;
        Ok(())
    }

    async fn refused(
        &mut self,
        command: &'static str,
        position: usize,
        error: &HubError,
    ) -> Result<bool> {
        if !self.writable() {
            // Read with the peer's close: nobody is left to tell (what it did stands).
            return Ok(true);
        }
        let code = code_for(error);
        let (reply, version) = match command {
            "send" => (
                ServerMessage::DialogueResult {
                    code,
                    request_id: self.request_id_at(position),
                    msg_id: 0,
                },
                self.version,
            ),
            "match" => (no_match(code), self.version),
            "read" => (ServerMessage::ViewedAckResult { code }, self.version),
            "resume" => (ServerMessage::ReconnectResult { code }, Version::V2),
            // Register, ping and pong are never refused by the hub but for a closed
            // connection, which ends anyway.
            _ => return Ok(false),
        };
        tracing::debug!(conn = %self.conn, command, %error, code = code.0, "chat-json: refused");
        self.send_message(&reply, version).await?;
        Ok(true)
    }

    /// tungstenite sends nothing but the close echo once the peer's close is read (RFC 6455
    /// §5.5.1: the peer is done), which can happen in the batch that carried it.
    fn writable(&self) -> bool {
        !matches!(self.ended, Some(Ended::Closed))
    }

    fn next_timer(&self) -> Option<Instant> {
        self.heartbeat.next()
    }

    async fn on_timer(&mut self, conn: &HubConn) -> Result<()> {
        match self.heartbeat.tick(Instant::now()) {
            None => Ok(()),
            Some(Tick::Ping) if !self.writable() => Ok(()),
            Some(Tick::Ping) => {
                let ping = ServerMessage::Ping {
                    account_id: self.account.unwrap_or_default(),
                };
                self.send_message(&ping, self.version).await
            }
            Some(Tick::Logout) => {
                // As the original: log out (partners get PartnerExit), keep the socket.
                tracing::info!(conn = %self.conn, account = ?self.account, "chat-json: no PONG in time: logged out");
                self.account = None;
                match conn.hub().logout(conn.id()) {
                    Ok(()) | Err(HubError::ConnectionClosed(_)) => Ok(()),
                    Err(e) => {
                        tracing::warn!(conn = %self.conn, error = %e, "chat-json: logout failed");
                        Ok(())
                    }
                }
            }
        }
    }

    async fn close(&mut self, end: &End) {
        let (code, reason) = match end {
            // melody: the read fails, gorilla sends 1009 with no reason (`88 02 03 f1`).
            End::Wire(Error::FrameTooLarge { .. }) => (CloseCode::Size, ""),
            End::Wire(Error::WebSocket(e))
                if matches!(**e, tokio_tungstenite::tungstenite::Error::Capacity(_)) =>
            {
                (CloseCode::Size, "")
            }
            End::Wire(Error::Malformed { .. }) => (CloseCode::Policy, "refused"),
            End::Refused(_) => (CloseCode::Policy, "refused"),
            End::Closed(CloseReason::Shutdown) => (CloseCode::Away, "shutting down"),
            End::Closed(CloseReason::SlowConsumer) => (CloseCode::Policy, "too slow"),
            // Gone already, dropped on purpose (chaos) or silent: the original cuts the
            // TCP connection without a close frame.
            End::PeerClosed
            | End::Idle
            | End::Closed(CloseReason::Detached | CloseReason::Chaos | CloseReason::Replaced)
            | End::Wire(_) => return,
        };
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = timeout(CLOSE_TIMEOUT, self.ws.close(Some(frame))).await;
    }
}
