//! Whole screens of real states, drawn on ratatui's `TestBackend` and compared cell by cell
//! with the snapshots in `tests/snapshots/`. `UPDATE_SNAPSHOTS=1` rewrites them (then review
//! the diff: a snapshot is only as right as the eye that checked it).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::Session;
use imkit_client::action::Action;
use imkit_client::config::Profile;
use imkit_client::keys::KeyAction;
use imkit_client::state::State;
use imkit_client::view::view;
use imkit_protocols::{
    ConnectionState, Conversation, Event, Message, MessageId, SessionId, UserId,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::Color;
use unicode_width::UnicodeWidthStr;

fn draw(state: &State, width: u16, height: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| view(state, frame)).unwrap();
    terminal.backend().buffer().clone()
}

/// The screen as text, one row per line; the cells hidden behind a wide char are skipped.
fn screen_text(buffer: &Buffer) -> String {
    let area = buffer.area;
    let mut out = String::new();
    for y in 0..area.height {
        let mut skip = 0;
        for x in 0..area.width {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let symbol = buffer[(x, y)].symbol();
            skip = symbol.width().saturating_sub(1);
            out.push_str(symbol);
        }
        out.push('\n');
    }
    out
}

fn check(name: &str, state: &State, width: u16, height: u16) -> Buffer {
    let buffer = draw(state, width, height);
    let actual = screen_text(&buffer);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_SNAPSHOTS=1 writes it)", path.display()));
    if actual != expected {
        panic!(
            "screen {name} differs from {}\n--- expected\n{expected}--- actual\n{actual}",
            path.display()
        );
    }
    buffer
}

/// alice and bob chatting: every delivery state chat-json can tell.
fn chatting() -> Session {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.wait(Duration::from_secs(60));
    s.say("hi bob, how is the server holding up?");
    s.event(Event::Accepted {
        client_ref: Some("ab-1".into()),
        id: Some(MessageId::Seq(40)),
    });
    s.event(Event::ReadUpTo {
        conversation: Conversation::Session(SessionId(12)),
        reader: UserId::new("10"),
        up_to: MessageId::Seq(40),
    });
    s.wait(Duration::from_secs(45));
    s.incoming(12, "10", 41, "fine: 10k users and not one lost message");
    s.say("nice");
    s.event(Event::Accepted {
        client_ref: Some("ab-2".into()),
        id: Some(MessageId::Seq(43)),
    });
    s.say("shipping it");
    s
}

#[test]
fn connect_form() {
    let state = State::new(vec![Profile {
        name: "local chat".into(),
        dialect: "chat-json".into(),
        ..Profile::default()
    }]);
    check("connect_form", &state, 80, 24);
}

#[test]
fn connect_form_with_an_error() {
    let mut state = State::new(Vec::new());
    imkit_client::update::update(&mut state, Action::Key(KeyAction::Submit));
    check("connect_form_error", &state, 80, 24);
}

#[test]
fn empty() {
    let s = Session::online_chat();
    check("empty", &s.state, 80, 24);
}

#[test]
fn chatting_screen() {
    let s = chatting();
    check("chatting", &s.state, 80, 24);
}

#[test]
fn unread() {
    let mut s = chatting();
    s.matched(13, "14", "carol");
    s.event(Event::SessionOpened {
        session: SessionId(15),
        peer: UserId::new("16"),
        peer_name: Some("dave".into()),
        by_peer: true,
    });
    s.incoming(12, "10", 44, "one");
    s.incoming(12, "10", 45, "two");
    s.incoming(12, "10", 46, "three");
    let buffer = check("unread", &s.state, 80, 24);
    // The count stands out in the unread colour.
    let row = (0..24)
        .find(|&y| {
            (0..16)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .contains("bob")
        })
        .unwrap();
    let count = (0..16).find(|&x| buffer[(x, row)].symbol() == "3").unwrap();
    assert_eq!(buffer[(count, row)].fg, Color::LightMagenta);
}

#[test]
fn reconnecting() {
    let mut s = chatting();
    s.event(Event::Connection(ConnectionState::Lost {
        reason: "connection closed by peer".into(),
    }));
    s.event(Event::Connection(ConnectionState::Reconnecting {
        attempt: 3,
        delay: Duration::from_millis(4200),
    }));
    s.say("are you still there?");
    s.wait(Duration::from_millis(1000));
    check("reconnecting", &s.state, 80, 24);
}

#[test]
fn help() {
    let mut s = chatting();
    s.key(KeyAction::Help);
    check("help", &s.state, 80, 24);
}

#[test]
fn narrow() {
    let mut s = chatting();
    s.matched(13, "14", "carol");
    s.incoming(12, "10", 44, "psst");
    s.say("hello carol, this line wraps on a narrow screen");
    s.act(Action::Resize(40, 12));
    check("narrow", &s.state, 40, 12);
}

#[test]
fn wide() {
    let mut s = chatting();
    s.act(Action::Resize(120, 30));
    s.event(Event::Delivered(Message {
        conversation: Conversation::Session(SessionId(12)),
        from: UserId::new("10"),
        id: Some(MessageId::Seq(44)),
        content: "a long line to see the wrap: the quick brown fox jumps over the lazy dog, then over the lazy dog again, and then it rests".into(),
    }));
    check("wide", &s.state, 120, 30);
}

#[test]
fn scrolled_back() {
    let mut s = chatting();
    for i in 0..30 {
        s.incoming(12, "10", 100 + i, &format!("backlog {i}"));
    }
    s.key(KeyAction::PageUp);
    check("scrolled", &s.state, 80, 24);
}

#[test]
fn a_line_too_long_for_chat_v1_is_flagged_while_typing() {
    let mut s = chatting();
    // {"cmd":"DIALOGUE","requestId":"ab-4","senderId":11,"sessionId":12,"content":""} is 79
    // bytes: 433 bytes of text fit, 441 are 8 over.
    for _ in 0..433 {
        s.act(Action::Insert('x'));
    }
    let row = |s: &Session| {
        let text = screen_text(&draw(&s.state, 80, 24));
        text.lines().nth(22).unwrap().to_owned()
    };
    assert!(!row(&s).contains("too long"), "{}", row(&s));
    for _ in 0..8 {
        s.act(Action::Insert('x'));
    }
    assert!(row(&s).ends_with(" 8 bytes too long "), "{}", row(&s));
}
