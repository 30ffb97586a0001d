//! A logged-in simple-im connection: `[m]`/`[gm]` in as hub sends, the hub's events out as
//! `[a]`, `[m]`, `[gm]` (and the login reply), `[r]` answered "Unknown request" as the
//! original does after login, the receiver's `[a]` ignored as the original does.

use std::borrow::Cow;
use std::time::Duration;

use bytes::BufMut;
use imkit_protocols::simple_im::document::Value;
use imkit_protocols::simple_im::{ClientMessage, Document, Reply, ServerMessage};
use imkit_protocols::{
    Command, Conversation, Dialect, Error, Event, GroupId, MessageId, Result, UserId,
};

use super::render;
use super::stream::{DocumentStream, Inbound};
use crate::hub::Outgoing;
use crate::listener::{End, Wire};

/// Documents taken from one read before the hub sees them (bounds the work per wake-up).
const MAX_COMMANDS: usize = 64;
/// How long a closing connection may take to write what it still holds.
const CLOSE_FLUSH: Duration = Duration::from_secs(1);

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::SimpleIm, reason)
}

/// A simple-im user id: an integer, written `1` or `"1"` (the original compares decimal
/// strings and crashes on anything else).
pub(super) fn numeric_user(value: &Value) -> Option<UserId> {
    match value {
        Value::Int(n) => u64::try_from(*n).ok().map(UserId::from),
        Value::Str(s) => s.parse::<u64>().ok().map(UserId::from),
    }
}

#[derive(Debug)]
pub(super) struct TomlWire {
    pub(super) docs: DocumentStream,
    /// The logged-in user and device.
    user: UserId,
    device: String,
    /// What answers the hub's `LoggedIn`: the login success line, or nothing (a reconnect
    /// and a same-token takeover are silent in the original).
    greeting: Option<String>,
    /// Bad input that came after good documents in the same read: ends the next read.
    failed: Option<Error>,
}

impl TomlWire {
    pub(super) fn new(
        docs: DocumentStream,
        user: UserId,
        device: String,
        greeting: Option<String>,
    ) -> Self {
        TomlWire {
            docs,
            user,
            device,
            greeting,
            failed: None,
        }
    }

    /// Queue the reply the original gives to any `[r]` after login.
    fn unknown_request(&mut self, id: String) -> Result<()> {
        let reply = ServerMessage::Reply(Reply::UnknownRequest { id }).print()?;
        self.docs.out.put_slice(reply.as_bytes());
        Ok(())
    }

    fn check_sender(&self, claimed: &Value) -> Result<()> {
        if numeric_user(claimed).as_ref() == Some(&self.user) {
            Ok(())
        } else {
            Err(malformed(format!(
                "a message from {} on a connection of user {} ({})",
                claimed.to_text(),
                self.user,
                self.device
            )))
        }
    }

    /// One client document as a hub command, a local reply, or the end of the connection.
    fn take(&mut self, inbound: Inbound, commands: &mut Vec<Command>) -> Result<()> {
        let message = match inbound {
            Inbound::Message(message) => message,
            Inbound::Broken {
                request_id: Some(id),
                error,
            } => {
                tracing::debug!(user = %self.user, %error, "a broken request after login");
                return self.unknown_request(id);
            }
            Inbound::Broken {
                request_id: None,
                error,
            } => return Err(error),
        };
        match message {
            ClientMessage::Request(request) => {
                tracing::debug!(user = %self.user, kind = %request.kind, "a request after login");
                self.unknown_request(request.id)?;
            }
            ClientMessage::Message(m) => {
                self.check_sender(&m.from.id)?;
                let to = numeric_user(&m.to.id).ok_or_else(|| {
                    malformed(format!(
                        "[m.to] id {:?} is not a user id (an integer)",
                        m.to.id.to_text()
                    ))
                })?;
                commands.push(Command::Send {
                    to: Conversation::User(to),
                    client_ref: m.id,
                    content: m.content,
                });
            }
            ClientMessage::GroupMessage(g) => {
                self.check_sender(&g.user.id)?;
                commands.push(Command::Send {
                    to: Conversation::Group(GroupId(g.group.to_text())),
                    client_ref: g.id,
                    content: g.content,
                });
            }
            // "Accepted and ignored" (see the module docs of the listener).
            ClientMessage::Ack(_) => {}
        }
        Ok(())
    }

    fn render(&mut self, event: &Event) {
        let out = &mut self.docs.out;
        match event {
            Event::LoggedIn { .. } => {
                if let Some(greeting) = self.greeting.take() {
                    out.put_slice(greeting.as_bytes());
                }
            }
            Event::Accepted {
                client_ref: Some(id),
                ..
            } => render::ack(out, id),
            Event::Delivered(message) => {
                let id = match &message.id {
                    Some(MessageId::Text(id)) => Cow::Borrowed(id.as_str()),
                    Some(id) => Cow::Owned(id.to_string()),
                    None => Cow::Borrowed(""),
                };
                match &message.conversation {
                    Conversation::User(_) => render::direct(
                        out,
                        &id,
                        &message.content,
                        self.user.as_str(),
                        message.from.as_str(),
                    ),
                    Conversation::Group(group) => render::group(
                        out,
                        &id,
                        &message.content,
                        group.as_str(),
                        message.from.as_str(),
                    ),
                    Conversation::Session(session) => tracing::warn!(
                        user = %self.user, %session,
                        "a message in a session cannot be written in simple-im: not delivered"
                    ),
                }
            }
            other => {
                tracing::trace!(user = %self.user, event = other.kind(), "nothing to say in simple-im")
            }
        }
    }
}

impl Wire for TomlWire {
    async fn read(&mut self, commands: &mut Vec<Command>) -> Result<bool> {
        self.docs.write_out().await?;
        if let Some(error) = self.failed.take() {
            return Err(error);
        }
        let Some(first) = self.docs.next().await? else {
            return Ok(false);
        };
        self.take(first, commands)?;
        while commands.len() < MAX_COMMANDS {
            let next = match self.docs.ready() {
                Ok(Some(next)) => next,
                Ok(None) => break,
                Err(error) => {
                    self.failed = Some(error);
                    break;
                }
            };
            if let Err(error) = self.take(next, commands) {
                // What came before it still counts.
                self.failed = Some(error);
                break;
            }
        }
        Ok(true)
    }

    async fn write(&mut self, items: &mut Vec<Outgoing>) -> Result<()> {
        for event in items.drain(..).map(Outgoing::into_event) {
            self.render(&event);
        }
        self.docs.write_out().await
    }

    async fn close(&mut self, end: &End) {
        let _ = end;
        self.docs.finish(CLOSE_FLUSH).await;
    }
}
