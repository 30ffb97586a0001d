//! One client connection to the notificer (N) or the switcher (S): gob frames to hub
//! commands, hub events to gob frames, as the flows in `imkit_protocols::eutamias` define.
//!
//! Which side takes what:
//!
//! | client message | N | S |
//! |---|---|---|
//! | `C_LOGIN` | log in → `LoginRsp` (RC_OK / RC_WRONGPW), then the unread messages | identify → `LoginRsp` |
//! | `C_HEARTBEAT` | no reply | no reply |
//! | `C_LOGOUT` | log out, no reply | ignored |
//! | `C_CREATESESSION` | → `CreateSessionRsp` naming S; the peer gets it too (`Seq` 0) | ignored |
//! | `C_CLOSESESSION` | → `CloseSessionRsq` (the peer is not told) | ignored |
//! | `C_MSGDATA` | ignored | → `C_MSGACK` with the message id; delivery to the peer |
//! | `C_MSGACK` | acknowledges a delivery | acknowledges a delivery |
//! | anything else | ignored (the original logs "wrong cmd id") | ignored |
//!
//! Replies echo the request's `Seq`. The hub answers requests in order, so the requests
//! waiting for an answer are a queue. To know which request the hub refused, the wire hands
//! the pump one command per read.

use std::collections::VecDeque;
use std::time::Duration;

use imkit_protocols::eutamias::proto::{MsgCmd, ResultCode};
use imkit_protocols::eutamias::{
    ClientMessage, Frame, ReplyTo, ServerContext, ServerMessage, WireMessage, command_from_wire,
};
use imkit_protocols::{Command, Dialect, Error, Event, Result, SessionId, UserId};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::socket::GobSocket;
use crate::hub::{ConnId, Hub, HubError, Outgoing};
use crate::listener::{End, HubConn, ListenContext, Wire};

/// Which server the client reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Notificer,
    Switcher,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Notificer => "notificer",
            Role::Switcher => "switcher",
        }
    }
}

/// A request the hub will answer (or refuse).
#[derive(Debug, Clone, Copy)]
struct Pending {
    reply_to: ReplyTo,
    /// `C_CLOSESESSION`: the session, to tell our answer from the peer's close.
    session: Option<SessionId>,
    /// `C_LOGIN`: the user it names (a refusal echoes it).
    login: Option<u64>,
}

impl Pending {
    fn new(cmd: MsgCmd, seq: u64) -> Self {
        Pending {
            reply_to: ReplyTo { cmd, seq },
            session: None,
            login: None,
        }
    }
}

/// What to do with one client message.
enum Admit {
    Command(Command, Option<Pending>),
    /// Answer with the dialect's refusal, right away.
    Refuse(Pending, HubError),
    /// Not ours: no reply, the connection stays (as the original does).
    Ignore(&'static str),
}

pub(super) struct EutamiasWire {
    role: Role,
    socket: GobSocket,
    hub: Hub,
    conn: ConnId,
    /// Renders events; `user` is the connection's user (or the one a login names).
    context: ServerContext,
    /// The user the hub logged this connection in as, once its `LoginRsp` went out (a
    /// lock-free check of the sender ids clients put in their messages).
    identified: Option<u64>,
    /// Requests the hub has yet to answer, oldest first.
    replies: VecDeque<Pending>,
    /// The request just handed to the pump (what `refused` refers to).
    handed: Option<Pending>,
    /// Heartbeat rule: dropped when nothing arrived for `silence`.
    heard: Instant,
    silence: Duration,
    /// Until its first login, the connection must log in by this time.
    login_by: Option<Instant>,
    handshake: Duration,
}

impl EutamiasWire {
    /// `switcher` is the address `CreateSessionRsp` names.
    pub(super) fn new(
        role: Role,
        stream: TcpStream,
        conn: &HubConn,
        switcher: std::net::SocketAddr,
        context: &ListenContext,
    ) -> Self {
        let now = Instant::now();
        EutamiasWire {
            role,
            socket: GobSocket::new(stream, context.limits.max_frame),
            hub: conn.hub().clone(),
            conn: conn.id(),
            context: ServerContext {
                user: 0,
                switcher_ip: switcher.ip().to_string(),
                switcher_port: switcher.port(),
            },
            identified: None,
            replies: VecDeque::new(),
            handed: None,
            heard: now,
            silence: context.timers.eutamias_heartbeat_timeout,
            login_by: Some(now + context.limits.handshake_timeout),
            handshake: context.limits.handshake_timeout,
        }
    }

    /// Is `claimed` the connection's user? Without a lock when the answer is known here.
    fn check_sender(&self, claimed: u64) -> std::result::Result<(), HubError> {
        if self.identified == Some(claimed) {
            return Ok(());
        }
        self.hub.check_sender(self.conn, &UserId::from(claimed))
    }

    /// A request from `claimed`, admitted when that is the connection's user.
    fn admit_from(
        &self,
        claimed: u64,
        frame: &Frame<ClientMessage>,
        pending: Pending,
    ) -> Result<Admit> {
        Ok(match self.check_sender(claimed) {
            Ok(()) => Admit::Command(command_from_wire(frame)?, Some(pending)),
            Err(error) => Admit::Refuse(pending, error),
        })
    }

    fn admit(&mut self, frame: &Frame<ClientMessage>) -> Result<Admit> {
        let seq = frame.seq;
        let notificer = self.role == Role::Notificer;
        Ok(match &frame.message {
            ClientMessage::Heartbeat => Admit::Command(Command::Ping, None),
            ClientMessage::Login(req) => {
                // Until the hub's answer is written, sender ids are checked with the hub.
                self.identified = None;
                let pending = Pending {
                    login: Some(req.id),
                    ..Pending::new(MsgCmd::CLogin, seq)
                };
                Admit::Command(command_from_wire(frame)?, Some(pending))
            }
            ClientMessage::MsgAck(_) => Admit::Command(command_from_wire(frame)?, None),
            ClientMessage::Logout(req) if notificer => {
                if self.identified.is_some_and(|me| me != req.id) {
                    return Err(Error::malformed(
                        Dialect::Eutamias,
                        format!(
                            "LogoutReq names user {} but the connection is logged in as {}",
                            req.id, self.context.user
                        ),
                    ));
                }
                self.identified = None;
                Admit::Command(Command::Logout, None)
            }
            ClientMessage::CreateSession(req) if notificer => {
                self.admit_from(req.fromid, frame, Pending::new(MsgCmd::CCreatesession, seq))?
            }
            ClientMessage::CloseSession(req) if notificer => self.admit_from(
                req.fromid,
                frame,
                Pending {
                    session: Some(SessionId(req.session_id)),
                    ..Pending::new(MsgCmd::CClosesession, seq)
                },
            )?,
            ClientMessage::MsgData(data) if !notificer => {
                self.admit_from(data.id, frame, Pending::new(MsgCmd::CMsgdata, seq))?
            }
            ClientMessage::MsgData(_) => Admit::Ignore("C_MSGDATA goes to the switcher"),
            ClientMessage::Logout(_)
            | ClientMessage::CreateSession(_)
            | ClientMessage::CloseSession(_) => {
                Admit::Ignore("a notificer request sent to the switcher")
            }
            ClientMessage::SendMsg(_) => Admit::Ignore("C_SENDMSG (no flow uses it)"),
            ClientMessage::NinfoReq(_) | ClientMessage::NinfoUpd(_) => {
                Admit::Ignore("a dispatcher message on a client port")
            }
            ClientMessage::Unknown { .. } => Admit::Ignore("wrong cmd id"),
        })
    }

    /// Queue the dialect's refusal of `pending` and send it (cancel safe once queued).
    async fn refuse(&mut self, pending: Pending, error: &HubError) -> Result<()> {
        let code = match (pending.reply_to.cmd, error) {
            (MsgCmd::CLogin, HubError::WrongPassword(_) | HubError::UnknownUser(_)) => {
                ResultCode::RcWrongpw
            }
            _ => ResultCode::RcServerError,
        };
        tracing::info!(
            dialect = %Dialect::Eutamias,
            conn = %self.conn,
            role = self.role.name(),
            request = ?pending.reply_to.cmd,
            %error,
            "refused"
        );
        let refusal = Event::Error {
            code: Some(code as i64),
            message: error.to_string(),
        };
        // A refused login names the user it asked for; the connection stays who it was.
        let user = self.context.user;
        if let Some(asked) = pending.login {
            self.context.user = asked;
        }
        let frame = self.context.event_to_wire(&refusal, Some(pending.reply_to));
        self.context.user = user;
        self.socket.queue(frame?)?;
        self.socket.flush().await
    }

    /// The oldest request waiting, if it is one of `cmd` (and about `session`).
    fn answer(&mut self, cmd: MsgCmd, session: Option<SessionId>) -> Option<ReplyTo> {
        let front = self.replies.front()?;
        if front.reply_to.cmd != cmd || (session.is_some() && front.session != session) {
            return None;
        }
        self.replies.pop_front().map(|p| p.reply_to)
    }

    /// The frame for `event`, if this side sends one.
    fn render(&mut self, event: &Event) -> Result<Option<Frame<ServerMessage>>> {
        let notificer = self.role == Role::Notificer;
        let reply_to = match event {
            Event::LoggedIn { user, .. } => {
                let reply_to = self.answer(MsgCmd::CLogin, None);
                if let Some(id) = user.as_u64() {
                    self.identified = Some(id);
                    self.context.user = id;
                }
                self.login_by = None;
                reply_to
            }
            Event::SessionOpened { by_peer: false, .. } if notificer => {
                self.answer(MsgCmd::CCreatesession, None)
            }
            // The peer's notice: no request of ours.
            Event::SessionOpened { by_peer: true, .. } if notificer => None,
            Event::SessionClosed { session } if notificer => {
                match self.answer(MsgCmd::CClosesession, Some(*session)) {
                    Some(reply_to) => Some(reply_to),
                    // The peer's close: the flow does not tell the other side.
                    None => return Ok(None),
                }
            }
            Event::Accepted { .. } => self.answer(MsgCmd::CMsgdata, None),
            Event::Delivered(_) => None,
            // Notices for the notificer reaching the switcher link, the hub's answer to a
            // heartbeat, and what this dialect has no words for.
            _ => return Ok(None),
        };
        self.context.event_to_wire(event, reply_to).map(Some)
    }
}

impl Wire for EutamiasWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> Result<bool> {
        // A refusal an earlier, cancelled read left half written goes first.
        self.socket.flush().await?;
        let Some(frame) = self.socket.next_frame().await? else {
            return Ok(false);
        };
        self.heard = Instant::now();
        self.handed = None;
        match self.admit(&frame)? {
            // Answered here: no need to take the hub's lock for it.
            Admit::Command(Command::Ping, _) => Ok(true),
            Admit::Command(command, pending) => {
                if let Some(pending) = pending {
                    self.replies.push_back(pending);
                    self.handed = Some(pending);
                }
                commands.push(command);
                Ok(true)
            }
            Admit::Refuse(pending, error) => {
                self.refuse(pending, &error).await?;
                Ok(true)
            }
            Admit::Ignore(why) => {
                tracing::debug!(
                    dialect = %Dialect::Eutamias,
                    conn = %self.conn,
                    role = self.role.name(),
                    cmd = frame.message.cmd(),
                    why,
                    "ignored"
                );
                Ok(true)
            }
        }
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> Result<()> {
        for event in items.drain(..).map(Outgoing::into_event) {
            if let Some(frame) = self.render(&event)? {
                self.socket.send(frame).await?;
            }
        }
        Ok(())
    }

    async fn refused(
        &mut self,
        _command: &'static str,
        _position: usize,
        error: &HubError,
    ) -> Result<bool> {
        // Only requests with an answer can be refused in words; an ack cannot.
        let Some(pending) = self.handed.take() else {
            return Ok(false);
        };
        self.replies.pop_back();
        self.refuse(pending, error).await?;
        Ok(true)
    }

    fn next_timer(&self) -> Option<Instant> {
        let silent = self.heard + self.silence;
        Some(self.login_by.map_or(silent, |by| silent.min(by)))
    }

    async fn on_timer(&mut self, _conn: &HubConn) -> Result<()> {
        let now = Instant::now();
        if now >= self.heard + self.silence {
            // Dropped: what it was delivered and did not ack stays unread for its next login.
            return Err(Error::Timeout {
                what: "a heartbeat",
                after: self.silence,
            });
        }
        if self.login_by.is_some_and(|by| now >= by) {
            return Err(Error::Timeout {
                what: "the login",
                after: self.handshake,
            });
        }
        Ok(())
    }

    async fn close(&mut self, _end: &End) {
        self.socket.shutdown().await;
    }
}
