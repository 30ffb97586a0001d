//! The neutral model, both ways (the flows are documented in the module docs, `mod.rs`).
//!
//! Client side ([`ClientContext`]): `Command` → [`ClientMessage`] and [`ServerMessage`] →
//! `Event`. Server side ([`ServerContext`]): [`ClientMessage`] → `Command` and `Event` →
//! [`ServerMessage`].

use super::message::{ClientMessage, Frame, ServerMessage};
use super::proto::*;
use crate::{
    Command, Conversation, Dialect, Error, Event, Message, MessageId, Result, SessionId, UserId,
};

fn unsupported(operation: &'static str) -> Error {
    Error::unsupported(Dialect::Eutamias, operation)
}

fn numeric(user: &UserId, operation: &'static str) -> Result<u64> {
    user.as_u64().ok_or_else(|| unsupported(operation))
}

const OK: i32 = ResultCode::RcOk as i32;

/// A refusal in words, when the server gave none.
fn refusal(result_code: i32, result_str: &str, what: &str) -> Event {
    let message = if !result_str.is_empty() {
        result_str.to_owned()
    } else {
        match ResultCode::try_from(result_code) {
            Ok(ResultCode::RcWrongpw) => format!("{what}: wrong password"),
            Ok(ResultCode::RcServerError) => format!("{what}: server error"),
            _ => format!("{what}: refused with result code {result_code}"),
        }
    };
    Event::Error {
        code: Some(i64::from(result_code)),
        message,
    }
}

/// The request a client is waiting on, to give its answer meaning (the answers carry no
/// session id or client reference of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Login,
    OpenSession,
    CloseSession(SessionId),
    Send { client_ref: String },
}

impl Request {
    /// The `Cmd` its answer comes under.
    pub fn answer_cmd(&self) -> MsgCmd {
        match self {
            Request::Login => MsgCmd::CLogin,
            Request::OpenSession => MsgCmd::CCreatesession,
            Request::CloseSession(_) => MsgCmd::CClosesession,
            Request::Send { .. } => MsgCmd::CMsgack,
        }
    }

    /// The request a client message makes, if it gets an answer.
    pub fn of(command: &Command) -> Option<Request> {
        match command {
            Command::Login { .. } => Some(Request::Login),
            Command::OpenSession { .. } => Some(Request::OpenSession),
            Command::CloseSession { session, .. } => Some(Request::CloseSession(*session)),
            Command::Send { client_ref, .. } => Some(Request::Send {
                client_ref: client_ref.clone(),
            }),
            _ => None,
        }
    }
}

/// A request in flight: its envelope `Seq` and what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Awaiting {
    pub seq: u64,
    pub request: Request,
}

/// The client-side mapping: who we are and what we wait for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientContext {
    /// Our numeric user id.
    pub user: u64,
    pub awaiting: Option<Awaiting>,
}

impl ClientContext {
    pub fn new(user: u64) -> Self {
        ClientContext {
            user,
            awaiting: None,
        }
    }

    /// The wire form of `command`, sent with envelope `seq` (the client's counter). Two
    /// commands override `seq`: a heartbeat goes with `Seq = 0` (as the original sends it)
    /// and an ack echoes the `Seq` of the delivery it acknowledges (the message id).
    pub fn command_to_wire(&self, command: &Command, seq: u64) -> Result<Frame<ClientMessage>> {
        let message = match command {
            Command::Login { user, secret, .. } => ClientMessage::Login(LoginReq {
                id: numeric(user, "log in with a non-numeric user id")?,
                passwd: secret.clone().unwrap_or_default(),
                online_statue: OnlineStatus::OsOnline as i32,
            }),
            Command::OpenSession { peer } => ClientMessage::CreateSession(CreateSessionReq {
                fromid: self.user,
                peerid: numeric(peer, "open a session with a non-numeric user id")?,
            }),
            Command::CloseSession { session, peer } => {
                ClientMessage::CloseSession(CloseSessionReq {
                    fromid: self.user,
                    peerid: numeric(peer, "close a session with a non-numeric user id")?,
                    session_id: session.0,
                })
            }
            Command::Send {
                to: Conversation::Session(session),
                content,
                ..
            } => ClientMessage::MsgData(MsgData {
                id: self.user,
                session_id: session.0,
                content: content.clone(),
            }),
            Command::Send { .. } => return Err(unsupported("send outside a session")),
            Command::Ack {
                conversation: Conversation::Session(session),
                id,
            } => {
                let id = id
                    .as_seq()
                    .ok_or_else(|| unsupported("acknowledge a non-numeric message id"))?;
                return Ok(Frame::new(
                    id,
                    ClientMessage::MsgAck(MsgDataReadAck {
                        result_code: OK,
                        result_str: session.0.to_string(),
                        ..MsgDataReadAck::default()
                    }),
                ));
            }
            Command::Ack { .. } => return Err(unsupported("acknowledge outside a session")),
            Command::Ping => return Ok(Frame::new(0, ClientMessage::Heartbeat)),
            Command::Logout => ClientMessage::Logout(LogoutReq { id: self.user }),
            Command::Register { .. } => return Err(unsupported("register an account")),
            Command::Resume { .. } => return Err(unsupported("resume a session")),
            Command::Match => return Err(unsupported("match a partner")),
            Command::Read { .. } => return Err(unsupported("send a read receipt")),
            Command::CreateGroup { .. } => return Err(unsupported("create a group")),
            Command::JoinGroup { .. } => return Err(unsupported("join a group")),
            Command::LeaveGroup { .. } => return Err(unsupported("leave a group")),
            Command::Pong => return Err(unsupported("answer a server ping")),
        };
        Ok(Frame::new(seq, message))
    }

    /// Whether `frame` is the answer to the request we wait for.
    pub fn answers(&self, frame: &Frame<ServerMessage>) -> bool {
        use super::message::WireMessage;
        let Some(awaiting) = &self.awaiting else {
            return false;
        };
        if frame.seq != awaiting.seq || frame.message.cmd() != awaiting.request.answer_cmd() as i32
        {
            return false;
        }
        // A peer's session notice comes under the same Cmd: ours names us as `fromid`.
        match &frame.message {
            ServerMessage::CreateSession(rsp) => rsp.result_code != OK || rsp.fromid == self.user,
            _ => true,
        }
    }

    /// The neutral form of a server message.
    pub fn event_from_wire(&self, frame: &Frame<ServerMessage>) -> Event {
        let answered = if self.answers(frame) {
            self.awaiting.as_ref().map(|a| &a.request)
        } else {
            None
        };
        match &frame.message {
            ServerMessage::Login(rsp) if rsp.result_code == OK => Event::LoggedIn {
                user: UserId::from(rsp.id),
                token: None,
            },
            ServerMessage::Login(rsp) => refusal(rsp.result_code, &rsp.result_str, "login"),
            ServerMessage::CreateSession(rsp) if rsp.result_code == OK => {
                let by_peer = rsp.fromid != self.user;
                Event::SessionOpened {
                    session: SessionId(rsp.session_id),
                    peer: UserId::from(if by_peer { rsp.fromid } else { rsp.peerid }),
                    peer_name: None,
                    by_peer,
                }
            }
            ServerMessage::CreateSession(rsp) => {
                refusal(rsp.result_code, &rsp.result_str, "open session")
            }
            ServerMessage::CloseSession(rsp) if rsp.result_code == OK => match answered {
                Some(Request::CloseSession(session)) => Event::SessionClosed { session: *session },
                _ => Event::Done {
                    operation: "close_session".into(),
                },
            },
            ServerMessage::CloseSession(rsp) => {
                refusal(rsp.result_code, &rsp.result_str, "close session")
            }
            ServerMessage::MsgData(data) => Event::Delivered(Message {
                conversation: Conversation::Session(SessionId(data.session_id)),
                from: UserId::from(data.id),
                id: Some(MessageId::Seq(frame.seq)),
                content: data.content.clone(),
            }),
            ServerMessage::MsgAck(ack) if ack.result_code == OK => Event::Accepted {
                client_ref: match answered {
                    Some(Request::Send { client_ref }) => Some(client_ref.clone()),
                    _ => None,
                },
                id: ack.result_str.parse().ok().map(MessageId::Seq),
            },
            ServerMessage::MsgAck(ack) => refusal(ack.result_code, &ack.result_str, "send"),
            ServerMessage::Heartbeat => Event::Pong,
            ServerMessage::Logout(_) => Event::Done {
                operation: "logout".into(),
            },
            ServerMessage::SendMsg(_) => Event::Done {
                operation: "send_msg".into(),
            },
            ServerMessage::Unknown { cmd, .. } => Event::Error {
                code: None,
                message: format!("the server sent an unknown Cmd {cmd}"),
            },
        }
    }
}

/// The request a server answers: its `Cmd` and `Seq` (echoed in the answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    pub cmd: MsgCmd,
    pub seq: u64,
}

/// The server-side mapping for one client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerContext {
    /// The user this connection belongs to (the receiver of what is encoded).
    pub user: u64,
    /// The switcher address announced in `CreateSessionRsp` (`Sip`, `Sport`).
    pub switcher_ip: String,
    pub switcher_port: u16,
}

/// The neutral form of a client message (server side). `Send.client_ref` is the envelope
/// `Seq` in decimal; an ack's conversation is the session in `result_str`.
pub fn command_from_wire(frame: &Frame<ClientMessage>) -> Result<Command> {
    Ok(match &frame.message {
        ClientMessage::Heartbeat => Command::Ping,
        ClientMessage::Login(req) => Command::Login {
            user: UserId::from(req.id),
            secret: (!req.passwd.is_empty()).then(|| req.passwd.clone()),
            device: None,
        },
        ClientMessage::Logout(_) => Command::Logout,
        ClientMessage::CreateSession(req) => Command::OpenSession {
            peer: UserId::from(req.peerid),
        },
        ClientMessage::CloseSession(req) => Command::CloseSession {
            session: SessionId(req.session_id),
            peer: UserId::from(req.peerid),
        },
        ClientMessage::MsgData(data) => Command::Send {
            to: Conversation::Session(SessionId(data.session_id)),
            client_ref: frame.seq.to_string(),
            content: data.content.clone(),
        },
        ClientMessage::MsgAck(ack) => {
            let session = ack.result_str.parse().map_err(|_| {
                Error::malformed(
                    Dialect::Eutamias,
                    format!(
                        "C_MSGACK result_str {:?} is not a session id",
                        ack.result_str
                    ),
                )
            })?;
            Command::Ack {
                conversation: Conversation::Session(SessionId(session)),
                id: MessageId::Seq(frame.seq),
            }
        }
        ClientMessage::SendMsg(_) => return Err(unsupported("handle C_SENDMSG (no flow uses it)")),
        ClientMessage::NinfoReq(_) | ClientMessage::NinfoUpd(_) => {
            return Err(unsupported("take dispatcher messages on a client port"));
        }
        ClientMessage::Unknown { .. } => return Err(unsupported("handle an unknown Cmd")),
    })
}

impl ServerContext {
    /// The wire form of `event` for this connection's user. `reply_to` is the request it
    /// answers (its `Seq` is echoed); `None` for what the server sends on its own.
    pub fn event_to_wire(
        &self,
        event: &Event,
        reply_to: Option<ReplyTo>,
    ) -> Result<Frame<ServerMessage>> {
        let echo = reply_to.map_or(0, |r| r.seq);
        let message = match event {
            Event::LoggedIn { user, .. } => ServerMessage::Login(LoginRsp {
                id: numeric(user, "name a non-numeric user")?,
                result_code: OK,
                result_str: String::new(),
            }),
            Event::SessionOpened {
                session,
                peer,
                by_peer,
                ..
            } => {
                let peer = numeric(peer, "name a non-numeric user")?;
                let (fromid, peerid) = if *by_peer {
                    (peer, self.user)
                } else {
                    (self.user, peer)
                };
                let rsp = CreateSessionRsp {
                    fromid,
                    peerid,
                    session_id: session.0,
                    result_code: OK,
                    result_str: String::new(),
                    sip: self.switcher_ip.clone(),
                    sport: u64::from(self.switcher_port),
                };
                // A peer's notice answers nothing of theirs.
                let seq = if *by_peer { 0 } else { echo };
                return Ok(Frame::new(seq, ServerMessage::CreateSession(rsp)));
            }
            Event::SessionClosed { .. } => ServerMessage::CloseSession(CloseSessionRsq {
                result_code: OK,
                result_str: String::new(),
            }),
            Event::Accepted { id, .. } => ServerMessage::MsgAck(MsgDataReadAck {
                result_code: OK,
                result_str: id.as_ref().map(|id| id.to_string()).unwrap_or_default(),
                ..MsgDataReadAck::default()
            }),
            Event::Delivered(Message {
                conversation: Conversation::Session(session),
                from,
                id,
                content,
            }) => {
                let id = match id {
                    None => 0,
                    Some(id) => id
                        .as_seq()
                        .ok_or_else(|| unsupported("deliver with a non-numeric message id"))?,
                };
                let data = MsgData {
                    id: numeric(from, "deliver from a non-numeric user")?,
                    session_id: session.0,
                    content: content.clone(),
                };
                return Ok(Frame::new(id, ServerMessage::MsgData(data)));
            }
            Event::Delivered(_) => return Err(unsupported("deliver outside a session")),
            Event::Error { code, message } => {
                let result_code = code
                    .and_then(|c| i32::try_from(c).ok())
                    .filter(|&c| c != OK)
                    .unwrap_or(ResultCode::RcServerError as i32);
                let result_str = message.clone();
                match reply_to.map(|r| r.cmd) {
                    Some(MsgCmd::CLogin) => ServerMessage::Login(LoginRsp {
                        id: self.user,
                        result_code,
                        result_str,
                    }),
                    Some(MsgCmd::CCreatesession) => {
                        ServerMessage::CreateSession(CreateSessionRsp {
                            fromid: self.user,
                            result_code,
                            result_str,
                            ..CreateSessionRsp::default()
                        })
                    }
                    Some(MsgCmd::CClosesession) => ServerMessage::CloseSession(CloseSessionRsq {
                        result_code,
                        result_str,
                    }),
                    Some(MsgCmd::CMsgdata) => ServerMessage::MsgAck(MsgDataReadAck {
                        result_code,
                        result_str,
                        ..MsgDataReadAck::default()
                    }),
                    _ => {
                        return Err(unsupported(
                            "report an error except in answer to login, session or message",
                        ));
                    }
                }
            }
            Event::Pong => ServerMessage::Heartbeat,
            Event::Done { operation } if operation == "logout" => {
                ServerMessage::Logout(LogoutRsp {
                    id: self.user,
                    result_code: OK,
                    result_str: String::new(),
                })
            }
            Event::Done { .. } => return Err(unsupported("confirm this operation")),
            Event::LookedUp { .. } => {
                return Err(unsupported("answer a lookup on the TCP port (it is gRPC)"));
            }
            Event::Registered { .. } => return Err(unsupported("register an account")),
            Event::Matched { .. } | Event::NoPartner => {
                return Err(unsupported("match a partner"));
            }
            Event::ReadUpTo { .. } => return Err(unsupported("send a read receipt")),
            Event::GroupJoined { .. } | Event::MemberJoined { .. } | Event::MemberLeft { .. } => {
                return Err(unsupported("have groups"));
            }
            Event::PartnerLeft { .. } => return Err(unsupported("tell that a partner left")),
            Event::Ping => return Err(unsupported("ping a client")),
            Event::Connection(_) => return Err(unsupported("send a connection state")),
        };
        Ok(Frame::new(echo, message))
    }
}
