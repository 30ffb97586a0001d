//! The engine end to end over an in-memory server (the real drivers are not merged yet):
//! injected drops and duplicates come out of the ledger exactly; reports render; the JSON
//! has exactly the keys the README documents; an unreachable target is exit code 3.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use imkit_loadgen::ledger::LedgerCounts;
use imkit_loadgen::run::{RunOptions, run_with};
use imkit_loadgen::transport::{Drivers, Session, Transport};
use imkit_loadgen::{Overrides, Scenario, error::exit, report};
use imkit_protocols::{
    Command, ConnectionState, Conversation, DriverConfig, Event, Message, MessageId, SessionId,
    UserId,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// A message on the wire: when it was sent, the receiving connection, the delivery.
type InFlight = (tokio::time::Instant, mpsc::UnboundedSender<Event>, Event);

/// A tiny in-memory IM server: direct and group messages, accepts, with injected faults.
#[derive(Default)]
struct Hub {
    users: Mutex<HashMap<String, mpsc::UnboundedSender<Event>>>,
    groups: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Two-party sessions from MATCH: id → the two users.
    sessions: Mutex<HashMap<u64, (String, String)>>,
    next_session: AtomicU64,
    /// MATCHes that opened a second session for a user already in one.
    crossed: AtomicU64,
    /// Direct and session messages go through this (a fixed network latency) when it is set.
    delay_line: Mutex<Option<mpsc::UnboundedSender<InFlight>>>,
    registered: AtomicU64,
    rng: Mutex<Option<SmallRng>>,
    drop_p: f64,
    dup_p: f64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
    /// Messages that reached the server for a receiver already gone.
    undeliverable: AtomicU64,
    next_id: AtomicU64,
}

impl Hub {
    /// Deliver with the injected faults (not on a group message's echo to its sender: that is
    /// not owed, so a fault on it would not be one the ledger should see).
    fn deliver(&self, to: &str, event: Event) {
        let echo = matches!(&event, Event::Delivered(m) if m.from.as_str() == to);
        let (drop, dup) = if echo {
            (false, false)
        } else {
            let mut rng = self.rng.lock().unwrap();
            let rng = rng.get_or_insert_with(|| SmallRng::seed_from_u64(5));
            (rng.random_bool(self.drop_p), rng.random_bool(self.dup_p))
        };
        if drop {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(tx) = self.users.lock().unwrap().get(to).cloned() else {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if dup {
            self.duplicated.fetch_add(1, Ordering::Relaxed);
            let _ = tx.send(event.clone());
        }
        let _ = tx.send(event);
    }
}

impl Hub {
    /// A control event (session signals): never subject to the injected faults.
    fn push(&self, to: &str, event: Event) {
        if let Some(tx) = self.users.lock().unwrap().get(to) {
            let _ = tx.send(event);
        }
    }

    /// The original chat's MATCH: any other online user, busy or not, so MATCHes cross and
    /// one user can hold several sessions.
    fn match_partner(&self, me: &str) {
        let mut online: Vec<String> = self.users.lock().unwrap().keys().cloned().collect();
        online.retain(|u| u != me);
        online.sort();
        if online.is_empty() {
            self.push(me, Event::NoPartner);
            return;
        }
        let at = {
            let mut rng = self.rng.lock().unwrap();
            let rng = rng.get_or_insert_with(|| SmallRng::seed_from_u64(5));
            rng.random_range(0..online.len())
        };
        let peer = online.swap_remove(at);
        let session = SessionId(self.next_session.fetch_add(1, Ordering::Relaxed));
        let mut sessions = self.sessions.lock().unwrap();
        if sessions
            .values()
            .any(|(a, b)| [a, b].iter().any(|u| *u == me || **u == peer))
        {
            self.crossed.fetch_add(1, Ordering::Relaxed);
        }
        sessions.insert(session.0, (me.to_owned(), peer.clone()));
        drop(sessions);
        let opened = Event::SessionOpened {
            session,
            peer: UserId::new(me),
            peer_name: None,
            by_peer: true,
        };
        self.push(&peer, opened);
        let matched = Event::Matched {
            session,
            peer: UserId::new(peer),
            peer_name: None,
        };
        self.push(me, matched);
    }

    /// Direct and session messages from now on reach their receiver `latency` after they were
    /// sent, in order, on the connection the receiver had then: what is still on the wire when
    /// that connection ends (a logout, a drop) is lost with it.
    fn add_latency(self: &Arc<Self>, latency: std::time::Duration) {
        let (tx, mut rx) = mpsc::unbounded_channel::<InFlight>();
        let hub = self.clone();
        tokio::spawn(async move {
            while let Some((sent, connection, event)) = rx.recv().await {
                tokio::time::sleep_until(sent + latency).await;
                if connection.send(event).is_err() {
                    hub.undeliverable.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        *self.delay_line.lock().unwrap() = Some(tx);
    }

    fn deliver_later(&self, to: String, event: Event) {
        let line = self.delay_line.lock().unwrap();
        let Some(line) = &*line else {
            return self.deliver(&to, event);
        };
        match self.users.lock().unwrap().get(&to) {
            Some(connection) => {
                let _ = line.send((tokio::time::Instant::now(), connection.clone(), event));
            }
            None => {
                self.undeliverable.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Who else is in `session`, if `me` is in it.
    fn other_in(&self, session: SessionId, me: &str) -> Option<String> {
        let sessions = self.sessions.lock().unwrap();
        let (a, b) = sessions.get(&session.0)?;
        match (a == me, b == me) {
            (true, _) => Some(b.clone()),
            (_, true) => Some(a.clone()),
            _ => None,
        }
    }

    /// A user left: every session it was in ends, and the partner is told.
    fn leave_sessions(&self, user: &str) {
        let mut ended = Vec::new();
        self.sessions.lock().unwrap().retain(|&id, (a, b)| {
            let other = if a == user {
                b
            } else if b == user {
                a
            } else {
                return true;
            };
            ended.push((SessionId(id), other.clone()));
            false
        });
        for (session, other) in ended {
            let left = Event::PartnerLeft {
                session,
                user: UserId::new(user),
            };
            self.push(&other, left);
        }
    }
}

#[derive(Clone)]
struct Loopback(Arc<Hub>);

struct LoopSession {
    hub: Arc<Hub>,
    user: String,
    tx: mpsc::UnboundedSender<Event>,
    rx: mpsc::UnboundedReceiver<Event>,
}

impl Transport for Loopback {
    type Session = LoopSession;
    async fn connect(&self, config: DriverConfig) -> imkit_protocols::Result<LoopSession> {
        let (tx, rx) = mpsc::unbounded_channel();
        let user = match config.credentials.user.clone() {
            Some(user) => {
                let _ = tx.send(Event::LoggedIn {
                    user: user.clone(),
                    token: None,
                });
                user.0
            }
            None => {
                let user = format!("r{}", self.0.registered.fetch_add(1, Ordering::Relaxed));
                let _ = tx.send(Event::Registered {
                    user: UserId::new(user.clone()),
                    nick: user.clone(),
                    token: None,
                });
                user
            }
        };
        let _ = tx.send(Event::Connection(ConnectionState::Online {
            reconnect: false,
        }));
        self.0
            .users
            .lock()
            .unwrap()
            .insert(user.clone(), tx.clone());
        Ok(LoopSession {
            hub: self.0.clone(),
            user,
            tx,
            rx,
        })
    }
}

impl Session for LoopSession {
    async fn send(&mut self, command: Command) -> imkit_protocols::Result<()> {
        let hub = &self.hub;
        match command {
            Command::Send {
                to,
                client_ref,
                content,
            } => {
                let id = MessageId::Seq(hub.next_id.fetch_add(1, Ordering::Relaxed));
                let _ = self.tx.send(Event::Accepted {
                    client_ref: Some(client_ref),
                    id: Some(id.clone()),
                });
                let from = UserId::new(self.user.clone());
                match to {
                    Conversation::User(u) => {
                        let m = Message {
                            conversation: Conversation::User(from.clone()),
                            from,
                            id: Some(id),
                            content,
                        };
                        hub.deliver_later(u.0, Event::Delivered(m));
                    }
                    Conversation::Group(g) => {
                        let members = hub
                            .groups
                            .lock()
                            .unwrap()
                            .get(g.as_str())
                            .cloned()
                            .unwrap_or_default();
                        for m in members {
                            let msg = Message {
                                conversation: Conversation::Group(g.clone()),
                                from: from.clone(),
                                id: Some(id.clone()),
                                content: content.clone(),
                            };
                            hub.deliver(&m, Event::Delivered(msg));
                        }
                    }
                    Conversation::Session(session) => {
                        if let Some(other) = hub.other_in(session, &self.user) {
                            let m = Message {
                                conversation: Conversation::Session(session),
                                from,
                                id: Some(id),
                                content,
                            };
                            hub.deliver_later(other, Event::Delivered(m));
                        }
                    }
                }
            }
            Command::Match => hub.match_partner(&self.user),
            Command::CreateGroup { group } | Command::JoinGroup { group } => {
                hub.groups
                    .lock()
                    .unwrap()
                    .entry(group.0.clone())
                    .or_default()
                    .insert(self.user.clone());
                let _ = self.tx.send(Event::GroupJoined {
                    group,
                    server: None,
                });
            }
            _ => {}
        }
        Ok(())
    }
    async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
    async fn close(self) {
        self.hub.users.lock().unwrap().remove(&self.user);
        self.hub.leave_sessions(&self.user);
        for members in self.hub.groups.lock().unwrap().values_mut() {
            members.remove(&self.user);
        }
    }
}

const PAIRS: &str = r#"
name = "loopback"
[target]
dialect = "fishchat"
credentials = "generate"
[load]
model = "closed"
users = 40
ramp_up = "200ms"
message_rate = { per_user = "100/s" }
[ledger]
loss_timeout = "2s"
drain = "3s"
[[behaviour]]
name = "pairs"
weight = 3
steps = ["login", "pair", "ack", { send = { count = 50, size = 48 } }, "logout"]
[[behaviour]]
name = "room"
weight = 1
steps = ["login", { join = { size = 5 } }, { send = { count = 20 } }, "logout"]
[thresholds]
"lost" = "== 0"
"deliver.p99" = "< 10s"
"misdelivered" = "== 0"
"#;

async fn run(text: &str, hub: Arc<Hub>) -> imkit_loadgen::Result<imkit_loadgen::run::Outcome> {
    let scenario = Arc::new(Scenario::parse("loopback.toml", text, &Overrides::default()).unwrap());
    let (tx, _rx) = watch::channel(Default::default());
    let options = RunOptions {
        shard: None,
        hdr_log: true,
        ..RunOptions::default()
    };
    tokio::time::timeout(
        std::time::Duration::from_secs(60),
        run_with(
            scenario,
            Loopback(hub),
            "127.0.0.1:0".into(),
            false,
            options,
            tx,
            CancellationToken::new(),
        ),
    )
    .await
    .expect("the run ends")
}

/// Every owed delivery came, once, to its recipient, and every arrival could be judged.
fn assert_exact(l: &LedgerCounts) {
    assert_eq!(
        (
            l.delivered,
            l.lost,
            l.duplicated,
            l.misdelivered,
            l.unjudged
        ),
        (l.expected, 0, 0, 0, 0),
        "{l:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_run_delivers_everything_and_passes() {
    let hub = Arc::new(Hub::default());
    let outcome = run(PAIRS, hub).await.unwrap();
    let r = &outcome.report;
    let l = &r.ledger;
    // 40 users: the smooth round robin deals pair, pair, pair, room(5) …: 24 pair users and 16 room users
    // (the last group cut to fit) — every sent message owed to each present recipient.
    assert!(l.sent > 0);
    assert_eq!(l.accepted, l.sent, "{l:?}");
    assert_exact(l);
    assert_eq!(r.steps["deliver"].count, l.delivered);
    assert!(r.steps["ack"].count > 0);
    assert!(r.passed, "{:?}", r.thresholds);
    assert_eq!(r.thresholds.len(), 3);
    assert!(
        outcome
            .hdr_log
            .as_ref()
            .is_some_and(|log| String::from_utf8_lossy(log).contains("Tag=deliver"))
    );
    // Reports render the same facts.
    let text = report::summary::render(r);
    assert!(
        text.contains(&format!("delivered {}", l.delivered)) && text.contains("PASSED"),
        "{text}"
    );
    let junit = report::junit::render(r);
    assert_eq!(junit.matches("<testcase").count(), 3);
    assert!(!junit.contains("<failure"));
    let html = report::html::render(r);
    assert!(
        html.contains("<svg")
            && html.matches("<polyline").count() >= 4
            && !html.contains("<script")
    );
}

/// The original chat server's MATCH picks any online user, busy or not: MATCHes cross and
/// users hold several sessions. Partners in a session we do not talk in still send to us, so
/// we linger for them too (their messages come 250 ms apart, more than the quiet spell that
/// ends a linger, and take 40 ms on the way); a partner leaving one session does not end the
/// one we talk in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_matches_keep_the_ledger_exact() {
    const MATCHES: &str = r#"
name = "crossing"
[target]
dialect = "chat-json"
[load]
model = "closed"
users = 30
ramp_up = "1s"
message_rate = { per_user = "4/s" }
[ledger]
loss_timeout = "2s"
drain = "2s"
[[behaviour]]
name = "pairs"
weight = 1
steps = ["register", "match", { send = { count = 10, size = 48 } }, "logout"]
"#;
    let hub = Arc::new(Hub::default());
    hub.add_latency(std::time::Duration::from_millis(40));
    let outcome = run(MATCHES, hub.clone()).await.unwrap();
    let l = &outcome.report.ledger;
    // Some user was picked while talking in another session: the case under test happened.
    let crossed = hub.crossed.load(Ordering::Relaxed);
    assert!(crossed > 0, "no MATCH crossed another");
    assert_eq!(l.sent, 30 * 10, "{l:?}");
    assert_eq!(l.accepted, l.sent, "{l:?}");
    assert_eq!(l.expected, l.sent, "{l:?}");
    assert_exact(l);
    assert!(
        outcome.report.errors.total == 0,
        "{:?}",
        outcome.report.errors
    );
}

/// Partners that send far longer than a user lingers after its own last message: once the
/// linger is over, nothing sent to the leaving user is owed (what still reaches it counts as
/// owed on arrival), and what was sent before that is waited for. Messages take 50 ms and
/// long talkers send one every 50 ms for 8 s, so some are on their way when a user goes:
/// they must not count as lost. The loss timeout is 2 s: with 1 s, a host that stalled for
/// a second made 82 deliveries late (CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_that_outlast_a_linger_are_not_owed_what_reaches_it_too_late() {
    const OUTLAST: &str = r#"
name = "outlast"
[target]
dialect = "chat-json"
[load]
model = "closed"
users = 20
ramp_up = "200ms"
message_rate = { per_user = "10/s" }
[ledger]
loss_timeout = "2s"
drain = "2s"
[[behaviour]]
name = "brief"
weight = 1
steps = ["register", "match", { send = { count = 2, size = 48 } }, "logout"]
[[behaviour]]
name = "long"
weight = 1
steps = ["register", "match", { send = { count = 160, size = 48, rate = "20/s" } }, "logout"]
"#;
    let hub = Arc::new(Hub::default());
    hub.add_latency(std::time::Duration::from_millis(50));
    let outcome = run(OUTLAST, hub.clone()).await.unwrap();
    let l = &outcome.report.ledger;
    let undeliverable = hub.undeliverable.load(Ordering::Relaxed);
    assert!(undeliverable > 0, "no message outlived its receiver");
    assert_eq!(l.sent, 10 * 2 + 10 * 160, "{l:?}");
    assert!(l.expected <= l.sent, "{l:?}");
    assert_exact(l);
}

/// A reconnect drops the connection, and with it whatever the user had not read: it goes
/// away (on simple-im nothing sent to it is owed then) and lets in what is on its way first.
/// This server keeps nothing for a user between connections, and messages take 50 ms; think
/// times keep partners from reconnecting in step. The loss timeout is 2 s: with 1 s, a
/// 1.5 s stop of the process (a stalled host) made about 100 deliveries late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconnect_lets_in_what_is_on_its_way_before_it_drops() {
    const STORM: &str = r#"
name = "storm"
[target]
dialect = "simple-im"
credentials = "generate"
[load]
model = "closed"
users = 20
ramp_up = "200ms"
message_rate = { per_user = "20/s" }
[ledger]
loss_timeout = "2s"
drain = "2s"
[[behaviour]]
name = "storm"
weight = 1
steps = ["login", "pair", { repeat = { times = 4, steps = [
    { think = { mean = "150ms", dist = "uniform" } }, { send = { count = 10 } }, "reconnect",
] } }, "logout"]
"#;
    let hub = Arc::new(Hub::default());
    hub.add_latency(std::time::Duration::from_millis(50));
    let outcome = run(STORM, hub.clone()).await.unwrap();
    let r = &outcome.report;
    let l = &r.ledger;
    assert_eq!(l.sent, 20 * 4 * 10, "{l:?}");
    assert_eq!(r.steps["reconnect"].count, 20 * 4, "{:?}", r.errors);
    assert_exact(l);
    assert!(l.expected > l.sent / 2, "{l:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_drops_and_duplicates_are_counted_exactly() {
    let hub = Arc::new(Hub {
        drop_p: 0.01,
        dup_p: 0.01,
        ..Default::default()
    });
    let outcome = run(PAIRS, hub.clone()).await.unwrap();
    let l = &outcome.report.ledger;
    let dropped = hub.dropped.load(Ordering::Relaxed);
    let duplicated = hub.duplicated.load(Ordering::Relaxed);
    assert!(
        dropped > 0 && duplicated > 0,
        "the faults happened: {dropped} {duplicated}"
    );
    assert_eq!(l.lost, dropped, "{l:?}");
    assert_eq!(l.duplicated, duplicated, "{l:?}");
    assert_eq!(l.delivered + dropped, l.expected);
    // And so the threshold fails: exit code 1.
    assert!(!outcome.report.passed);
    let lost = outcome
        .report
        .thresholds
        .iter()
        .find(|v| v.metric == "lost")
        .unwrap();
    assert_eq!(lost.actual, Some(dropped as f64));
}

#[tokio::test]
async fn shards_merge_into_the_whole() {
    let hub = Arc::new(Hub::default());
    let scenario = Arc::new(Scenario::parse("l.toml", PAIRS, &Overrides::default()).unwrap());
    let mut reports = Vec::new();
    for index in 0..2 {
        let (tx, _rx) = watch::channel(Default::default());
        let shard = Some(imkit_loadgen::shard::Shard { index, count: 2 });
        let o = run_with(
            scenario.clone(),
            Loopback(hub.clone()),
            "127.0.0.1:0".into(),
            false,
            RunOptions {
                shard,
                hdr_log: false,
                ..RunOptions::default()
            },
            tx,
            CancellationToken::new(),
        )
        .await
        .unwrap();
        reports.push(o.report);
    }
    let merged = report::merge(&reports).unwrap();
    assert_eq!(
        merged.ledger.sent,
        reports[0].ledger.sent + reports[1].ledger.sent
    );
    assert_eq!(merged.users.started, 40);
    assert_eq!(
        merged.steps["deliver"].count,
        reports
            .iter()
            .map(|r| r.steps["deliver"].count)
            .sum::<u64>()
    );
    assert!(merged.passed);
    assert_eq!(merged.thresholds.len(), 3);
}

#[tokio::test]
async fn an_unreachable_target_is_exit_code_3() {
    let text = PAIRS.replace("users = 40", "users = 4");
    let scenario = Arc::new(Scenario::parse("l.toml", &text, &Overrides::default()).unwrap());
    let (tx, _rx) = watch::channel(Default::default());
    // Port 1 on loopback: nothing listens (and until the drivers land, they refuse anyway).
    let e = run_with(
        scenario,
        Drivers,
        "127.0.0.1:1".into(),
        false,
        RunOptions::default(),
        tx,
        CancellationToken::new(),
    )
    .await
    .err()
    .expect("unreachable");
    assert_eq!(e.exit_code(), exit::RUN_FAILED);
    assert!(e.to_string().contains("unreachable"), "{e}");
}

/// Key paths of a JSON value: objects by key, `steps.*` for step names, arrays as `[]`.
fn paths(v: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                let k = if prefix == "steps" || prefix == "errors.by_kind" {
                    "*"
                } else {
                    k.as_str()
                };
                let p = if prefix.is_empty() {
                    k.to_owned()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                paths(v, &p, out);
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_has_exactly_the_documented_keys_and_reads_back() {
    let hub = Arc::new(Hub {
        drop_p: 0.01,
        ..Default::default()
    });
    let outcome = run(PAIRS, hub).await.unwrap();
    let dir = std::env::temp_dir().join(format!("loadgen-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("r.json");
    report::json::write(&outcome.report, &file).unwrap();
    // Strict: the typed reader refuses unknown keys; it gives back the same report.
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        serde_json::to_value(report::json::read(&file).unwrap()).unwrap(),
        value
    );
    let mut found = BTreeSet::new();
    paths(&value, "", &mut found);
    if value["errors"]["by_kind"]
        .as_object()
        .is_some_and(|m| m.is_empty())
    {
        found.insert("errors.by_kind.*".to_owned()); // present whenever there is an error
    }
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme
        .split("<!-- json-keys -->")
        .nth(1)
        .expect("README has the JSON key list");
    let documented: BTreeSet<String> = section
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("- `")?
                .split('`')
                .next()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        found, documented,
        "JSON keys vs README (left: written, right: documented)"
    );
    for key in [
        "passed",
        "thresholds",
        "steps.*.p999_us",
        "ledger.misdelivered",
        "timeline",
    ] {
        assert!(found.contains(key), "{key}");
    }
    let _ = std::fs::remove_dir_all(dir);
}
