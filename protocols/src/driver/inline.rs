//! The driver loop run inside the caller's own task: the same housekeeping as [`Connection`]
//! (auto-pong, heartbeats, no pipelining, reconnect with backoff, rejoining groups, reply
//! timeouts) without a task and two channels per connection. A load generator holding
//! 10,000 connections saves a task, two channel buffers and two wake-ups per message.
//!
//! [`Connection`]: super::Connection

use std::collections::{BTreeSet, VecDeque};
use std::pin::Pin;
use std::time::Duration;

use futures_util::future::BoxFuture;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::{Instant, Sleep, sleep_until};

use super::{ConnectTimings, Connector, Link, Ready};
use crate::{Command, ConnectionState, Dialect, DriverConfig, Error, Event, GroupId, Result};

/// How long [`InlineConnection::close`] may take to let queued commands and the logout out.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A client connection driven by whoever calls [`InlineConnection::recv`]: commands are
/// written in [`InlineConnection::send`] itself, and the housekeeping happens while the
/// caller waits for events. The caller must keep calling `recv` (heartbeats, pongs and
/// reconnects happen there). Dropping it closes the connection.
pub struct InlineConnection {
    dialect: Dialect,
    driver: Box<dyn InlineDriver>,
}

impl std::fmt::Debug for InlineConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineConnection")
            .field("dialect", &self.dialect)
            .field("queued", &self.driver.queued())
            .finish()
    }
}

impl InlineConnection {
    /// Look up, connect and log in (errors come back here). The login events are the first
    /// ones [`InlineConnection::recv`] returns.
    pub async fn connect(config: DriverConfig) -> Result<InlineConnection> {
        let dialect = config.dialect;
        let driver: Box<dyn InlineDriver> = match dialect {
            Dialect::ChatJson => {
                start(config.clone(), crate::chat_json::connector(&config)?).await?
            }
            Dialect::SimpleIm => {
                start(config.clone(), crate::simple_im::connector(&config)?).await?
            }
            Dialect::Fishchat | Dialect::FishchatText => {
                start(config.clone(), crate::fishchat::connector(&config)?).await?
            }
            Dialect::Newim => start(config.clone(), crate::newim::connector(&config)?).await?,
            Dialect::Eutamias => {
                start(config.clone(), crate::eutamias::connector(&config)?).await?
            }
        };
        Ok(InlineConnection { dialect, driver })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Write a command now, or queue it while the link cannot take it (awaiting a reply,
    /// reconnecting). Commands the dialect cannot express are refused here, and so is a
    /// command over the queue's bound (`event_buffer` commands).
    pub async fn send(&mut self, command: Command) -> Result<()> {
        self.dialect.capabilities().check(self.dialect, &command)?;
        self.driver.send(command).await
    }

    /// Commands queued and not yet written.
    pub fn queued(&self) -> usize {
        self.driver.queued()
    }

    /// The lookup and login times of the last (re)connect.
    pub fn connect_timings(&self) -> ConnectTimings {
        self.driver.timings()
    }

    /// The next event; `None` once the connection is over (after
    /// [`ConnectionState::Closed`]). Cancel safe between events: dropping the future loses
    /// nothing but a reconnect attempt in progress, which the next call starts again.
    pub async fn recv(&mut self) -> Option<Event> {
        self.driver.recv().await
    }

    /// Let queued commands out, log out (where the dialect can) and close.
    pub async fn close(self) {
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.driver.close()).await;
    }
}

/// The dialect-erased face of [`Inline`] (one boxed future per call: far cheaper than the
/// task wake-ups it replaces).
trait InlineDriver: Send {
    fn send(&mut self, command: Command) -> BoxFuture<'_, Result<()>>;
    fn recv(&mut self) -> BoxFuture<'_, Option<Event>>;
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
    fn queued(&self) -> usize;
    fn timings(&self) -> ConnectTimings;
}

async fn start<C: Connector>(
    config: DriverConfig,
    mut connector: C,
) -> Result<Box<dyn InlineDriver>> {
    let (link, login_events) = connector.connect(&config, false).await?;
    let mut pending: VecDeque<Event> = login_events.into();
    pending.push_back(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    let mut inline = Inline {
        config,
        connector,
        link: None,
        pending,
        queue: VecDeque::new(),
        joined: BTreeSet::new(),
        heartbeat_every: None,
        next_heartbeat: None,
        heartbeat_timer: None,
        awaiting_since: None,
        attempt: 0,
        retry_at: None,
        finished: false,
        rng: SmallRng::from_os_rng(),
    };
    inline.attach(link);
    Ok(Box::new(inline))
}

struct Inline<C: Connector> {
    config: DriverConfig,
    connector: C,
    /// `None` while reconnecting (or once finished).
    link: Option<C::Link>,
    /// Events to hand out before reading more.
    pending: VecDeque<Event>,
    /// Commands waiting for the link to be ready (or back).
    queue: VecDeque<Command>,
    /// Groups to rejoin after a reconnect.
    joined: BTreeSet<GroupId>,
    heartbeat_every: Option<Duration>,
    next_heartbeat: Option<Instant>,
    /// The timer for `next_heartbeat`, kept between events: a new one per event was
    /// registered in (and removed from) the timer wheel for every message received.
    heartbeat_timer: Option<Pin<Box<Sleep>>>,
    awaiting_since: Option<Instant>,
    /// Reconnect attempts since the link was lost, and when the next one is due.
    attempt: u32,
    retry_at: Option<Instant>,
    finished: bool,
    rng: SmallRng,
}

impl<C: Connector> Inline<C> {
    fn attach(&mut self, link: C::Link) {
        self.heartbeat_every = self.config.heartbeat.or_else(|| link.heartbeat_interval());
        self.next_heartbeat = self.heartbeat_every.map(|every| Instant::now() + every);
        self.awaiting_since = None;
        self.attempt = 0;
        self.retry_at = None;
        self.link = Some(link);
    }

    fn lost(&mut self, error: Error) {
        self.link = None;
        self.pending
            .push_back(Event::Connection(ConnectionState::Lost {
                reason: error.to_string(),
            }));
    }

    fn finish(&mut self, reason: String) {
        self.link = None;
        self.finished = true;
        self.queue.clear();
        self.pending
            .push_back(Event::Connection(ConnectionState::Closed { reason }));
    }

    fn ready(&self) -> Ready {
        self.link.as_ref().map_or(Ready::AwaitingReply, Link::ready)
    }

    /// Write one command on the live link; a fatal error loses the link.
    async fn write(&mut self, command: Command) {
        let Some(link) = self.link.as_mut() else {
            self.queue.push_front(command);
            return;
        };
        match &command {
            Command::JoinGroup { group } | Command::CreateGroup { group } => {
                self.joined.insert(group.clone());
            }
            Command::LeaveGroup { group } => {
                self.joined.remove(group);
            }
            Command::Logout => {
                let _ = link.send(Command::Logout).await;
                let _ = link.close().await;
                self.finish("logged out".into());
                return;
            }
            _ => {}
        }
        match link.send(command).await {
            Ok(()) => {}
            Err(e) if !e.is_fatal_for_connection() => self.pending.push_back(Event::Error {
                code: None,
                message: e.to_string(),
            }),
            Err(e) => self.lost(e),
        }
    }

    /// Write queued commands while the link takes them.
    async fn drain_queue(&mut self) {
        while self.link.is_some() && self.ready() == Ready::Now {
            let Some(command) = self.queue.pop_front() else {
                return;
            };
            self.write(command).await;
        }
    }

    /// One reconnect step: schedule the next attempt (announcing it), or make it.
    async fn reconnect(&mut self) {
        let Some(at) = self.retry_at else {
            self.attempt += 1;
            if !self.config.reconnect.allows(self.attempt) {
                self.finish(format!(
                    "gave up after {} reconnect attempts",
                    self.attempt - 1
                ));
                return;
            }
            let delay = self.config.reconnect.delay(self.attempt, &mut self.rng);
            self.retry_at = Some(Instant::now() + delay);
            self.pending
                .push_back(Event::Connection(ConnectionState::Reconnecting {
                    attempt: self.attempt,
                    delay,
                }));
            return;
        };
        sleep_until(at).await;
        match self.connector.connect(&self.config, true).await {
            Ok((mut link, events)) => {
                self.pending.extend(events);
                self.pending
                    .push_back(Event::Connection(ConnectionState::Online {
                        reconnect: true,
                    }));
                for group in &self.joined {
                    let group = group.clone();
                    if let Err(e) = link.send(Command::JoinGroup { group }).await {
                        tracing::debug!("rejoin failed: {e}");
                    }
                }
                self.attach(link);
            }
            Err(e) => {
                tracing::debug!(attempt = self.attempt, "reconnect failed: {e}");
                self.retry_at = None;
                self.pending.push_back(Event::Error {
                    code: None,
                    message: format!("reconnect attempt {} failed: {e}", self.attempt),
                });
            }
        }
    }

    /// Wait on the live link (and its timers) until it yields events or changes state.
    async fn serve(&mut self) {
        let ready = self.ready();
        let wait_until = match ready {
            Ready::Now => {
                self.awaiting_since = None;
                None
            }
            Ready::AwaitingReply => {
                let since = *self.awaiting_since.get_or_insert_with(Instant::now);
                Some(since + self.config.reply_timeout)
            }
            Ready::At(at) => {
                self.awaiting_since = None;
                // Only worth waking for when something waits to go out.
                (!self.queue.is_empty()).then(|| Instant::from_std(at))
            }
        };
        let far = Instant::now() + Duration::from_secs(3600);
        let heartbeat = self.next_heartbeat.filter(|_| ready == Ready::Now);
        let timer = heartbeat.map(|at| {
            let timer = self
                .heartbeat_timer
                .get_or_insert_with(|| Box::pin(sleep_until(at)));
            if timer.deadline() != at {
                timer.as_mut().reset(at);
            }
            timer
        });
        let Some(link) = self.link.as_mut() else {
            return;
        };
        tokio::select! {
            biased;
            received = link.recv() => match received {
                Ok(events) => {
                    for event in events {
                        if event == Event::Ping {
                            if let Err(e) = link.send(Command::Pong).await {
                                self.lost(e);
                                return;
                            }
                            continue;
                        }
                        self.pending.push_back(event);
                    }
                }
                Err(e) => self.lost(e),
            },
            _ = async { if let Some(timer) = timer { timer.await } }, if heartbeat.is_some() => {
                if let Err(e) = link.heartbeat().await {
                    self.lost(e);
                    return;
                }
                self.next_heartbeat = self.heartbeat_every.map(|every| Instant::now() + every);
            }
            _ = sleep_until(wait_until.unwrap_or(far)), if wait_until.is_some() => {
                if ready == Ready::AwaitingReply {
                    self.lost(Error::Timeout {
                        what: "the server's reply",
                        after: self.config.reply_timeout,
                    });
                }
            }
        }
    }

    async fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.finished {
                return None;
            }
            if self.link.is_none() {
                self.reconnect().await;
                continue;
            }
            if !self.queue.is_empty() {
                self.drain_queue().await;
                if !self.pending.is_empty() || self.link.is_none() {
                    continue;
                }
            }
            self.serve().await;
        }
    }
}

impl<C: Connector> InlineDriver for Inline<C> {
    fn send(&mut self, command: Command) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if self.finished {
                return Err(Error::Closed);
            }
            if self.link.is_some() && self.queue.is_empty() && self.ready() == Ready::Now {
                self.write(command).await;
                return Ok(());
            }
            if self.queue.len() >= self.config.event_buffer.max(1) {
                return Err(Error::Refused {
                    dialect: self.config.dialect,
                    operation: "queue another command",
                    reason: format!(
                        "{} commands already wait for the connection (reconnecting or awaiting a reply)",
                        self.queue.len()
                    ),
                });
            }
            self.queue.push_back(command);
            Ok(())
        })
    }

    fn recv(&mut self) -> BoxFuture<'_, Option<Event>> {
        Box::pin(self.next_event())
    }

    fn close(mut self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if self.finished || self.link.is_none() {
                return;
            }
            self.drain_queue().await;
            self.write(Command::Logout).await;
        })
    }

    fn timings(&self) -> ConnectTimings {
        self.connector.timings()
    }

    fn queued(&self) -> usize {
        self.queue.len()
    }
}
