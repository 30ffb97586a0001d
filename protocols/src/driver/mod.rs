//! Client connection drivers: given an address and credentials, do the dialect's lookup hop,
//! log in, then run a task that turns server messages into [`Event`]s and [`Command`]s into
//! messages, doing the housekeeping (pong, heartbeats, no pipelining where the original cannot
//! take it, reconnect with backoff, logging in again and rejoining groups).

mod backoff;
mod inline;
mod link;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use rand::SeedableRng;
use tokio::sync::mpsc;
use tokio::time::{Instant as TokioInstant, sleep, sleep_until};
use tokio_util::task::AbortOnDropHandle;

pub use backoff::ReconnectPolicy;
pub use inline::InlineConnection;
pub use link::{ConnectTimings, Connector, Link, Ready};

use crate::{Command, ConnectionState, Dialect, Error, Event, GroupId, Result, UserId};

/// Who to be on the server. Which fields matter depends on the dialect: chat registers a
/// `nick`; simple-im logs in with `user` (phone) + `secret` (password) + `device`; fishchat
/// and newim use `user` only; eutamias `user` (numeric) + `secret`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    pub user: Option<UserId>,
    pub nick: Option<String>,
    pub secret: Option<String>,
    pub device: Option<String>,
}

/// Everything a driver needs to connect.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub dialect: Dialect,
    /// The first address dialed: a `ws://` URL (chat-json, newim), an `http://` base URL
    /// (simple-im's HTTP login, eutamias' gRPC dispatcher) or `host:port` (fishchat gateway,
    /// fishchat-text server).
    pub address: String,
    pub credentials: Credentials,
    pub connect_timeout: Duration,
    /// The longest wait for any reply the protocol promises (login, accept, …).
    pub reply_timeout: Duration,
    /// Overrides the dialect's heartbeat interval.
    pub heartbeat: Option<Duration>,
    pub reconnect: ReconnectPolicy,
    pub max_frame: usize,
    /// Local source address for every connection (spread clients over 127.0.0.x).
    pub local_addr: Option<IpAddr>,
    /// chat-json: speak the v2 command names (`_REQ`/`_RESP`), with token and RECONNECT.
    pub chat_v2: bool,
    /// Capacity of the event channel; a reader slower than this back-pressures the socket.
    pub event_buffer: usize,
}

impl DriverConfig {
    pub fn new(dialect: Dialect, address: impl Into<String>) -> Self {
        DriverConfig {
            dialect,
            address: address.into(),
            credentials: Credentials::default(),
            connect_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(10),
            heartbeat: None,
            reconnect: ReconnectPolicy::default(),
            max_frame: crate::DEFAULT_MAX_FRAME,
            local_addr: None,
            chat_v2: false,
            event_buffer: 256,
        }
    }

    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }
}

/// A live client connection: send [`Command`]s, receive [`Event`]s. Dropping it closes the
/// connection.
#[derive(Debug)]
pub struct Connection {
    dialect: Dialect,
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Event>,
    task: AbortOnDropHandle<()>,
}

impl Connection {
    /// Look up, connect and log in (errors come back here), then keep the connection alive in a
    /// background task. The login events are the first ones [`Connection::recv`] returns.
    pub async fn connect(config: DriverConfig) -> Result<Connection> {
        match config.dialect {
            Dialect::ChatJson => start(config.clone(), crate::chat_json::connector(&config)?).await,
            Dialect::SimpleIm => start(config.clone(), crate::simple_im::connector(&config)?).await,
            Dialect::Fishchat | Dialect::FishchatText => {
                start(config.clone(), crate::fishchat::connector(&config)?).await
            }
            Dialect::Newim => start(config.clone(), crate::newim::connector(&config)?).await,
            Dialect::Eutamias => start(config.clone(), crate::eutamias::connector(&config)?).await,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Queue a command. Commands the dialect cannot express are refused here; commands sent
    /// while the driver is reconnecting wait in the queue and go out once it is back.
    pub async fn send(&self, command: Command) -> Result<()> {
        self.dialect.capabilities().check(self.dialect, &command)?;
        self.commands.send(command).await.map_err(|_| Error::Closed)
    }

    /// Commands queued and not yet taken by the driver (a caller about to drop the
    /// connection can let them go out first).
    pub fn queued(&self) -> usize {
        self.commands.max_capacity() - self.commands.capacity()
    }

    /// A cloneable handle for sending from another task.
    pub fn sender(&self) -> CommandSender {
        CommandSender {
            dialect: self.dialect,
            commands: self.commands.clone(),
        }
    }

    /// The next event; `None` once the driver has stopped (after
    /// [`ConnectionState::Closed`]).
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Log out (where the dialect can) and wait for the driver to finish.
    pub async fn close(self) {
        let Connection {
            commands,
            mut events,
            task,
            ..
        } = self;
        let _ = commands.send(Command::Logout).await;
        drop(commands);
        // Drain so the task never blocks on a full event channel while closing.
        let drain = async { while events.recv().await.is_some() {} };
        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        drop(task);
    }
}

/// Sends commands into a [`Connection`] from elsewhere.
#[derive(Debug, Clone)]
pub struct CommandSender {
    dialect: Dialect,
    commands: mpsc::Sender<Command>,
}

impl CommandSender {
    pub async fn send(&self, command: Command) -> Result<()> {
        self.dialect.capabilities().check(self.dialect, &command)?;
        self.commands.send(command).await.map_err(|_| Error::Closed)
    }
}

/// First connect in the caller's task (so its error is the caller's), then run the loop.
pub async fn start<C: Connector>(config: DriverConfig, mut connector: C) -> Result<Connection> {
    let (link, login_events) = connector.connect(&config, false).await?;
    let (command_tx, command_rx) = mpsc::channel(64);
    let (event_tx, event_rx) = mpsc::channel(config.event_buffer.max(1));
    let dialect = config.dialect;
    let task = tokio::spawn(async move {
        let mut pending = login_events;
        pending.push(Event::Connection(ConnectionState::Online {
            reconnect: false,
        }));
        let mut driver = Driver {
            config,
            connector,
            commands: command_rx,
            events: event_tx,
            joined: BTreeSet::new(),
        };
        driver.run(link, pending).await;
    });
    Ok(Connection {
        dialect,
        commands: command_tx,
        events: event_rx,
        task: AbortOnDropHandle::new(task),
    })
}

struct Driver<C: Connector> {
    config: DriverConfig,
    connector: C,
    commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    /// Groups to rejoin after a reconnect.
    joined: BTreeSet<GroupId>,
}

/// Why one link ended.
enum LinkEnd {
    /// Logged out, or the user dropped the connection: stop.
    Finished(String),
    /// Lost: reconnect if the policy allows.
    Lost(Error),
}

impl<C: Connector> Driver<C> {
    async fn run(&mut self, mut link: C::Link, mut pending: Vec<Event>) {
        let mut rng = rand::rngs::SmallRng::from_os_rng();
        loop {
            for event in pending.drain(..) {
                if self.events.send(event).await.is_err() {
                    let _ = link.close().await;
                    return;
                }
            }
            let reason = match self.serve(&mut link).await {
                LinkEnd::Finished(reason) => {
                    let _ = link.close().await;
                    self.emit(ConnectionState::Closed { reason }).await;
                    return;
                }
                LinkEnd::Lost(error) => error.to_string(),
            };
            drop(link);
            self.emit(ConnectionState::Lost { reason }).await;

            // Reconnect with backoff; commands keep waiting in the channel meanwhile.
            let mut attempt = 0;
            loop {
                attempt += 1;
                if !self.config.reconnect.allows(attempt) {
                    self.emit(ConnectionState::Closed {
                        reason: format!("gave up after {} reconnect attempts", attempt - 1),
                    })
                    .await;
                    return;
                }
                let delay = self.config.reconnect.delay(attempt, &mut rng);
                self.emit(ConnectionState::Reconnecting { attempt, delay })
                    .await;
                sleep(delay).await;
                if self.events.is_closed() {
                    return;
                }
                match self.connector.connect(&self.config, true).await {
                    Ok((mut new_link, events)) => {
                        pending = events;
                        pending.push(Event::Connection(ConnectionState::Online {
                            reconnect: true,
                        }));
                        for group in self.joined.clone() {
                            if let Err(e) = new_link.send(Command::JoinGroup { group }).await {
                                tracing::debug!("rejoin failed: {e}");
                            }
                        }
                        link = new_link;
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(attempt, "reconnect failed: {e}");
                        let _ = self
                            .events
                            .send(Event::Error {
                                code: None,
                                message: format!("reconnect attempt {attempt} failed: {e}"),
                            })
                            .await;
                    }
                }
            }
        }
    }

    async fn emit(&mut self, state: ConnectionState) {
        let _ = self.events.send(Event::Connection(state)).await;
    }

    /// Serve one link until it ends.
    async fn serve(&mut self, link: &mut C::Link) -> LinkEnd {
        let heartbeat_every = self.config.heartbeat.or_else(|| link.heartbeat_interval());
        let mut next_heartbeat = heartbeat_every.map(|every| TokioInstant::now() + every);
        let mut awaiting_since: Option<TokioInstant> = None;
        loop {
            let ready = link.ready();
            let wait_until = match ready {
                Ready::Now => {
                    awaiting_since = None;
                    None
                }
                Ready::AwaitingReply => {
                    let since = *awaiting_since.get_or_insert_with(TokioInstant::now);
                    Some(since + self.config.reply_timeout)
                }
                Ready::At(at) => {
                    awaiting_since = None;
                    Some(TokioInstant::from_std(at))
                }
            };
            let far = TokioInstant::now() + Duration::from_secs(3600);
            tokio::select! {
                biased;
                received = link.recv() => match received {
                    Ok(events) => {
                        for event in events {
                            if event == Event::Ping {
                                if let Err(e) = link.send(Command::Pong).await {
                                    return LinkEnd::Lost(e);
                                }
                                continue;
                            }
                            if self.events.send(event).await.is_err() {
                                return LinkEnd::Finished("the connection was dropped".into());
                            }
                        }
                    }
                    Err(e) => return LinkEnd::Lost(e),
                },
                _ = sleep_until(next_heartbeat.unwrap_or(far)), if next_heartbeat.is_some() && ready == Ready::Now => {
                    if let Err(e) = link.heartbeat().await {
                        return LinkEnd::Lost(e);
                    }
                    next_heartbeat = heartbeat_every.map(|every| TokioInstant::now() + every);
                }
                _ = sleep_until(wait_until.unwrap_or(far)), if wait_until.is_some() => {
                    if ready == Ready::AwaitingReply {
                        return LinkEnd::Lost(Error::Timeout { what: "the server's reply", after: self.config.reply_timeout });
                    }
                }
                command = self.commands.recv(), if ready == Ready::Now => match command {
                    None => return LinkEnd::Finished("the connection was dropped".into()),
                    Some(Command::Logout) => {
                        let _ = link.send(Command::Logout).await;
                        return LinkEnd::Finished("logged out".into());
                    }
                    Some(command) => {
                        match &command {
                            Command::JoinGroup { group } | Command::CreateGroup { group } => {
                                self.joined.insert(group.clone());
                            }
                            Command::LeaveGroup { group } => {
                                self.joined.remove(group);
                            }
                            _ => {}
                        }
                        match link.send(command).await {
                            Ok(()) => {}
                            Err(e) if !e.is_fatal_for_connection() => {
                                let _ = self.events.send(Event::Error { code: None, message: e.to_string() }).await;
                            }
                            Err(e) => return LinkEnd::Lost(e),
                        }
                    }
                },
            }
        }
    }
}
