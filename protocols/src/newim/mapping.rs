//! The neutral model and newim's frames, both ways.
//!
//! Client side: [`Context::command_to_frame`] and [`Context::frame_to_event`]. Server side:
//! [`frame_to_command`] and [`Context::event_to_frame`] (the context is then the *receiver*).
//!
//! The gateway fans every JOIN, QUIT and CHAT out to every member of the box, the sender
//! included. So the receiver tells its own messages from others' by `sender`: its own CHAT
//! copy is [`Event::Accepted`] (stored, with the server's id), its own JOIN is
//! [`Event::GroupJoined`], its own QUIT is [`Event::Done`] (`"leave_group"`).

use super::frame::Frame;
use super::message::{ChatMessage, ChatOp, MessageType};
use crate::{
    Command, Conversation, Dialect, Error, Event, GroupId, Message, MessageId, Result, UserId,
};

/// The text frames a client sends as pings start with this; the gateway echoes them.
pub const PING_PREFIX: &str = "imkit-ping-";

/// What the mapping needs to know: who "me" is (the uid of this connection, from the cookie),
/// and a counter that makes each ping token unique on the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub me: UserId,
    pings: u64,
}

impl Context {
    pub fn new(me: impl Into<UserId>) -> Self {
        Context {
            me: me.into(),
            pings: 0,
        }
    }

    /// Client side: the frame for `command`. `Ok(None)` for commands with nothing on the
    /// wire: `Login` (the identity is the upgrade's cookie) and `Logout` (closing the socket
    /// is the logout).
    pub fn command_to_frame(&mut self, command: &Command) -> Result<Option<Frame>> {
        let frame = match command {
            Command::Login { .. } | Command::Logout => return Ok(None),
            Command::JoinGroup { group } | Command::CreateGroup { group } => {
                Frame::Chat(self.box_message(group, MessageType::Sync, ChatOp::Join))
            }
            Command::LeaveGroup { group } => {
                Frame::Chat(self.box_message(group, MessageType::Sync, ChatOp::Quit))
            }
            Command::Send {
                to: Conversation::Group(group),
                content,
                ..
            } => Frame::Chat(ChatMessage {
                body: Some(content.clone()),
                ..self.box_message(group, MessageType::SmallText, ChatOp::Chat)
            }),
            Command::Send { to, .. } => {
                return Err(unsupported(match to {
                    Conversation::User(_) => "send to a user (a private chat is a box of two)",
                    _ => "send into a session (a private chat is a box of two)",
                }));
            }
            Command::Ack {
                conversation: Conversation::Group(group),
                id,
            } => Frame::Chat(ChatMessage {
                uuid: Some(id.to_string()),
                ..self.box_message(group, MessageType::Sync, ChatOp::Ack)
            }),
            Command::Ack { .. } => {
                return Err(unsupported("acknowledge a message outside a box"));
            }
            Command::Ping => {
                self.pings += 1;
                Frame::Text(format!("{PING_PREFIX}{}", self.pings))
            }
            Command::Pong => return Err(unsupported("answer a server ping")),
            Command::Register { .. } => return Err(unsupported("register an account")),
            Command::Resume { .. } => return Err(unsupported("resume a session")),
            Command::Match => return Err(unsupported("match a partner")),
            Command::OpenSession { .. } => return Err(unsupported("open a session")),
            Command::CloseSession { .. } => return Err(unsupported("close a session")),
            Command::Read { .. } => return Err(unsupported("send a read receipt")),
        };
        Ok(Some(frame))
    }

    /// Client side: the event a server frame means to this connection. `Ok(None)` for what
    /// the gateway never sends and a client ignores (an ACK).
    pub fn frame_to_event(&self, frame: Frame) -> Result<Option<Event>> {
        let message = match frame {
            // The gateway echoes our ping text: the round trip is complete.
            Frame::Text(_) => return Ok(Some(Event::Pong)),
            Frame::Chat(message) => message,
        };
        let op = message.chat_op();
        let group = GroupId::new(message.boxid);
        let sender = message
            .sender
            .map(UserId::new)
            .ok_or_else(|| malformed("a server message without a sender"))?;
        let from_me = sender == self.me;
        let id = message.uuid.filter(|u| !u.is_empty()).map(parse_id);
        let event = match op {
            Some(ChatOp::Chat) if from_me => Event::Accepted {
                client_ref: None,
                id,
            },
            Some(ChatOp::Chat) => Event::Delivered(Message {
                conversation: Conversation::Group(group),
                from: sender,
                id,
                content: message.body.unwrap_or_default(),
            }),
            Some(ChatOp::Join) if from_me => Event::GroupJoined {
                group,
                server: None,
            },
            Some(ChatOp::Join) => Event::MemberJoined {
                group,
                user: sender,
            },
            Some(ChatOp::Quit) if from_me => Event::Done {
                operation: "leave_group".into(),
            },
            Some(ChatOp::Quit) => Event::MemberLeft {
                group,
                user: sender,
            },
            Some(ChatOp::Ack) => return Ok(None),
            None => return Err(malformed(format!("unknown op value {}", message.op))),
        };
        Ok(Some(event))
    }

    /// Server side: the frame that tells this connection (`me` = the receiver) `event`.
    ///
    /// newim has no separate accept or leave confirmation: the sender receives its own copy.
    /// So to accept a message, encode its [`Event::Delivered`] with `from` = the sender; to
    /// confirm a leave, [`Event::MemberLeft`] with `user` = the leaver. `Accepted` and `Done`
    /// themselves carry too little to rebuild the copy and are refused.
    pub fn event_to_frame(&self, event: &Event) -> Result<Frame> {
        let message = match event {
            Event::Delivered(Message {
                conversation: Conversation::Group(group),
                from,
                id,
                content,
            }) => ChatMessage {
                uuid: id.as_ref().map(ToString::to_string),
                sender: Some(from.0.clone()),
                body: Some(content.clone()),
                ..box_message(group, MessageType::SmallText, ChatOp::Chat)
            },
            Event::Delivered(_) => {
                return Err(unsupported("deliver a message outside a box"));
            }
            Event::GroupJoined { group, .. } => ChatMessage {
                sender: Some(self.me.0.clone()),
                ..box_message(group, MessageType::Sync, ChatOp::Join)
            },
            Event::MemberJoined { group, user } => ChatMessage {
                sender: Some(user.0.clone()),
                ..box_message(group, MessageType::Sync, ChatOp::Join)
            },
            Event::MemberLeft { group, user } => ChatMessage {
                sender: Some(user.0.clone()),
                ..box_message(group, MessageType::Sync, ChatOp::Quit)
            },
            Event::Accepted { .. } => {
                return Err(unsupported(
                    "accept without the message (send the sender its own Delivered copy)",
                ));
            }
            _ => return Err(unsupported("tell a client this event")),
        };
        Ok(Frame::Chat(message))
    }

    fn box_message(&self, group: &GroupId, mtype: MessageType, op: ChatOp) -> ChatMessage {
        ChatMessage {
            // Ignored by the gateway (it takes the cookie), sent as the original demo does.
            sender: Some(self.me.0.clone()),
            ..box_message(group, mtype, op)
        }
    }
}

/// Server side: the command a client frame asks for. A JOIN is [`Command::JoinGroup`] (a box
/// exists once someone joins, so `CreateGroup` looks the same on the wire); a text frame is a
/// [`Command::Ping`] (answer it with [`super::frame::echo`]). The `sender` on the wire is
/// ignored, as the gateway ignores it: the connection's uid is the cookie's.
pub fn frame_to_command(frame: &Frame) -> Result<Command> {
    let message = match frame {
        Frame::Text(_) => return Ok(Command::Ping),
        Frame::Chat(message) => message,
    };
    let group = GroupId::new(message.boxid.clone());
    Ok(match message.chat_op() {
        Some(ChatOp::Join) => Command::JoinGroup { group },
        Some(ChatOp::Quit) => Command::LeaveGroup { group },
        Some(ChatOp::Chat) => Command::Send {
            to: Conversation::Group(group),
            // newim has no client reference on the wire.
            client_ref: String::new(),
            content: message.body.clone().unwrap_or_default(),
        },
        Some(ChatOp::Ack) => Command::Ack {
            conversation: Conversation::Group(group),
            id: parse_id(message.uuid.clone().unwrap_or_default()),
        },
        None => return Err(malformed(format!("unknown op value {}", message.op))),
    })
}

/// The server's ids are decimal strings ("42"); anything else is kept as text.
pub fn parse_id(uuid: String) -> MessageId {
    match uuid.parse::<u64>() {
        Ok(n) if n.to_string() == uuid => MessageId::Seq(n),
        _ => MessageId::Text(uuid),
    }
}

fn box_message(group: &GroupId, mtype: MessageType, op: ChatOp) -> ChatMessage {
    ChatMessage {
        boxid: group.0.clone(),
        group: 0,
        uuid: None,
        sender: None,
        receiver: None,
        body: None,
        mtype: mtype as i32,
        op: op as i32,
    }
}

fn unsupported(operation: &'static str) -> Error {
    Error::unsupported(Dialect::Newim, operation)
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::Newim, reason)
}
