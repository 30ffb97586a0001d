//! `update` without a terminal or a network: actions in, state and effects out.

mod common;

use std::time::Duration;

use common::{Session, T0};
use imkit_client::action::{Action, NetEvent};
use imkit_client::effect::Effect;
use imkit_client::keys::KeyAction;
use imkit_client::state::{Delivery, Link, Screen, State, Timestamp};
use imkit_client::update::update;
use imkit_protocols::{
    Command, ConnectionState, Conversation, Dialect, Event, GroupId, Message, MessageId, SessionId,
    UserId,
};

fn session(id: u64) -> Conversation {
    Conversation::Session(SessionId(id))
}

fn delivery(s: &Session, room: usize, line: usize) -> Delivery {
    match &s.state.rooms[room].lines[line].body {
        imkit_client::state::LineBody::Message { own: Some(o), .. } => o.delivery.clone(),
        other => panic!("not an own message: {other:?}"),
    }
}

#[test]
fn a_message_goes_out_is_accepted_and_read() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    assert_eq!(s.state.active, 1, "the new session is shown");
    assert_eq!(s.state.rooms[1].title, "bob");
    s.take();

    let fx = s.say("hi bob");
    assert_eq!(
        fx,
        [Effect::Send(Command::Send {
            to: session(12),
            client_ref: "ab-1".into(),
            content: "hi bob".into(),
        })]
    );
    assert_eq!(delivery(&s, 1, 1), Delivery::Sending);

    s.event(Event::Accepted {
        client_ref: Some("ab-1".into()),
        id: Some(MessageId::Seq(40)),
    });
    assert_eq!(
        delivery(&s, 1, 1),
        Delivery::Accepted(Some(MessageId::Seq(40)))
    );

    s.event(Event::ReadUpTo {
        conversation: session(12),
        reader: UserId::new("10"),
        up_to: MessageId::Seq(40),
    });
    assert_eq!(delivery(&s, 1, 1), Delivery::Read(Some(MessageId::Seq(40))));
    assert_eq!(
        s.lines(1),
        [
            "-- matched with bob (session 12)",
            "alice: hi bob [Read(Some(Seq(40)))]"
        ]
    );
}

#[test]
fn accepts_without_a_client_ref_match_the_oldest_message_in_flight() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.say("one");
    s.say("two");
    s.event(Event::Accepted {
        client_ref: None,
        id: Some(MessageId::Seq(5)),
    });
    assert_eq!(
        delivery(&s, 1, 1),
        Delivery::Accepted(Some(MessageId::Seq(5)))
    );
    assert_eq!(delivery(&s, 1, 2), Delivery::Sending);
    // A read receipt covers only what it names.
    s.event(Event::ReadUpTo {
        conversation: session(12),
        reader: UserId::new("10"),
        up_to: MessageId::Seq(5),
    });
    assert_eq!(delivery(&s, 1, 1), Delivery::Read(Some(MessageId::Seq(5))));
    assert_eq!(delivery(&s, 1, 2), Delivery::Sending);
}

#[test]
fn messages_in_the_viewed_conversation_are_marked_read_automatically() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.take();
    let fx = s.incoming(12, "10", 41, "hello alice");
    assert_eq!(
        fx,
        [Effect::Send(Command::Read {
            conversation: session(12),
            up_to: MessageId::Seq(41),
        })]
    );
    assert_eq!(s.state.rooms[1].unread, 0);
    assert_eq!(s.lines(1)[1], "bob: hello alice");

    // Turned off: only /read sends one.
    s.state.settings.auto_read = false;
    assert_eq!(s.incoming(12, "10", 42, "again"), []);
    assert_eq!(
        s.say("/read"),
        [Effect::Send(Command::Read {
            conversation: session(12),
            up_to: MessageId::Seq(42),
        })]
    );
    assert_eq!(s.lines(1).last().unwrap(), "-- read receipt sent");
}

#[test]
fn other_conversations_count_unread_notify_and_next_unread_jumps_there() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.matched(13, "14", "carol");
    assert_eq!(s.state.active, 2);
    s.take();

    let fx = s.incoming(12, "10", 50, "psst");
    assert_eq!(
        fx,
        [
            Effect::Bell,
            Effect::Notify {
                title: "bob".into(),
                body: "psst".into()
            }
        ]
    );
    s.incoming(12, "10", 51, "still there?");
    assert_eq!(s.state.rooms[1].unread, 2);
    assert_eq!(s.state.total_unread(), 2);

    let fx = s.key(KeyAction::NextUnread);
    assert_eq!(s.state.active, 1);
    assert_eq!(s.state.rooms[1].unread, 0);
    assert_eq!(
        fx,
        [Effect::Send(Command::Read {
            conversation: session(12),
            up_to: MessageId::Seq(51),
        })]
    );
    // Nothing unread: the key stays put.
    s.key(KeyAction::NextUnread);
    assert_eq!(s.state.active, 1);
}

#[test]
fn notifications_can_be_turned_off() {
    let mut s = Session::online_chat();
    s.state.settings.bell = false;
    s.state.settings.desktop = false;
    s.matched(12, "10", "bob");
    s.key(KeyAction::PrevConversation);
    s.take();
    assert_eq!(s.incoming(12, "10", 50, "psst"), []);
    assert_eq!(s.state.rooms[1].unread, 1);
}

#[test]
fn a_session_opened_by_a_partner_appears_with_a_notice() {
    let mut s = Session::online_chat();
    let fx = s.event(Event::SessionOpened {
        session: SessionId(20),
        peer: UserId::new("30"),
        peer_name: Some("dave".into()),
        by_peer: true,
    });
    assert_eq!(s.state.active, 0, "the user's view does not jump");
    assert_eq!(s.state.rooms[1].title, "dave");
    assert_eq!(s.state.rooms[1].unread, 1);
    assert_eq!(s.lines(1), ["-- dave started a conversation with you"]);
    assert!(
        s.lines(0)
            .contains(&"-- new conversation with dave".to_string())
    );
    assert!(fx.contains(&Effect::Bell));
}

#[test]
fn messages_typed_offline_are_queued_and_sent_on_reconnect() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.say("in flight");
    s.take();

    s.event(Event::Connection(ConnectionState::Lost {
        reason: "connection closed by peer".into(),
    }));
    assert_eq!(delivery(&s, 1, 1), Delivery::Unconfirmed);
    s.event(Event::Connection(ConnectionState::Reconnecting {
        attempt: 1,
        delay: Duration::from_millis(2500),
    }));
    assert_eq!(
        s.state.link,
        Link::Reconnecting {
            attempt: 1,
            at: Timestamp(T0 + 2500)
        }
    );
    assert_eq!(s.say("typed while away"), [], "nothing goes out while away");
    assert_eq!(delivery(&s, 1, 3), Delivery::Queued);

    let fx = s.event(Event::Connection(ConnectionState::Online {
        reconnect: true,
    }));
    assert_eq!(
        fx,
        [Effect::Send(Command::Send {
            to: session(12),
            client_ref: "ab-2".into(),
            content: "typed while away".into(),
        })]
    );
    assert_eq!(delivery(&s, 1, 3), Delivery::Sending);
    assert_eq!(s.lines(1).last().unwrap(), "-- reconnected");
    assert_eq!(
        s.lines(1)[2],
        "-- connection lost: connection closed by peer"
    );
    assert_eq!(s.lines(0).last().unwrap(), "-- reconnected");
}

#[test]
fn after_the_driver_gives_up_messages_wait_and_commands_explain() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.event(Event::Connection(ConnectionState::Closed {
        reason: "gave up after 5 reconnect attempts".into(),
    }));
    assert!(matches!(s.state.link, Link::Offline { .. }));
    s.take();
    assert_eq!(s.say("/match"), []);
    assert_eq!(
        s.lines(1).last().unwrap(),
        "-- cannot match while offline; /reconnect first"
    );
    s.say("later");
    assert_eq!(delivery(&s, 1, 4), Delivery::Queued);
    let fx = s.say("/reconnect");
    assert!(matches!(fx.as_slice(), [Effect::Connect(t)] if t.user.as_deref() == Some("alice")));
    assert_eq!(s.state.link, Link::Connecting);
}

#[test]
fn what_the_dialect_cannot_do_is_refused_in_words() {
    let mut s = Session::online_chat();
    assert_eq!(s.say("/join rust"), []);
    assert_eq!(
        s.lines(0).last().unwrap(),
        "-- the chat-json dialect cannot join a group"
    );
    assert_eq!(s.say("/msg 10 hi"), []);
    assert_eq!(
        s.lines(0).last().unwrap(),
        "-- the chat-json dialect cannot address a user directly; /match finds a partner"
    );

    let mut f = Session::new(Dialect::Fishchat, "7");
    f.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    f.take();
    assert_eq!(f.say("/match"), []);
    assert_eq!(
        f.lines(0).last().unwrap(),
        "-- the fishchat dialect cannot match a partner"
    );
}

#[test]
fn msg_and_groups_on_a_dialect_that_addresses_users() {
    let mut s = Session::new(Dialect::Fishchat, "7");
    s.event(Event::LoggedIn {
        user: UserId::new("7"),
        token: None,
    });
    s.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    s.take();

    let fx = s.say("/msg 8 hello there");
    assert_eq!(
        fx,
        [Effect::Send(Command::Send {
            to: Conversation::User(UserId::new("8")),
            client_ref: "ab-1".into(),
            content: "hello there".into(),
        })]
    );
    // fishchat never confirms: the message is just sent.
    assert_eq!(delivery(&s, 1, 0), Delivery::Sent);

    // Incoming messages are acknowledged where the dialect acks.
    let fx = s.event(Event::Delivered(Message {
        conversation: Conversation::User(UserId::new("8")),
        from: UserId::new("8"),
        id: Some(MessageId::Text("u-1".into())),
        content: "hey".into(),
    }));
    assert_eq!(
        fx,
        [Effect::Send(Command::Ack {
            conversation: Conversation::User(UserId::new("8")),
            id: MessageId::Text("u-1".into()),
        })]
    );

    let fx = s.say("/join ops");
    assert_eq!(
        fx,
        [Effect::Send(Command::JoinGroup {
            group: GroupId::new("ops")
        })]
    );
    assert_eq!(s.state.rooms[s.state.active].title, "#ops");
    s.take();
    let fx = s.say("/leave");
    assert_eq!(fx, [], "fishchat cannot leave a group");
    assert_eq!(
        s.lines(2).last().unwrap(),
        "-- the fishchat dialect cannot leave a group"
    );
}

#[test]
fn msg_opens_a_session_first_where_the_dialect_needs_one() {
    let mut s = Session::new(Dialect::Eutamias, "7");
    s.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    s.take();
    let fx = s.say("/msg 9 first words");
    assert_eq!(
        fx,
        [Effect::Send(Command::OpenSession {
            peer: UserId::new("9")
        })]
    );
    let fx = s.event(Event::SessionOpened {
        session: SessionId(3),
        peer: UserId::new("9"),
        peer_name: None,
        by_peer: false,
    });
    assert_eq!(
        fx,
        [Effect::Send(Command::Send {
            to: session(3),
            client_ref: "ab-1".into(),
            content: "first words".into(),
        })]
    );
    assert_eq!(s.state.active, 1);
    s.take();
    assert_eq!(
        s.say("/close"),
        [Effect::Send(Command::CloseSession {
            session: SessionId(3),
            peer: UserId::new("9")
        })]
    );
    assert_eq!(s.state.rooms.len(), 1);
}

#[test]
fn a_partner_who_left_gets_nothing_more_and_the_message_says_so() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.event(Event::PartnerLeft {
        session: SessionId(12),
        user: UserId::new("10"),
    });
    s.take();
    assert_eq!(s.say("are you there?"), []);
    assert_eq!(
        s.lines(1),
        [
            "-- matched with bob (session 12)",
            "-- bob left the conversation",
            "alice: are you there? [NotSent(\"bob left; /match for a new partner\")]"
        ]
    );
}

#[test]
fn round_trip_time_from_ping_to_pong() {
    let mut s = Session::new(Dialect::Fishchat, "7");
    s.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    s.take();
    assert_eq!(
        s.wait(Duration::from_millis(1)),
        [Effect::Send(Command::Ping)]
    );
    s.wait(Duration::from_millis(7));
    s.event(Event::Pong);
    assert_eq!(s.state.rtt, Some(Duration::from_millis(7)));
    // The next one after the interval, not before.
    assert_eq!(s.wait(Duration::from_secs(1)), []);
    assert_eq!(
        s.wait(Duration::from_secs(15)),
        [Effect::Send(Command::Ping)]
    );
    // A server that refuses pings is not asked again and the user is not bothered.
    s.event(Event::Error {
        code: None,
        message: "the fishchat dialect cannot ping the server".into(),
    });
    assert_eq!(s.wait(Duration::from_secs(60)), []);
    assert!(!s.lines(0).iter().any(|l| l.contains("ping")));
}

#[test]
fn errors_and_new_partners_land_where_they_concern() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.event(Event::Error {
        code: Some(2),
        message: "internal".into(),
    });
    assert_eq!(s.lines(1).last().unwrap(), "-- server error 2: internal");
    assert_eq!(s.lines(0).last().unwrap(), "-- server error 2: internal");
    s.event(Event::NoPartner);
    assert_eq!(
        s.lines(1).last().unwrap(),
        "-- nobody is free to match right now; try /match again in a moment"
    );
}

#[test]
fn the_connect_form_checks_then_connects() {
    let mut state = State::new(Vec::new());
    let run = |state: &mut State, a: Action| update(state, a);
    assert_eq!(state.screen, Screen::ConnectForm);
    // Focus starts on the dialect (no profiles); Enter without a nick explains.
    run(&mut state, Action::Key(KeyAction::Submit));
    assert_eq!(
        state.form.error.as_deref(),
        Some("Enter a nickname: the chat-json server creates an account for it.")
    );
    run(&mut state, Action::Key(KeyAction::Right));
    assert_eq!(state.form.dialect, Dialect::SimpleIm);
    assert_eq!(state.form.address.text(), "http://127.0.0.1:8080");
    run(&mut state, Action::Key(KeyAction::NextField));
    run(&mut state, Action::Key(KeyAction::NextField));
    for c in "13800".chars() {
        run(&mut state, Action::Insert(c));
    }
    run(&mut state, Action::Key(KeyAction::Submit));
    assert_eq!(
        state.form.error.as_deref(),
        Some("The simple-im server checks a password: enter it.")
    );
    run(&mut state, Action::Key(KeyAction::NextField));
    run(&mut state, Action::Paste("s3cret".into()));
    let fx = run(&mut state, Action::Key(KeyAction::Submit));
    match fx.as_slice() {
        [Effect::Connect(t)] => {
            assert_eq!(t.dialect, Dialect::SimpleIm);
            assert_eq!(t.user.as_deref(), Some("13800"));
            assert_eq!(t.password.as_deref(), Some("s3cret"));
        }
        other => panic!("expected a connect, got {other:?}"),
    }
    assert_eq!(state.screen, Screen::Chat);

    // A failure before anything happened brings the form back with the reason.
    run(
        &mut state,
        Action::Net(NetEvent::ConnectFailed("Nothing is listening at x.".into())),
    );
    assert_eq!(state.screen, Screen::ConnectForm);
    assert_eq!(
        state.form.error.as_deref(),
        Some("Nothing is listening at x.")
    );
    assert_eq!(state.form.user.text(), "13800");
}

#[test]
fn scrollback_moves_by_pages_and_stops_at_both_ends() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    for i in 0..60 {
        s.incoming(12, "10", 100 + i, &format!("line {i}"));
    }
    // 80x24: the message area is 21 rows; 61 lines of one row each.
    s.key(KeyAction::PageUp);
    assert_eq!(s.state.rooms[1].scroll, 20);
    s.key(KeyAction::ScrollTop);
    assert_eq!(s.state.rooms[1].scroll, 61 - 21);
    s.key(KeyAction::PageUp);
    assert_eq!(s.state.rooms[1].scroll, 40, "clamped at the oldest line");
    s.act(Action::Wheel(-3));
    assert_eq!(s.state.rooms[1].scroll, 37);
    // New lines keep the view still while scrolled back.
    s.incoming(12, "10", 200, "new");
    assert_eq!(s.state.rooms[1].scroll, 38);
    s.key(KeyAction::ScrollBottom);
    assert_eq!(s.state.rooms[1].scroll, 0);
    s.key(KeyAction::PageDown);
    assert_eq!(s.state.rooms[1].scroll, 0);
}

#[test]
fn input_history_and_help_keys() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.say("first");
    s.key(KeyAction::HistoryPrev);
    assert_eq!(s.state.input.text(), "first");
    s.key(KeyAction::KillToStart);
    s.act(Action::Insert('?'));
    assert!(s.state.help, "? on an empty line shows the keys");
    s.key(KeyAction::Cancel);
    assert!(!s.state.help);
    s.act(Action::Insert('a'));
    s.act(Action::Insert('?'));
    assert_eq!(s.state.input.text(), "a?", "? inside text is text");
    s.key(KeyAction::ClearLine);
    s.say("/frob");
    assert_eq!(
        s.lines(1).last().unwrap(),
        "-- unknown command /frob; /help lists the commands"
    );
    s.say("//match is a word");
    assert!(
        s.lines(1)
            .last()
            .unwrap()
            .starts_with("alice: /match is a word")
    );
}

#[test]
fn vi_keys_switch_modes_and_edit() {
    use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    use imkit_client::keys::{KeyMap, Preset};
    use imkit_client::state::InputMode;

    let map = KeyMap::preset(Preset::Vi);
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    let press = |s: &mut Session, code: KeyCode| {
        let action = map.action(KeyEvent::new(code, KeyModifiers::NONE), s.state.mode);
        if let Some(action) = action {
            s.act(action);
        }
    };
    for c in "hello world".chars() {
        press(&mut s, KeyCode::Char(c));
    }
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.state.mode, InputMode::Normal);
    press(&mut s, KeyCode::Char('b'));
    press(&mut s, KeyCode::Char('D'));
    assert_eq!(s.state.input.text(), "hello ");
    press(&mut s, KeyCode::Char('A'));
    assert_eq!(s.state.mode, InputMode::Insert);
    press(&mut s, KeyCode::Char('x'));
    assert_eq!(s.state.input.text(), "hello x");
    press(&mut s, KeyCode::Esc);
    press(&mut s, KeyCode::Char(':'));
    assert_eq!(s.state.input.text(), "/");
    assert_eq!(s.state.mode, InputMode::Insert);
}

#[test]
fn nick_changes_the_name_for_the_next_registration() {
    let mut s = Session::online_chat();
    s.say("/nick carol");
    assert_eq!(
        s.lines(0).last().unwrap(),
        "-- you will be carol from the next connection; /reconnect to use it now"
    );
    s.take();
    let fx = s.say("/reconnect");
    assert!(matches!(fx.as_slice(), [Effect::Connect(t)] if t.user.as_deref() == Some("carol")));
}

#[test]
fn esc_closes_help_on_the_form_too() {
    let mut state = State::new(Vec::new());
    update(&mut state, Action::Key(KeyAction::Help));
    assert!(state.help);
    update(&mut state, Action::Key(KeyAction::Cancel));
    assert!(!state.help);
}

#[test]
fn a_new_account_after_a_reconnect_ends_the_old_sessions_plainly() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.say("in flight");
    s.event(Event::Connection(ConnectionState::Lost {
        reason: "connection closed by peer".into(),
    }));
    s.say("typed while away");
    assert_eq!(delivery(&s, 1, 4), Delivery::Queued);
    s.take();

    // chat v1 registers anew on every connect: a different account, the sessions are gone.
    s.event(Event::Registered {
        user: UserId::new("31"),
        nick: "alice".into(),
        token: None,
    });
    let fx = s.event(Event::Connection(ConnectionState::Online {
        reconnect: true,
    }));
    assert_eq!(fx, [], "nothing goes into a session of the old account");
    assert_eq!(s.state.me, Some(UserId::new("31")));
    assert_eq!(
        s.lines(0)[s.lines(0).len() - 2],
        "-- the server gave you a new account after the reconnect: alice (id 31); your \
         earlier conversations ended with the old one"
    );
    assert!(
        s.lines(1).contains(
            &"-- this conversation ended: after the reconnect the server gave you a new \
              account, and your partner cannot reach it; /match for a new partner"
                .to_owned()
        ),
        "{:#?}",
        s.lines(1)
    );
    assert_eq!(
        delivery(&s, 1, 4),
        Delivery::NotSent("the conversation ended before the connection came back".into())
    );
    // Typing there now is refused with the reason, and /match still works.
    s.say("hello?");
    assert!(matches!(
        delivery(&s, 1, s.state.rooms[1].lines.len() - 1),
        Delivery::NotSent(why) if why.contains("/match for a new partner")
    ));
    assert_eq!(s.say("/match"), [Effect::Send(Command::Match)]);

    // A fresh server hands out the same session id again: a new room, not the old one.
    s.matched(12, "32", "bob");
    assert_eq!(s.state.rooms.len(), 3);
    assert_eq!(s.state.active, 2);
    assert_eq!(s.lines(2), ["-- matched with bob (session 12)"]);
    s.take();
    assert_eq!(s.say("again").len(), 1, "the new session takes messages");
    assert!(s.state.rooms[1].ended.is_some(), "the old one stays ended");
}

#[test]
fn the_first_registration_is_no_new_account() {
    let s = Session::online_chat();
    assert_eq!(s.lines(0)[1], "-- registered as alice (id 11)");
    assert!(!s.lines(0).iter().any(|l| l.contains("new account")));
}

#[test]
fn chat_v1_refuses_a_line_above_the_frame_limit_and_keeps_it() {
    let mut s = Session::online_chat();
    s.matched(12, "10", "bob");
    s.take();
    // {"cmd":"DIALOGUE","requestId":"ab-1","senderId":11,"sessionId":12,"content":"…"}
    let overhead =
        r#"{"cmd":"DIALOGUE","requestId":"ab-1","senderId":11,"sessionId":12,"content":""}"#.len();
    let fits = "x".repeat(512 - overhead);
    assert_eq!(s.say(&fits).len(), 1, "exactly 512 bytes go out");

    let lines_before = s.state.rooms[1].lines.len();
    // Multi-byte text counts in bytes: 'é' is two.
    let long = "é".repeat(300);
    assert_eq!(
        s.say(&long),
        [],
        "a frame the server would close on is not sent"
    );
    assert_eq!(
        s.state.input.text(),
        long,
        "the text is back in the input line"
    );
    assert_eq!(s.state.rooms[1].lines.len(), lines_before + 1);
    // "ab-2" instead of "ab-1": the same length.
    let frame = overhead + 600;
    assert_eq!(
        s.lines(1).last().unwrap(),
        &format!(
            "-- too long for chat-json v1: it would make a {}-byte frame, and the server closes \
             the connection above 512 bytes. Shorten it by at least {} bytes; it is back in the \
             input line.",
            frame,
            frame - 512
        )
    );
    // v2 takes 10 KiB.
    s.state.input.clear();
    s.state.target.as_mut().unwrap().chat_v2 = true;
    assert_eq!(s.say(&long).len(), 1);
}

#[test]
fn own_group_messages_coming_back_confirm_the_line_and_are_not_shown_twice() {
    let mut s = Session::new(Dialect::Fishchat, "7");
    s.event(Event::LoggedIn {
        user: UserId::new("7"),
        token: None,
    });
    s.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    s.say("/join ops");
    s.say("same words");
    s.say("same words");
    s.take();
    let room = s.state.active;
    let ops = Conversation::Group(GroupId::new("ops"));
    let own_copy = |s: &mut Session| {
        s.event(Event::Delivered(Message {
            conversation: ops.clone(),
            from: UserId::new("7"),
            id: None,
            content: "same words".into(),
        }))
    };
    assert_eq!(
        s.lines(room)[1..],
        ["7: same words [Sent]", "7: same words [Sent]"]
    );

    assert_eq!(own_copy(&mut s), []);
    assert_eq!(
        s.lines(room)[1..],
        ["7: same words [Accepted(None)]", "7: same words [Sent]"],
        "the first copy confirms the first line"
    );
    own_copy(&mut s);
    assert_eq!(
        s.lines(room)[1..],
        [
            "7: same words [Accepted(None)]",
            "7: same words [Accepted(None)]"
        ]
    );
    assert_eq!(s.state.rooms[room].unread, 0);

    // A third copy matches nothing we sent: another device of ours said it; shown once, as ours.
    s.act(Action::Key(KeyAction::NextConversation));
    assert_ne!(s.state.active, room);
    assert_eq!(own_copy(&mut s), [], "no bell, no notification");
    assert_eq!(s.lines(room).len(), 4);
    assert_eq!(s.lines(room)[3], "7: same words [Accepted(None)]");
    assert_eq!(
        s.state.rooms[room].unread, 0,
        "our own words are never unread"
    );
}

#[test]
fn an_own_copy_with_an_id_is_acknowledged_and_names_the_id() {
    let mut s = Session::new(Dialect::SimpleIm, "13800");
    s.event(Event::LoggedIn {
        user: UserId::new("13800"),
        token: None,
    });
    s.event(Event::Connection(ConnectionState::Online {
        reconnect: false,
    }));
    // simple-im has no join: a group appears when it speaks to us.
    let g1 = Conversation::Group(GroupId::new("g1"));
    s.event(Event::Delivered(Message {
        conversation: g1.clone(),
        from: UserId::new("13900"),
        id: Some(MessageId::Text("m-8".into())),
        content: "welcome".into(),
    }));
    s.key(KeyAction::NextUnread);
    s.say("hello group");
    s.take();
    let room = s.state.active;
    assert_eq!(s.state.rooms[room].title, "#g1");
    assert_eq!(delivery(&s, room, 1), Delivery::Sending);
    let fx = s.event(Event::Delivered(Message {
        conversation: g1.clone(),
        from: UserId::new("13800"),
        id: Some(MessageId::Text("m-9".into())),
        content: "hello group".into(),
    }));
    assert_eq!(
        fx,
        [Effect::Send(Command::Ack {
            conversation: g1,
            id: MessageId::Text("m-9".into()),
        })]
    );
    assert_eq!(
        delivery(&s, room, 1),
        Delivery::Accepted(Some(MessageId::Text("m-9".into())))
    );
    // The server's own accept still finds its message (it stays in flight until then).
    s.event(Event::Accepted {
        client_ref: Some("ab-1".into()),
        id: Some(MessageId::Text("m-9".into())),
    });
    assert!(s.state.in_flight.is_empty());
    assert_eq!(
        delivery(&s, room, 1),
        Delivery::Accepted(Some(MessageId::Text("m-9".into())))
    );
    assert_eq!(s.state.rooms[room].lines.len(), 2);
}
