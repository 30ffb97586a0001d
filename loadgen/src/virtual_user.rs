//! One simulated user: a task that runs its behaviour's steps while receiving, and accounts
//! for every message it sends and gets. Small on purpose (a few hundred bytes plus its
//! connection): 10,000 of them fit in one process.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use imkit_protocols::driver::ConnectTimings;
use imkit_protocols::{
    Command, ConnectionState, Conversation, Credentials, DriverConfig, Event, GroupId, MessageId,
    ReconnectPolicy, SessionId, UserId,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use crate::ledger::{Arrival, Inbox, Recipient};
use crate::load_model::{Layout, Unit};
use crate::marker::{Marker, recipient_hash};
use crate::metrics::Metrics;
use crate::roster::{Roster, state};
use crate::scenario::{CredentialSource, Delay, Distribution, Scenario, SendStep, Step};
use crate::thresholds::StepMetric;
use crate::transport::{Session, Transport};
use crate::units::Rate;

/// What every user of a run shares.
pub struct RunContext<T: Transport> {
    pub scenario: Arc<Scenario>,
    pub transport: T,
    pub address: String,
    pub loopback_target: bool,
    pub metrics: Arc<Metrics>,
    pub roster: Roster,
    pub layout: Layout,
    pub users_file: Vec<Credentials>,
    /// Time zero of the run: markers carry microseconds from here.
    pub epoch: Instant,
    pub run: u32,
    /// Stop steps (the load phase is over, or the run is aborted).
    pub stop: CancellationToken,
    /// Close every connection (the drain is over).
    pub finish: CancellationToken,
    /// Users done with their steps.
    pub done: AtomicU32,
    /// Users that connected at least once, and connect failures (to tell "unreachable").
    pub reached: AtomicU32,
    pub connect_failures: AtomicU32,
    pub first_failure: std::sync::OnceLock<String>,
    pub window_words: usize,
}

impl<T: Transport> RunContext<T> {
    pub fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

/// Why a user stops running steps early.
#[derive(Debug)]
enum Halt {
    /// The run's stop (or this user's ramp-down) came.
    Stopped,
    /// The connection is gone for good.
    Disconnected,
}

pub struct VirtualUser<T: Transport> {
    ctx: Arc<RunContext<T>>,
    index: u32,
    unit: (usize, Unit),
    /// This user's own ramp-down time.
    own_stop: Option<Instant>,
    session: Option<T::Session>,
    user: Option<UserId>,
    token: Option<String>,
    recipient: Recipient,
    inbox: Inbox,
    talk: Option<Talking>,
    /// Sessions opened with us while we already talked in another (two MATCHes crossing:
    /// the hub answers ours with one partner and pushes us another's). Their partners still
    /// send to us: we linger for them, and talk to one when our own session ends.
    side: Vec<(SessionId, UserId, u32)>,
    seq: u64,
    auto_ack: bool,
    auto_read: bool,
    /// Sent, not yet accepted, oldest first. Bounded.
    unaccepted: VecDeque<Unaccepted>,
    /// Accepted with a server id, for timing read receipts. Bounded.
    unread: VecDeque<(MessageId, u64)>,
    last_delivered: Option<(Conversation, MessageId)>,
    lost_at: Option<Instant>,
    /// Our last time away (µs from the epoch; the end is `u64::MAX` while away): a group
    /// message not owed to every member that reaches us was not owed to us if we were away
    /// when it was sent.
    away: (u64, u64),
    /// The conversation comes from `match`: when it ends (the partner left, or a reconnect
    /// made us a new account), match again before the next send.
    matching: bool,
    rng: SmallRng,
}

/// The conversation a user is in.
#[derive(Debug, Clone)]
struct Talking {
    to: Conversation,
    /// Marker recipient hash.
    hash: u32,
    /// Other members' indices (pairs: the partner; groups: a range).
    peers: std::ops::Range<u32>,
    group: bool,
}

/// `<seq>.<intended µs>` in hex: how an `Accepted` is matched to its send.
fn client_ref(seq: u64, intended_us: u64) -> String {
    let mut out = Vec::with_capacity(24);
    crate::marker::push_hex(&mut out, seq);
    out.push(b'.');
    crate::marker::push_hex(&mut out, intended_us);
    String::from_utf8(out).unwrap_or_default()
}

/// A message sent and not yet accepted by the server.
#[derive(Debug, Clone, Copy)]
struct Unaccepted {
    seq: u64,
    intended_us: u64,
    sent: Instant,
    /// Deliveries owed once the server accepts it.
    owed: u64,
}

/// Sends awaiting their accept, at most: only a server that accepts nothing for the reply
/// timeout while we send faster than this per timeout reaches it.
const UNACCEPTED_MAX: usize = 256;
/// No delivery for this long: nothing more is on its way to a user about to go (longer than
/// any delivery latency short of an overload, which the loss timeout bounds anyway).
const QUIET: Duration = Duration::from_millis(200);
const UNREAD_MAX: usize = 16;

impl<T: Transport> VirtualUser<T> {
    pub fn new(ctx: Arc<RunContext<T>>, index: u32, own_stop: Option<Instant>) -> Option<Self> {
        let (u, unit) = ctx.layout.unit_of(index).map(|(u, unit)| (u, *unit))?;
        let seed = ctx.scenario.seed ^ (u64::from(index) << 20);
        let run = ctx.run;
        let window = ctx.window_words;
        Some(VirtualUser {
            ctx,
            index,
            unit: (u, unit),
            own_stop,
            session: None,
            user: None,
            token: None,
            recipient: Recipient {
                run,
                index,
                user_hash: 0,
                group_hash: None,
            },
            // One window per sender it can hear: its group, or a few partners over time.
            inbox: Inbox::new(window, (unit.size as usize).max(64)),
            talk: None,
            side: Vec::new(),
            seq: 0,
            auto_ack: false,
            auto_read: false,
            unaccepted: VecDeque::new(),
            unread: VecDeque::new(),
            last_delivered: None,
            lost_at: None,
            away: (u64::MAX, u64::MAX),
            matching: false,
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    /// Run the behaviour, then keep receiving until the run finishes, then log out.
    pub async fn run(mut self) {
        let behaviour = self.ctx.scenario.behaviours[usize::from(self.unit.1.behaviour)].clone();
        let _ = self.steps(&behaviour.steps).await;
        self.ctx.done.fetch_add(1, Ordering::AcqRel);
        if self.session.is_some() {
            let finish = self.ctx.finish.clone();
            let _ = self.pump(None, Some(&finish), &mut |_| false).await;
        }
        self.close(false).await;
    }

    /// Leave the online count once, whatever path got us offline.
    fn went_offline(&mut self, life: u8) {
        let before = self.ctx.roster.get(self.index) & 0x0f;
        if matches!(before, state::ONLINE | state::LEAVING | state::CLOSING) {
            self.ctx.metrics.online.fetch_sub(1, Ordering::Relaxed);
        }
        if life == state::AWAY {
            self.away = (self.ctx.now_us(), u64::MAX);
        }
        self.ctx.roster.set(self.index, life);
    }

    /// Online (again): the roster says so, senders owe us their messages from now on.
    fn came_online(&mut self) {
        if self.away.1 == u64::MAX {
            self.away.1 = self.ctx.now_us();
        }
        self.ctx.roster.set(self.index, state::ONLINE);
        self.ctx.metrics.came_online();
    }

    fn stopped(&self) -> bool {
        self.ctx.stop.is_cancelled() || self.own_stop.is_some_and(|t| Instant::now() >= t)
    }

    fn steps<'a>(
        &'a mut self,
        steps: &'a [Step],
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(), Halt>> + Send + 'a>> {
        Box::pin(async move {
            for step in steps {
                if self.stopped() {
                    return Err(Halt::Stopped);
                }
                self.step(step).await?;
            }
            Ok(())
        })
    }

    async fn step(&mut self, step: &Step) -> Result<(), Halt> {
        match step {
            Step::Connect | Step::Login | Step::Register => self.connect().await,
            Step::Match => self.find_match().await,
            Step::Pair => self.pair().await,
            Step::Join(join) => self.join(join.size).await,
            Step::Send(send) => self.send_all(send).await,
            Step::Think(delay) => {
                let wait = self.draw(*delay);
                self.wait(wait).await
            }
            Step::Idle(d) => self.wait(d.0).await,
            Step::Ack => {
                self.auto_ack = true;
                Ok(())
            }
            Step::AutoRead => {
                self.auto_read = true;
                Ok(())
            }
            Step::Read => {
                self.read_receipt().await;
                Ok(())
            }
            Step::Reconnect => self.reconnect().await,
            Step::Logout => {
                self.close(true).await;
                Ok(())
            }
            Step::Repeat(repeat) => {
                let until = repeat.for_time.map(|d| Instant::now() + d.0);
                let steps: Vec<Step> = repeat.steps.iter().map(|s| s.get_ref().clone()).collect();
                let mut round = 0u64;
                while repeat.times.is_none_or(|n| round < n)
                    && until.is_none_or(|t| Instant::now() < t)
                {
                    self.steps(&steps).await?;
                    round += 1;
                }
                Ok(())
            }
        }
    }

    fn draw(&mut self, delay: Delay) -> Duration {
        match delay.dist {
            Distribution::Constant => delay.mean,
            Distribution::Exponential => delay.mean.mul_f64(-(1.0 - self.rng.random::<f64>()).ln()),
            Distribution::Uniform => delay.mean.mul_f64(2.0 * self.rng.random::<f64>()),
        }
    }

    /// Receive for `wait` (cut short by the stop).
    async fn wait(&mut self, wait: Duration) -> Result<(), Halt> {
        let stop = self.ctx.stop.clone();
        self.pump(Some(Instant::now() + wait), Some(&stop), &mut |_| false)
            .await
            .map(|_| ())
    }

    // ---- connecting ----

    fn driver_config(&self, resume: bool) -> DriverConfig {
        let scenario = &self.ctx.scenario;
        let target = &scenario.target;
        let mut config = DriverConfig::new(target.dialect, self.ctx.address.clone());
        let id = target.user_id_base + u64::from(self.index);
        config.credentials = match &target.credentials {
            CredentialSource::Register => Credentials {
                user: if resume { self.user.clone() } else { None },
                nick: Some(format!("lg{:x}u{}", self.ctx.run, self.index)),
                secret: if resume { self.token.clone() } else { None },
                device: None,
            },
            CredentialSource::Generate => Credentials {
                user: Some(UserId::from(id)),
                nick: Some(format!("lg{}", self.index)),
                secret: Some(target.password.replace("{id}", &id.to_string())),
                // simple-im accepts only its list: android, iphone, ipad.
                device: Some("android".into()),
            },
            CredentialSource::File(_) => {
                let users = &self.ctx.users_file;
                users[self.index as usize % users.len().max(1)].clone()
            }
        };
        config.connect_timeout = target.connect_timeout;
        config.reply_timeout = target.reply_timeout;
        config.chat_v2 = target.chat_v2;
        config.event_buffer = 64;
        config.reconnect = ReconnectPolicy {
            max_attempts: Some(10),
            ..ReconnectPolicy::default()
        };
        if self.ctx.loopback_target && target.source_addresses > 1 {
            let host = 1 + (self.index % u32::from(target.source_addresses)) as u8;
            config.local_addr = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, host)));
        }
        config
    }

    /// Open a session; returns it with its setup time in µs.
    async fn open(&mut self, resume: bool) -> Result<(T::Session, u64), String> {
        let config = self.driver_config(resume);
        let limit = config.connect_timeout + config.reply_timeout;
        let started = Instant::now();
        match tokio::time::timeout(limit, self.ctx.transport.connect(config)).await {
            Ok(Ok(session)) => Ok((session, started.elapsed().as_micros() as u64)),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }

    /// The whole connect (`None` for a reconnect, timed as such) and its lookup and login.
    fn record_connect(&self, connect_us: Option<u64>, phases: ConnectTimings) {
        self.ctx.metrics.with(|r| {
            if let Some(us) = connect_us {
                r.latency(StepMetric::Connect, us);
            }
            if let Some(lookup) = phases.lookup {
                r.latency(StepMetric::Lookup, lookup.as_micros() as u64);
            }
            if let Some(login) = phases.login {
                r.latency(StepMetric::Login, login.as_micros() as u64);
            }
        });
    }

    async fn connect(&mut self) -> Result<(), Halt> {
        if self.session.is_some() {
            return Ok(());
        }
        self.ctx.metrics.with(|r| r.operations += 1);
        match self.open(false).await {
            Ok((session, us)) => {
                self.record_connect(Some(us), session.connect_timings());
                self.ctx.reached.fetch_add(1, Ordering::Relaxed);
                self.session = Some(session);
                self.online().await
            }
            Err(reason) => {
                self.ctx.connect_failures.fetch_add(1, Ordering::Relaxed);
                let _ = self.ctx.first_failure.set(reason);
                self.ctx
                    .metrics
                    .with(|r| r.error("connect_failed", Some(StepMetric::Connect)));
                self.ctx.roster.set(self.index, state::GONE);
                Err(Halt::Disconnected)
            }
        }
    }

    /// After a connect: learn who we are (login events come first), then count as online.
    async fn online(&mut self) -> Result<(), Halt> {
        if self.user.is_none()
            && let CredentialSource::Generate = self.ctx.scenario.target.credentials
        {
            self.user = Some(UserId::from(
                self.ctx.scenario.target.user_id_base + u64::from(self.index),
            ));
        }
        let deadline = Instant::now() + self.ctx.scenario.target.reply_timeout;
        let _ = self
            .pump(Some(deadline), None, &mut |e| {
                matches!(e, Event::Connection(ConnectionState::Online { .. }))
            })
            .await?;
        let Some(user) = self.user.clone() else {
            self.ctx
                .metrics
                .with(|r| r.error("login_unconfirmed", Some(StepMetric::Connect)));
            return Err(Halt::Disconnected);
        };
        self.recipient.user_hash = recipient_hash(b'u', user.as_str());
        self.ctx.roster.remember(user.as_str(), self.index);
        self.came_online();
        Ok(())
    }

    /// Keep our connection served until the partner's roster state passes `ready` (checked
    /// every `every`); false (an error counted) if it does not by `deadline` or we stop.
    async fn await_partner(
        &mut self,
        partner: u32,
        deadline: Instant,
        every: Duration,
        ready: impl Fn(u8) -> bool,
    ) -> Result<bool, Halt> {
        while !ready(self.ctx.roster.get(partner) & 0x0f) {
            if Instant::now() >= deadline || self.stopped() {
                self.ctx
                    .metrics
                    .with(|r| r.error("partner_absent", Some(StepMetric::Match)));
                return Ok(false);
            }
            self.pump(Some(Instant::now() + every), None, &mut |_| false)
                .await?;
        }
        Ok(true)
    }

    /// Before we drop or close our connection: let what we queued go out, and wait for the
    /// server to accept what it has (bounded by the reply timeout). What stays unaccepted
    /// is not owed to anyone: it may never have reached the server.
    async fn flush_sends(&mut self) {
        let deadline = Instant::now() + self.ctx.scenario.target.reply_timeout;
        // Done after a short quiet spell with nothing queued: an event seen meanwhile may
        // have queued an ack, which must go out too (else the server rightly sends again).
        while Instant::now() < deadline
            && let Some(session) = &self.session
        {
            let busy = session.queued() > 0 || !self.unaccepted.is_empty();
            let quiet = Instant::now() + Duration::from_millis(if busy { 5 } else { 3 });
            match self.pump(Some(quiet), None, &mut |_| true).await {
                Ok(None) if !busy => break,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        if !self.unaccepted.is_empty() {
            let n = self.unaccepted.len() as u64;
            self.unaccepted.clear();
            self.ctx.metrics.with(|r| {
                for _ in 0..n {
                    r.error("unaccepted", Some(StepMetric::Accept));
                }
            });
        }
    }

    async fn reconnect(&mut self) -> Result<(), Halt> {
        if self.session.is_none() {
            return self.connect().await;
        }
        // Away (owed only where the dialect keeps offline messages) before the drop, and the
        // messages already on their way let in first: a drop loses what it did not read.
        self.went_offline(state::AWAY);
        self.await_quiet().await;
        self.flush_sends().await;
        // The connection may have ended while we waited: then this is a fresh connect.
        let Some(session) = self.session.take() else {
            return self.connect().await;
        };
        self.ctx.metrics.with(|r| r.operations += 1);
        let started = Instant::now();
        drop(session); // a drop, not a logout: the server sees the connection vanish
        match self.open(true).await {
            Ok((session, _)) => {
                self.record_connect(None, session.connect_timings());
                self.session = Some(session);
                let before = self.user.clone();
                self.online().await?;
                if before != self.user && self.talk.as_ref().is_some_and(|t| !t.group) {
                    // No resume in this dialect (chat-json v1): we are a new account, and
                    // the old session ended with the old one.
                    self.talk = None;
                    self.side.clear();
                }
                let us = started.elapsed().as_micros() as u64;
                self.ctx
                    .metrics
                    .with(|r| r.latency(StepMetric::Reconnect, us));
                if let Some(t) = &self.talk
                    && let Conversation::Group(group) = &t.to
                {
                    let group = group.clone();
                    self.send_command(Command::JoinGroup { group }, "join_failed", None)
                        .await;
                }
                Ok(())
            }
            Err(_) => {
                self.ctx
                    .metrics
                    .with(|r| r.error("reconnect_failed", Some(StepMetric::Reconnect)));
                self.ctx.roster.set(self.index, state::GONE);
                Err(Halt::Disconnected)
            }
        }
    }

    /// Log out. With `linger`, first receive from peers still sending to us (up to the loss
    /// timeout). Then stop being owed anything (CLOSING: what reaches us from now on counts
    /// as owed on arrival, as after any time away) and wait for a quiet spell, so a message
    /// sent just before, still on its way, arrives before we go. A peer may have picked us
    /// (MATCH) a moment ago, so the quiet spell holds with no conversation of our own.
    async fn close(&mut self, linger: bool) {
        if self.session.is_none() {
            return;
        }
        if linger {
            self.ctx.roster.set(self.index, state::LEAVING);
            let until = Instant::now() + self.ctx.scenario.ledger.loss_timeout;
            let poll = Duration::from_millis(50);
            while self.peers_sending() && Instant::now() < until {
                let end = (Instant::now() + poll).min(until);
                if self.pump(Some(end), None, &mut |_| false).await.is_err() {
                    break;
                }
            }
        }
        self.ctx.roster.set(self.index, state::CLOSING);
        self.away = (self.ctx.now_us(), u64::MAX);
        if linger {
            self.await_quiet().await;
        }
        self.flush_sends().await;
        if let Some(session) = self.session.take() {
            self.ctx.metrics.with(|r| r.operations += 1);
            session.close().await;
        }
        self.went_offline(state::GONE);
        self.ctx.roster.set_joined(self.index, false);
    }

    /// Once nothing more is owed to us: receive until no delivery has come for a while, so
    /// what was sent while it still was, and is on its way, arrives before we go.
    async fn await_quiet(&mut self) {
        let until = Instant::now() + self.ctx.scenario.ledger.loss_timeout;
        loop {
            let end = (Instant::now() + QUIET).min(until);
            match self
                .pump(Some(end), None, &mut |e| matches!(e, Event::Delivered(_)))
                .await
            {
                Ok(Some(_)) if Instant::now() < until => continue,
                _ => break,
            }
        }
    }

    /// Whether a peer we talk with (or one that opened a session with us) may still send.
    fn peers_sending(&self) -> bool {
        let side = self.side.iter().map(|&(_, _, p)| p);
        let talk = self.talk.as_ref().map_or(0..0, |t| t.peers.clone());
        talk.chain(side)
            .any(|p| p != self.index && self.ctx.roster.get(p) & 0x0f == state::ONLINE)
    }

    // ---- conversations ----

    async fn find_match(&mut self) -> Result<(), Halt> {
        self.matching = true;
        let started = Instant::now();
        let deadline = started + self.ctx.scenario.target.reply_timeout;
        self.ctx.metrics.with(|r| r.operations += 1);
        loop {
            // Our MATCH answered, or someone else's picked us (the hub pushes SessionOpened,
            // which `observe` adopts): never ask again once we talk, or we would hold two
            // sessions and leave a user with nobody.
            if self.talk.is_some() {
                let us = started.elapsed().as_micros() as u64;
                self.ctx.metrics.with(|r| r.latency(StepMetric::Match, us));
                return Ok(());
            }
            if Instant::now() >= deadline {
                break;
            }
            if !self
                .send_command(Command::Match, "match_failed", Some(StepMetric::Match))
                .await
            {
                return Err(Halt::Disconnected);
            }
            let got = self
                .pump(Some(deadline), Some(&self.ctx.stop.clone()), &mut |e| {
                    matches!(
                        e,
                        Event::Matched { .. } | Event::SessionOpened { .. } | Event::NoPartner
                    )
                })
                .await?;
            match got {
                Some(Event::NoPartner) if self.talk.is_none() => {
                    // Nobody free yet: ask again shortly, unless someone picks us meanwhile.
                    let again =
                        Instant::now() + Duration::from_millis(100 + self.rng.random_range(0..100));
                    self.pump(
                        Some(again.min(deadline)),
                        Some(&self.ctx.stop.clone()),
                        &mut |e| matches!(e, Event::SessionOpened { .. }),
                    )
                    .await?;
                }
                Some(_) => {}
                None if self.stopped() => return Err(Halt::Stopped),
                None => break,
            }
        }
        self.ctx
            .metrics
            .with(|r| r.error("match_timeout", Some(StepMetric::Match)));
        Ok(())
    }

    /// A session with `peer` opened (our MATCH, or theirs): talk in it, or keep it on the side.
    fn session_opened(&mut self, session: SessionId, peer: &UserId) {
        match &self.talk {
            None => self.adopt_session(session, peer),
            Some(t) if t.to == Conversation::Session(session) => {}
            Some(_) => {
                let index = self.ctx.roster.index_of(peer.as_str()).unwrap_or(u32::MAX);
                self.side.push((session, peer.clone(), index));
            }
        }
    }

    /// A two-party session ended (the partner left, or it was closed): if it was the one we
    /// talked in, talk in a side session if there is one, else match again before sending.
    fn session_ended(&mut self, session: SessionId) {
        self.side.retain(|(s, _, _)| *s != session);
        let ours = self
            .talk
            .as_ref()
            .is_some_and(|t| !t.group && t.to == Conversation::Session(session));
        if ours {
            self.talk = None;
            if let Some((session, peer, _)) = self.side.pop() {
                self.adopt_session(session, &peer);
            }
        }
    }

    /// Talk in a two-party session with `peer` (ours, or one a peer opened with us).
    fn adopt_session(&mut self, session: SessionId, peer: &UserId) {
        let peer_index = self.ctx.roster.index_of(peer.as_str()).unwrap_or(u32::MAX);
        self.talk = Some(Talking {
            to: Conversation::Session(session),
            hash: recipient_hash(b'u', peer.as_str()),
            peers: peer_index..peer_index.saturating_add(1),
            group: false,
        });
    }

    fn partner(&self) -> Option<u32> {
        let unit = self.unit.1;
        (unit.size == 2).then(|| {
            if self.index == unit.first {
                unit.first + 1
            } else {
                unit.first
            }
        })
    }

    async fn pair(&mut self) -> Result<(), Halt> {
        let Some(partner) = self.partner() else {
            self.ctx
                .metrics
                .with(|r| r.error("no_partner", Some(StepMetric::Match)));
            return Ok(());
        };
        let target = &self.ctx.scenario.target;
        let peer = match &target.credentials {
            CredentialSource::File(_) => {
                let users = &self.ctx.users_file;
                users[partner as usize % users.len().max(1)]
                    .user
                    .clone()
                    .unwrap_or_else(|| UserId::from(u64::from(partner)))
            }
            _ => UserId::from(target.user_id_base + u64::from(partner)),
        };
        let caps = target.dialect.capabilities();
        let hash = recipient_hash(b'u', peer.as_str());
        // Talk once the partner is there: a message to a user not yet online is owed to no
        // one (dialects that keep it for later would deliver what the ledger never owed).
        let started = Instant::now();
        let deadline = started + target.reply_timeout;
        self.ctx.metrics.with(|r| r.operations += 1);
        if !self
            .await_partner(partner, deadline, Duration::from_millis(20), |s| {
                s != state::NOT_YET
            })
            .await?
        {
            return Ok(());
        }
        if caps.send_to_user {
            self.ctx
                .metrics
                .with(|r| r.latency(StepMetric::Match, started.elapsed().as_micros() as u64));
            self.talk = Some(Talking {
                to: Conversation::User(peer),
                hash,
                peers: partner..partner + 1,
                group: false,
            });
            return Ok(());
        }
        // A session with a chosen peer: the lower index opens it once the partner is online.
        if self.index < partner {
            if !self
                .await_partner(partner, deadline, Duration::from_millis(50), |s| {
                    s == state::ONLINE
                })
                .await?
            {
                return Ok(());
            }
            if !self
                .send_command(
                    Command::OpenSession { peer: peer.clone() },
                    "open_session_failed",
                    Some(StepMetric::Match),
                )
                .await
            {
                return Err(Halt::Disconnected);
            }
        }
        let got = self
            .pump(Some(deadline), Some(&self.ctx.stop.clone()), &mut |e| {
                matches!(e, Event::SessionOpened { .. })
            })
            .await?;
        if let Some(Event::SessionOpened { session, .. }) = got {
            self.ctx
                .metrics
                .with(|r| r.latency(StepMetric::Match, started.elapsed().as_micros() as u64));
            self.talk = Some(Talking {
                to: Conversation::Session(session),
                hash,
                peers: partner..partner + 1,
                group: false,
            });
        } else {
            self.ctx
                .metrics
                .with(|r| r.error("pair_timeout", Some(StepMetric::Match)));
        }
        Ok(())
    }

    async fn join(&mut self, _size: u32) -> Result<(), Halt> {
        let (u, unit) = self.unit;
        let group = GroupId::new(format!("lg{:x}g{u}", self.ctx.run));
        let caps = self.ctx.scenario.target.dialect.capabilities();
        let started = Instant::now();
        let deadline = started + self.ctx.scenario.target.reply_timeout;
        self.ctx.metrics.with(|r| r.operations += 1);
        let creator = self.index == unit.first;
        if creator && caps.create_group {
            if !self
                .send_command(
                    Command::CreateGroup {
                        group: group.clone(),
                    },
                    "create_group_failed",
                    Some(StepMetric::Match),
                )
                .await
            {
                return Err(Halt::Disconnected);
            }
        } else {
            // Wait for the creator before joining (its group must exist first).
            while caps.create_group
                && self.ctx.roster.get(unit.first) & state::JOINED == 0
                && Instant::now() < deadline
                && !self.stopped()
            {
                self.pump(
                    Some(Instant::now() + Duration::from_millis(50)),
                    None,
                    &mut |_| false,
                )
                .await?;
            }
            if !self
                .send_command(
                    Command::JoinGroup {
                        group: group.clone(),
                    },
                    "join_failed",
                    Some(StepMetric::Match),
                )
                .await
            {
                return Err(Halt::Disconnected);
            }
        }
        // Some dialects confirm (GroupJoined), others say nothing: wait a little for it.
        let confirm = (Instant::now() + Duration::from_millis(500)).min(deadline);
        self.pump(Some(confirm), None, &mut |e| {
            matches!(e, Event::GroupJoined { .. })
        })
        .await?;
        self.ctx.roster.set_joined(self.index, true);
        let hash = recipient_hash(b'g', group.as_str());
        self.recipient.group_hash = Some(hash);
        self.talk = Some(Talking {
            to: Conversation::Group(group),
            hash,
            peers: unit.first..unit.first + unit.size,
            group: true,
        });
        // Everyone in before anyone talks (bounded by the reply timeout).
        while (unit.first..unit.first + unit.size).any(|m| {
            let s = self.ctx.roster.get(m);
            s & state::JOINED == 0 && (s & 0x0f) <= state::AWAY
        }) && Instant::now() < deadline
            && !self.stopped()
        {
            self.pump(
                Some(Instant::now() + Duration::from_millis(50)),
                None,
                &mut |_| false,
            )
            .await?;
        }
        self.ctx
            .metrics
            .with(|r| r.latency(StepMetric::Match, started.elapsed().as_micros() as u64));
        Ok(())
    }

    // ---- messages ----

    fn gap(&mut self, send: &SendStep) -> Duration {
        let load = &self.ctx.scenario.load;
        let delay = match (load.forced_rate, send.rate, send.every) {
            (Some(rate), _, every) => Delay {
                mean: rate.interval(),
                dist: every.map_or(Distribution::Constant, |e| e.dist),
            },
            (None, Some(rate), _) => Delay {
                mean: rate.interval(),
                dist: Distribution::Constant,
            },
            (None, None, Some(every)) => every,
            (None, None, None) => Delay {
                mean: load.per_user_rate.unwrap_or(Rate(1.0)).interval(),
                dist: Distribution::Constant,
            },
        };
        self.draw(delay)
    }

    /// Send on a schedule of intended times fixed in advance (wrk2): a late send is measured
    /// from when it should have gone, so a slow server cannot hide its stalls.
    async fn send_all(&mut self, send: &SendStep) -> Result<(), Halt> {
        let started = Instant::now();
        let until = send.for_time.map(|d| started + d.0);
        let size = send.size.unwrap_or(crate::scenario::DEFAULT_SIZE);
        let mut intended = started;
        let mut sent = 0u64;
        let stop = self.ctx.stop.clone();
        while send.count.is_none_or(|n| sent < n) && until.is_none_or(|t| intended < t) {
            if intended > Instant::now() {
                let stop_at = self.own_stop;
                let wake = stop_at.map_or(intended, |s| s.min(intended));
                self.pump(Some(wake), Some(&stop), &mut |_| false).await?;
            }
            if self.stopped() {
                return Err(Halt::Stopped);
            }
            if !self.send_one(intended, size).await? {
                // Nobody left to talk to (the partner left and no one is free): one error
                // for the step, not one match attempt per remaining message.
                break;
            }
            sent += 1;
            intended += self.gap(send);
        }
        Ok(())
    }

    /// Send one message; `false` when there is no conversation to send it into.
    async fn send_one(&mut self, intended: Instant, size: usize) -> Result<bool, Halt> {
        if self.talk.is_none() && self.matching {
            self.find_match().await?;
        }
        let Some(talk) = self.talk.clone() else {
            self.ctx.metrics.with(|r| r.error("no_conversation", None));
            return Ok(false);
        };
        let intended_us = intended
            .saturating_duration_since(self.ctx.epoch)
            .as_micros() as u64;
        let seq = self.seq;
        self.seq += 1;
        let caps = self.ctx.scenario.target.dialect.capabilities();
        let (owed, recipients) = if talk.group {
            let members = talk.peers.clone().filter(|&p| p != self.index);
            let owed = members
                .clone()
                .filter(|&p| self.ctx.roster.receivable(p, caps.offline_messages, true))
                .count() as u64;
            (owed, members.count() as u64)
        } else if talk.peers.start == u32::MAX {
            (1, 1) // a matched partner of another process: owed while the session lives
        } else {
            let owed = self
                .ctx
                .roster
                .receivable(talk.peers.start, caps.offline_messages, false);
            (u64::from(owed), 1)
        };
        let marker = Marker {
            run: self.ctx.run,
            sender: self.index,
            seq,
            intended_us,
            to: talk.hash,
            owed: owed == recipients,
        };
        let command = Command::Send {
            to: talk.to,
            client_ref: client_ref(seq, intended_us),
            content: marker.content(size),
        };
        if !self
            .send_command(command, "send_failed", Some(StepMetric::Accept))
            .await
        {
            return Err(Halt::Disconnected);
        }
        // Where the server accepts, deliveries are owed once it has: a message still
        // unaccepted when our connection goes away may never have reached it.
        self.ctx.metrics.with(|r| {
            r.ledger.sent += 1;
            if !caps.server_accept {
                r.ledger.expected += owed;
            }
        });
        if caps.server_accept {
            // An accept is missing when none came within the reply timeout of the send, not
            // when many are awaited: a schedule catching up after a stall sends a burst.
            let now = Instant::now();
            let timeout = self.ctx.scenario.target.reply_timeout;
            while let Some(oldest) = self.unaccepted.front().copied()
                && (self.unaccepted.len() >= UNACCEPTED_MAX
                    || now.saturating_duration_since(oldest.sent) > timeout)
            {
                self.unaccepted.pop_front();
                // Too long without an answer: assume it got there.
                self.ctx.metrics.with(|r| {
                    r.ledger.expected += oldest.owed;
                    r.error("accept_missing", Some(StepMetric::Accept));
                });
            }
            self.unaccepted.push_back(Unaccepted {
                seq,
                intended_us,
                sent: now,
                owed,
            });
        }
        Ok(true)
    }

    /// Hand a command to the connection; false when there is no connection any more.
    async fn send_command(
        &mut self,
        command: Command,
        error: &'static str,
        step: Option<StepMetric>,
    ) -> bool {
        let Some(session) = self.session.as_mut() else {
            self.ctx.metrics.with(|r| r.error("not_connected", step));
            return false;
        };
        self.ctx.metrics.with(|r| r.operations += 1);
        match session.send(command).await {
            Ok(()) => true,
            Err(imkit_protocols::Error::Closed) => {
                self.ctx.metrics.with(|r| r.error(error, step));
                false
            }
            Err(_) => {
                self.ctx.metrics.with(|r| r.error(error, step));
                true
            }
        }
    }

    async fn read_receipt(&mut self) {
        if let Some((conversation, id)) = self.last_delivered.clone() {
            self.send_command(
                Command::Read {
                    conversation,
                    up_to: id,
                },
                "read_failed",
                Some(StepMetric::Read),
            )
            .await;
        }
    }

    // ---- receiving ----

    /// Receive until `deadline`, the `cancel` token, or an event `want` picks (returned after
    /// it has been accounted for). `Ok(None)`: the deadline or the token came.
    async fn pump(
        &mut self,
        deadline: Option<Instant>,
        cancel: Option<&CancellationToken>,
        want: &mut (dyn FnMut(&Event) -> bool + Send),
    ) -> Result<Option<Event>, Halt> {
        // One timer and one cancellation waiter per call, not per event: registering them
        // again for every event was a good part of the cost of a message.
        let far = Instant::now() + Duration::from_secs(86_400);
        let sleep = sleep_until(deadline.unwrap_or(far));
        let cancelled = async {
            match cancel {
                Some(cancel) => cancel.cancelled().await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep, cancelled);
        loop {
            let Some(session) = self.session.as_mut() else {
                tokio::select! {
                    _ = &mut sleep => return Ok(None),
                    _ = &mut cancelled => return Ok(None),
                }
            };
            let event = tokio::select! {
                biased;
                event = session.recv() => event,
                _ = &mut sleep => return Ok(None),
                _ = &mut cancelled => return Ok(None),
            };
            let Some(event) = event else {
                self.session = None;
                self.went_offline(state::GONE);
                self.ctx
                    .metrics
                    .with(|r| r.error("connection_closed", None));
                return Err(Halt::Disconnected);
            };
            self.observe(&event).await;
            if want(&event) {
                return Ok(Some(event));
            }
        }
    }

    /// Account for one event.
    async fn observe(&mut self, event: &Event) {
        match event {
            Event::Delivered(message) => {
                let now_us = self.ctx.now_us();
                let marker = Marker::find(&message.content);
                let loss_us = self.ctx.scenario.ledger.loss_timeout.as_micros() as u64;
                let receipt = self.inbox.receive(&self.recipient, marker, now_us, loss_us);
                // Not counted as owed by its sender (we were away, on a dialect that keeps no
                // offline messages) yet here: owed after all, so `lost` stays exact.
                let owed_late = marker.is_some_and(|m| {
                    !m.owed
                        && matches!(receipt.kind, Arrival::Delivered | Arrival::Late)
                        && (m.to == self.recipient.user_hash
                            || (self.away.0..=self.away.1).contains(&m.intended_us))
                });
                self.ctx.metrics.with(|r| {
                    r.ledger.record(receipt);
                    if owed_late {
                        r.ledger.expected += 1;
                        r.ledger.settle();
                    }
                    if let (Some(m), Arrival::Delivered | Arrival::Late) = (marker, receipt.kind) {
                        r.latency(StepMetric::Deliver, now_us.saturating_sub(m.intended_us));
                    }
                });
                if let Some(id) = &message.id {
                    self.last_delivered = Some((message.conversation.clone(), id.clone()));
                    if self.auto_ack {
                        let t = Instant::now();
                        let ack = Command::Ack {
                            conversation: message.conversation.clone(),
                            id: id.clone(),
                        };
                        if self
                            .send_command(ack, "ack_failed", Some(StepMetric::Ack))
                            .await
                        {
                            let us = t.elapsed().as_micros() as u64;
                            self.ctx.metrics.with(|r| r.latency(StepMetric::Ack, us));
                        }
                    }
                    if self.auto_read {
                        self.read_receipt().await;
                    }
                }
            }
            Event::Accepted { client_ref, id } => {
                let now_us = self.ctx.now_us();
                let parsed = client_ref.as_deref().and_then(|r| {
                    let (seq, t) = r.split_once('.')?;
                    Some((
                        u64::from_str_radix(seq, 16).ok()?,
                        u64::from_str_radix(t, 16).ok()?,
                    ))
                });
                let entry = match parsed {
                    Some((seq, t)) => match self.unaccepted.iter().position(|e| e.seq == seq) {
                        Some(at) => self.unaccepted.remove(at).map(|e| (e.intended_us, e.owed)),
                        // Given up on already (and owed then).
                        None => Some((t, 0)),
                    },
                    None => self.unaccepted.pop_front().map(|e| (e.intended_us, e.owed)),
                };
                if let Some((intended_us, owed)) = entry {
                    self.ctx.metrics.with(|r| {
                        r.ledger.accepted += 1;
                        r.ledger.expected += owed;
                        r.latency(StepMetric::Accept, now_us.saturating_sub(intended_us));
                    });
                    if let Some(id) = id {
                        if self.unread.len() == UNREAD_MAX {
                            self.unread.pop_front();
                        }
                        self.unread.push_back((id.clone(), intended_us));
                    }
                }
            }
            Event::ReadUpTo { up_to, .. } => {
                if let Some(at) = self.unread.iter().position(|(id, _)| id == up_to) {
                    let intended_us = self.unread[at].1;
                    self.unread.drain(..=at);
                    let now_us = self.ctx.now_us();
                    self.ctx
                        .metrics
                        .with(|r| r.latency(StepMetric::Read, now_us.saturating_sub(intended_us)));
                }
            }
            Event::Registered { user, token, .. } | Event::LoggedIn { user, token } => {
                let changed = self.user.as_ref().is_some_and(|u| u != user);
                self.user = Some(user.clone());
                if token.is_some() {
                    self.token = token.clone();
                }
                if changed {
                    // The driver reconnected as a new account (chat-json v1): messages are
                    // now addressed to the new id, and a matched session died with the old.
                    self.recipient.user_hash = recipient_hash(b'u', user.as_str());
                    self.ctx.roster.remember(user.as_str(), self.index);
                    if self.talk.as_ref().is_some_and(|t| !t.group) {
                        self.talk = None;
                    }
                    self.side.clear();
                }
            }
            Event::SessionOpened { session, peer, .. } | Event::Matched { session, peer, .. } => {
                self.session_opened(*session, peer);
            }
            Event::PartnerLeft { session, .. } | Event::SessionClosed { session } => {
                self.session_ended(*session);
            }
            Event::Error { .. } => self.ctx.metrics.with(|r| r.error("server_error", None)),
            Event::Connection(ConnectionState::Lost { .. }) => {
                self.lost_at = Some(Instant::now());
                self.went_offline(state::AWAY);
                self.ctx.metrics.with(|r| r.error("connection_lost", None));
            }
            Event::Connection(ConnectionState::Online { reconnect: true }) => {
                if let Some(lost) = self.lost_at.take() {
                    let us = lost.elapsed().as_micros() as u64;
                    self.ctx.metrics.with(|r| {
                        r.operations += 1;
                        r.latency(StepMetric::Reconnect, us);
                    });
                }
                self.came_online();
            }
            _ => {}
        }
    }
}
