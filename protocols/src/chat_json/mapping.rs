//! The neutral model and chat-json. Client side: [`client_from_command`] and
//! [`events_from_server`]; server side (the mock): [`command_from_client`] and
//! [`server_from_event`]. The bodies carry account ids the neutral model leaves implicit
//! (`senderId`, `accountId`), so the mapping takes a [`Context`].

use bytes::BufMut;

use super::json::{Escaping, ObjectWriter};
use super::message::{
    ClientMessage, Code, PushDialogue, ServerMessage, SignalData, SignalType, Version,
    dialogue_result,
};
use crate::{
    Command, Conversation, Dialect, Error, Event, Message, MessageId, Result, SessionId, UserId,
};

/// What the mapping needs besides the message: the account bound to the socket (0 before
/// `CRT_ACCOUNT`) and the name set in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub account_id: u64,
    pub version: Version,
}

impl Context {
    pub fn new(account_id: u64, version: Version) -> Self {
        Context {
            account_id,
            version,
        }
    }
}

/// The operation name of [`Event::Done`] for a `VIEWED_ACK` reply.
pub const READ_DONE: &str = "read";

fn unsupported(operation: &'static str) -> Error {
    Error::unsupported(Dialect::ChatJson, operation)
}

fn session_of(conversation: &Conversation, operation: &'static str) -> Result<u64> {
    match conversation {
        Conversation::Session(SessionId(id)) => Ok(*id),
        _ => Err(unsupported(operation)),
    }
}

fn numeric(user: &UserId) -> Result<u64> {
    user.as_u64().ok_or_else(|| {
        Error::malformed(
            Dialect::ChatJson,
            format!("account id {user:?} is not a number"),
        )
    })
}

fn seq(id: &MessageId) -> Result<u64> {
    id.as_seq().ok_or_else(|| {
        Error::malformed(
            Dialect::ChatJson,
            format!("message id {id} is not a number"),
        )
    })
}

/// Client side: the frame for a neutral command. [`Command::Logout`] has no message (closing
/// the socket is the logout) and is `Unsupported` here; the driver closes instead.
pub fn client_from_command(command: &Command, ctx: &Context) -> Result<ClientMessage> {
    let v2 = ctx.version == Version::V2;
    Ok(match command {
        Command::Register { nick } => ClientMessage::CreateAccount {
            nick_name: nick.clone(),
        },
        Command::Match => ClientMessage::Match {
            account_id: ctx.account_id,
        },
        Command::Send {
            to,
            client_ref,
            content,
        } => ClientMessage::Dialogue {
            request_id: client_ref.clone(),
            sender_id: ctx.account_id,
            session_id: session_of(to, "send outside a session")?,
            content: content.clone(),
        },
        Command::Read {
            conversation,
            up_to,
        } => ClientMessage::ViewedAck {
            session_id: session_of(conversation, "send a read receipt outside a session")?,
            account_id: ctx.account_id,
            msg_id: seq(up_to)?,
        },
        Command::Pong => ClientMessage::Pong {
            account_id: ctx.account_id,
        },
        Command::Ping if v2 => ClientMessage::Ping {
            account_id: ctx.account_id,
        },
        Command::Ping => return Err(unsupported("ping the server (v1 has no client ping)")),
        Command::Resume { user, token, .. } if v2 => ClientMessage::Reconnect {
            account_id: numeric(user)?,
            token: token.clone(),
        },
        Command::Resume { .. } => {
            return Err(unsupported("resume a session (v1 has no RECONNECT)"));
        }
        Command::Login { .. } => return Err(unsupported("log in (accounts are created anew)")),
        Command::OpenSession { .. } => {
            return Err(unsupported("open a session with a chosen peer"));
        }
        Command::CloseSession { .. } => return Err(unsupported("close a session")),
        Command::Ack { .. } => return Err(unsupported("acknowledge a delivery")),
        Command::CreateGroup { .. } => return Err(unsupported("create a group")),
        Command::JoinGroup { .. } => return Err(unsupported("join a group")),
        Command::LeaveGroup { .. } => return Err(unsupported("leave a group")),
        Command::Logout => return Err(unsupported("log out by message (close the socket)")),
    })
}

/// Server side: the neutral command a client frame asks for. Ids in the body (`senderId`,
/// `accountId`) are dropped; see [`ClientMessage::claimed_account`] for them.
pub fn command_from_client(message: &ClientMessage) -> Command {
    into_command(message.clone())
}

/// [`command_from_client`] for a message that is no longer needed: its strings move into the
/// command instead of being copied (the broker's path for every frame).
pub fn into_command(message: ClientMessage) -> Command {
    match message {
        ClientMessage::CreateAccount { nick_name } => Command::Register { nick: nick_name },
        ClientMessage::Match { .. } => Command::Match,
        ClientMessage::Dialogue {
            request_id,
            session_id,
            content,
            ..
        } => Command::Send {
            to: Conversation::Session(SessionId(session_id)),
            client_ref: request_id,
            content,
        },
        ClientMessage::Pong { .. } => Command::Pong,
        ClientMessage::ViewedAck {
            session_id, msg_id, ..
        } => Command::Read {
            conversation: Conversation::Session(SessionId(session_id)),
            up_to: MessageId::Seq(msg_id),
        },
        ClientMessage::Ping { .. } => Command::Ping,
        ClientMessage::Reconnect { account_id, token } => Command::Resume {
            user: UserId::from(account_id),
            token,
            device: None,
        },
    }
}

fn failure(code: Code, what: &str) -> Event {
    Event::Error {
        code: Some(i64::from(code.0)),
        message: format!("{what} failed with code {code}"),
    }
}

fn nonempty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// Client side: the neutral events a server frame means (none for signals the original never
/// sends).
pub fn events_from_server(message: &ServerMessage, ctx: &Context) -> Vec<Event> {
    match message {
        ServerMessage::AccountCreated {
            code,
            nick_name,
            account_id,
            token,
        } => {
            if !code.is_success() {
                return vec![failure(*code, "creating the account")];
            }
            let user = UserId::from(*account_id);
            let token = nonempty(token);
            vec![
                Event::Registered {
                    user: user.clone(),
                    nick: nick_name.clone(),
                    token: token.clone(),
                },
                Event::LoggedIn { user, token },
            ]
        }
        ServerMessage::MatchResult {
            code,
            partner_id,
            partner_name,
            session_id,
        } => match *code {
            Code::SUCCESS => vec![Event::Matched {
                session: SessionId(*session_id),
                peer: UserId::from(*partner_id),
                peer_name: nonempty(partner_name),
            }],
            Code::NO_DATA_FOUND => vec![Event::NoPartner],
            other => vec![failure(other, "matching")],
        },
        ServerMessage::DialogueResult {
            code,
            request_id,
            msg_id,
        } => {
            if code.is_success() {
                vec![Event::Accepted {
                    client_ref: Some(request_id.clone()),
                    id: Some(MessageId::Seq(*msg_id)),
                }]
            } else {
                vec![failure(*code, "sending")]
            }
        }
        ServerMessage::PushDialogue {
            msg_id,
            sender_id,
            session_id,
            content,
        } => vec![Event::Delivered(Message {
            conversation: Conversation::Session(SessionId(*session_id)),
            from: UserId::from(*sender_id),
            id: Some(MessageId::Seq(*msg_id)),
            content: content.clone(),
        })],
        ServerMessage::PushSignal {
            sender_id,
            session_id,
            signal_type,
            data,
            ..
        } => match signal_type {
            // data.accountId is the matcher; with omitempty it may be gone, then senderId is.
            SignalType::NewSession => vec![Event::SessionOpened {
                session: SessionId(*session_id),
                peer: UserId::from(if data.account_id != 0 {
                    data.account_id
                } else {
                    *sender_id
                }),
                peer_name: nonempty(&data.nick_name),
                by_peer: true,
            }],
            SignalType::PartnerExit => vec![Event::PartnerLeft {
                session: SessionId(*session_id),
                user: UserId::from(data.account_id),
            }],
            SignalType::DeleteMsg | SignalType::ViewedAck | SignalType::Other(_) => Vec::new(),
        },
        ServerMessage::Ping { .. } => vec![Event::Ping],
        ServerMessage::ViewedAckResult { code } => {
            if code.is_success() {
                vec![Event::Done {
                    operation: READ_DONE.to_owned(),
                }]
            } else {
                vec![failure(*code, "the read receipt")]
            }
        }
        ServerMessage::PushViewedAck {
            session_id,
            account_id,
            msg_id,
        } => vec![Event::ReadUpTo {
            conversation: Conversation::Session(SessionId(*session_id)),
            reader: UserId::from(*account_id),
            up_to: MessageId::Seq(*msg_id),
        }],
        ServerMessage::PingReply { .. } => vec![Event::Pong],
        ServerMessage::ReconnectResult { code } => {
            if code.is_success() {
                vec![Event::LoggedIn {
                    user: UserId::from(ctx.account_id),
                    token: None,
                }]
            } else {
                vec![failure(*code, "reconnecting")]
            }
        }
    }
}

/// Server side: [`server_from_event`] printed after what `out` holds (the frame's JSON
/// payload, as [`ServerMessage::write_json`] prints it). A server's per-message events (the
/// reply to a `DIALOGUE`, the push) are printed straight from the event, without building a
/// [`ServerMessage`] (and copying its strings) first. On an error nothing is written.
pub fn write_event_json(event: &Event, ctx: &Context, out: &mut impl BufMut) -> Result<()> {
    match event {
        Event::Accepted { client_ref, id } => {
            let msg_id = id.as_ref().map(seq).transpose()?.unwrap_or(0);
            let request_id = client_ref.as_deref().unwrap_or_default();
            let w = ObjectWriter::over(out, Escaping::Go);
            dialogue_result(w, ctx.version, Code::SUCCESS, request_id, msg_id).end();
        }
        Event::Delivered(message) => {
            let msg_id = message.id.as_ref().map(seq).transpose()?.unwrap_or(0);
            write_push_json(
                &message.conversation,
                &message.from,
                msg_id,
                &message.content,
                ctx,
                out,
            )?;
        }
        other => server_from_event(other, ctx)?.write_json(ctx.version, out)?,
    }
    Ok(())
}

/// Server side: the push of a message (`PUSH_DIALOGUE`, v2 `PUSH_DIALOGUE_REQ`) printed
/// from its parts, for a server that keeps messages in its own form (no [`Event`] built
/// per receiver). The same bytes as [`write_event_json`] prints for [`Event::Delivered`].
pub fn write_push_json(
    conversation: &Conversation,
    from: &UserId,
    msg_id: u64,
    content: &str,
    ctx: &Context,
    out: &mut impl BufMut,
) -> Result<()> {
    let push = PushDialogue {
        msg_id,
        sender_id: numeric(from)?,
        session_id: session_of(conversation, "deliver outside a session")?,
        content,
    };
    push.members(ObjectWriter::over(out, Escaping::Go), ctx.version)
        .end();
    Ok(())
}

/// Server side: the frame that tells a client `event`. `ctx.account_id` is the receiving
/// client (PING, `receiverId`). [`Event::LoggedIn`] is the v2 `RECONNECT_RESP` code 0 (a
/// v1 login is the `CRT_ACCOUNT` reply, from [`Event::Registered`]); error replies are typed
/// ([`ServerMessage`] with a [`Code`]), not mapped from [`Event::Error`].
pub fn server_from_event(event: &Event, ctx: &Context) -> Result<ServerMessage> {
    Ok(match event {
        Event::Registered { user, nick, token } => ServerMessage::AccountCreated {
            code: Code::SUCCESS,
            nick_name: nick.clone(),
            account_id: numeric(user)?,
            token: token.clone().unwrap_or_default(),
        },
        Event::LoggedIn { .. } if ctx.version == Version::V2 => ServerMessage::ReconnectResult {
            code: Code::SUCCESS,
        },
        Event::Matched {
            session,
            peer,
            peer_name,
        }
        | Event::SessionOpened {
            session,
            peer,
            peer_name,
            by_peer: false,
        } => ServerMessage::MatchResult {
            code: Code::SUCCESS,
            partner_id: numeric(peer)?,
            partner_name: peer_name.clone().unwrap_or_default(),
            session_id: session.0,
        },
        Event::NoPartner => ServerMessage::MatchResult {
            code: Code::NO_DATA_FOUND,
            partner_id: 0,
            partner_name: String::new(),
            session_id: 0,
        },
        Event::SessionOpened {
            session,
            peer,
            peer_name,
            by_peer: true,
        } => {
            let peer = numeric(peer)?;
            ServerMessage::PushSignal {
                sender_id: peer,
                session_id: session.0,
                receiver_id: ctx.account_id,
                signal_type: SignalType::NewSession,
                data: SignalData {
                    account_id: peer,
                    nick_name: peer_name.clone().unwrap_or_default(),
                },
            }
        }
        Event::Accepted { client_ref, id } => ServerMessage::DialogueResult {
            code: Code::SUCCESS,
            request_id: client_ref.clone().unwrap_or_default(),
            msg_id: id.as_ref().map(seq).transpose()?.unwrap_or(0),
        },
        Event::Delivered(message) => ServerMessage::PushDialogue {
            msg_id: message.id.as_ref().map(seq).transpose()?.unwrap_or(0),
            sender_id: numeric(&message.from)?,
            session_id: session_of(&message.conversation, "deliver outside a session")?,
            content: message.content.clone(),
        },
        Event::ReadUpTo {
            conversation,
            reader,
            up_to,
        } => ServerMessage::PushViewedAck {
            session_id: session_of(conversation, "report a read outside a session")?,
            account_id: numeric(reader)?,
            msg_id: seq(up_to)?,
        },
        Event::Done { operation } if operation == READ_DONE => ServerMessage::ViewedAckResult {
            code: Code::SUCCESS,
        },
        Event::PartnerLeft { session, user } => ServerMessage::PushSignal {
            sender_id: 0,
            session_id: session.0,
            receiver_id: ctx.account_id,
            signal_type: SignalType::PartnerExit,
            data: SignalData {
                account_id: numeric(user)?,
                nick_name: String::new(),
            },
        },
        Event::Ping => ServerMessage::Ping {
            account_id: ctx.account_id,
        },
        Event::Pong if ctx.version == Version::V2 => ServerMessage::PingReply {
            account_id: ctx.account_id,
        },
        Event::Pong => return Err(unsupported("answer a client ping (v1 has none)")),
        Event::LoggedIn { .. } => return Err(unsupported("confirm a resume (v1 has none)")),
        Event::Done { .. } => return Err(unsupported("confirm this operation")),
        Event::LookedUp { .. } => return Err(unsupported("name a server (no lookup hop)")),
        Event::SessionClosed { .. } => return Err(unsupported("report a closed session")),
        Event::GroupJoined { .. } | Event::MemberJoined { .. } | Event::MemberLeft { .. } => {
            return Err(unsupported("report group membership"));
        }
        Event::Error { .. } => {
            return Err(unsupported(
                "report a free-form error (send a typed reply with a Code)",
            ));
        }
        Event::Connection(_) => return Err(unsupported("send a driver-side connection state")),
    })
}
