//! The neutral model ([`Command`] / [`Event`]) to and from simple-im's messages.
//!
//! simple-im messages name the sender's own user id and device (`[m.from]`, `[gm.user]`), and
//! an `[a]` names no conversation, so the mapping needs a [`Context`]: who is on this
//! connection. The driver uses [`command_to_message`] and [`message_to_event`]; a server uses
//! [`message_to_command`] and [`event_to_message`].

use super::message::{
    Ack, ChatMessage, ClientMessage, DEFAULT_DEVICE, DEFAULT_REQUEST_ID, Endpoint, GroupMessage,
    LOGIN, RECONNECT, Reply, Request, ServerMessage, UNKNOWN_REQUEST,
};
use super::{CAPABILITIES, document::Value};
use crate::{
    Command, Conversation, Dialect, Error, Event, GroupId, Message, MessageId, Result, UserId,
};

/// Who is on the connection being translated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The logged-in user (the numeric id the HTTP login returned).
    pub user: UserId,
    /// Their device: `android`, `iphone` or `ipad`.
    pub device: String,
    /// The id of the `[r]` being answered (replies echo it; the original's client uses `a_01`).
    pub request_id: String,
    /// The `t` of that request (`login` or `reconnect`): failures are spelt differently.
    pub request_kind: String,
}

impl Context {
    pub fn new(user: impl Into<UserId>, device: impl Into<String>) -> Self {
        Context {
            user: user.into(),
            device: device.into(),
            request_id: DEFAULT_REQUEST_ID.into(),
            request_kind: LOGIN.into(),
        }
    }
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::SimpleIm, reason)
}

fn user_value(user: &UserId) -> Value {
    Value::Str(user.as_str().to_owned())
}

/// A client command as the message it is on the wire. What the dialect cannot say is
/// [`Error::Unsupported`] (match, sessions, read receipts, groups other than sending, ping,
/// logout: the original has none of them).
pub fn command_to_message(command: &Command, ctx: &Context) -> Result<ClientMessage> {
    CAPABILITIES.check(Dialect::SimpleIm, command)?;
    Ok(match command {
        Command::Login {
            user,
            secret,
            device,
        } => {
            let token = secret
                .as_deref()
                .ok_or_else(|| malformed("a TCP login needs the token from the HTTP login"))?;
            ClientMessage::Request(Request {
                id: ctx.request_id.clone(),
                ..Request::login(
                    user_value(user),
                    device.as_deref().unwrap_or(&ctx.device),
                    token,
                )
            })
        }
        Command::Resume {
            user,
            token,
            device,
        } => ClientMessage::Request(Request {
            id: ctx.request_id.clone(),
            ..Request::reconnect(
                user_value(user),
                device.as_deref().unwrap_or(&ctx.device),
                token,
            )
        }),
        Command::Send {
            to,
            client_ref,
            content,
        } => {
            let sender = Endpoint {
                id: user_value(&ctx.user),
                device: Some(ctx.device.clone()),
            };
            match to {
                Conversation::User(peer) => ClientMessage::Message(ChatMessage {
                    id: client_ref.clone(),
                    content: content.clone(),
                    from: sender,
                    to: Endpoint {
                        id: user_value(peer),
                        device: None,
                    },
                }),
                Conversation::Group(group) => ClientMessage::GroupMessage(GroupMessage {
                    id: client_ref.clone(),
                    content: content.clone(),
                    user: sender,
                    group: Value::Str(group.as_str().to_owned()),
                }),
                Conversation::Session(_) => {
                    return Err(Error::unsupported(Dialect::SimpleIm, "send into a session"));
                }
            }
        }
        Command::Ack { id, .. } => ClientMessage::Ack(Ack { id: id.to_string() }),
        Command::Logout => {
            return Err(Error::unsupported(
                Dialect::SimpleIm,
                "log out (the original has no logout message: close the connection)",
            ));
        }
        // Everything else was refused by the capability check above.
        other => {
            return Err(Error::unsupported(Dialect::SimpleIm, other.kind()));
        }
    })
}

/// A client message as the command it means (server side). An `[a]` names no conversation:
/// it comes out addressed to the acknowledging user (`ctx.user`). A request type other than
/// login/reconnect is [`Error::Malformed`]; the original answers it with
/// [`Reply::UnknownRequest`].
pub fn message_to_command(message: &ClientMessage, ctx: &Context) -> Result<Command> {
    Ok(match message {
        ClientMessage::Request(request) => {
            let user = request.user.as_ref();
            match (request.kind.as_str(), user) {
                (LOGIN, Some(user)) => Command::Login {
                    user: UserId(user.id.to_text()),
                    secret: Some(user.token.clone()),
                    device: Some(user.device.clone()),
                },
                (RECONNECT, Some(user)) => Command::Resume {
                    user: UserId(user.id.to_text()),
                    token: user.token.clone(),
                    device: Some(user.device.clone()),
                },
                (kind, _) => return Err(malformed(format!("unknown request type {kind:?}"))),
            }
        }
        ClientMessage::Message(m) => Command::Send {
            to: Conversation::User(UserId(m.to.id.to_text())),
            client_ref: m.id.clone(),
            content: m.content.clone(),
        },
        ClientMessage::GroupMessage(g) => Command::Send {
            to: Conversation::Group(GroupId(g.group.to_text())),
            client_ref: g.id.clone(),
            content: g.content.clone(),
        },
        ClientMessage::Ack(a) => Command::Ack {
            conversation: Conversation::User(ctx.user.clone()),
            id: MessageId::Text(a.id.clone()),
        },
    })
}

/// A server event as the message the original sends (server side), for the connection of
/// `ctx.user`. A delivered message's sender device is not in the neutral model: it is written
/// as [`DEFAULT_DEVICE`] (a server that has the sender's `[m]` should forward it as is).
pub fn event_to_message(event: &Event, ctx: &Context) -> Result<ServerMessage> {
    Ok(match event {
        Event::Accepted {
            client_ref: Some(id),
            ..
        } => ServerMessage::Ack(Ack { id: id.clone() }),
        Event::Accepted {
            client_ref: None, ..
        } => return Err(malformed("an accept needs the client's message id")),
        Event::LoggedIn { .. } => ServerMessage::Reply(Reply::LoginOk),
        Event::Error { message, .. } if message == UNKNOWN_REQUEST => {
            ServerMessage::Reply(Reply::UnknownRequest {
                id: ctx.request_id.clone(),
            })
        }
        Event::Error { code, message } => {
            let id = ctx.request_id.clone();
            let reason = message.clone();
            ServerMessage::Reply(match (code.unwrap_or(1), ctx.request_kind.as_str()) {
                (1, LOGIN) => Reply::LoginFailed { id, reason },
                (1, RECONNECT) => Reply::ReconnectFailed { id, reason },
                (status, kind) => Reply::Failed {
                    id,
                    kind: kind.to_owned(),
                    status,
                    reason,
                },
            })
        }
        Event::Delivered(message) => {
            let id = message
                .id
                .as_ref()
                .ok_or_else(|| malformed("a delivered message needs its id"))?
                .to_string();
            let sender = Endpoint {
                id: user_value(&message.from),
                device: Some(DEFAULT_DEVICE.into()),
            };
            match &message.conversation {
                Conversation::User(_) => ServerMessage::Message(ChatMessage {
                    id,
                    content: message.content.clone(),
                    from: sender,
                    to: Endpoint {
                        id: user_value(&ctx.user),
                        device: None,
                    },
                }),
                Conversation::Group(group) => ServerMessage::GroupMessage(GroupMessage {
                    id,
                    content: message.content.clone(),
                    user: sender,
                    group: Value::Str(group.as_str().to_owned()),
                }),
                Conversation::Session(_) => {
                    return Err(Error::unsupported(
                        Dialect::SimpleIm,
                        "deliver into a session",
                    ));
                }
            }
        }
        other => {
            return Err(Error::unsupported(Dialect::SimpleIm, other.kind()));
        }
    })
}

/// A server message as the event it means (client side).
pub fn message_to_event(message: &ServerMessage, ctx: &Context) -> Event {
    match message {
        ServerMessage::Reply(reply) if reply.is_success() => Event::LoggedIn {
            user: ctx.user.clone(),
            token: None,
        },
        ServerMessage::Reply(reply) => Event::Error {
            code: match reply {
                Reply::LoginFailed { .. } | Reply::ReconnectFailed { .. } => Some(1),
                Reply::Failed { status, .. } => Some(*status),
                _ => None,
            },
            message: reply.reason().unwrap_or_default().to_owned(),
        },
        ServerMessage::Ack(a) => Event::Accepted {
            client_ref: Some(a.id.clone()),
            id: None,
        },
        ServerMessage::Message(m) => {
            let from = UserId(m.from.id.to_text());
            Event::Delivered(Message {
                conversation: Conversation::User(from.clone()),
                from,
                id: Some(MessageId::Text(m.id.clone())),
                content: m.content.clone(),
            })
        }
        ServerMessage::GroupMessage(g) => Event::Delivered(Message {
            conversation: Conversation::Group(GroupId(g.group.to_text())),
            from: UserId(g.user.id.to_text()),
            id: Some(MessageId::Text(g.id.clone())),
            content: g.content.clone(),
        }),
    }
}
