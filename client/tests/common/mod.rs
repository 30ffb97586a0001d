//! Building real states by feeding `update` the actions a session would see.
#![allow(dead_code)]

pub mod client;

use std::time::Duration;

use imkit_client::action::{Action, NetEvent};
use imkit_client::effect::{ConnectTarget, Effect};
use imkit_client::keys::KeyAction;
use imkit_client::state::{State, Timestamp};
use imkit_client::update::update;
use imkit_protocols::{
    ConnectionState, Conversation, Dialect, Event, Message, MessageId, SessionId, UserId,
};

/// 2026-03-14 09:30:00 UTC.
pub const T0: u64 = 1_773_480_600_000;

pub struct Session {
    pub state: State,
    pub effects: Vec<Effect>,
}

impl Session {
    pub fn new(dialect: Dialect, user: &str) -> Session {
        let mut state = State::new(Vec::new());
        state.ref_seed = 0xab;
        state.key_help =
            imkit_client::keys::KeyMap::preset(imkit_client::keys::Preset::Emacs).help();
        let mut s = Session {
            state,
            effects: Vec::new(),
        };
        s.act(Action::Tick(Timestamp(T0)));
        s.act(Action::Resize(80, 24));
        s.act(Action::Start(ConnectTarget {
            dialect,
            address: dialect.default_client_address().into(),
            user: Some(user.into()),
            password: None,
            password_cmd: None,
            chat_v2: false,
        }));
        s
    }

    /// A chat-json session logged in as alice (id 11), with the connection up.
    pub fn online_chat() -> Session {
        let mut s = Session::new(Dialect::ChatJson, "alice");
        s.net(NetEvent::Connecting);
        s.event(Event::Registered {
            user: UserId::new("11"),
            nick: "alice".into(),
            token: None,
        });
        s.event(Event::Connection(ConnectionState::Online {
            reconnect: false,
        }));
        s.take();
        s
    }

    pub fn act(&mut self, action: Action) -> &[Effect] {
        let start = self.effects.len();
        let fx = update(&mut self.state, action);
        self.effects.extend(fx);
        &self.effects[start..]
    }

    pub fn net(&mut self, event: NetEvent) -> Vec<Effect> {
        self.act(Action::Net(event)).to_vec()
    }

    pub fn event(&mut self, event: Event) -> Vec<Effect> {
        self.net(NetEvent::Event(event))
    }

    pub fn key(&mut self, key: KeyAction) -> Vec<Effect> {
        self.act(Action::Key(key)).to_vec()
    }

    /// Type a line and press Enter.
    pub fn say(&mut self, line: &str) -> Vec<Effect> {
        for c in line.chars() {
            self.act(Action::Insert(c));
        }
        self.key(KeyAction::Submit)
    }

    /// Move the clock on.
    pub fn wait(&mut self, d: Duration) -> Vec<Effect> {
        let at = self.state.now.after(d);
        self.act(Action::Tick(at)).to_vec()
    }

    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub fn matched(&mut self, session: u64, peer: &str, name: &str) -> Vec<Effect> {
        self.event(Event::Matched {
            session: SessionId(session),
            peer: UserId::new(peer),
            peer_name: Some(name.into()),
        })
    }

    pub fn incoming(&mut self, session: u64, from: &str, id: u64, text: &str) -> Vec<Effect> {
        self.event(Event::Delivered(Message {
            conversation: Conversation::Session(SessionId(session)),
            from: UserId::new(from),
            id: Some(MessageId::Seq(id)),
            content: text.into(),
        }))
    }

    /// Text of every line of a room, as `from: text [delivery]` or `-- system`.
    pub fn lines(&self, room: usize) -> Vec<String> {
        use imkit_client::state::LineBody;
        self.state.rooms[room]
            .lines
            .iter()
            .map(|l| match &l.body {
                LineBody::Message {
                    from, text, own, ..
                } => match own {
                    Some(o) => format!("{from}: {text} [{:?}]", o.delivery),
                    None => format!("{from}: {text}"),
                },
                LineBody::System { text, .. } => format!("-- {text}"),
            })
            .collect()
    }
}
