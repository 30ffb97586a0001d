//! The hub: all server state in one place, speaking the neutral model (`Command` in,
//! `Event` out). Listeners only translate between their dialect and it, so users of
//! different dialects can talk to each other.
//!
//! # API (what a listener uses)
//!
//! ```text
//! Hub::new(HubConfig) -> Hub                                  (Clone: a shared handle)
//! hub.attach(dialect, peer_addr) -> (ConnId, Outbound)        one per accepted connection
//! hub.attach_with(dialect, peer_addr, AttachOptions) -> (ConnId, Outbound)
//! hub.handle(conn, Command) -> Result<(), HubError>           replies + pushes go to queues
//! hub.handle_until_refused(conn, &mut commands) -> Option<(position, kind, HubError)>
//!                                                             a batch under one lock
//! hub.logout(conn) -> Result<(), HubError>                    chat's logout-on-silence, scans
//! hub.detach(conn)                                            the socket is gone
//! hub.check_sender(conn, &claimed) -> Result<(), HubError>    dialects that name the sender
//! hub.user_of(conn) -> Option<UserId>
//! hub.password_login(name, password, numeric) -> Result<(UserId, String), HubError>
//! hub.token_is_valid(&user, token) -> bool                    simple-im HTTP /server/reconnect
//! hub.token_user(token) -> Option<UserId>                     simple-im HTTP reconnect, failed
//! hub.read_mark(&conversation, &reader) -> Option<MessageId>
//! hub.is_online(&user) -> bool;  hub.seed() -> u64
//! hub.shutdown()                                              close every queue after a flush
//! hub.stats() -> HubStats
//! Outbound::recv().await -> Option<Outgoing>;  Outbound::try_recv_many(&mut Vec<Outgoing>, max)
//!                                          an Outgoing is an Event or a Delivery (a shared message)
//! Outbound::close_reason() -> Option<CloseReason>
//! ```
//!
//! Every event for a connection, replies and pushes alike, goes through its bounded
//! [`Outbound`] queue, so the order a client sees is the hub's. What the hub answers to each
//! command (to the sending connection unless said otherwise):
//!
//! | command | events |
//! |---|---|
//! | `Register` | `Registered{user, nick, token}`: the connection is logged in as a new numeric id |
//! | `Login` / `Resume` | `LoggedIn{user, token}`, then unacked messages again, then offline ones (FIFO; none on a message link) |
//! | `Match` | a free partner: `SessionOpened{by_peer: true}`; then us: `Matched`, or `NoPartner`. Already matched (two MATCHes crossed): us: `Matched` with the partner we have |
//! | `OpenSession` | us: `SessionOpened{by_peer: false}`; peer (if new): `SessionOpened{by_peer: true}` |
//! | `CloseSession` | `SessionClosed` to both |
//! | `Send` | us: `Accepted{client_ref, id}`; every connection of every receiver (only its message links if it has any, see [`AttachOptions::message_link`]): `Delivered` (a group includes the sender) |
//! | `Ack` | nothing (settles unacked messages) |
//! | `Read` | us: `Done{"read"}`; the other participant(s): `ReadUpTo` |
//! | `CreateGroup` / `JoinGroup` | us: `GroupJoined{server: None}` (listeners fill in their address); other members: `MemberJoined` |
//! | `LeaveGroup` | `MemberLeft` to every member, us included |
//! | `Ping` / `Pong` / `Logout` | `Pong` / nothing / nothing |
//!
//! When a user's last connection goes (detach, logout, dropped), the partners of its matched
//! sessions get `PartnerLeft`. A refused command returns a [`HubError`] and queues nothing,
//! except a send into an ended session, which also pushes `PartnerLeft` to the sender.
//!
//! Delivery ids follow the receiver's dialect ([`IdStyle`]): per-conversation sequence
//! numbers, server uuids (fishchat) or the sender's own id (simple-im).
//!
//! # Never lose
//! A message the hub accepted reaches each connection of its receiver, or is kept: offline
//! (no connection, or the connection was dropped before reading it) or unacked (receivers
//! that ack, until they do). A receiver that lets its queue fill up, or leaves too many
//! messages unacked, is dropped as a slow consumer and its queue kept for its next login.
//! The one deliberate loss is `--chaos drop-delivery`.
//!
//! # Cost
//! One mutex around the state, held for a few map operations per command, no I/O and no
//! await under it; delivery is a non-blocking push into the receiver's queue.

mod accounts;
pub mod accounts_file;
mod connection;
mod delivery;
mod envelope;
mod error;
mod groups;
mod ids;
mod mailbox;
mod outbound;
mod reads;
mod routes;
mod sessions;

#[cfg(test)]
mod tests;

use foldhash::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use imkit_protocols::{
    Command, Conversation, Dialect, Event, GroupId, MessageId, SessionId, UserId,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

pub use accounts_file::{AccountsError, AccountsFile};
pub use connection::{AttachOptions, ConnId};
pub use delivery::{Delivery, Outgoing};
pub use envelope::IdStyle;
pub use error::HubError;
pub use outbound::{CloseReason, Outbound};

use crate::chaos::{Chaos, ChaosConfig};
use accounts::Accounts;
use connection::Connection;
use envelope::Envelope;
use groups::Groups;
use ids::{DirectSequences, uuid_from};
use mailbox::{Device, Mailboxes};
use outbound::{Item, OutboundQueue, PushError};
use reads::ReadMarks;
use routes::Routes;
use sessions::{SessionKind, Sessions};

/// Limits and knobs of the hub.
#[derive(Debug, Clone)]
pub struct HubConfig {
    /// Events queued for one connection before it counts as a slow consumer.
    pub outbound_capacity: usize,
    /// Messages kept for one offline user; beyond it, sends to them are refused
    /// ([`HubError::MailboxFull`]) rather than dropped.
    pub offline_limit: usize,
    /// Unacked messages one device may hold before it counts as a slow consumer.
    pub unacked_limit: usize,
    /// Seed of every random choice (match partners, tokens, uuids, chaos); `None` picks one
    /// (see [`Hub::seed`] to log it).
    pub seed: Option<u64>,
    pub chaos: ChaosConfig,
    /// Users and groups from `--accounts`; without it users are created on first use.
    pub accounts: Option<AccountsFile>,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            outbound_capacity: 1024,
            offline_limit: 10_000,
            unacked_limit: 4096,
            seed: None,
            chaos: ChaosConfig::default(),
            accounts: None,
        }
    }
}

/// Counters since start (a snapshot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubStats {
    pub connections: usize,
    pub online_users: usize,
    /// Messages accepted (answered with `Accepted`).
    pub accepted: u64,
    /// Deliveries put in a connection's queue (one per receiving connection).
    pub delivered: u64,
    /// Deliveries kept for later (offline or from a dropped connection's queue).
    pub stored: u64,
    /// Messages handed out again at a login (offline and unacked).
    pub redelivered: u64,
    /// Messages kept right now (offline + unacked).
    pub pending: usize,
    pub slow_consumers: u64,
    pub chaos_dropped_deliveries: u64,
    pub chaos_dropped_connections: u64,
}

/// The shared handle to the hub. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Hub {
    state: Arc<Mutex<State>>,
    seed: u64,
}

impl Hub {
    pub fn new(config: HubConfig) -> Hub {
        let seed = config.seed.unwrap_or_else(|| rand::rng().random());
        Hub {
            state: Arc::new(Mutex::new(State::new(config, seed))),
            seed,
        }
    }

    /// The seed in use (give it to `--seed` to replay a run's random choices).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // State changes are applied whole or not at all between panics-free steps; a
        // poisoned lock (a panic in a test thread) must not take every listener down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection with its dialect's [`AttachOptions`].
    pub fn attach(&self, dialect: Dialect, peer: SocketAddr) -> (ConnId, Outbound) {
        self.attach_with(dialect, peer, AttachOptions::for_dialect(dialect))
    }

    pub fn attach_with(
        &self,
        dialect: Dialect,
        peer: SocketAddr,
        options: AttachOptions,
    ) -> (ConnId, Outbound) {
        self.lock().attach(dialect, peer, options)
    }

    /// Apply one command from `conn`. Replies and pushes go to the outbound queues.
    pub fn handle(&self, conn: ConnId, command: Command) -> Result<(), HubError> {
        let mut state = self.lock();
        let result = state.handle(conn, command);
        state.settle();
        result
    }

    /// Apply commands from `conn` in order, under one lock, until one is refused: that
    /// one's place and error, the rest left in `commands` (the caller answers the refusal
    /// before the commands after it run, so replies keep their order).
    pub fn handle_until_refused(
        &self,
        conn: ConnId,
        commands: &mut impl Iterator<Item = (usize, Command)>,
    ) -> Option<(usize, &'static str, HubError)> {
        let mut state = self.lock();
        let mut refused = None;
        for (position, command) in commands.by_ref() {
            let kind = command.kind();
            if let Err(error) = state.handle(conn, command) {
                refused = Some((position, kind, error));
                break;
            }
        }
        state.settle();
        refused
    }

    /// Log the connection's user out, keeping the connection attached (chat logs out a
    /// silent client but keeps its socket; fishchat's dead-session scan likewise).
    pub fn logout(&self, conn: ConnId) -> Result<(), HubError> {
        let mut state = self.lock();
        if !state.conns.contains_key(&conn) {
            return Err(HubError::ConnectionClosed(conn));
        }
        state.unbind(conn);
        state.settle();
        Ok(())
    }

    /// The connection is gone: log its user out and keep what was still queued for it.
    pub fn detach(&self, conn: ConnId) {
        let mut state = self.lock();
        state.close_conn(conn, CloseReason::Detached);
        state.settle();
    }

    /// The user the connection is logged in as.
    pub fn user_of(&self, conn: ConnId) -> Option<UserId> {
        self.lock().conns.get(&conn).and_then(|c| c.user.clone())
    }

    /// For dialects whose messages name their sender: is it the logged-in user?
    pub fn check_sender(&self, conn: ConnId, claimed: &UserId) -> Result<(), HubError> {
        let state = self.lock();
        let conn = state
            .conns
            .get(&conn)
            .ok_or(HubError::ConnectionClosed(conn))?;
        match &conn.user {
            None => Err(HubError::NotLoggedIn),
            Some(actual) if actual == claimed => Ok(()),
            Some(actual) => Err(HubError::SenderMismatch {
                claimed: claimed.clone(),
                actual: actual.clone(),
            }),
        }
    }

    /// A password login outside any connection (simple-im's HTTP `/server/login`): by id
    /// or nick; returns the user and a fresh token for the TCP login or a reconnect.
    /// `numeric`: the dialect's ids are integers (see `Accounts::password_login`).
    pub fn password_login(
        &self,
        name: &str,
        password: &str,
        numeric: bool,
    ) -> Result<(UserId, String), HubError> {
        let mut state = self.lock();
        let state = &mut *state;
        let user = state.accounts.password_login(name, password, numeric)?;
        let token = state.accounts.issue_token(&user, &mut state.rng);
        Ok((user, token))
    }

    /// Whether the hub issued `token` to `user` (simple-im's HTTP `/server/reconnect`).
    pub fn token_is_valid(&self, user: &UserId, token: &str) -> bool {
        self.lock().accounts.token_is_valid(user, token)
    }

    /// Who holds `token` (simple-im's HTTP `/server/reconnect` tells an unknown token from
    /// another user's, `/server/failed` needs the token alone).
    pub fn token_user(&self, token: &str) -> Option<UserId> {
        self.lock().accounts.token_user(token).cloned()
    }

    /// How far `reader` has read `conversation` (as the reader names it).
    pub fn read_mark(&self, conversation: &Conversation, reader: &UserId) -> Option<MessageId> {
        self.lock().reads.get(conversation, reader).cloned()
    }

    pub fn is_online(&self, user: &UserId) -> bool {
        self.lock().routes.is_online(user)
    }

    /// Close every queue: receivers get what is queued, then the end. Connections attached
    /// later get a closed queue at once.
    pub fn shutdown(&self) {
        let mut state = self.lock();
        state.closing = true;
        for conn in state.conns.values() {
            conn.queue.close(CloseReason::Shutdown);
        }
    }

    pub fn stats(&self) -> HubStats {
        let state = self.lock();
        HubStats {
            connections: state.conns.len(),
            online_users: state.routes.online_users(),
            pending: state.mail.pending(),
            ..state.stats.clone()
        }
    }
}

/// Everything behind the hub's lock.
#[derive(Debug)]
struct State {
    config: HubConfig,
    closing: bool,
    next_conn: u64,
    conns: HashMap<ConnId, Connection>,
    routes: Routes,
    accounts: Accounts,
    sessions: Sessions,
    groups: Groups,
    direct_ids: DirectSequences,
    mail: Mailboxes,
    reads: ReadMarks,
    chaos: Chaos,
    rng: SmallRng,
    stats: HubStats,
    /// Connections dropped during the current operation, logged out once it is done (not
    /// in the middle of a fan-out that is iterating over routes).
    doomed: Vec<ConnId>,
    /// Reused target list, so a delivery does not allocate.
    scratch: Vec<ConnId>,
}

impl State {
    fn new(config: HubConfig, seed: u64) -> State {
        let accounts = Accounts::new(config.accounts.as_ref());
        let mut groups = Groups::default();
        for user in config.accounts.iter().flat_map(|f| &f.users) {
            for group in &user.groups {
                groups.create(group);
                groups.join(group, &user.id);
            }
        }
        State {
            chaos: Chaos::new(config.chaos.clone(), seed),
            config,
            closing: false,
            next_conn: 1,
            conns: HashMap::default(),
            routes: Routes::default(),
            accounts,
            sessions: Sessions::default(),
            groups,
            direct_ids: DirectSequences::default(),
            mail: Mailboxes::default(),
            reads: ReadMarks::default(),
            rng: SmallRng::seed_from_u64(seed),
            stats: HubStats::default(),
            doomed: Vec::new(),
            scratch: Vec::new(),
        }
    }

    fn attach(
        &mut self,
        dialect: Dialect,
        peer: SocketAddr,
        options: AttachOptions,
    ) -> (ConnId, Outbound) {
        let id = ConnId(self.next_conn);
        self.next_conn += 1;
        let queue = OutboundQueue::new(self.config.outbound_capacity);
        let style = IdStyle::of(dialect);
        if self.closing {
            queue.close(CloseReason::Shutdown);
        }
        self.conns.insert(
            id,
            Connection {
                dialect,
                peer,
                user: None,
                device: None,
                options,
                style,
                queue: queue.clone(),
            },
        );
        tracing::trace!(conn = %id, %dialect, %peer, "attached");
        (id, Outbound::new(queue, style))
    }

    fn conn(&self, conn: ConnId) -> Result<&Connection, HubError> {
        // Not `ok_or`: that builds (and drops) the error on every call.
        match self.conns.get(&conn) {
            Some(c) => Ok(c),
            None => Err(HubError::ConnectionClosed(conn)),
        }
    }

    fn logged_in(&self, conn: ConnId) -> Result<UserId, HubError> {
        match &self.conn(conn)?.user {
            Some(user) => Ok(user.clone()),
            None => Err(HubError::NotLoggedIn),
        }
    }

    fn handle(&mut self, conn: ConnId, command: Command) -> Result<(), HubError> {
        let dialect = self.conn(conn)?.dialect;
        if self.chaos.drop_connection() {
            tracing::debug!(conn = %conn, "chaos: dropping the connection");
            self.stats.chaos_dropped_connections += 1;
            self.close_conn(conn, CloseReason::Chaos);
            return Err(HubError::ConnectionClosed(conn));
        }
        match command {
            Command::Register { nick } => {
                let user = self.accounts.register(&nick);
                let token = self.accounts.issue_token(&user, &mut self.rng);
                self.bind(conn, &user, None);
                self.emit(
                    conn,
                    Event::Registered {
                        user,
                        nick,
                        token: Some(token),
                    },
                );
                Ok(())
            }
            Command::Login {
                user,
                secret,
                device,
            } => {
                let can_send_secret = dialect.capabilities().password;
                self.accounts
                    .check_login(&user, secret.as_deref(), can_send_secret)?;
                let token = self.accounts.issue_token(&user, &mut self.rng);
                self.log_in(conn, &user, device, token);
                Ok(())
            }
            Command::Resume {
                user,
                token,
                device,
            } => {
                if !self.accounts.token_is_valid(&user, &token) {
                    return Err(HubError::BadToken(user));
                }
                self.log_in(conn, &user, device, token);
                Ok(())
            }
            Command::Match => self.match_partner(conn),
            Command::OpenSession { peer } => self.open_session(conn, peer),
            Command::CloseSession { session, .. } => self.close_session(conn, session),
            Command::Send {
                to,
                client_ref,
                content,
            } => self.send(conn, to, client_ref, content),
            Command::Ack { conversation, id } => {
                let Some(c) = self.conns.get(&conn) else {
                    return Err(HubError::ConnectionClosed(conn));
                };
                let Some(user) = &c.user else {
                    return Err(HubError::NotLoggedIn);
                };
                self.mail.ack(user, &c.device, &conversation, &id);
                Ok(())
            }
            Command::Read {
                conversation,
                up_to,
            } => self.read(conn, conversation, up_to),
            Command::CreateGroup { group } => {
                let user = self.logged_in(conn)?;
                self.groups.create(&group);
                self.join_group(conn, &user, group);
                Ok(())
            }
            Command::JoinGroup { group } => {
                let user = self.logged_in(conn)?;
                if self.groups.get(&group).is_none() {
                    if !self.conn(conn)?.options.join_creates {
                        return Err(HubError::UnknownGroup(group));
                    }
                    self.groups.create(&group);
                }
                self.join_group(conn, &user, group);
                Ok(())
            }
            Command::LeaveGroup { group } => {
                let user = self.logged_in(conn)?;
                let members = self
                    .groups
                    .get(&group)
                    .ok_or_else(|| HubError::UnknownGroup(group.clone()))?
                    .members
                    .clone();
                if !members.contains(&user) {
                    return Err(HubError::NotMember {
                        user,
                        conversation: Conversation::Group(group),
                    });
                }
                self.groups.leave(&group, &user);
                let event = Event::MemberLeft {
                    group,
                    user: user.clone(),
                };
                for member in &members {
                    self.push_event_to_user(member, &event);
                }
                Ok(())
            }
            Command::Ping => {
                self.emit(conn, Event::Pong);
                Ok(())
            }
            Command::Pong => Ok(()),
            Command::Logout => {
                self.unbind(conn);
                Ok(())
            }
        }
    }

    // ---- login and logout ----

    fn log_in(&mut self, conn: ConnId, user: &UserId, device: Option<String>, token: String) {
        self.bind(conn, user, device);
        self.emit(
            conn,
            Event::LoggedIn {
                user: user.clone(),
                token: Some(token),
            },
        );
        let message_link = self
            .conns
            .get(&conn)
            .is_some_and(|c| c.options.message_link);
        if !message_link {
            self.flush_stored(conn);
        }
    }

    fn bind(&mut self, conn: ConnId, user: &UserId, device: Device) {
        if let Some(c) = self.conns.get(&conn)
            && c.user
                .as_ref()
                .is_some_and(|u| u != user || c.device != device)
        {
            self.unbind(conn);
        }
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.user = Some(user.clone());
        c.device = device.clone();
        if device.is_some() {
            self.replace_same_device(conn, user, &device);
        }
        self.routes.add(user, conn);
        self.refresh_free(user);
    }

    /// A login on a device that already has a connection (a client that reconnected before
    /// the server saw its old socket end) replaces that connection. Else both would get every
    /// message, and what the dead one had queued would come back at the next login: twice.
    /// What the old one had not written is kept and handed to the new one at its login.
    fn replace_same_device(&mut self, conn: ConnId, user: &UserId, device: &Device) {
        let mut conns = std::mem::take(&mut self.scratch);
        conns.clear();
        self.routes.connections_into(user, &mut conns);
        for &old in &conns {
            if old != conn && self.conns.get(&old).is_some_and(|c| c.device == *device) {
                self.drop_conn(old, CloseReason::Replaced);
            }
        }
        self.scratch = conns;
    }

    /// The connection is no longer logged in; if it was the user's last, the user is offline.
    fn unbind(&mut self, conn: ConnId) {
        let Some(user) = self.conns.get_mut(&conn).and_then(|c| c.user.take()) else {
            return;
        };
        if self.routes.remove(&user, conn) {
            self.went_offline(&user);
        } else {
            self.refresh_free(&user);
        }
    }

    fn went_offline(&mut self, user: &UserId) {
        self.sessions.set_free(user, false);
        for session in self.sessions.of_user(user, SessionKind::Matched) {
            let Some(ended) = self.sessions.end(session) else {
                continue;
            };
            let Some(partner) = ended.peer_of(user).cloned() else {
                continue;
            };
            self.push_event_to_user(
                &partner,
                &Event::PartnerLeft {
                    session,
                    user: user.clone(),
                },
            );
            self.refresh_free(&partner);
        }
    }

    /// Free to be matched: online on a matching dialect, in no live matched session.
    fn refresh_free(&mut self, user: &UserId) {
        let mut conns = std::mem::take(&mut self.scratch);
        conns.clear();
        self.routes.connections_into(user, &mut conns);
        let matchable = conns.iter().any(|c| {
            self.conns
                .get(c)
                .is_some_and(|c| c.options.matchable && !c.queue.is_closed())
        });
        self.scratch = conns;
        let free = matchable && !self.sessions.in_matched_session(user);
        self.sessions.set_free(user, free);
    }

    /// At login: unacked messages again (oldest first), then the offline queue (FIFO).
    fn flush_stored(&mut self, conn: ConnId) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let Some(user) = c.user.clone() else {
            return;
        };
        let device = c.device.clone();
        let acks = c.options.receiver_acks;
        let queue = c.queue.clone();
        let again = if acks {
            self.mail.unacked(&user, &device)
        } else {
            // This receiver never acks: handing them out settles them.
            self.mail.take_unacked(&user, &device)
        };
        for envelope in again {
            let due = self.chaos.due();
            match queue.push_backlog(Item::Deliver(envelope.clone()), due) {
                Ok(()) => self.stats.redelivered += 1,
                Err(_) if !acks => self.mail.store(&user, device.clone(), envelope),
                Err(_) => {}
            }
        }
        for envelope in self.mail.take_offline(&user, &device) {
            let due = self.chaos.due();
            match queue.push_backlog(Item::Deliver(envelope.clone()), due) {
                Ok(()) => {
                    self.stats.redelivered += 1;
                    if acks {
                        self.mail.add_unacked(&user, &device, envelope);
                    }
                }
                Err(_) => self.mail.store(&user, device.clone(), envelope),
            }
        }
    }

    // ---- sessions ----

    fn match_partner(&mut self, conn: ConnId) -> Result<(), HubError> {
        let me = self.logged_in(conn)?;
        // One partner at a time. Two MATCHes that cross (A's picks B while B's is on its
        // way) would otherwise give B a second partner and leave some other user with none:
        // B is answered with the session A opened.
        let current = self.sessions.matched_session_of(&me).and_then(|session| {
            let peer = self.sessions.get(session)?.peer_of(&me)?;
            Some((session, peer.clone()))
        });
        let (session, peer) = match current {
            Some(current) => current,
            None => {
                let Some(peer) = self.sessions.pick_free(&me, &mut self.rng) else {
                    self.emit(conn, Event::NoPartner);
                    return Ok(());
                };
                let session = self.sessions.open(&me, &peer, SessionKind::Matched);
                self.refresh_free(&me);
                self.refresh_free(&peer);
                // The original pushes NewSession to the partner before answering MATCH.
                self.tell_session_opened(&peer, session, &me);
                (session, peer)
            }
        };
        let peer_name = self.accounts.nick(&peer).map(str::to_owned);
        self.emit(
            conn,
            Event::Matched {
                session,
                peer,
                peer_name,
            },
        );
        Ok(())
    }

    fn open_session(&mut self, conn: ConnId, peer: UserId) -> Result<(), HubError> {
        let me = self.logged_in(conn)?;
        if peer == me {
            return Err(HubError::SelfSession);
        }
        self.accounts.ensure(&peer)?;
        let (session, new) = match self.sessions.opened_between(&me, &peer) {
            Some(session) => (session, false),
            None => (self.sessions.open(&me, &peer, SessionKind::Opened), true),
        };
        let peer_name = self.accounts.nick(&peer).map(str::to_owned);
        self.emit(
            conn,
            Event::SessionOpened {
                session,
                peer: peer.clone(),
                peer_name,
                by_peer: false,
            },
        );
        if new {
            self.tell_session_opened(&peer, session, &me);
        }
        Ok(())
    }

    /// `peer` learns that `by` opened `session` with them (chat's NewSession signal).
    fn tell_session_opened(&mut self, peer: &UserId, session: SessionId, by: &UserId) {
        let event = Event::SessionOpened {
            session,
            peer: by.clone(),
            peer_name: self.accounts.nick(by).map(str::to_owned),
            by_peer: true,
        };
        self.push_event_to_user(peer, &event);
    }

    fn close_session(&mut self, conn: ConnId, session: SessionId) -> Result<(), HubError> {
        let me = self.logged_in(conn)?;
        let Some(live) = self.sessions.get(session) else {
            return Err(match self.sessions.ended(session) {
                Some(_) => HubError::SessionEnded(session),
                None => HubError::UnknownSession(session),
            });
        };
        let peer = live
            .peer_of(&me)
            .cloned()
            .ok_or_else(|| HubError::NotMember {
                user: me.clone(),
                conversation: Conversation::Session(session),
            })?;
        self.sessions.end(session);
        self.emit(conn, Event::SessionClosed { session });
        self.push_event_to_user(&peer, &Event::SessionClosed { session });
        self.refresh_free(&me);
        self.refresh_free(&peer);
        Ok(())
    }

    // ---- groups ----

    fn join_group(&mut self, conn: ConnId, user: &UserId, group: GroupId) {
        let new = self.groups.join(&group, user);
        self.emit(
            conn,
            Event::GroupJoined {
                group: group.clone(),
                server: None,
            },
        );
        if new {
            let members: Vec<UserId> = self
                .groups
                .get(&group)
                .map(|g| g.members.iter().filter(|m| *m != user).cloned().collect())
                .unwrap_or_default();
            let event = Event::MemberJoined {
                group,
                user: user.clone(),
            };
            for member in &members {
                self.push_event_to_user(member, &event);
            }
        }
    }

    // ---- messages ----

    fn send(
        &mut self,
        conn: ConnId,
        to: Conversation,
        client_ref: String,
        content: String,
    ) -> Result<(), HubError> {
        let me = self.logged_in(conn)?;
        let (conversation, seq, receivers) = match to {
            Conversation::Session(session) => {
                let Some(live) = self.sessions.get(session) else {
                    return Err(self.send_into_dead_session(conn, &me, session));
                };
                let peer = live
                    .peer_of(&me)
                    .cloned()
                    .ok_or_else(|| HubError::NotMember {
                        user: me.clone(),
                        conversation: Conversation::Session(session),
                    })?;
                self.check_room(std::slice::from_ref(&peer))?;
                let seq = self
                    .sessions
                    .get_mut(session)
                    .map(|s| s.ids.next())
                    .unwrap_or_default();
                (Conversation::Session(session), seq, Receivers::One(peer))
            }
            Conversation::User(peer) => {
                self.accounts.ensure(&peer)?;
                self.check_room(std::slice::from_ref(&peer))?;
                let seq = self.direct_ids.next(&me, &peer);
                // The receiver sees the conversation under the sender's name.
                (Conversation::User(me.clone()), seq, Receivers::One(peer))
            }
            Conversation::Group(group) => {
                self.prepare_group_send(conn, &me, &group)?;
                let members: Vec<UserId> = self
                    .groups
                    .get(&group)
                    .map(|g| g.members.iter().cloned().collect())
                    .unwrap_or_default();
                self.check_room(&members)?;
                let seq = self
                    .groups
                    .get_mut(&group)
                    .map(|g| g.ids.next())
                    .unwrap_or_default();
                (Conversation::Group(group), seq, Receivers::Many(members))
            }
        };
        let envelope = Arc::new(Envelope {
            conversation,
            from: me,
            seq,
            uuid: uuid_from(&mut self.rng),
            client_ref,
            content,
        });
        self.stats.accepted += 1;
        let sender = self.conn(conn)?;
        if sender.options.accept_replies {
            let style = sender.style;
            self.emit(
                conn,
                Event::Accepted {
                    client_ref: Some(envelope.client_ref.clone()),
                    id: Some(envelope.id(style)),
                },
            );
        }
        for receiver in receivers.as_slice() {
            self.deliver_to_user(receiver, &envelope);
        }
        Ok(())
    }

    /// The original answers code 0 and delivers nothing, telling the sender its partner
    /// left. We tell the sender the same but do not accept what cannot be delivered.
    fn send_into_dead_session(
        &mut self,
        conn: ConnId,
        me: &UserId,
        session: SessionId,
    ) -> HubError {
        let Some((a, b)) = self.sessions.ended(session).cloned() else {
            return HubError::UnknownSession(session);
        };
        let partner = if *me == a {
            b
        } else if *me == b {
            a
        } else {
            return HubError::NotMember {
                user: me.clone(),
                conversation: Conversation::Session(session),
            };
        };
        self.emit(
            conn,
            Event::PartnerLeft {
                session,
                user: partner,
            },
        );
        HubError::SessionEnded(session)
    }

    fn prepare_group_send(
        &mut self,
        conn: ConnId,
        me: &UserId,
        group: &GroupId,
    ) -> Result<(), HubError> {
        let joins_by_sending =
            self.conn(conn)?.options.joins_by_sending && self.config.accounts.is_none();
        if self.groups.get(group).is_none() {
            if !joins_by_sending {
                return Err(HubError::UnknownGroup(group.clone()));
            }
            self.groups.create(group);
        }
        let member = self
            .groups
            .get(group)
            .is_some_and(|g| g.members.contains(me));
        if !member {
            if !joins_by_sending {
                return Err(HubError::NotMember {
                    user: me.clone(),
                    conversation: Conversation::Group(group.clone()),
                });
            }
            self.groups.join(group, me);
        }
        Ok(())
    }

    /// Refuse up front rather than accept a message an offline receiver has no room for.
    fn check_room(&self, receivers: &[UserId]) -> Result<(), HubError> {
        for user in receivers {
            if !self.routes.is_online(user)
                && self.mail.offline_len(user) >= self.config.offline_limit
            {
                return Err(HubError::MailboxFull(user.clone()));
            }
        }
        Ok(())
    }

    fn read(
        &mut self,
        conn: ConnId,
        conversation: Conversation,
        up_to: MessageId,
    ) -> Result<(), HubError> {
        let me = self.logged_in(conn)?;
        let not_member = |conversation: &Conversation| HubError::NotMember {
            user: me.clone(),
            conversation: conversation.clone(),
        };
        // Who hears about it, and under which name of the conversation.
        let (others, seen_as): (Vec<UserId>, Conversation) = match &conversation {
            Conversation::Session(session) => match self.sessions.get(*session) {
                Some(live) => {
                    let peer = live.peer_of(&me).ok_or_else(|| not_member(&conversation))?;
                    (vec![peer.clone()], conversation.clone())
                }
                None => match self.sessions.ended(*session) {
                    Some((a, b)) if *a == me || *b == me => (Vec::new(), conversation.clone()),
                    Some(_) => return Err(not_member(&conversation)),
                    None => return Err(HubError::UnknownSession(*session)),
                },
            },
            Conversation::User(peer) => (vec![peer.clone()], Conversation::User(me.clone())),
            Conversation::Group(group) => {
                let g = self
                    .groups
                    .get(group)
                    .ok_or_else(|| HubError::UnknownGroup(group.clone()))?;
                if !g.members.contains(&me) {
                    return Err(not_member(&conversation));
                }
                let others = g.members.iter().filter(|m| **m != me).cloned().collect();
                (others, conversation.clone())
            }
        };
        self.reads.mark(&conversation, &me, up_to.clone());
        self.emit(
            conn,
            Event::Done {
                operation: "read".into(),
            },
        );
        let event = Event::ReadUpTo {
            conversation: seen_as,
            reader: me,
            up_to,
        };
        for other in &others {
            self.push_event_to_user(other, &event);
        }
        Ok(())
    }

    // ---- the outbound path ----

    /// A reply to the connection that sent the command.
    fn emit(&mut self, conn: ConnId, event: Event) {
        self.push_event(conn, event);
    }

    fn push_event(&mut self, conn: ConnId, event: Event) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let due = self.chaos.due();
        if c.queue.push(Item::Event(event), due) == Err(PushError::Full) {
            self.drop_conn(conn, CloseReason::SlowConsumer);
        }
    }

    /// A notice (not a message: not kept for offline users) to every connection of `user`.
    fn push_event_to_user(&mut self, user: &UserId, event: &Event) {
        let mut conns = std::mem::take(&mut self.scratch);
        conns.clear();
        self.routes.connections_into(user, &mut conns);
        for conn in &conns {
            self.push_event(*conn, event.clone());
        }
        self.scratch = conns;
    }

    /// A message to every connection of `user`, or kept for it.
    fn deliver_to_user(&mut self, user: &UserId, envelope: &Arc<Envelope>) {
        let mut conns = std::mem::take(&mut self.scratch);
        conns.clear();
        self.routes.connections_into(user, &mut conns);
        if conns.len() > 1 {
            self.keep_message_links(&mut conns);
        }
        if conns.is_empty() {
            self.mail.store(user, None, envelope.clone());
            self.stats.stored += 1;
        }
        for conn in &conns {
            if !self.deliver(*conn, envelope) {
                let device = self.conns.get(conn).and_then(|c| c.device.clone());
                self.mail.store(user, device, envelope.clone());
                self.stats.stored += 1;
            }
        }
        self.scratch = conns;
    }

    /// Of a user's connections, only its message links take messages, if it has any open.
    fn keep_message_links(&self, conns: &mut Vec<ConnId>) {
        let is_link = |conn: &ConnId| {
            self.conns
                .get(conn)
                .is_some_and(|c| c.options.message_link && !c.queue.is_closed())
        };
        if conns.iter().any(is_link) {
            conns.retain(is_link);
        }
    }

    /// Queue a message for one connection; false if it must be kept instead.
    fn deliver(&mut self, conn: ConnId, envelope: &Arc<Envelope>) -> bool {
        // Fields borrowed one by one (no clone of the user or device per delivery).
        let Some(c) = self.conns.get(&conn) else {
            return false;
        };
        let Some(user) = &c.user else {
            return false;
        };
        let acks = c.options.receiver_acks;
        // A closed queue refuses the push below, so it is only looked at first (one more
        // lock of the receiver's queue) where something else would happen before the push:
        // a delivery chaos drops, a connection judged on its unacked messages.
        if (acks || self.chaos.drops_deliveries()) && c.queue.is_closed() {
            return false;
        }
        if self.chaos.drop_delivery() {
            self.stats.chaos_dropped_deliveries += 1;
            return true;
        }
        if acks && self.mail.unacked_len(user, &c.device) >= self.config.unacked_limit {
            tracing::info!(conn = %conn, peer = %c.peer, %user, "too many unacked messages: dropping the connection");
            self.drop_conn(conn, CloseReason::SlowConsumer);
            return false;
        }
        let due = self.chaos.due();
        match c.queue.push(Item::Deliver(envelope.clone()), due) {
            Ok(()) => {
                if acks {
                    self.mail.add_unacked(user, &c.device, envelope.clone());
                }
                self.stats.delivered += 1;
                true
            }
            Err(PushError::Full) => {
                tracing::info!(conn = %conn, peer = %c.peer, %user, "outbound queue full: dropping the slow connection");
                self.drop_conn(conn, CloseReason::SlowConsumer);
                false
            }
            Err(PushError::Closed) => false,
        }
    }

    /// Close a connection now and keep what it had not read; it is logged out once the
    /// current operation is done (see [`State::settle`]).
    fn drop_conn(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.queue.is_closed() {
            return;
        }
        if reason == CloseReason::SlowConsumer {
            self.stats.slow_consumers += 1;
        }
        let items = c.queue.close_and_drain(reason);
        self.keep_unread(conn, items);
        self.doomed.push(conn);
    }

    /// Deliveries taken back from a queue: kept for the device's next login. (For receivers
    /// that ack, they are already among the unacked.)
    fn keep_unread(&mut self, conn: ConnId, items: Vec<Item>) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let (Some(user), false) = (c.user.clone(), c.options.receiver_acks) else {
            return;
        };
        let device = c.device.clone();
        for item in items {
            if let Item::Deliver(envelope) = item {
                self.mail.store(&user, device.clone(), envelope);
                self.stats.stored += 1;
            }
        }
    }

    /// Close, keep what was unread, log out and forget the connection.
    fn close_conn(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        let items = c.queue.close_and_drain(reason);
        self.keep_unread(conn, items);
        self.unbind(conn);
        self.conns.remove(&conn);
    }

    /// Log out the connections dropped during the operation (which may drop more).
    fn settle(&mut self) {
        while let Some(conn) = self.doomed.pop() {
            self.unbind(conn);
            self.conns.remove(&conn);
        }
    }
}

/// Who a message goes to: one user (most sends: no vector of its own per message) or a
/// group's members.
enum Receivers {
    One(UserId),
    Many(Vec<UserId>),
}

impl Receivers {
    fn as_slice(&self) -> &[UserId] {
        match self {
            Receivers::One(user) => std::slice::from_ref(user),
            Receivers::Many(users) => users,
        }
    }
}
