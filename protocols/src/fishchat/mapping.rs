//! fishchat commands ↔ the neutral model. Both forms (`fishchat`, `fishchat-text`) carry the
//! same commands, so one mapping serves both; its errors name `fishchat`.
//!
//! | neutral | wire |
//! |---|---|
//! | `Command::Login { user }` | `SEND_CLIENT_ID [user]` (no reply) |
//! | `Command::Send { to: User(to) }` | `SEND_MESSAGE_P2P [to, content, me]` (no accept) |
//! | `Command::Send { to: Group(g) }` | `SEND_MESSAGE_TOPIC [g, content]` |
//! | `Command::Ack { id }` | `P2P_ACK [me, id]` |
//! | `Command::Ping` | `SEND_PING ["PING"]` (no reply) |
//! | `Command::CreateGroup { g }` / `JoinGroup { g }` | `CREATE_TOPIC [g]` / `JOIN_TOPIC [g, me]` |
//! | `Event::LookedUp { address }` | `SELECT_MSG_SERVER_FOR_CLIENT [address]` |
//! | `Event::Delivered` in `User(from)`, id `Text(uuid)` | `RESP_MESSAGE_P2P [content, from, uuid]` |
//! | `Event::Delivered` in `Group(g)`, no id | `RESP_MESSAGE_TOPIC [g, content, from]` |
//! | `Event::GroupJoined { g, server: Some(addr) }` | `LOCATE_TOPIC_MSG_ADDR [addr, g]` |
//!
//! `client_ref` of a send is not carried (the original has no client id for a message), and
//! the server never accepts a send, so no `Event::Accepted` exists here.

use super::message::Cmd;
use crate::{
    Command, Conversation, Dialect, Error, Event, GroupId, Message, MessageId, Result, UserId,
};

const DIALECT: Dialect = Dialect::Fishchat;

/// What the mapping needs to know: the logged-in client id, which the original repeats in
/// `SEND_MESSAGE_P2P`, `P2P_ACK` and `JOIN_TOPIC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub me: UserId,
}

impl Context {
    pub fn new(me: impl Into<UserId>) -> Self {
        Context { me: me.into() }
    }
}

/// Client side: the wire command for `command`. `Ok(None)`: the command has no message on
/// the wire (`Logout`: the original has none, the client just closes).
pub fn command_to_cmd(command: &Command, ctx: &Context) -> Result<Option<Cmd>> {
    let me = || ctx.me.as_str().to_owned();
    Ok(Some(match command {
        Command::Login { user, .. } => Cmd::SendClientId {
            client_id: user.as_str().to_owned(),
        },
        Command::Send { to, content, .. } => match to {
            Conversation::User(to) => Cmd::SendMessageP2p {
                to: to.as_str().to_owned(),
                msg: content.clone(),
                from: me(),
            },
            Conversation::Group(group) => Cmd::SendMessageTopic {
                topic: group.as_str().to_owned(),
                msg: content.clone(),
            },
            Conversation::Session(_) => {
                return Err(Error::unsupported(DIALECT, "send into a session"));
            }
        },
        Command::Ack { id, .. } => Cmd::P2pAck {
            client_id: me(),
            uuid: id.to_string(),
        },
        Command::Ping => Cmd::SendPing,
        Command::CreateGroup { group } => Cmd::CreateTopic {
            topic: group.as_str().to_owned(),
        },
        Command::JoinGroup { group } => Cmd::JoinTopic {
            topic: group.as_str().to_owned(),
            client_id: me(),
        },
        Command::Logout => return Ok(None),
        other => return Err(unsupported_command(other)),
    }))
}

fn unsupported_command(command: &Command) -> Error {
    let operation = match command {
        Command::Register { .. } => "register an account",
        Command::Resume { .. } => "resume a session",
        Command::Match => "match a partner",
        Command::OpenSession { .. } => "open a session",
        Command::CloseSession { .. } => "close a session",
        Command::Read { .. } => "send a read receipt",
        Command::LeaveGroup { .. } => "leave a group",
        Command::Pong => "answer a server ping (the server never pings)",
        _ => "express this command",
    };
    Error::unsupported(DIALECT, operation)
}

/// Server side: the neutral command a client's wire command asks for.
///
/// `P2P_ACK [id, uuid]` names the acker, not the conversation, so it becomes
/// `Ack { conversation: User(id), id: Text(uuid) }`; find the message by its uuid.
/// `SEND_MESSAGE_P2P`'s `from` argument is dropped: it is whatever the client claims (use
/// [`Cmd`] directly to check it). `REQ_MSG_SERVER` is answered by the gateway, not mapped.
pub fn cmd_to_command(cmd: Cmd) -> Result<Command> {
    Ok(match cmd {
        Cmd::SendClientId { client_id } => Command::Login {
            user: UserId(client_id),
            secret: None,
            device: None,
        },
        Cmd::SendPing => Command::Ping,
        Cmd::SendMessageP2p { to, msg, .. } => Command::Send {
            to: Conversation::User(UserId(to)),
            client_ref: String::new(),
            content: msg,
        },
        Cmd::SendMessageTopic { topic, msg } => Command::Send {
            to: Conversation::Group(GroupId(topic)),
            client_ref: String::new(),
            content: msg,
        },
        Cmd::P2pAck { client_id, uuid } => Command::Ack {
            conversation: Conversation::User(UserId(client_id)),
            id: MessageId::Text(uuid),
        },
        Cmd::CreateTopic { topic } => Command::CreateGroup {
            group: GroupId(topic),
        },
        Cmd::JoinTopic { topic, .. } => Command::JoinGroup {
            group: GroupId(topic),
        },
        Cmd::ReqMsgServer => {
            return Err(Error::unsupported(
                DIALECT,
                "map REQ_MSG_SERVER to a command (the gateway answers it itself)",
            ));
        }
        other => return Err(wrong_direction(&other, "a client")),
    })
}

fn wrong_direction(cmd: &Cmd, sender: &str) -> Error {
    if let Cmd::Unknown { name, .. } = cmd {
        Error::malformed(DIALECT, format!("unknown command {name:?}"))
    } else {
        Error::malformed(
            DIALECT,
            format!("{} is not something {sender} sends", cmd.name()),
        )
    }
}

/// Server side: the wire command that tells a client `event`. `Ok(None)`: the original says
/// it with silence (`LoggedIn`: `SEND_CLIENT_ID` has no reply). A `Delivered` direct message
/// needs its id (a uuid, see [`new_message_id`]).
pub fn event_to_cmd(event: &Event) -> Result<Option<Cmd>> {
    Ok(Some(match event {
        Event::LookedUp { address } => Cmd::SelectMsgServerForClient {
            addr: address.clone(),
        },
        Event::LoggedIn { .. } => return Ok(None),
        Event::Delivered(message) => match &message.conversation {
            Conversation::User(_) => Cmd::RespMessageP2p {
                msg: message.content.clone(),
                from: message.from.as_str().to_owned(),
                uuid: message
                    .id
                    .as_ref()
                    .ok_or_else(|| {
                        Error::malformed(DIALECT, "RESP_MESSAGE_P2P needs the message's uuid")
                    })?
                    .to_string(),
            },
            Conversation::Group(group) => Cmd::RespMessageTopic {
                topic: group.as_str().to_owned(),
                msg: message.content.clone(),
                from: message.from.as_str().to_owned(),
            },
            Conversation::Session(_) => {
                return Err(Error::unsupported(DIALECT, "deliver into a session"));
            }
        },
        Event::GroupJoined {
            group,
            server: Some(addr),
        } => Cmd::LocateTopicMsgAddr {
            addr: addr.clone(),
            topic: group.as_str().to_owned(),
        },
        Event::GroupJoined { server: None, .. } => {
            return Err(Error::malformed(
                DIALECT,
                "LOCATE_TOPIC_MSG_ADDR needs the msg_server address of the topic",
            ));
        }
        Event::Error { .. } => {
            return Err(Error::unsupported(
                DIALECT,
                "report an error (the original has no error reply: close the connection)",
            ));
        }
        _ => return Err(Error::unsupported(DIALECT, "tell the client this event")),
    }))
}

/// Client side: the event a server's wire command tells.
pub fn cmd_to_event(cmd: Cmd) -> Result<Event> {
    Ok(match cmd {
        Cmd::SelectMsgServerForClient { addr } => Event::LookedUp { address: addr },
        Cmd::RespMessageP2p { msg, from, uuid } => Event::Delivered(Message {
            conversation: Conversation::User(UserId(from.clone())),
            from: UserId(from),
            id: Some(MessageId::Text(uuid)),
            content: msg,
        }),
        Cmd::RespMessageTopic { topic, msg, from } => Event::Delivered(Message {
            conversation: Conversation::Group(GroupId(topic)),
            from: UserId(from),
            id: None,
            content: msg,
        }),
        Cmd::LocateTopicMsgAddr { addr, topic } => Event::GroupJoined {
            group: GroupId(topic),
            server: Some(addr),
        },
        other => return Err(wrong_direction(&other, "a server")),
    })
}

/// A fresh message id as the original makes them: a random UUIDv4 string.
pub fn new_message_id() -> MessageId {
    MessageId::Text(uuid::Uuid::new_v4().to_string())
}
