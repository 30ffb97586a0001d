//! The one state the UI renders. Changed only by `update`.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use imkit_protocols::{Conversation, Dialect, MessageId, UserId};

use crate::config::Profile;
use crate::editor::Editor;
use crate::effect::ConnectTarget;
use crate::theme::Theme;

/// Wall-clock time in milliseconds since the Unix epoch (given to `update` by `Action::Tick`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub fn after(self, d: Duration) -> Timestamp {
        Timestamp(self.0.saturating_add(d.as_millis() as u64))
    }

    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }

    /// `HH:MM` at the given offset from UTC.
    pub fn clock(self, utc_offset_secs: i32) -> String {
        let secs = (self.0 / 1000) as i64 + i64::from(utc_offset_secs);
        let of_day = secs.rem_euclid(86_400);
        format!("{:02}:{:02}", of_day / 3600, (of_day % 3600) / 60)
    }
}

/// User preferences that change behaviour (from the config file and flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Send a read receipt when a conversation with new messages is viewed.
    pub auto_read: bool,
    pub bell: bool,
    pub desktop: bool,
    /// How often to ping for the round-trip time, where the dialect can.
    pub ping_every: Duration,
    /// Lines kept per conversation.
    pub scrollback: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            auto_read: true,
            bell: true,
            desktop: true,
            ping_every: Duration::from_secs(15),
            scrollback: 5_000,
        }
    }
}

/// The connection as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Nothing asked yet (the connect form).
    Idle,
    Connecting,
    Online,
    Reconnecting {
        attempt: u32,
        at: Timestamp,
    },
    Offline {
        reason: String,
    },
}

/// Where one of our own messages stands, as far as the dialect tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Typed while offline: goes out when the connection is back.
    Queued,
    /// Handed to the connection, no answer yet.
    Sending,
    /// Handed over on a dialect that never confirms.
    Sent,
    /// The server took it (with its id where it gives one).
    Accepted(Option<MessageId>),
    /// The partner read it.
    Read(Option<MessageId>),
    /// The connection dropped before the server confirmed it: it may or may not have arrived.
    Unconfirmed,
    /// It did not go out; the reason in words.
    NotSent(String),
}

impl Delivery {
    pub fn id(&self) -> Option<&MessageId> {
        match self {
            Delivery::Accepted(id) | Delivery::Read(id) => id.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Notice,
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineBody {
    Message {
        from: String,
        text: String,
        /// The server's id of an incoming message.
        id: Option<MessageId>,
        /// Set on our own messages.
        own: Option<Outgoing>,
    },
    System {
        level: Level,
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub client_ref: String,
    pub delivery: Delivery,
    /// The server sent it back to us (a group fan-out includes the sender): matched once,
    /// so a second copy of the same text is not taken for this one.
    pub echoed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub at: Timestamp,
    pub body: LineBody,
}

/// A conversation window. The first room is always the server room (connection notices).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// `None` for the server room.
    pub conversation: Option<Conversation>,
    pub title: String,
    /// The partner of a two-party conversation.
    pub peer: Option<UserId>,
    pub lines: VecDeque<Line>,
    pub unread: usize,
    /// Rows scrolled back from the newest (0 = following new lines).
    pub scroll: usize,
    /// The newest incoming message id, and the one our last read receipt named.
    pub last_incoming: Option<MessageId>,
    pub read_sent: Option<MessageId>,
    /// Why nothing can be sent here any more (partner left, session closed), if so.
    pub ended: Option<String>,
    /// A session of an account we no longer have: the server may hand its id out again, to
    /// a new session that must get a room of its own.
    pub retired: bool,
}

impl Room {
    pub fn new(conversation: Option<Conversation>, title: impl Into<String>) -> Self {
        Room {
            conversation,
            title: title.into(),
            peer: None,
            lines: VecDeque::new(),
            unread: 0,
            scroll: 0,
            last_incoming: None,
            read_sent: None,
            ended: None,
            retired: false,
        }
    }
}

/// Which field of the connect form has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormField {
    Profile,
    Dialect,
    Address,
    User,
    Password,
}

impl FormField {
    pub const ORDER: [FormField; 5] = [
        FormField::Profile,
        FormField::Dialect,
        FormField::Address,
        FormField::User,
        FormField::Password,
    ];
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectForm {
    pub profiles: Vec<Profile>,
    /// The profile last applied to the fields.
    pub profile: Option<usize>,
    pub dialect: Dialect,
    pub address: Editor,
    pub user: Editor,
    pub password: Editor,
    pub focus: FormField,
    pub error: Option<String>,
}

impl ConnectForm {
    pub fn new(profiles: Vec<Profile>) -> Self {
        let dialect = Dialect::ChatJson;
        ConnectForm {
            focus: if profiles.is_empty() {
                FormField::Dialect
            } else {
                FormField::Profile
            },
            profiles,
            profile: None,
            dialect,
            address: Editor::with_text(dialect.default_client_address()),
            user: Editor::default(),
            password: Editor::default(),
            error: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    ConnectForm,
    Chat,
}

/// vi preset only: which layer the keys go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputMode {
    #[default]
    Insert,
    Normal,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PingClock {
    pub sent_at: Option<Timestamp>,
    pub next_at: Option<Timestamp>,
    /// The server never answers pings on this connection (or refused one): stop asking.
    pub unanswered: u32,
    pub refused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub screen: Screen,
    pub form: ConnectForm,
    /// What we connect to; `None` until the form is submitted.
    pub target: Option<ConnectTarget>,
    pub link: Link,
    /// Who the server says we are.
    pub me: Option<UserId>,
    /// Display names learned from the server (match, new session, registration).
    pub names: BTreeMap<UserId, String>,
    pub rooms: Vec<Room>,
    pub active: usize,
    pub input: Editor,
    pub mode: InputMode,
    pub help: bool,
    pub now: Timestamp,
    pub utc_offset_secs: i32,
    pub settings: Settings,
    pub theme: Theme,
    /// Key help rows (keys, what they do), from the active key map.
    pub key_help: Vec<(String, String)>,
    pub rtt: Option<Duration>,
    pub ping: PingClock,
    /// Our messages waiting for the connection (client refs, oldest first).
    pub outbox: VecDeque<String>,
    /// Sent, waiting for the server's accept (client refs, oldest first).
    pub in_flight: VecDeque<String>,
    /// `/msg` texts waiting for the session the dialect opens first.
    pub pending_opens: Vec<(UserId, Vec<String>)>,
    pub ref_seed: u64,
    pub next_ref: u64,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub quit: bool,
}

impl State {
    pub fn new(profiles: Vec<Profile>) -> Self {
        State {
            screen: Screen::ConnectForm,
            form: ConnectForm::new(profiles),
            target: None,
            link: Link::Idle,
            me: None,
            names: BTreeMap::new(),
            rooms: vec![Room::new(None, "server")],
            active: 0,
            input: Editor::default(),
            mode: InputMode::Insert,
            help: false,
            now: Timestamp(0),
            utc_offset_secs: 0,
            settings: Settings::default(),
            theme: Theme::default(),
            key_help: Vec::new(),
            rtt: None,
            ping: PingClock::default(),
            outbox: VecDeque::new(),
            in_flight: VecDeque::new(),
            pending_opens: Vec::new(),
            ref_seed: 0,
            next_ref: 0,
            size: (80, 24),
            quit: false,
        }
    }

    pub fn dialect(&self) -> Option<Dialect> {
        self.target.as_ref().map(|t| t.dialect)
    }

    pub fn room_of(&self, conversation: &Conversation) -> Option<usize> {
        self.rooms
            .iter()
            .position(|r| !r.retired && r.conversation.as_ref() == Some(conversation))
    }

    pub fn active_room(&self) -> &Room {
        &self.rooms[self.active]
    }

    /// How a user is called on screen.
    pub fn name_of(&self, user: &UserId) -> String {
        self.names
            .get(user)
            .cloned()
            .unwrap_or_else(|| user.to_string())
    }

    /// Our own name on screen.
    pub fn my_name(&self) -> String {
        match (&self.me, &self.target) {
            (Some(me), _) => self.name_of(me),
            (None, Some(t)) => t.user.clone().unwrap_or_else(|| "me".into()),
            (None, None) => "me".into(),
        }
    }

    /// Our id for the `n`th message we send (unique across runs through `ref_seed`).
    pub fn client_ref(&self, n: u64) -> String {
        format!("{:x}-{n}", self.ref_seed)
    }

    pub fn total_unread(&self) -> usize {
        self.rooms.iter().map(|r| r.unread).sum()
    }
}
