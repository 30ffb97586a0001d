//! One client of the msg_server (or of the text endpoint): its commands into the hub, the
//! hub's events out as `RESP_MESSAGE_P2P`, `RESP_MESSAGE_TOPIC` and `LOCATE_TOPIC_MSG_ADDR`,
//! and the dead-session scan. The original answers nothing else: not `SEND_CLIENT_ID`, not
//! `SEND_PING`, not `P2P_ACK`, not `CREATE_TOPIC`, and not the sender of a p2p message.

use std::collections::VecDeque;
use std::time::Duration;

use imkit_protocols::fishchat::message::names;
use imkit_protocols::fishchat::{Cmd, cmd_to_command};
use imkit_protocols::{Command, Conversation, Dialect, Error, Event, MessageId, Result, UserId};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};

use super::frames::{Frame, Framing, Inbox, Outbox};
use super::{MSG_SERVER, TEXT, advertised};
use crate::hub::{ConnId, Delivery, Hub, HubError, IdStyle, Outgoing};
use crate::listener::{Accepted, End, HubConn, Wire, pump};

/// Commands handed to the hub per read at most (the rest stay buffered for the next read).
const MAX_COMMANDS: usize = 64;

pub(super) async fn serve(conn: Accepted, framing: Framing) {
    let role = match framing {
        Framing::Length => MSG_SERVER,
        Framing::Lines => TEXT,
    };
    let Some(own_address) = advertised(&conn.context, role, &conn.stream) else {
        return;
    };
    let (hub_conn, outbound) = conn.attach();
    let Accepted {
        stream, context, ..
    } = conn;
    let now = Instant::now();
    let mut wire = ClientWire {
        stream,
        inbox: Inbox::new(framing, context.limits.max_frame),
        outbox: Outbox::new(framing),
        pending: Vec::new(),
        pending_at: 0,
        framing,
        own_address,
        me: None,
        alive: false,
        scan: context.timers.fishchat_scan.max(Duration::from_millis(1)),
        next_scan: now,
        login_deadline: (framing == Framing::Length)
            .then(|| now + context.limits.handshake_timeout),
        handshake_timeout: context.limits.handshake_timeout,
        joins: VecDeque::new(),
        topic_acks: Vec::new(),
        hub: hub_conn.hub().clone(),
        conn: hub_conn.id(),
        eof: false,
        failed: None,
    };
    pump(&mut wire, &hub_conn, outbound, &context).await;
}

/// What a `GroupJoined` from the hub answers: `CREATE_TOPIC` (no reply) or `JOIN_TOPIC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    Create,
    Locate,
}

struct ClientWire {
    stream: TcpStream,
    inbox: Inbox,
    outbox: Outbox,
    /// A reply the listener makes itself (text `REQ_MSG_SERVER`), and how much of it is
    /// written: written at the next read or write, so that reading stays cancel safe.
    pending: Vec<u8>,
    pending_at: usize,
    framing: Framing,
    /// This endpoint's address, for `LOCATE_TOPIC_MSG_ADDR` (and the text lookup).
    own_address: String,
    /// The id of the last `SEND_CLIENT_ID` (a refused login closes the connection).
    me: Option<UserId>,
    /// A `SEND_PING` or `SEND_CLIENT_ID` came since the last scan.
    alive: bool,
    scan: Duration,
    next_scan: Instant,
    /// `SEND_CLIENT_ID` is due by then (msg_server endpoint only).
    login_deadline: Option<Instant>,
    handshake_timeout: Duration,
    /// One entry per create/join handed to the hub, in order: the hub answers each with one
    /// `GroupJoined`, in the same order, on this connection's queue.
    joins: VecDeque<Join>,
    /// Topic deliveries written in the current batch, settled once written.
    topic_acks: Vec<(Conversation, MessageId)>,
    hub: Hub,
    conn: ConnId,
    eof: bool,
    /// Why to close, once the commands decoded before the offending frame are handled.
    failed: Option<Error>,
}

impl ClientWire {
    fn dialect(&self) -> Dialect {
        self.framing.dialect()
    }

    /// Write what is left of `pending`. Cancel safe: progress is kept in `pending_at`.
    async fn flush_pending(&mut self) -> Result<()> {
        while self.pending_at < self.pending.len() {
            let n = self.stream.write(&self.pending[self.pending_at..]).await?;
            if n == 0 {
                return Err(Error::Closed);
            }
            self.pending_at += n;
        }
        self.pending.clear();
        self.pending_at = 0;
        Ok(())
    }

    fn refuse(&self, reason: String) -> Error {
        Error::malformed(self.dialect(), reason)
    }

    /// Turn one client frame into hub commands (or a local answer, or the end).
    fn take(&mut self, frame: Frame, commands: &mut Vec<Command>) -> Result<()> {
        let cmd = match frame {
            Frame::Ignored => return Ok(()),
            Frame::TooFewArgs(e) => return Err(e),
            Frame::Cmd(cmd) => cmd,
        };
        match &cmd {
            Cmd::ReqMsgServer => {
                if self.framing == Framing::Lines {
                    let mut reply = Outbox::new(Framing::Lines);
                    reply.select_msg_server(&self.own_address);
                    self.pending.extend_from_slice(&reply.bytes);
                } else {
                    tracing::debug!(conn = %self.conn, "REQ_MSG_SERVER at the msg_server: ignored");
                }
                return Ok(());
            }
            Cmd::SendClientId { client_id } => {
                self.me = Some(UserId::from(client_id.as_str()));
                self.alive = true;
                self.login_deadline = None;
                self.next_scan = Instant::now() + self.scan;
            }
            // What a server sends, coming from a client: the original has no case for it.
            Cmd::SelectMsgServerForClient { .. }
            | Cmd::RespMessageP2p { .. }
            | Cmd::LocateTopicMsgAddr { .. }
            | Cmd::RespMessageTopic { .. }
            | Cmd::Unknown { .. } => {
                tracing::debug!(conn = %self.conn, name = cmd.name(), "ignoring a command no client sends");
                return Ok(());
            }
            _ => {
                let Some(me) = &self.me else {
                    return Err(self.refuse(format!("{} before SEND_CLIENT_ID", cmd.name())));
                };
                let claimed = match &cmd {
                    Cmd::SendMessageP2p { from, .. } => Some(from),
                    Cmd::P2pAck { client_id, .. } | Cmd::JoinTopic { client_id, .. } => {
                        Some(client_id)
                    }
                    _ => None,
                };
                if let Some(claimed) = claimed
                    && claimed != me.as_str()
                {
                    return Err(self.refuse(format!(
                        "{} names {claimed:?} but the connection is logged in as {me:?}",
                        cmd.name()
                    )));
                }
                match &cmd {
                    Cmd::SendPing => {
                        // Only the scan cares; the hub has nothing to do with it.
                        self.alive = true;
                        return Ok(());
                    }
                    Cmd::CreateTopic { .. } => self.joins.push_back(Join::Create),
                    Cmd::JoinTopic { .. } => self.joins.push_back(Join::Locate),
                    _ => {}
                }
            }
        }
        commands.push(cmd_to_command(cmd)?);
        Ok(())
    }

    /// Render one item for the client into the outbox (most events have no fishchat form:
    /// the original says them with silence).
    fn render(&mut self, item: &Outgoing) {
        match item {
            Outgoing::Delivery(delivery) => self.render_delivery(delivery),
            Outgoing::Event(Event::GroupJoined { group, .. }) => match self.joins.pop_front() {
                Some(Join::Create) => {}
                Some(Join::Locate) | None => {
                    let own = &self.own_address;
                    self.outbox
                        .push(names::LOCATE_TOPIC_MSG_ADDR, &[own, group.as_str()]);
                }
            },
            other => {
                tracing::trace!(conn = %self.conn, kind = other.kind(), "no fishchat form: not written")
            }
        }
    }

    /// A message, printed from the hub's shared copy (its uuid encoded on the stack).
    fn render_delivery(&mut self, delivery: &Delivery) {
        match (delivery.conversation(), delivery.style()) {
            (Conversation::Group(group), _) => {
                self.outbox.push(
                    names::RESP_MESSAGE_TOPIC,
                    &[group.as_str(), delivery.content(), delivery.from().as_str()],
                );
                self.topic_acks
                    .push((delivery.conversation().clone(), delivery.id()));
            }
            // A direct message, or one in a session another dialect opened with us.
            (Conversation::User(_) | Conversation::Session(_), IdStyle::Uuid) => {
                let mut buffer = uuid::Uuid::encode_buffer();
                let uuid = delivery.uuid().hyphenated().encode_lower(&mut buffer);
                self.outbox.push(
                    names::RESP_MESSAGE_P2P,
                    &[delivery.content(), delivery.from().as_str(), uuid],
                );
            }
            (_, style) => {
                tracing::warn!(conn = %self.conn, ?style, "a delivery without a uuid: not written")
            }
        }
    }
}

impl Wire for ClientWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> Result<bool> {
        self.flush_pending().await?;
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            let mut decoded = false;
            while commands.len() < MAX_COMMANDS
                && self.pending.is_empty()
                && let Some(frame) = self.inbox.decode()?
            {
                decoded = true;
                if let Err(e) = self.take(frame, commands) {
                    if commands.is_empty() {
                        return Err(e);
                    }
                    self.failed = Some(e);
                    break;
                }
            }
            if decoded {
                return Ok(true);
            }
            if !self.inbox.fill(&mut self.stream).await? {
                self.eof = true;
                let Some(frame) = self.inbox.finish() else {
                    return Ok(false);
                };
                self.take(frame, commands)?;
                return Ok(true);
            }
        }
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> Result<()> {
        self.flush_pending().await?;
        self.outbox.clear();
        for item in items.iter() {
            self.render(item);
        }
        if !self.outbox.bytes.is_empty() {
            // Not forever: the pump's write timeout.
            self.stream.write_all(&self.outbox.bytes).await?;
        }
        // Written is delivered for a topic message: it has no uuid the client could ack, so
        // the hub (which keeps every delivery to a fishchat client until acked) is told here.
        for (conversation, id) in self.topic_acks.drain(..) {
            match self
                .hub
                .handle(self.conn, Command::Ack { conversation, id })
            {
                Ok(()) => {}
                Err(HubError::ConnectionClosed(_)) => break,
                Err(e) => tracing::debug!(conn = %self.conn, "settling a topic delivery: {e}"),
            }
        }
        Ok(())
    }

    async fn refused(
        &mut self,
        command: &'static str,
        _position: usize,
        error: &HubError,
    ) -> Result<bool> {
        if matches!(command, "create_group" | "join_group") {
            // The hub answered nothing for it.
            self.joins.pop_back();
        }
        match error {
            // JOIN_TOPIC or SEND_MESSAGE_TOPIC to a topic nobody created: the original
            // answers nothing and goes on.
            HubError::UnknownGroup(group) => {
                tracing::debug!(conn = %self.conn, %group, command, "unknown topic: ignored, as the original");
                Ok(true)
            }
            // With --accounts, a message to an id that does not exist: the original drops
            // messages to never-registered ids silently.
            HubError::UnknownUser(user) if command == "send" => {
                tracing::debug!(conn = %self.conn, %user, "message to an unknown id: dropped, as the original");
                Ok(true)
            }
            // The dialect has no error reply: the pump closes this connection and logs why.
            _ => Ok(false),
        }
    }

    fn next_timer(&self) -> Option<Instant> {
        match self.me {
            Some(_) => Some(self.next_scan),
            None => self.login_deadline,
        }
    }

    async fn on_timer(&mut self, _conn: &HubConn) -> Result<()> {
        let now = Instant::now();
        let Some(me) = &self.me else {
            if self.login_deadline.is_some_and(|d| now >= d) {
                return Err(Error::Timeout {
                    what: "SEND_CLIENT_ID",
                    after: self.handshake_timeout,
                });
            }
            return Ok(());
        };
        if now < self.next_scan {
            return Ok(());
        }
        self.next_scan = now + self.scan;
        if std::mem::take(&mut self.alive) {
            return Ok(());
        }
        tracing::info!(conn = %self.conn, user = %me, "no SEND_PING for two dead-session scans: logging the session out");
        // Closing detaches the connection: the hub logs the user out and keeps what was
        // still queued or unacked for its next SEND_CLIENT_ID.
        Err(Error::Timeout {
            what: "SEND_PING (dead-session scan)",
            after: self.scan * 2,
        })
    }

    async fn close(&mut self, end: &End) {
        let _ = end;
        let _ = timeout(Duration::from_secs(1), self.flush_pending()).await;
        let _ = timeout(Duration::from_secs(1), self.stream.shutdown()).await;
    }
}
