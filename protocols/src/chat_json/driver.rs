//! The client driver: connect the WebSocket, create an account (v1: anew on every connect;
//! v2: `RECONNECT_REQ` with the saved id and token first), then translate commands and
//! frames. Server `PING`s come out as [`Event::Ping`]; the generic loop answers `PONG`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::codec::{Inbound, decode_server_frame};
use super::mapping::{Context, client_from_command, events_from_server};
use super::message::{ClientMessage, Code, ServerMessage, Version};
use crate::driver::{ConnectTimings, Connector, Link};
use crate::net::{WsStream, connect_ws};
use crate::{Command, DriverConfig, Error, Event, Result, UserId};

/// Makes chat-json links; keeps the account (and v2 token) for the next reconnect.
#[derive(Debug)]
pub struct ChatConnector {
    version: Version,
    nick: String,
    /// The account of the last link, with its v2 token.
    account: Option<(u64, String)>,
    timings: ConnectTimings,
}

impl ChatConnector {
    pub fn new(config: &DriverConfig) -> Self {
        let nick = config
            .credentials
            .nick
            .clone()
            .unwrap_or_else(|| format!("imkit-{:06x}", rand::random::<u32>() & 0xff_ffff));
        ChatConnector {
            version: if config.chat_v2 {
                Version::V2
            } else {
                Version::V1
            },
            nick,
            account: None,
            timings: ConnectTimings::default(),
        }
    }

    /// The account id of the current (or last) link.
    pub fn account_id(&self) -> Option<u64> {
        self.account.as_ref().map(|(id, _)| *id)
    }
}

impl Connector for ChatConnector {
    type Link = ChatLink;

    async fn connect(
        &mut self,
        config: &DriverConfig,
        reconnect: bool,
    ) -> Result<(ChatLink, Vec<Event>)> {
        let ws = connect_ws(
            &config.address,
            &[],
            config.local_addr,
            config.connect_timeout,
            config.max_frame,
        )
        .await?;
        let mut link = ChatLink {
            ws,
            ctx: Context::new(0, self.version),
            max_frame: config.max_frame,
            write_timeout: config.reply_timeout,
        };
        let mut events = Vec::new();

        if let (Version::V2, true, Some((account_id, token))) =
            (self.version, reconnect, self.account.clone())
        {
            let login_started = Instant::now();
            link.write(&ClientMessage::Reconnect {
                account_id,
                token: token.clone(),
            })
            .await?;
            let reply = link
                .await_reply(
                    config.reply_timeout,
                    "the RECONNECT_RESP",
                    &mut events,
                    |m| matches!(m, ServerMessage::ReconnectResult { .. }),
                )
                .await?;
            match reply {
                ServerMessage::ReconnectResult { code } if code.is_success() => {
                    link.ctx.account_id = account_id;
                    self.timings = ConnectTimings {
                        lookup: None,
                        login: Some(login_started.elapsed()),
                    };
                    events.push(Event::LoggedIn {
                        user: UserId::from(account_id),
                        token: Some(token),
                    });
                    return Ok((link, events));
                }
                ServerMessage::ReconnectResult {
                    code: Code::NO_DATA_FOUND,
                } => {
                    tracing::debug!(account_id, "RECONNECT refused (code 4); registering anew");
                }
                ServerMessage::ReconnectResult { code } => {
                    return Err(Error::Refused {
                        dialect: crate::Dialect::ChatJson,
                        operation: "RECONNECT",
                        reason: format!("code {code}"),
                    });
                }
                _ => unreachable!("await_reply returns only the awaited message"),
            }
        }

        let login_started = Instant::now();
        link.write(&ClientMessage::CreateAccount {
            nick_name: self.nick.clone(),
        })
        .await?;
        let reply = link
            .await_reply(
                config.reply_timeout,
                "the CRT_ACCOUNT reply",
                &mut events,
                |m| matches!(m, ServerMessage::AccountCreated { .. }),
            )
            .await?;
        let ServerMessage::AccountCreated {
            code,
            account_id,
            token,
            ..
        } = &reply
        else {
            unreachable!("await_reply returns only the awaited message");
        };
        if !code.is_success() {
            return Err(Error::Refused {
                dialect: crate::Dialect::ChatJson,
                operation: "CRT_ACCOUNT",
                reason: format!("code {code}"),
            });
        }
        link.ctx.account_id = *account_id;
        self.account = Some((*account_id, token.clone()));
        self.timings = ConnectTimings {
            lookup: None,
            login: Some(login_started.elapsed()),
        };
        events.extend(events_from_server(&reply, &link.ctx));
        Ok((link, events))
    }

    fn timings(&self) -> ConnectTimings {
        self.timings
    }
}

/// One registered chat-json connection.
#[derive(Debug)]
pub struct ChatLink {
    ws: WsStream,
    ctx: Context,
    max_frame: usize,
    write_timeout: Duration,
}

impl ChatLink {
    /// The account this socket is bound to.
    pub fn account_id(&self) -> u64 {
        self.ctx.account_id
    }

    async fn write(&mut self, message: &ClientMessage) -> Result<()> {
        let frame = message.to_frame(self.ctx.version)?;
        timeout(self.write_timeout, self.ws.send(frame))
            .await
            .map_err(|_| Error::Timeout {
                what: "the server to take a frame",
                after: self.write_timeout,
            })??;
        Ok(())
    }

    /// Read one frame: `Ok(None)` for frames that carry no message (answering a WebSocket
    /// ping on the way: tungstenite queued the pong, the flush sends it now).
    async fn read(&mut self) -> Result<Option<ServerMessage>> {
        let frame = match self.ws.next().await {
            None => return Err(Error::Closed),
            Some(frame) => frame?,
        };
        if matches!(frame, WsMessage::Ping(_)) {
            self.ws.flush().await?;
        }
        match decode_server_frame(&frame, self.max_frame)? {
            Inbound::Message { message, .. } => Ok(Some(message)),
            Inbound::Ignored(why) => {
                tracing::trace!(?why, "chat-json frame ignored");
                Ok(None)
            }
        }
    }

    /// Wait for the reply `wanted` within `wait`; other messages on the way become events
    /// (pushes may overtake a reply, note §9.2), and app pings are answered here.
    async fn await_reply(
        &mut self,
        wait: Duration,
        what: &'static str,
        events: &mut Vec<Event>,
        wanted: impl Fn(&ServerMessage) -> bool,
    ) -> Result<ServerMessage> {
        let deadline = Instant::now() + wait;
        loop {
            let message = timeout_at(deadline, self.read())
                .await
                .map_err(|_| Error::Timeout { what, after: wait })??;
            let Some(message) = message else { continue };
            if wanted(&message) {
                return Ok(message);
            }
            for event in events_from_server(&message, &self.ctx) {
                if event == Event::Ping {
                    self.write(&ClientMessage::Pong {
                        account_id: self.ctx.account_id,
                    })
                    .await?;
                } else {
                    events.push(event);
                }
            }
        }
    }
}

impl Link for ChatLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        if command == Command::Logout {
            // No logout message: the broker logs out on disconnect.
            return self.close().await;
        }
        let message = client_from_command(&command, &self.ctx)?;
        self.write(&message).await
    }

    async fn recv(&mut self) -> Result<Vec<Event>> {
        // Each pass either returns or consumed a whole frame, so cancelling between passes
        // loses nothing.
        loop {
            if let Some(message) = self.read().await? {
                let events = events_from_server(&message, &self.ctx);
                if !events.is_empty() {
                    return Ok(events);
                }
            }
        }
    }

    async fn close(&mut self) -> Result<()> {
        let _ = timeout(self.write_timeout, self.ws.close(None)).await;
        Ok(())
    }
}
