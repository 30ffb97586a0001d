//! The client driver: HTTP login (or reconnect) at the picker, then the TCP login, then a
//! [`Link`] that never pipelines.
//!
//! * Login: `POST /server/login` → token + IM node → TCP `[r] t = "login"` → `[rr] s=0`.
//! * Reconnect: `POST /server/reconnect` with the saved id + token → TCP `[r] t = "reconnect"`.
//!   The original answers a successful reconnect with *nothing* (or with a login success when
//!   the session lived on another node), and a failure with `[rr] ... s = 1 r = ".."` and a
//!   close. So: a login success, or no failure within [`SimpleImConnector::resume_grace`], is
//!   success; a refusal anywhere falls back to a full HTTP login.
//! * No pipelining: after `[m]`/`[gm]` the link is [`Ready::AwaitingReply`] until the server's
//!   `[a]`; after a write that gets no reply (`[a]`, other `[r]`) it pauses for
//!   [`SimpleImConnector::pause`], so two writes never reach the server in one read.
//! * No heartbeat in the original. When [`DriverConfig::heartbeat`] is set, the heartbeat is a
//!   harmless `[a] id = "hb"`.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::codec::ClientCodec;
use super::document::Value;
use super::http::{LOGIN_PATH, LoginForm, RECONNECT_PATH, ReconnectForm, Response};
use super::lookup::{http_authority, post_form};
use super::mapping::{Context, command_to_message, message_to_event};
use super::message::{Ack, ClientMessage, DEFAULT_DEVICE, RECONNECT, Request, ServerMessage};
use crate::driver::{ConnectTimings, Connector, Link, Ready};
use crate::{Command, Dialect, DriverConfig, Error, Event, Result, UserId};

/// The `[a]` id of the optional keep-alive.
pub const HEARTBEAT_ACK_ID: &str = "hb";

/// What a reconnect needs from the last login.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Session {
    user_id: i64,
    token: String,
    node: String,
}

/// Makes simple-im links (see the module docs).
#[derive(Debug, Clone)]
pub struct SimpleImConnector {
    /// `host:port` of the HTTP picker.
    http: String,
    phone: String,
    password: String,
    device: String,
    /// The pause after a write that gets no reply.
    pub pause: Duration,
    /// How long a TCP reconnect waits for a refusal before counting as done.
    pub resume_grace: Duration,
    session: Option<Session>,
    timings: ConnectTimings,
}

impl SimpleImConnector {
    /// From `config.address` (the HTTP base URL) and `config.credentials` (`user` = phone,
    /// `secret` = password, `device`, default `android`).
    pub fn new(config: &DriverConfig) -> Result<Self> {
        let http = http_authority(&config.address)?;
        let creds = &config.credentials;
        let phone =
            creds
                .user
                .as_ref()
                .map(UserId::to_string)
                .ok_or_else(|| Error::BadAddress {
                    address: config.address.clone(),
                    reason: "simple-im logs in with a phone number: set the user".into(),
                })?;
        let device = creds
            .device
            .clone()
            .unwrap_or_else(|| DEFAULT_DEVICE.into());
        Ok(SimpleImConnector {
            http,
            phone,
            password: creds.secret.clone().unwrap_or_default(),
            device,
            pause: Duration::from_millis(5),
            resume_grace: config.reply_timeout.min(Duration::from_millis(300)),
            session: None,
            timings: ConnectTimings::default(),
        })
    }

    async fn login(&mut self, config: &DriverConfig) -> Result<(SimpleImLink, Vec<Event>)> {
        let form = LoginForm {
            phone: self.phone.clone(),
            password: self.password.clone(),
        };
        let lookup_started = Instant::now();
        let response = post_form(&self.http, LOGIN_PATH, form.encode(), config).await?;
        let lookup = lookup_started.elapsed();
        let refused = |reason: String| Error::Refused {
            dialect: Dialect::SimpleIm,
            operation: "log in",
            reason,
        };
        match response.status {
            0 => {}
            1 => return Err(refused("wrong password (HTTP login status 1)".into())),
            2 => {
                return Err(refused(
                    "unknown user or server error (HTTP login status 2)".into(),
                ));
            }
            s => return Err(refused(format!("HTTP login status {s}"))),
        }
        let (Some(user), Some(node)) = (response.user.as_ref(), response.node_address()) else {
            return Err(Error::malformed(
                Dialect::SimpleIm,
                "the login answer lacks the IM node or [response.user]",
            ));
        };
        let session = Session {
            user_id: user.id,
            token: user.token.clone(),
            node: node.clone(),
        };
        let mut framed = self.open(config, &session.node).await?;
        let login_started = Instant::now();
        let request = Request::login(
            Value::Str(session.user_id.to_string()),
            &self.device,
            &session.token,
        );
        framed.send(&ClientMessage::Request(request)).await?;
        let mut events = vec![Event::LookedUp {
            address: node.clone(),
        }];
        let wait = async {
            loop {
                match next_message(&mut framed).await? {
                    ServerMessage::Reply(reply) if reply.is_success() => return Ok(()),
                    ServerMessage::Reply(reply) => {
                        return Err(refused(reply.reason().unwrap_or_default().to_owned()));
                    }
                    other => events.push(message_to_event(&other, &self.context(&session))),
                }
            }
        };
        tokio::time::timeout(config.reply_timeout, wait)
            .await
            .map_err(|_| Error::Timeout {
                what: "the simple-im login reply",
                after: config.reply_timeout,
            })??;
        self.timings = ConnectTimings {
            lookup: Some(lookup),
            login: Some(login_started.elapsed()),
        };
        events.push(Event::LoggedIn {
            user: UserId::from(session.user_id.to_string()),
            token: Some(session.token.clone()),
        });
        let link = SimpleImLink::new(framed, self.context(&session), self.pause);
        self.session = Some(session);
        Ok((link, events))
    }

    async fn resume(
        &mut self,
        config: &DriverConfig,
        session: &Session,
    ) -> Result<(SimpleImLink, Vec<Event>)> {
        let form = ReconnectForm {
            id: session.user_id.to_string(),
            token: session.token.clone(),
        };
        let lookup_started = Instant::now();
        let response: Response =
            post_form(&self.http, RECONNECT_PATH, form.encode(), config).await?;
        let lookup = lookup_started.elapsed();
        if response.status != 0 {
            return Err(Error::Refused {
                dialect: Dialect::SimpleIm,
                operation: "resume a session",
                reason: format!("HTTP reconnect status {}", response.status),
            });
        }
        let node = response
            .node_address()
            .unwrap_or_else(|| session.node.clone());
        let mut framed = self.open(config, &node).await?;
        let login_started = Instant::now();
        let request = Request::reconnect(
            Value::Str(session.user_id.to_string()),
            &self.device,
            &session.token,
        );
        framed.send(&ClientMessage::Request(request)).await?;
        let ctx = self.context(session);
        let mut events = vec![Event::LookedUp {
            address: node.clone(),
        }];
        // Success is silent: wait a grace period for a refusal (or a login reply).
        let wait = async {
            loop {
                match next_message(&mut framed).await? {
                    ServerMessage::Reply(reply) if reply.is_success() => return Ok(()),
                    ServerMessage::Reply(reply) => {
                        return Err(Error::Refused {
                            dialect: Dialect::SimpleIm,
                            operation: "resume a session",
                            reason: reply.reason().unwrap_or_default().to_owned(),
                        });
                    }
                    other => events.push(message_to_event(&other, &ctx)),
                }
            }
        };
        // A silent success has no login time of its own: only the grace period passed.
        let login = match tokio::time::timeout(self.resume_grace, wait).await {
            Ok(Ok(())) => Some(login_started.elapsed()),
            Err(_) => None,
            Ok(Err(e)) => return Err(e),
        };
        self.timings = ConnectTimings {
            lookup: Some(lookup),
            login,
        };
        events.push(Event::LoggedIn {
            user: ctx.user.clone(),
            token: Some(session.token.clone()),
        });
        let mut ctx = ctx;
        ctx.request_kind = RECONNECT.into();
        self.session = Some(Session {
            node,
            ..session.clone()
        });
        Ok((SimpleImLink::new(framed, ctx, self.pause), events))
    }

    async fn open(
        &self,
        config: &DriverConfig,
        node: &str,
    ) -> Result<Framed<TcpStream, ClientCodec>> {
        let stream =
            crate::net::connect_tcp(node, config.local_addr, config.connect_timeout).await?;
        Ok(Framed::with_capacity(
            stream,
            ClientCodec::new(config.max_frame),
            crate::net::LINK_BUFFER,
        ))
    }

    fn context(&self, session: &Session) -> Context {
        Context::new(session.user_id.to_string(), self.device.clone())
    }
}

/// The next well-formed server message (a malformed one is an error here: during login there
/// is nothing else to do with it).
async fn next_message(framed: &mut Framed<TcpStream, ClientCodec>) -> Result<ServerMessage> {
    match framed.next().await {
        Some(item) => item?,
        None => Err(Error::Closed),
    }
}

impl Connector for SimpleImConnector {
    type Link = SimpleImLink;

    async fn connect(
        &mut self,
        config: &DriverConfig,
        reconnect: bool,
    ) -> Result<(SimpleImLink, Vec<Event>)> {
        if reconnect && let Some(session) = self.session.clone() {
            match self.resume(config, &session).await {
                Ok(done) => return Ok(done),
                Err(e) => tracing::debug!("simple-im resume failed, logging in again: {e}"),
            }
        }
        self.login(config).await
    }

    fn timings(&self) -> ConnectTimings {
        self.timings
    }
}

/// A logged-in simple-im TCP connection.
#[derive(Debug)]
pub struct SimpleImLink {
    framed: Framed<TcpStream, ClientCodec>,
    ctx: Context,
    /// The id of the `[m]`/`[gm]` whose `[a]` has not come yet.
    awaiting: Option<String>,
    /// No write before this (after a write that gets no reply).
    quiet_until: Option<Instant>,
    pause: Duration,
}

impl SimpleImLink {
    fn new(framed: Framed<TcpStream, ClientCodec>, ctx: Context, pause: Duration) -> Self {
        SimpleImLink {
            framed,
            ctx,
            awaiting: None,
            quiet_until: None,
            pause,
        }
    }

    /// Who this link is logged in as.
    pub fn context(&self) -> &Context {
        &self.ctx
    }

    async fn write(&mut self, message: ClientMessage) -> Result<()> {
        self.framed.send(&message).await?;
        match message {
            ClientMessage::Message(m) => self.awaiting = Some(m.id),
            ClientMessage::GroupMessage(g) => self.awaiting = Some(g.id),
            ClientMessage::Ack(_) | ClientMessage::Request(_) => {
                self.quiet_until = Some(Instant::now() + self.pause);
            }
        }
        Ok(())
    }
}

impl Link for SimpleImLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        if command == Command::Logout {
            // No logout message: the driver closes the socket.
            return Ok(());
        }
        let message = command_to_message(&command, &self.ctx)?;
        self.write(message).await
    }

    async fn recv(&mut self) -> Result<Vec<Event>> {
        match self.framed.next().await {
            None => Err(Error::Closed),
            Some(Err(e)) => Err(e),
            Some(Ok(Err(e))) => Ok(vec![Event::Error {
                code: None,
                message: e.to_string(),
            }]),
            Some(Ok(Ok(message))) => {
                if let ServerMessage::Ack(Ack { id }) = &message
                    && self.awaiting.as_ref() == Some(id)
                {
                    self.awaiting = None;
                }
                Ok(vec![message_to_event(&message, &self.ctx)])
            }
        }
    }

    fn ready(&self) -> Ready {
        if self.awaiting.is_some() {
            return Ready::AwaitingReply;
        }
        match self.quiet_until {
            Some(at) if at > Instant::now() => Ready::At(at),
            _ => Ready::Now,
        }
    }

    async fn heartbeat(&mut self) -> Result<()> {
        self.write(ClientMessage::Ack(Ack {
            id: HEARTBEAT_ACK_ID.into(),
        }))
        .await
    }
}
