//! The scenario file: what to load, how hard, with which user behaviours, judged by which
//! thresholds. Parsed strictly (unknown keys are errors); every mistake names file, line, key
//! and what is allowed, and a step the dialect cannot do names the dialect.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use imkit_protocols::{Capabilities, Command, Conversation, Dialect, GroupId, MessageId, UserId};
use imkit_server_mock::ChaosConfig;
use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use toml::Spanned;

use crate::error::{Error, ScenarioError};
use crate::thresholds::Threshold;
use crate::units::{Dur, Rate, parse_rate};

/// A validated scenario, ready to run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file it came from (for messages).
    pub file: String,
    pub name: String,
    pub description: String,
    /// Seeds every random choice (think times, Poisson arrivals), so runs repeat.
    pub seed: u64,
    pub target: Target,
    pub load: Load,
    pub ledger: LedgerConfig,
    pub behaviours: Vec<Behaviour>,
    pub thresholds: Vec<Threshold>,
}

#[derive(Debug, Clone)]
pub struct Target {
    pub dialect: Dialect,
    /// `None`: start an embedded server-mock.
    pub address: Option<String>,
    pub credentials: CredentialSource,
    /// Generated users are numbered from here (dialects with integer ids need numbers).
    pub user_id_base: u64,
    /// The password of generated users; `{id}` is replaced by the user id.
    pub password: String,
    pub connect_timeout: Duration,
    pub reply_timeout: Duration,
    /// Spread client connections over 127.0.0.1 ..= 127.0.0.N (loopback targets only), so
    /// 10,000 users do not exhaust one source address's ports.
    pub source_addresses: u8,
    /// chat-json: speak v2.
    pub chat_v2: bool,
    /// Faults the embedded server-mock injects (server-mock's `--chaos`); off by default.
    pub chaos: ChaosConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialSource {
    /// Create each account on the fly (`register`).
    Register,
    /// Log in as generated users `user_id_base + index`.
    Generate,
    /// Log in as the users of a file: one `user[,password[,device]]` per line.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct Load {
    pub model: LoadModel,
    /// Messages per second for each user, for send steps that set no rate of their own.
    pub per_user_rate: Option<Rate>,
    /// A `--rate` override: applies to every send step.
    pub forced_rate: Option<Rate>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum LoadModel {
    /// A fixed population: stages ramp the number of users online (k6 / Gatling closed model).
    Closed {
        stages: Vec<Stage>,
        /// Whether the last stage ends the run (else the run ends when every user is done).
        timed: bool,
    },
    /// Users arrive at a rate regardless of how the server copes (no coordinated omission).
    Open {
        arrival_rate: Rate,
        arrivals: Arrivals,
        duration: Duration,
        max_users: u32,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Users online at the end of the stage.
    pub to: u32,
    pub over: Dur,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly spaced.
    Constant,
    /// Exponential gaps with the given mean (independent arrivals).
    Poisson,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerConfig {
    /// A message not delivered this long after its intended send time is lost.
    pub loss_timeout: Duration,
    /// After the load ends, how long users keep receiving before logging out.
    pub drain: Duration,
}

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Step>,
    /// How its users talk (decides how users are grouped).
    pub talk: Talk,
}

/// The conversation a behaviour's users hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Talk {
    /// No conversation (connect, idle, logout only).
    Alone,
    /// A random partner from the server (`match`).
    Matched,
    /// The neighbour user (`pair`): users 2k and 2k+1 talk.
    Pair,
    /// Groups of `size` consecutive users (`join`).
    Group { size: u32 },
}

impl Behaviour {
    /// Users per unit of this behaviour: units are never split across shards.
    pub fn unit_size(&self) -> u32 {
        match self.talk {
            Talk::Pair => 2,
            Talk::Group { size } => size,
            Talk::Alone | Talk::Matched => 1,
        }
    }
}

/// One step of a behaviour. In TOML a bare string (`"login"`) or a one-key table
/// (`{ send = { count = 10 } }`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Dial (with the dialect's lookup hop) and log in with the target's credentials.
    Connect,
    /// `connect`, insisting on a login.
    Login,
    /// `connect`, insisting on registering a new account.
    Register,
    /// Ask the server for a random partner.
    Match,
    /// Talk to the neighbour user (opening a session where the dialect needs one).
    Pair,
    /// Join (the first member creates) a group of consecutive users.
    Join(JoinStep),
    Send(SendStep),
    /// Wait (receiving meanwhile) for a delay drawn from a distribution.
    Think(Delay),
    /// Receive only, for a fixed time.
    Idle(Dur),
    /// From now on, acknowledge every delivery.
    Ack,
    /// Send one read receipt for everything received so far.
    Read,
    /// From now on, send a read receipt after every delivery.
    AutoRead,
    /// Drop the connection and come back as the same user.
    Reconnect,
    Logout,
    /// Steps done again, bounded by a count and/or a time.
    Repeat(RepeatStep),
}

impl Step {
    pub fn name(&self) -> &'static str {
        match self {
            Step::Connect => "connect",
            Step::Login => "login",
            Step::Register => "register",
            Step::Match => "match",
            Step::Pair => "pair",
            Step::Join(_) => "join",
            Step::Send(_) => "send",
            Step::Think(_) => "think",
            Step::Idle(_) => "idle",
            Step::Ack => "ack",
            Step::Read => "read",
            Step::AutoRead => "auto_read",
            Step::Reconnect => "reconnect",
            Step::Logout => "logout",
            Step::Repeat(_) => "repeat",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinStep {
    /// Members per group (consecutive users).
    pub size: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SendStep {
    /// How many messages (at most).
    pub count: Option<u64>,
    /// For how long (at most).
    #[serde(rename = "for")]
    pub for_time: Option<Dur>,
    /// Gap between intended send times (a duration, or `{ mean, dist }`).
    pub every: Option<Delay>,
    /// Or a rate: `every = 1/rate`.
    pub rate: Option<Rate>,
    /// Content bytes, marker included (the marker is about 30 bytes).
    pub size: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepeatStep {
    pub times: Option<u64>,
    #[serde(rename = "for")]
    pub for_time: Option<Dur>,
    pub steps: Vec<Spanned<Step>>,
}

/// A delay: `"1s"` (constant) or `{ mean = "1s", dist = "exponential" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delay {
    pub mean: Duration,
    pub dist: Distribution,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    Constant,
    /// Memoryless gaps (a Poisson process of sends).
    Exponential,
    /// Uniform in [0, 2 × mean].
    Uniform,
}

impl<'de> Deserialize<'de> for Delay {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Table {
            mean: Dur,
            #[serde(default = "constant")]
            dist: Distribution,
        }
        fn constant() -> Distribution {
            Distribution::Constant
        }
        struct DelayVisitor;
        impl<'de> Visitor<'de> for DelayVisitor {
            type Value = Delay;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration (\"1s\") or { mean = \"1s\", dist = \"constant\" | \"exponential\" | \"uniform\" }",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Delay, E> {
                let mean = crate::units::parse_duration(v).map_err(E::custom)?;
                Ok(Delay {
                    mean,
                    dist: Distribution::Constant,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Delay, A::Error> {
                let t = Table::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Delay {
                    mean: t.mean.0,
                    dist: t.dist,
                })
            }
        }
        deserializer.deserialize_any(DelayVisitor)
    }
}

// ---- the file as written ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    name: String,
    #[serde(default)]
    description: String,
    seed: Option<u64>,
    #[serde(default)]
    target: TargetFile,
    load: Spanned<LoadFile>,
    #[serde(default)]
    ledger: LedgerFile,
    #[serde(rename = "behaviour")]
    behaviours: Spanned<Vec<BehaviourFile>>,
    #[serde(default)]
    thresholds: ThresholdsFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    dialect: Option<Spanned<String>>,
    address: Option<String>,
    credentials: Option<Spanned<CredentialSource>>,
    user_id_base: Option<u64>,
    password: Option<String>,
    connect_timeout: Option<Dur>,
    reply_timeout: Option<Dur>,
    source_addresses: Option<u8>,
    chat_v2: Option<bool>,
    chaos: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoadFile {
    model: Spanned<ModelName>,
    users: Option<Spanned<u32>>,
    ramp_up: Option<Dur>,
    hold: Option<Dur>,
    stages: Option<Spanned<Vec<Stage>>>,
    arrival_rate: Option<Spanned<Rate>>,
    arrivals: Option<Arrivals>,
    duration: Option<Spanned<Dur>>,
    max_users: Option<Spanned<u32>>,
    message_rate: Option<Spanned<MessageRateFile>>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum ModelName {
    Closed,
    Open,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageRateFile {
    per_user: Option<Rate>,
    total: Option<Rate>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LedgerFile {
    loss_timeout: Option<Dur>,
    drain: Option<Dur>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BehaviourFile {
    name: String,
    #[serde(default = "one")]
    weight: Spanned<u32>,
    steps: Spanned<Vec<Spanned<Step>>>,
}

fn one() -> Spanned<u32> {
    Spanned::new(0..0, 1)
}

/// Thresholds in file order, with the place of each key and value.
#[derive(Default)]
struct ThresholdsFile(Vec<(Spanned<String>, Spanned<String>)>);

impl<'de> Deserialize<'de> for ThresholdsFile {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThresholdsFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of \"metric\" = \"condition\"")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThresholdsFile, A::Error> {
                let mut all = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    all.push(entry);
                }
                Ok(ThresholdsFile(all))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Command-line overrides, applied before validation.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub target: Option<String>,
    pub dialect: Option<Dialect>,
    pub users: Option<u32>,
    pub duration: Option<Duration>,
    /// Message rate per user (`2/s`) or in total (`total:20000/s`).
    pub rate: Option<String>,
    /// Faults for the embedded server-mock (`--chaos drop-delivery=1%`).
    pub chaos: Option<ChaosConfig>,
}

/// Content bytes of a message when `size` is not given.
pub const DEFAULT_SIZE: usize = 64;
/// The largest `size`: below every dialect's frame limit.
pub const MAX_SIZE: usize = 32 * 1024;

impl Scenario {
    /// Read and validate a scenario file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, Error> {
        let source = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut scenario = Scenario::parse(&path.display().to_string(), &source, overrides)?;
        // A users file is relative to the scenario.
        if let CredentialSource::File(file) = &mut scenario.target.credentials
            && file.is_relative()
            && let Some(dir) = path.parent()
        {
            *file = dir.join(&*file);
        }
        Ok(scenario)
    }

    /// Parse and validate scenario text; `file` names it in errors.
    pub fn parse(
        file: &str,
        source: &str,
        overrides: &Overrides,
    ) -> Result<Scenario, ScenarioError> {
        let raw: ScenarioFile = toml::from_str(source).map_err(|e| {
            let offset = e.span().map(|s| s.start);
            let key = offset.and_then(|o| key_at(source, o));
            ScenarioError::at(file, source, offset, key, e.message().trim().to_owned())
        })?;
        Resolver { file, source }.resolve(raw, overrides)
    }

    /// The longest the load phase can last, when it is bounded by time.
    pub fn load_duration(&self) -> Option<Duration> {
        match &self.load.model {
            LoadModel::Closed { stages, timed } => {
                timed.then(|| stages.iter().map(|s| s.over.0).sum())
            }
            LoadModel::Open { duration, .. } => Some(*duration),
        }
    }

    /// Users the scenario simulates in all (closed: the peak; open: the most at once).
    pub fn peak_users(&self) -> u32 {
        match &self.load.model {
            LoadModel::Closed { stages, .. } => stages.iter().map(|s| s.to).max().unwrap_or(0),
            LoadModel::Open { max_users, .. } => *max_users,
        }
    }
}

struct Resolver<'a> {
    file: &'a str,
    source: &'a str,
}

impl Resolver<'_> {
    fn error(
        &self,
        span: std::ops::Range<usize>,
        key: impl Into<String>,
        message: impl Into<String>,
    ) -> ScenarioError {
        let offset = (span != (0..0)).then_some(span.start);
        ScenarioError::at(self.file, self.source, offset, Some(key.into()), message)
    }

    fn resolve(&self, raw: ScenarioFile, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
        let target = self.target(raw.target, overrides)?;
        let load = self.load(raw.load, overrides)?;
        let loss_timeout = raw
            .ledger
            .loss_timeout
            .map_or(Duration::from_secs(5), |d| d.0);
        let ledger = LedgerConfig {
            loss_timeout,
            drain: raw.ledger.drain.map_or(loss_timeout, |d| d.0),
        };
        let behaviours = self.behaviours(raw.behaviours, &target, &load)?;
        let mut thresholds = Vec::new();
        for (key, condition) in raw.thresholds.0 {
            let t = Threshold::parse(key.get_ref(), condition.get_ref()).map_err(|message| {
                let span = if message.starts_with("unknown metric") {
                    key.span()
                } else {
                    condition.span()
                };
                self.error(span, format!("thresholds.\"{}\"", key.get_ref()), message)
            })?;
            thresholds.push(t);
        }
        let seed = raw.seed.unwrap_or_else(|| {
            raw.name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        });
        Ok(Scenario {
            file: self.file.to_owned(),
            name: raw.name,
            description: raw.description,
            seed,
            target,
            load,
            ledger,
            behaviours,
            thresholds,
        })
    }

    fn target(&self, raw: TargetFile, overrides: &Overrides) -> Result<Target, ScenarioError> {
        let dialect =
            match (&overrides.dialect, &raw.dialect) {
                (Some(d), _) => *d,
                (None, Some(name)) => name.get_ref().parse().map_err(
                    |e: imkit_protocols::dialect::UnknownDialect| {
                        self.error(name.span(), "target.dialect", e.to_string())
                    },
                )?,
                (None, None) => Dialect::ChatJson,
            };
        let caps = dialect.capabilities();
        let credentials = match &raw.credentials {
            Some(c) => c.get_ref().clone(),
            None if caps.register && !caps.login => CredentialSource::Register,
            None => CredentialSource::Generate,
        };
        let allowed = match &credentials {
            CredentialSource::Register => caps.register,
            _ => caps.login,
        };
        if !allowed {
            let (span, what) = match &raw.credentials {
                Some(c) => (c.span(), c.get_ref().clone()),
                None => (0..0, credentials.clone()),
            };
            let hint = if caps.register {
                "use credentials = \"register\""
            } else {
                "use credentials = \"generate\" or { file = \"users.txt\" }"
            };
            let can = if what == CredentialSource::Register {
                "register an account"
            } else {
                "log in as an existing user"
            };
            return Err(self.error(
                span,
                "target.credentials",
                format!("the {dialect} dialect cannot {can}; {hint}"),
            ));
        }
        let address = overrides.target.clone().or(raw.address);
        let chaos = match (&overrides.chaos, &raw.chaos) {
            (Some(chaos), _) => chaos.clone(),
            (None, Some(text)) => text
                .get_ref()
                .parse()
                .map_err(|e: String| self.error(text.span(), "target.chaos", e))?,
            (None, None) => ChaosConfig::default(),
        };
        if !chaos.is_off() && address.is_some() {
            let span = raw.chaos.as_ref().map_or(0..0, |c| c.span());
            return Err(self.error(
                span,
                "target.chaos",
                "chaos is injected by the embedded server-mock: leave the address (and --target) \
                 out, or run `server-mock --chaos ...` yourself",
            ));
        }
        Ok(Target {
            dialect,
            address,
            chaos,
            credentials,
            user_id_base: raw.user_id_base.unwrap_or(1_000_000),
            password: raw.password.unwrap_or_else(|| "secret-{id}".into()),
            connect_timeout: raw.connect_timeout.map_or(Duration::from_secs(5), |d| d.0),
            reply_timeout: raw.reply_timeout.map_or(Duration::from_secs(10), |d| d.0),
            source_addresses: raw.source_addresses.unwrap_or(16).max(1),
            chat_v2: raw.chat_v2.unwrap_or(false),
        })
    }

    fn load(&self, raw: Spanned<LoadFile>, overrides: &Overrides) -> Result<Load, ScenarioError> {
        let span = raw.span();
        let raw = raw.into_inner();
        let model_name = *raw.model.get_ref();
        let misplaced = |present: bool, key: &str, model: &str, instead: &str| {
            if present {
                Err(self.error(span.clone(), format!("load.{key}"), {
                    let (model, hint) = model.split_once(' ').unwrap_or((model, ""));
                    let hint = if hint.is_empty() {
                        String::new()
                    } else {
                        format!(" {hint}")
                    };
                    format!("`{key}` is not for the {model} model{hint}; it takes {instead}")
                }))
            } else {
                Ok(())
            }
        };
        let model = match model_name {
            ModelName::Closed => {
                let closed_keys = "users, ramp_up, hold or stages, message_rate";
                misplaced(
                    raw.arrival_rate.is_some(),
                    "arrival_rate",
                    "closed",
                    closed_keys,
                )?;
                misplaced(raw.arrivals.is_some(), "arrivals", "closed", closed_keys)?;
                misplaced(raw.max_users.is_some(), "max_users", "closed", closed_keys)?;
                misplaced(
                    raw.duration.is_some(),
                    "duration",
                    "closed (use `hold`)",
                    closed_keys,
                )?;
                let mut stages = match (&raw.stages, &raw.users) {
                    (Some(stages), None) => {
                        if raw.ramp_up.is_some() || raw.hold.is_some() {
                            return Err(self.error(stages.span(), "load.stages", "write either `stages` or `users` with `ramp_up` and `hold`, not both"));
                        }
                        if stages.get_ref().is_empty() {
                            return Err(self.error(
                                stages.span(),
                                "load.stages",
                                "at least one stage: { to = USERS, over = \"30s\" }",
                            ));
                        }
                        stages.get_ref().clone()
                    }
                    (None, Some(users)) => {
                        let users = *users.get_ref();
                        let mut stages = vec![Stage {
                            to: users,
                            over: raw.ramp_up.unwrap_or(Dur(Duration::ZERO)),
                        }];
                        if let Some(hold) = raw.hold {
                            stages.push(Stage {
                                to: users,
                                over: hold,
                            });
                        }
                        stages
                    }
                    (Some(s), Some(_)) => {
                        return Err(self.error(
                            s.span(),
                            "load.stages",
                            "write either `stages` or `users` with `ramp_up` and `hold`, not both",
                        ));
                    }
                    (None, None) => return Err(self.error(
                        span.clone(),
                        "load.users",
                        "the closed model needs `users` (with `ramp_up` and `hold`) or `stages`",
                    )),
                };
                let mut timed = raw.stages.is_some() || raw.hold.is_some();
                if let Some(users) = overrides.users {
                    let peak = stages.iter().map(|s| s.to).max().unwrap_or(1).max(1);
                    for s in &mut stages {
                        s.to =
                            ((u64::from(s.to) * u64::from(users)).div_ceil(u64::from(peak))) as u32;
                    }
                }
                if let Some(duration) = overrides.duration {
                    // The hold: the last stage keeps its users for the new duration.
                    let last = stages.last().map_or(0, |s| s.to);
                    if timed
                        && stages.len() > 1
                        && stages[stages.len() - 1].to == stages[stages.len() - 2].to
                    {
                        stages.last_mut().expect("len > 1").over = Dur(duration);
                    } else {
                        stages.push(Stage {
                            to: last,
                            over: Dur(duration),
                        });
                    }
                    timed = true;
                }
                if stages.iter().all(|s| s.to == 0) {
                    return Err(self.error(
                        span.clone(),
                        "load.users",
                        "the closed model needs at least 1 user",
                    ));
                }
                LoadModel::Closed { stages, timed }
            }
            ModelName::Open => {
                let open_keys = "arrival_rate, arrivals, duration, max_users, message_rate";
                misplaced(
                    raw.users.is_some(),
                    "users",
                    "open (use `max_users`)",
                    open_keys,
                )?;
                misplaced(raw.ramp_up.is_some(), "ramp_up", "open", open_keys)?;
                misplaced(
                    raw.hold.is_some(),
                    "hold",
                    "open (use `duration`)",
                    open_keys,
                )?;
                misplaced(raw.stages.is_some(), "stages", "open", open_keys)?;
                let arrival_rate =
                    raw.arrival_rate
                        .as_ref()
                        .map(|r| *r.get_ref())
                        .ok_or_else(|| {
                            self.error(
                                span.clone(),
                                "load.arrival_rate",
                                "the open model needs `arrival_rate`, e.g. \"50/s\"",
                            )
                        })?;
                let duration = overrides
                    .duration
                    .or(raw.duration.as_ref().map(|d| d.get_ref().0))
                    .ok_or_else(|| {
                        self.error(
                            span.clone(),
                            "load.duration",
                            "the open model needs `duration`, e.g. \"1m\"",
                        )
                    })?;
                let max_users = overrides
                    .users
                    .or(raw.max_users.as_ref().map(|m| *m.get_ref()))
                    .unwrap_or(10_000);
                LoadModel::Open {
                    arrival_rate,
                    arrivals: raw.arrivals.unwrap_or(Arrivals::Poisson),
                    duration,
                    max_users,
                }
            }
        };
        let users = match &model {
            LoadModel::Closed { stages, .. } => stages.iter().map(|s| s.to).max().unwrap_or(1),
            LoadModel::Open { max_users, .. } => *max_users,
        }
        .max(1);
        let per_user_rate =
            match &raw.message_rate {
                None => None,
                Some(rate) => match (rate.get_ref().per_user, rate.get_ref().total) {
                    (Some(r), None) => Some(r),
                    (None, Some(total)) => Some(Rate(total.0 / f64::from(users))),
                    _ => return Err(self.error(
                        rate.span(),
                        "load.message_rate",
                        "give exactly one of `per_user` or `total`, e.g. { per_user = \"1/s\" }",
                    )),
                },
            };
        let forced_rate = match &overrides.rate {
            None => None,
            Some(text) => Some(match text.strip_prefix("total:") {
                Some(total) => Rate(
                    parse_rate(total)
                        .map_err(|e| self.error(0..0, "--rate", e))?
                        .0
                        / f64::from(users),
                ),
                None => parse_rate(text.strip_prefix("per-user:").unwrap_or(text))
                    .map_err(|e| self.error(0..0, "--rate", e))?,
            }),
        };
        Ok(Load {
            model,
            per_user_rate,
            forced_rate,
        })
    }

    fn behaviours(
        &self,
        raw: Spanned<Vec<BehaviourFile>>,
        target: &Target,
        load: &Load,
    ) -> Result<Vec<Behaviour>, ScenarioError> {
        if raw.get_ref().is_empty() {
            return Err(self.error(
                raw.span(),
                "behaviour",
                "at least one [[behaviour]] with steps",
            ));
        }
        let timed = !matches!(load.model, LoadModel::Closed { timed: false, .. });
        let mut out = Vec::new();
        for (i, b) in raw.into_inner().into_iter().enumerate() {
            let key = format!("behaviour[{i}]");
            if *b.weight.get_ref() == 0 {
                return Err(self.error(
                    b.weight.span(),
                    format!("{key}.weight"),
                    "a weight is at least 1",
                ));
            }
            if b.steps.get_ref().is_empty() {
                return Err(self.error(
                    b.steps.span(),
                    format!("{key}.steps"),
                    "at least one step",
                ));
            }
            let mut check = StepCheck {
                resolver: self,
                target,
                timed,
                talk: None,
                talk_span: 0..0,
                connected: false,
            };
            check.steps(b.steps.get_ref(), &format!("{key}.steps"))?;
            out.push(Behaviour {
                name: b.name,
                weight: *b.weight.get_ref(),
                steps: strip(b.steps.into_inner()),
                talk: check.talk.unwrap_or(Talk::Alone),
            });
        }
        Ok(out)
    }
}

fn strip(steps: Vec<Spanned<Step>>) -> Vec<Step> {
    steps.into_iter().map(Spanned::into_inner).collect()
}

/// Walks a behaviour's steps: the dialect can do each, the order makes sense.
struct StepCheck<'a> {
    resolver: &'a Resolver<'a>,
    target: &'a Target,
    timed: bool,
    talk: Option<Talk>,
    talk_span: std::ops::Range<usize>,
    connected: bool,
}

impl StepCheck<'_> {
    fn steps(&mut self, steps: &[Spanned<Step>], key: &str) -> Result<(), ScenarioError> {
        for (i, step) in steps.iter().enumerate() {
            self.step(step, &format!("{key}[{i}]"))?;
        }
        Ok(())
    }

    fn cannot(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        step: &Step,
        e: imkit_protocols::Error,
    ) -> ScenarioError {
        let dialect = self.target.dialect;
        self.resolver.error(
            span,
            key,
            format!(
                "step `{}`: {e}; the steps {dialect} can do are: {}",
                step.name(),
                dialect_steps(dialect).join(", ")
            ),
        )
    }

    fn step(&mut self, spanned: &Spanned<Step>, key: &str) -> Result<(), ScenarioError> {
        let span = spanned.span();
        let step = spanned.get_ref();
        let dialect = self.target.dialect;
        let caps = dialect.capabilities();
        let check = |command: Command| {
            caps.check(dialect, &command)
                .map_err(|e| self.cannot(span.clone(), key, step, e))
        };
        let needs_connection = |this: &Self| {
            if this.connected {
                Ok(())
            } else {
                Err(this.resolver.error(
                    span.clone(),
                    key,
                    format!(
                        "step `{}` comes before any connect/login/register step",
                        step.name()
                    ),
                ))
            }
        };
        match step {
            Step::Connect => self.connected = true,
            Step::Login => {
                check(login_command())?;
                if self.target.credentials == CredentialSource::Register {
                    return Err(self.resolver.error(span, key, "step `login` with credentials = \"register\": use `connect` or `register`, or credentials = \"generate\""));
                }
                self.connected = true;
            }
            Step::Register => {
                check(Command::Register {
                    nick: String::new(),
                })?;
                if self.target.credentials != CredentialSource::Register {
                    return Err(self.resolver.error(
                        span,
                        key,
                        "step `register` needs credentials = \"register\" in [target]",
                    ));
                }
                self.connected = true;
            }
            Step::Match => {
                needs_connection(self)?;
                check(Command::Match)?;
                check(send_to(Conversation::Session(Default::default())))?;
                self.set_talk(Talk::Matched, span, key)?;
            }
            Step::Pair => {
                needs_connection(self)?;
                if !(caps.send_to_user || (caps.open_session && caps.send_to_session)) {
                    return Err(self.cannot(
                        span,
                        key,
                        step,
                        imkit_protocols::Error::unsupported(
                            dialect,
                            "send to a chosen user or open a session with one",
                        ),
                    ));
                }
                if self.target.credentials == CredentialSource::Register {
                    return Err(self.resolver.error(span, key, "step `pair` needs the partner's user id before it logs in: use credentials = \"generate\" or a users file (or `match`)"));
                }
                self.set_talk(Talk::Pair, span, key)?;
            }
            Step::Join(join) => {
                needs_connection(self)?;
                check(Command::JoinGroup {
                    group: GroupId::new("g"),
                })?;
                check(send_to(Conversation::Group(GroupId::new("g"))))?;
                if join.size < 2 || join.size > 10_000 {
                    return Err(self.resolver.error(
                        span,
                        key,
                        "a group has 2 to 10000 members (`size`)",
                    ));
                }
                self.set_talk(Talk::Group { size: join.size }, span, key)?;
            }
            Step::Send(send) => {
                needs_connection(self)?;
                if self.talk.is_none() {
                    return Err(self.resolver.error(
                        span,
                        key,
                        "step `send` needs a conversation first: a `match`, `pair` or `join` step",
                    ));
                }
                if send.every.is_some() && send.rate.is_some() {
                    return Err(self
                        .resolver
                        .error(span, key, "give `every` or `rate`, not both"));
                }
                if send.count.is_none() && send.for_time.is_none() && !self.timed {
                    return Err(self.resolver.error(span, key, "this `send` has no bound: give `count` or `for` (or give the load a `hold`)"));
                }
                if let Some(size) = send.size
                    && !(1..=MAX_SIZE).contains(&size)
                {
                    return Err(self.resolver.error(span, key, format!("`size` is between 1 and {MAX_SIZE} bytes (a message is never shorter than its marker, about 30 bytes)")));
                }
            }
            Step::Think(_) | Step::Idle(_) | Step::Logout => {}
            Step::Ack => {
                check(Command::Ack {
                    conversation: Conversation::User(UserId::from(0)),
                    id: MessageId::Seq(0),
                })?;
            }
            Step::Read | Step::AutoRead => {
                check(Command::Read {
                    conversation: Conversation::User(UserId::from(0)),
                    up_to: MessageId::Seq(0),
                })?;
            }
            Step::Reconnect => needs_connection(self)?,
            Step::Repeat(repeat) => {
                if repeat.times.is_none() && repeat.for_time.is_none() {
                    return Err(self.resolver.error(
                        span,
                        key,
                        "a `repeat` needs a bound: `times`, `for` or both",
                    ));
                }
                if repeat.steps.is_empty() {
                    return Err(self.resolver.error(span, key, "a `repeat` needs `steps`"));
                }
                self.steps(&repeat.steps, &format!("{key}.repeat.steps"))?;
            }
        }
        Ok(())
    }

    fn set_talk(
        &mut self,
        talk: Talk,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<(), ScenarioError> {
        match self.talk {
            None => {
                self.talk = Some(talk);
                self.talk_span = span;
                Ok(())
            }
            Some(before) if before == talk => Ok(()),
            Some(_) => {
                let (line, _) =
                    crate::error::line_column(self.resolver.source, self.talk_span.start);
                Err(self.resolver.error(span, key, format!("a behaviour holds one kind of conversation; line {line} already chose one (use one of match, pair, join per behaviour)")))
            }
        }
    }
}

fn login_command() -> Command {
    Command::Login {
        user: UserId::from(0),
        secret: None,
        device: None,
    }
}

fn send_to(to: Conversation) -> Command {
    Command::Send {
        to,
        client_ref: String::new(),
        content: String::new(),
    }
}

/// The steps a dialect can do (named in errors).
pub fn dialect_steps(dialect: Dialect) -> Vec<&'static str> {
    let c: Capabilities = dialect.capabilities();
    let mut steps = vec!["connect"];
    let pairs: [(bool, &'static str); 8] = [
        (c.login, "login"),
        (c.register, "register"),
        (c.match_partner && c.send_to_session, "match"),
        (
            c.send_to_user || (c.open_session && c.send_to_session),
            "pair",
        ),
        (c.join_group && c.send_to_group, "join"),
        (true, "send, think, idle"),
        (c.delivery_ack, "ack"),
        (c.read_receipts, "read, auto_read"),
    ];
    steps.extend(pairs.into_iter().filter(|(ok, _)| *ok).map(|(_, s)| s));
    steps.extend(["reconnect", "logout", "repeat"]);
    steps
}

/// The key a toml error at `offset` is about: the identifier before the nearest `=` on its
/// line (or the key itself), prefixed with the enclosing `[table]`.
fn key_at(source: &str, offset: usize) -> Option<String> {
    let offset = offset.min(source.len());
    let line_start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[offset..]
        .find('\n')
        .map_or(source.len(), |i| offset + i);
    let line = &source[line_start..line_end];
    let at = offset - line_start;
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.';
    // The offset is on a key: take the whole word.
    let word: String = line[at..]
        .chars()
        .take_while(|c| is_key_char(*c) || *c == '"')
        .collect();
    let before = line[..at].trim_end();
    let key = if before.ends_with('=') {
        let lhs = before.trim_end_matches('=').trim_end();
        let start = lhs
            .rfind(|c: char| !(is_key_char(c) || c == '"'))
            .map_or(0, |i| i + 1);
        lhs[start..].trim_matches('"').to_owned()
    } else if !word.is_empty() && !line.trim_start().starts_with('[') {
        word.trim_matches('"').to_owned()
    } else {
        return table_at(source, line_start);
    };
    if key.is_empty() {
        return table_at(source, line_start);
    }
    Some(match table_at(source, line_start) {
        Some(table) if !line.trim_start().starts_with('[') => format!("{table}.{key}"),
        _ => key,
    })
}

fn table_at(source: &str, before: usize) -> Option<String> {
    source[..before].lines().rev().find_map(|l| {
        let l = l.trim();
        let header = l
            .strip_prefix("[[")
            .and_then(|h| h.split("]]").next())
            .or_else(|| l.strip_prefix('[').and_then(|h| h.split(']').next()));
        header.map(|h| h.trim().to_owned())
    })
}
