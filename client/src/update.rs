//! `update(&mut State, Action) -> Vec<Effect>`: every change of the client, without I/O.

use imkit_protocols::{
    Capabilities, Command, ConnectionState, Conversation, Dialect, Event, Message, MessageId,
    UserId,
};

use crate::action::{Action, NetEvent};
use crate::commands::{self, SlashCommand};
use crate::effect::{ConnectTarget, Effect};
use crate::keys::KeyAction;
use crate::state::{
    Delivery, FormField, InputMode, Level, Line, LineBody, Link, Outgoing, Room, Screen, State,
    Timestamp,
};
use crate::view::messages::max_scroll;

/// Pings that go unanswered before the client stops asking (the server does not answer them).
const MAX_UNANSWERED_PINGS: u32 = 3;

pub fn update(state: &mut State, action: Action) -> Vec<Effect> {
    let mut fx = Vec::new();
    match action {
        Action::Start(target) => start(state, target, &mut fx),
        Action::Tick(now) => tick(state, now, &mut fx),
        Action::Resize(w, h) => {
            state.size = (w, h);
            for i in 0..state.rooms.len() {
                state.rooms[i].scroll = state.rooms[i].scroll.min(max_scroll(state, i));
            }
        }
        Action::Key(key) => match state.screen {
            Screen::ConnectForm => form_key(state, key, &mut fx),
            Screen::Chat => chat_key(state, key, &mut fx),
        },
        Action::Insert(c) => match state.screen {
            Screen::ConnectForm => {
                if let Some(editor) = form_editor(state) {
                    editor.insert(c);
                }
            }
            Screen::Chat if c == '?' && state.input.is_empty() => state.help = !state.help,
            Screen::Chat => state.input.insert(c),
        },
        Action::Paste(text) => match state.screen {
            Screen::ConnectForm => {
                if let Some(editor) = form_editor(state) {
                    editor.insert_str(&text);
                }
            }
            Screen::Chat => state.input.insert_str(&text),
        },
        Action::Wheel(lines) => scroll_by(state, lines as isize),
        Action::Net(event) => net(state, event, &mut fx),
    }
    fx
}

fn caps(state: &State) -> Capabilities {
    state
        .dialect()
        .map(Dialect::capabilities)
        .unwrap_or(Capabilities::NONE)
}

/// Whether the dialect can do `command`; if not, says so in the active room.
fn allowed(state: &mut State, command: &Command) -> bool {
    let Some(dialect) = state.dialect() else {
        return false;
    };
    match dialect.capabilities().check(dialect, command) {
        Ok(()) => true,
        Err(e) => {
            let active = state.active;
            system(state, active, Level::Error, e.to_string());
            false
        }
    }
}

fn start(state: &mut State, target: ConnectTarget, fx: &mut Vec<Effect>) {
    state.screen = Screen::Chat;
    state.form.error = None;
    state.link = Link::Connecting;
    fx.push(Effect::Connect(target.clone()));
    state.target = Some(target);
}

// ---- time -------------------------------------------------------------------------------

fn tick(state: &mut State, now: Timestamp, fx: &mut Vec<Effect>) {
    state.now = now;
    if state.link != Link::Online
        || !caps(state).client_ping
        || state.ping.refused
        || state.ping.unanswered >= MAX_UNANSWERED_PINGS
    {
        return;
    }
    if let Some(sent) = state.ping.sent_at
        && now.since(sent) >= state.settings.ping_every
    {
        state.ping.sent_at = None;
        state.ping.unanswered += 1;
    }
    let due = state.ping.next_at.is_none_or(|at| at <= now);
    if state.ping.sent_at.is_none() && due {
        state.ping.sent_at = Some(now);
        state.ping.next_at = Some(now.after(state.settings.ping_every));
        fx.push(Effect::Send(Command::Ping));
    }
}

// ---- the connect form ---------------------------------------------------------------------

fn form_editor(state: &mut State) -> Option<&mut crate::editor::Editor> {
    match state.form.focus {
        FormField::Address => Some(&mut state.form.address),
        FormField::User => Some(&mut state.form.user),
        FormField::Password => Some(&mut state.form.password),
        FormField::Profile | FormField::Dialect => None,
    }
}

fn form_key(state: &mut State, key: KeyAction, fx: &mut Vec<Effect>) {
    let order = FormField::ORDER;
    let at = order
        .iter()
        .position(|f| *f == state.form.focus)
        .unwrap_or(0);
    let first = if state.form.profiles.is_empty() { 1 } else { 0 };
    match key {
        KeyAction::NextField | KeyAction::HistoryNext | KeyAction::ScrollDown => {
            state.form.focus = order[(at + 1).max(first).min(order.len() - 1)];
        }
        KeyAction::PrevField | KeyAction::HistoryPrev | KeyAction::ScrollUp => {
            state.form.focus = order[at.saturating_sub(1).max(first)];
        }
        KeyAction::Left | KeyAction::Right if state.form.focus == FormField::Profile => {
            let n = state.form.profiles.len();
            if n > 0 {
                let next = match (state.form.profile, key) {
                    (None, KeyAction::Left) => n - 1,
                    (None, _) => 0,
                    (Some(i), KeyAction::Left) => (i + n - 1) % n,
                    (Some(i), _) => (i + 1) % n,
                };
                apply_profile(state, next);
            }
        }
        KeyAction::Left | KeyAction::Right if state.form.focus == FormField::Dialect => {
            let all = Dialect::ALL;
            let i = all
                .iter()
                .position(|d| *d == state.form.dialect)
                .unwrap_or(0);
            let next = if key == KeyAction::Left {
                all[(i + all.len() - 1) % all.len()]
            } else {
                all[(i + 1) % all.len()]
            };
            let old_default = state.form.dialect.default_client_address();
            let address = state.form.address.text();
            if address.is_empty() || address == old_default {
                state.form.address =
                    crate::editor::Editor::with_text(next.default_client_address());
            }
            state.form.dialect = next;
        }
        KeyAction::Submit => submit_form(state, fx),
        KeyAction::Quit => fx.push(Effect::Quit),
        KeyAction::Cancel if state.help => state.help = false,
        KeyAction::Cancel => state.form.error = None,
        KeyAction::Help => state.help = !state.help,
        other => {
            if let Some(editor) = form_editor(state) {
                edit(editor, other);
            }
        }
    }
}

fn apply_profile(state: &mut State, index: usize) {
    let profile = state.form.profiles[index].clone();
    state.form.profile = Some(index);
    if let Ok(dialect) = profile.dialect.parse::<Dialect>() {
        state.form.dialect = dialect;
    }
    let address = profile
        .address
        .unwrap_or_else(|| state.form.dialect.default_client_address().to_owned());
    state.form.address = crate::editor::Editor::with_text(&address);
    state.form.user = crate::editor::Editor::with_text(profile.user.as_deref().unwrap_or(""));
    state.form.password =
        crate::editor::Editor::with_text(profile.password.as_deref().unwrap_or(""));
}

fn submit_form(state: &mut State, fx: &mut Vec<Effect>) {
    let form = &state.form;
    let dialect = form.dialect;
    let caps = dialect.capabilities();
    let address = form.address.text().trim().to_owned();
    let user = form.user.text().trim().to_owned();
    let password = form.password.text();
    let profile = form.profile.map(|i| &form.profiles[i]);
    let password_cmd = profile.and_then(|p| p.password_cmd.clone());
    let chat_v2 = profile.is_some_and(|p| p.chat_v2);
    let problem = if address.is_empty() {
        Some(format!(
            "Enter the server address, e.g. {}",
            dialect.default_client_address()
        ))
    } else if user.is_empty() {
        Some(if caps.register {
            "Enter a nickname: the chat-json server creates an account for it.".to_owned()
        } else {
            format!("Enter the user id to log in to the {dialect} server as.")
        })
    } else if caps.password && password.is_empty() && password_cmd.is_none() {
        Some(format!("The {dialect} server checks a password: enter it."))
    } else {
        None
    };
    if let Some(problem) = problem {
        state.form.error = Some(problem);
        return;
    }
    let target = ConnectTarget {
        dialect,
        address,
        user: Some(user),
        password: (!password.is_empty()).then_some(password),
        password_cmd,
        chat_v2,
    };
    start(state, target, fx);
}

fn edit(editor: &mut crate::editor::Editor, key: KeyAction) {
    match key {
        KeyAction::Backspace => editor.backspace(),
        KeyAction::Delete => editor.delete(),
        KeyAction::Left => editor.left(),
        KeyAction::Right => editor.right(),
        KeyAction::WordLeft => editor.word_left(),
        KeyAction::WordRight => editor.word_right(),
        KeyAction::LineStart => editor.home(),
        KeyAction::LineEnd => editor.end(),
        KeyAction::KillToEnd => editor.kill_to_end(),
        KeyAction::KillToStart => editor.kill_to_start(),
        KeyAction::KillWord => editor.kill_word_back(),
        KeyAction::Yank => editor.yank(),
        KeyAction::HistoryPrev => editor.history_prev(),
        KeyAction::HistoryNext => editor.history_next(),
        KeyAction::ClearLine => editor.clear(),
        _ => {}
    }
}

// ---- chat keys ------------------------------------------------------------------------------

fn chat_key(state: &mut State, key: KeyAction, fx: &mut Vec<Effect>) {
    match key {
        KeyAction::Submit => {
            state.help = false;
            let line = state.input.submit();
            submit_line(state, &line, fx);
        }
        KeyAction::NextConversation | KeyAction::NextField => {
            let next = (state.active + 1) % state.rooms.len();
            switch_to(state, next, fx);
        }
        KeyAction::PrevConversation | KeyAction::PrevField => {
            let n = state.rooms.len();
            switch_to(state, (state.active + n - 1) % n, fx);
        }
        KeyAction::NextUnread => {
            let n = state.rooms.len();
            if let Some(next) = (1..n)
                .map(|k| (state.active + k) % n)
                .find(|&i| state.rooms[i].unread > 0)
            {
                switch_to(state, next, fx);
            }
        }
        KeyAction::ScrollUp => scroll_by(state, 1),
        KeyAction::ScrollDown => scroll_by(state, -1),
        KeyAction::PageUp => scroll_by(state, page(state)),
        KeyAction::PageDown => scroll_by(state, -page(state)),
        KeyAction::ScrollTop => {
            let max = max_scroll(state, state.active);
            state.rooms[state.active].scroll = max;
        }
        KeyAction::ScrollBottom => state.rooms[state.active].scroll = 0,
        KeyAction::Help => state.help = !state.help,
        KeyAction::Cancel => state.help = false,
        KeyAction::Quit => fx.push(Effect::Quit),
        KeyAction::NormalMode => {
            state.mode = InputMode::Normal;
            state.input.left();
        }
        KeyAction::InsertMode => state.mode = InputMode::Insert,
        KeyAction::InsertAfter => {
            state.input.right();
            state.mode = InputMode::Insert;
        }
        KeyAction::InsertAtStart => {
            state.input.home();
            state.mode = InputMode::Insert;
        }
        KeyAction::InsertAtEnd => {
            state.input.end();
            state.mode = InputMode::Insert;
        }
        KeyAction::CommandLine => {
            state.input.clear();
            state.input.insert('/');
            state.mode = InputMode::Insert;
        }
        other => edit(&mut state.input, other),
    }
}

/// Rows per PgUp/PgDn: the message area less one row of overlap.
fn page(state: &State) -> isize {
    let (_, height) = crate::view::messages::area_size(state);
    (height as isize - 1).max(1)
}

fn scroll_by(state: &mut State, rows: isize) {
    let max = max_scroll(state, state.active) as isize;
    let room = &mut state.rooms[state.active];
    room.scroll = (room.scroll as isize + rows).clamp(0, max) as usize;
}

fn switch_to(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    state.active = index;
    state.rooms[index].unread = 0;
    auto_read(state, fx);
}

/// Send a read receipt for the active room when the user looks at new messages.
fn auto_read(state: &mut State, fx: &mut Vec<Effect>) {
    if state.settings.auto_read
        && state.screen == Screen::Chat
        && state.link == Link::Online
        && caps(state).read_receipts
    {
        send_read(state, state.active, fx);
    }
}

fn send_read(state: &mut State, index: usize, fx: &mut Vec<Effect>) -> bool {
    let room = &mut state.rooms[index];
    match (&room.conversation, &room.last_incoming) {
        (Some(conversation), Some(last)) if room.read_sent.as_ref() != Some(last) => {
            fx.push(Effect::Send(Command::Read {
                conversation: conversation.clone(),
                up_to: last.clone(),
            }));
            room.read_sent = Some(last.clone());
            true
        }
        _ => false,
    }
}

// ---- typed lines ------------------------------------------------------------------------------

fn submit_line(state: &mut State, line: &str, fx: &mut Vec<Effect>) {
    if line.trim().is_empty() {
        return;
    }
    if commands::is_command(line) {
        match commands::parse(line) {
            Ok(command) => run_command(state, command, fx),
            Err(e) => {
                let active = state.active;
                system(state, active, Level::Error, e.to_string());
            }
        }
        return;
    }
    let text = line.strip_prefix('/').unwrap_or(line).to_owned();
    let active = state.active;
    if !send_text(state, active, text, fx) {
        // Refused before it left: give the line back to be edited.
        state.input.insert_str(line);
    }
}

/// Whether a command may go out now; explains when not.
fn online_for(state: &mut State, what: &str) -> bool {
    match &state.link {
        Link::Online | Link::Connecting | Link::Reconnecting { .. } => true,
        Link::Idle | Link::Offline { .. } => {
            let active = state.active;
            system(
                state,
                active,
                Level::Error,
                format!("cannot {what} while offline; /reconnect first"),
            );
            false
        }
    }
}

fn run_command(state: &mut State, command: SlashCommand, fx: &mut Vec<Effect>) {
    let active = state.active;
    match command {
        SlashCommand::Match => {
            if allowed(state, &Command::Match) && online_for(state, "match") {
                system(state, active, Level::Info, "looking for a partner…".into());
                fx.push(Effect::Send(Command::Match));
            }
        }
        SlashCommand::Msg { user, text } => open_direct(state, user, text, fx),
        SlashCommand::Join(group) => {
            let command = Command::JoinGroup {
                group: group.clone(),
            };
            if allowed(state, &command) && online_for(state, "join a group") {
                let index = ensure_room(state, Conversation::Group(group.clone()), None);
                switch_to(state, index, fx);
                system(state, index, Level::Info, format!("joining #{group}…"));
                fx.push(Effect::Send(command));
            }
        }
        SlashCommand::Create(group) => {
            let command = Command::CreateGroup {
                group: group.clone(),
            };
            if allowed(state, &command) && online_for(state, "create a group") {
                let index = ensure_room(state, Conversation::Group(group.clone()), None);
                switch_to(state, index, fx);
                system(state, index, Level::Info, format!("creating #{group}…"));
                fx.push(Effect::Send(command));
            }
        }
        SlashCommand::Leave => match state.rooms[active].conversation.clone() {
            Some(Conversation::Group(group)) => {
                let command = Command::LeaveGroup { group };
                if allowed(state, &command) {
                    fx.push(Effect::Send(command));
                    close_room(state, active, fx);
                }
            }
            Some(Conversation::Session(_)) => close_conversation(state, active, fx),
            _ => system(
                state,
                active,
                Level::Error,
                "/leave works in a group or session; /close closes this window".into(),
            ),
        },
        SlashCommand::Close => close_conversation(state, active, fx),
        SlashCommand::Read => {
            let command = match (
                &state.rooms[active].conversation,
                &state.rooms[active].last_incoming,
            ) {
                (Some(conversation), Some(up_to)) => Command::Read {
                    conversation: conversation.clone(),
                    up_to: up_to.clone(),
                },
                _ => {
                    system(
                        state,
                        active,
                        Level::Info,
                        "nothing here to mark as read".into(),
                    );
                    return;
                }
            };
            if allowed(state, &command) {
                state.rooms[active].read_sent = None;
                if send_read(state, active, fx) {
                    system(state, active, Level::Info, "read receipt sent".into());
                }
            }
        }
        SlashCommand::Reconnect => match state.target.clone() {
            Some(target) => {
                system(state, 0, Level::Info, "reconnecting…".into());
                start(state, target, fx);
            }
            None => system(state, active, Level::Error, "no server chosen yet".into()),
        },
        SlashCommand::Nick(nick) => {
            let registers = state.target.as_ref().is_some_and(ConnectTarget::registers);
            if registers {
                if let Some(target) = state.target.as_mut() {
                    target.user = Some(nick.clone());
                }
                system(
                    state,
                    active,
                    Level::Info,
                    format!(
                        "you will be {nick} from the next connection; /reconnect to use it now"
                    ),
                );
            } else if let Some(me) = state.me.clone() {
                state.names.insert(me, nick.clone());
                system(
                    state,
                    active,
                    Level::Info,
                    format!("you appear as {nick} on this screen (this dialect has no nicknames)"),
                );
            } else {
                system(state, active, Level::Error, "not logged in yet".into());
            }
        }
        SlashCommand::Help => state.help = true,
        SlashCommand::Quit => fx.push(Effect::Quit),
    }
}

/// `/msg USER [TEXT]`: a direct conversation, by user address or by opening a session.
fn open_direct(state: &mut State, user: UserId, text: Option<String>, fx: &mut Vec<Effect>) {
    let caps = caps(state);
    let active = state.active;
    if caps.send_to_user {
        let index = ensure_room(state, Conversation::User(user.clone()), Some(user));
        switch_to(state, index, fx);
        if let Some(text) = text {
            send_text(state, index, text, fx);
        }
    } else if caps.open_session {
        let command = Command::OpenSession { peer: user.clone() };
        if online_for(state, "open a session") {
            system(
                state,
                active,
                Level::Info,
                format!("opening a session with {user}…"),
            );
            state.pending_opens.push((user, text.into_iter().collect()));
            fx.push(Effect::Send(command));
        }
    } else {
        let dialect = state.dialect().map(|d| d.name()).unwrap_or("this");
        let hint = if caps.match_partner {
            "; /match finds a partner"
        } else {
            ""
        };
        system(
            state,
            active,
            Level::Error,
            format!("the {dialect} dialect cannot address a user directly{hint}"),
        );
    }
}

fn close_conversation(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    if index == 0 {
        system(
            state,
            0,
            Level::Error,
            "the server room stays open; /quit leaves imchat".into(),
        );
        return;
    }
    let room = &state.rooms[index];
    if let (Some(Conversation::Session(session)), Some(peer), None) =
        (&room.conversation, &room.peer, &room.ended)
        && caps(state).close_session
    {
        fx.push(Effect::Send(Command::CloseSession {
            session: *session,
            peer: peer.clone(),
        }));
    }
    close_room(state, index, fx);
}

fn close_room(state: &mut State, index: usize, fx: &mut Vec<Effect>) {
    state.rooms.remove(index);
    let next = index.saturating_sub(1).min(state.rooms.len() - 1);
    switch_to(state, next, fx);
}

/// Send (or queue) `text` in room `index`; false when it was refused before any line was
/// added (no conversation here, or too big for the server).
fn send_text(state: &mut State, index: usize, text: String, fx: &mut Vec<Effect>) -> bool {
    let Some(conversation) = state.rooms[index].conversation.clone() else {
        system(
            state,
            index,
            Level::Error,
            "this is the server room: open a conversation first (/match, /msg USER, /join GROUP)"
                .into(),
        );
        return false;
    };
    state.next_ref += 1;
    let client_ref = state.client_ref(state.next_ref);
    let command = Command::Send {
        to: conversation,
        client_ref: client_ref.clone(),
        content: text.clone(),
    };
    if let Some(why) = crate::size_limit::refusal(state, &command) {
        system(state, index, Level::Error, why);
        return false;
    }
    let refusal = match (&state.rooms[index].ended, state.dialect()) {
        (Some(why), _) => Some(why.clone()),
        (None, Some(dialect)) => dialect
            .capabilities()
            .check(dialect, &command)
            .err()
            .map(|e| e.to_string()),
        (None, None) => Some("not connected".into()),
    };
    let delivery = match refusal {
        Some(reason) => Delivery::NotSent(reason),
        None if state.link == Link::Online => {
            fx.push(Effect::Send(command));
            sending_state(state, &client_ref)
        }
        None => {
            state.outbox.push_back(client_ref.clone());
            if matches!(state.link, Link::Offline { .. } | Link::Idle) {
                system(
                    state,
                    index,
                    Level::Notice,
                    "offline: your message is queued and goes out when the connection is back (/reconnect)".into(),
                );
            }
            Delivery::Queued
        }
    };
    let from = state.my_name();
    push_line(
        state,
        index,
        LineBody::Message {
            from,
            text,
            id: None,
            own: Some(Outgoing {
                client_ref,
                delivery,
                echoed: false,
            }),
        },
    );
    state.rooms[index].scroll = 0;
    true
}

/// The state of a message just handed to the connection.
fn sending_state(state: &mut State, client_ref: &str) -> Delivery {
    if caps(state).server_accept {
        state.in_flight.push_back(client_ref.to_owned());
        Delivery::Sending
    } else {
        Delivery::Sent
    }
}

fn flush_outbox(state: &mut State, fx: &mut Vec<Effect>) {
    while let Some(client_ref) = state.outbox.pop_front() {
        let Some((index, line)) = find_own(state, &client_ref) else {
            continue;
        };
        let (conversation, content) = match &state.rooms[index].lines[line].body {
            LineBody::Message { text, .. } => {
                (state.rooms[index].conversation.clone(), text.clone())
            }
            LineBody::System { .. } => continue,
        };
        let (Some(to), None) = (conversation, state.rooms[index].ended.clone()) else {
            set_delivery(
                state,
                &client_ref,
                Delivery::NotSent("the conversation ended before the connection came back".into()),
            );
            continue;
        };
        fx.push(Effect::Send(Command::Send {
            to,
            client_ref: client_ref.clone(),
            content,
        }));
        let delivery = sending_state(state, &client_ref);
        set_delivery(state, &client_ref, delivery);
    }
}

fn find_own(state: &State, client_ref: &str) -> Option<(usize, usize)> {
    state.rooms.iter().enumerate().find_map(|(r, room)| {
        room.lines.iter().rposition(|l| {
            matches!(&l.body, LineBody::Message { own: Some(o), .. } if o.client_ref == client_ref)
        })
        .map(|l| (r, l))
    })
}

fn set_delivery(state: &mut State, client_ref: &str, delivery: Delivery) {
    if let Some((r, l)) = find_own(state, client_ref)
        && let LineBody::Message { own: Some(o), .. } = &mut state.rooms[r].lines[l].body
    {
        o.delivery = delivery;
    }
}

// ---- rooms and lines --------------------------------------------------------------------------

fn title_of(state: &State, conversation: &Conversation, peer: Option<&UserId>) -> String {
    match (conversation, peer) {
        (Conversation::Group(g), _) => format!("#{g}"),
        (_, Some(peer)) => state.name_of(peer),
        (Conversation::User(u), None) => state.name_of(u),
        (Conversation::Session(s), None) => format!("session {s}"),
    }
}

fn ensure_room(state: &mut State, conversation: Conversation, peer: Option<UserId>) -> usize {
    if let Some(index) = state.room_of(&conversation) {
        if peer.is_some() && state.rooms[index].peer.is_none() {
            let title = title_of(state, &conversation, peer.as_ref());
            let room = &mut state.rooms[index];
            room.peer = peer;
            room.title = title;
        }
        return index;
    }
    let title = title_of(state, &conversation, peer.as_ref());
    let mut room = Room::new(Some(conversation), title);
    room.peer = peer;
    state.rooms.push(room);
    state.rooms.len() - 1
}

fn push_line(state: &mut State, index: usize, body: LineBody) {
    let line = Line {
        at: state.now,
        body,
    };
    let limit = state.settings.scrollback.max(1);
    let room = &mut state.rooms[index];
    if room.scroll > 0 {
        // Keep the lines the reader is looking at in place.
        room.scroll += 1;
    }
    room.lines.push_back(line);
    while room.lines.len() > limit {
        room.lines.pop_front();
    }
}

fn system(state: &mut State, index: usize, level: Level, text: String) {
    push_line(state, index, LineBody::System { level, text });
}

/// A line in every room (connection changes concern them all).
fn everywhere(state: &mut State, level: Level, text: String) {
    for index in 0..state.rooms.len() {
        system(state, index, level, text.clone());
    }
}

/// Count a new line in a room the user is not looking at, and notify.
fn attention(state: &mut State, index: usize, title: String, body: String, fx: &mut Vec<Effect>) {
    if index == state.active {
        return;
    }
    state.rooms[index].unread += 1;
    if state.settings.bell {
        fx.push(Effect::Bell);
    }
    if state.settings.desktop {
        let body: String = body.chars().take(200).collect();
        fx.push(Effect::Notify { title, body });
    }
}

// ---- the network ------------------------------------------------------------------------------

fn net(state: &mut State, event: NetEvent, fx: &mut Vec<Effect>) {
    match event {
        NetEvent::Connecting => {
            state.link = Link::Connecting;
            let text = match &state.target {
                Some(t) => format!("connecting to {} ({})…", t.address, t.dialect),
                None => "connecting…".into(),
            };
            system(state, 0, Level::Info, text);
        }
        NetEvent::ConnectFailed(reason) => {
            state.link = Link::Offline {
                reason: reason.clone(),
            };
            if state.screen == Screen::ConnectForm {
                state.form.error = Some(reason);
                return;
            }
            system(state, 0, Level::Error, reason.clone());
            if state.active != 0 {
                let active = state.active;
                system(state, active, Level::Error, reason);
            }
            if state.target.is_some() && state.me.is_none() && state.rooms.len() == 1 {
                // Nothing happened yet: let the user fix the address or name on the form.
                state.screen = Screen::ConnectForm;
                state.form.error = match &state.link {
                    Link::Offline { reason } => Some(reason.clone()),
                    _ => None,
                };
                if let Some(t) = &state.target {
                    state.form.dialect = t.dialect;
                    state.form.address = crate::editor::Editor::with_text(&t.address);
                    state.form.user =
                        crate::editor::Editor::with_text(t.user.as_deref().unwrap_or(""));
                }
            }
        }
        NetEvent::SendFailed { command, reason } => match command {
            Command::Send { client_ref, .. } => {
                state.in_flight.retain(|r| *r != client_ref);
                set_delivery(state, &client_ref, Delivery::NotSent(reason));
            }
            Command::Ping => {
                state.ping.refused = true;
                state.ping.sent_at = None;
            }
            other => {
                let active = state.active;
                system(
                    state,
                    active,
                    Level::Error,
                    format!("{} failed: {reason}", other.kind().replace('_', " ")),
                );
            }
        },
        NetEvent::Event(event) => server_event(state, event, fx),
    }
}

fn server_event(state: &mut State, event: Event, fx: &mut Vec<Effect>) {
    let active = state.active;
    match event {
        Event::LookedUp { address } => {
            system(state, 0, Level::Info, format!("server found at {address}"));
        }
        Event::Registered { user, nick, .. } => {
            state.names.insert(user.clone(), nick.clone());
            if state.me.is_some() {
                new_account(state, &user, &nick);
            } else {
                system(
                    state,
                    0,
                    Level::Info,
                    format!("registered as {nick} (id {user})"),
                );
            }
            state.me = Some(user);
        }
        Event::LoggedIn { user, .. } => {
            let name = state.name_of(&user);
            system(state, 0, Level::Info, format!("logged in as {name}"));
            state.me = Some(user);
        }
        Event::Matched {
            session,
            peer,
            peer_name,
        } => {
            if let Some(name) = peer_name {
                state.names.insert(peer.clone(), name);
            }
            let index = ensure_room(state, Conversation::Session(session), Some(peer.clone()));
            let name = state.name_of(&peer);
            state.rooms[index].ended = None;
            system(
                state,
                index,
                Level::Notice,
                format!("matched with {name} (session {session})"),
            );
            switch_to(state, index, fx);
        }
        Event::NoPartner => system(
            state,
            active,
            Level::Notice,
            "nobody is free to match right now; try /match again in a moment".into(),
        ),
        Event::SessionOpened {
            session,
            peer,
            peer_name,
            by_peer,
        } => {
            if let Some(name) = peer_name {
                state.names.insert(peer.clone(), name);
            }
            let existed = state.room_of(&Conversation::Session(session)).is_some();
            let index = ensure_room(state, Conversation::Session(session), Some(peer.clone()));
            state.rooms[index].ended = None;
            let name = state.name_of(&peer);
            if by_peer {
                if !existed {
                    system(
                        state,
                        index,
                        Level::Notice,
                        format!("{name} started a conversation with you"),
                    );
                    system(
                        state,
                        0,
                        Level::Notice,
                        format!("new conversation with {name}"),
                    );
                    attention(
                        state,
                        index,
                        "imchat".into(),
                        format!("{name} started a conversation with you"),
                        fx,
                    );
                }
            } else {
                system(
                    state,
                    index,
                    Level::Notice,
                    format!("conversation with {name} open"),
                );
                switch_to(state, index, fx);
            }
            // `/msg` texts waiting for this session.
            if let Some(at) = state.pending_opens.iter().position(|(u, _)| *u == peer) {
                let (_, texts) = state.pending_opens.remove(at);
                for text in texts {
                    send_text(state, index, text, fx);
                }
            }
        }
        Event::SessionClosed { session } => {
            if let Some(index) = state.room_of(&Conversation::Session(session)) {
                state.rooms[index].ended = Some("the conversation was closed".into());
                system(state, index, Level::Notice, "conversation closed".into());
            }
        }
        Event::PartnerLeft { session, user } => {
            let name = state.name_of(&user);
            if let Some(index) = state.room_of(&Conversation::Session(session)) {
                let first = state.rooms[index].ended.is_none();
                state.rooms[index].ended = Some(format!("{name} left; /match for a new partner"));
                if first {
                    system(
                        state,
                        index,
                        Level::Notice,
                        format!("{name} left the conversation"),
                    );
                }
            }
        }
        Event::Accepted { client_ref, id } => {
            let client_ref = client_ref
                .filter(|r| state.in_flight.contains(r))
                .or_else(|| state.in_flight.front().cloned());
            if let Some(client_ref) = client_ref {
                state.in_flight.retain(|r| *r != client_ref);
                set_delivery(state, &client_ref, Delivery::Accepted(id));
            }
        }
        Event::Delivered(message) => delivered(state, message, fx),
        Event::ReadUpTo {
            conversation,
            reader,
            up_to,
        } => {
            if state.me.as_ref() != Some(&reader)
                && let Some(index) = state.room_of(&conversation)
            {
                mark_read(&mut state.rooms[index], &up_to);
            }
        }
        Event::Done { operation } => tracing::debug!(operation, "done"),
        Event::GroupJoined { group, .. } => {
            let index = ensure_room(state, Conversation::Group(group.clone()), None);
            system(state, index, Level::Info, format!("you are in #{group}"));
        }
        Event::MemberJoined { group, user } => {
            if let Some(index) = state.room_of(&Conversation::Group(group)) {
                let name = state.name_of(&user);
                system(state, index, Level::Info, format!("{name} joined"));
            }
        }
        Event::MemberLeft { group, user } => {
            if let Some(index) = state.room_of(&Conversation::Group(group)) {
                let name = state.name_of(&user);
                system(state, index, Level::Info, format!("{name} left"));
            }
        }
        Event::Ping => {}
        Event::Pong => {
            if let Some(sent) = state.ping.sent_at.take() {
                state.rtt = Some(state.now.since(sent));
                state.ping.unanswered = 0;
            }
        }
        Event::Error { code, message } => {
            // A ping the server cannot take is not the user's problem: stop pinging.
            if state.ping.sent_at.is_some() && message.contains("ping") {
                state.ping.refused = true;
                state.ping.sent_at = None;
                return;
            }
            let text = match code {
                Some(code) => format!("server error {code}: {message}"),
                None => format!("error: {message}"),
            };
            system(state, 0, Level::Error, text.clone());
            if active != 0 && !matches!(state.link, Link::Reconnecting { .. }) {
                system(state, active, Level::Error, text);
            }
        }
        Event::Connection(connection) => connection_changed(state, connection, fx),
    }
}

/// Registered again after a reconnect (chat v1 always, v2 when the resume was refused): the
/// server knows us under a new account, and every session of the old one is gone with it.
fn new_account(state: &mut State, user: &UserId, nick: &str) {
    system(
        state,
        0,
        Level::Notice,
        format!(
            "the server gave you a new account after the reconnect: {nick} (id {user}); \
             your earlier conversations ended with the old one"
        ),
    );
    for index in 1..state.rooms.len() {
        if !matches!(
            state.rooms[index].conversation,
            Some(Conversation::Session(_))
        ) || state.rooms[index].retired
        {
            continue;
        }
        state.rooms[index].retired = true;
        if state.rooms[index].ended.is_some() {
            continue;
        }
        state.rooms[index].ended =
            Some("this conversation belonged to your old account; /match for a new partner".into());
        system(
            state,
            index,
            Level::Error,
            "this conversation ended: after the reconnect the server gave you a new account, \
             and your partner cannot reach it; /match for a new partner"
                .into(),
        );
    }
    state.pending_opens.clear();
}

fn delivered(state: &mut State, message: Message, fx: &mut Vec<Effect>) {
    let Message {
        conversation,
        from,
        id,
        content,
    } = message;
    if state.me.as_ref() == Some(&from) {
        own_copy(state, conversation, id, content, fx);
        return;
    }
    let peer = match &conversation {
        Conversation::Group(_) => None,
        _ => Some(from.clone()),
    };
    let index = ensure_room(state, conversation.clone(), peer);
    let name = state.name_of(&from);
    if let Some(id) = &id {
        state.rooms[index].last_incoming = Some(id.clone());
        if caps(state).delivery_ack {
            fx.push(Effect::Send(Command::Ack {
                conversation: conversation.clone(),
                id: id.clone(),
            }));
        }
    }
    push_line(
        state,
        index,
        LineBody::Message {
            from: name.clone(),
            text: content.clone(),
            id,
            own: None,
        },
    );
    if index == state.active {
        auto_read(state, fx);
    } else {
        let title = match &state.rooms[index].conversation {
            Some(Conversation::Group(_)) => format!("{name} in {}", state.rooms[index].title),
            _ => name,
        };
        attention(state, index, title, content, fx);
    }
}

/// A message of ours coming back: a group fans out to its sender too (fishchat topics, the
/// hub to our other devices). The copy of a line we sent confirms it; another device's
/// message is shown as ours. Neither counts as unread.
fn own_copy(
    state: &mut State,
    conversation: Conversation,
    id: Option<MessageId>,
    content: String,
    fx: &mut Vec<Effect>,
) {
    if let Some(id) = &id
        && caps(state).delivery_ack
    {
        // The server wants every delivery acknowledged, ours included.
        fx.push(Effect::Send(Command::Ack {
            conversation: conversation.clone(),
            id: id.clone(),
        }));
    }
    let index = ensure_room(state, conversation, None);
    let pending = state.rooms[index]
        .lines
        .iter_mut()
        .find_map(|line| match &mut line.body {
            LineBody::Message {
                text, own: Some(o), ..
            } if !o.echoed
                && *text == content
                && matches!(
                    o.delivery,
                    Delivery::Sending
                        | Delivery::Sent
                        | Delivery::Unconfirmed
                        | Delivery::Accepted(_)
                ) =>
            {
                Some(o)
            }
            _ => None,
        });
    if let Some(own) = pending {
        own.echoed = true;
        own.delivery = match &own.delivery {
            Delivery::Accepted(Some(known)) => Delivery::Accepted(Some(known.clone())),
            _ => Delivery::Accepted(id),
        };
        return;
    }
    let from = state.my_name();
    push_line(
        state,
        index,
        LineBody::Message {
            from,
            text: content,
            id: id.clone(),
            own: Some(Outgoing {
                client_ref: String::new(),
                delivery: Delivery::Accepted(id),
                echoed: true,
            }),
        },
    );
}

/// Everything up to `up_to` was read: our accepted messages at or before it.
fn mark_read(room: &mut Room, up_to: &MessageId) {
    let limit = up_to.as_seq();
    // Without numeric ids, the position of the named message is the bound.
    let position = room.lines.iter().rposition(|l| match &l.body {
        LineBody::Message { own: Some(o), .. } => o.delivery.id() == Some(up_to),
        _ => false,
    });
    for (i, line) in room.lines.iter_mut().enumerate() {
        if let LineBody::Message { own: Some(o), .. } = &mut line.body
            && let Delivery::Accepted(id) = &o.delivery
        {
            let covered = match (limit, id.as_ref().and_then(MessageId::as_seq)) {
                (Some(limit), Some(seq)) => seq <= limit,
                _ => position.is_some_and(|p| i <= p),
            };
            if covered {
                o.delivery = Delivery::Read(id.clone());
            }
        }
    }
}

fn connection_changed(state: &mut State, connection: ConnectionState, fx: &mut Vec<Effect>) {
    match connection {
        ConnectionState::Online { reconnect } => {
            state.link = Link::Online;
            state.ping = Default::default();
            if reconnect {
                for index in 0..state.rooms.len() {
                    let text = match &state.rooms[index].conversation {
                        Some(Conversation::Group(g)) => format!("reconnected; rejoined #{g}"),
                        _ => "reconnected".to_owned(),
                    };
                    system(state, index, Level::Notice, text);
                }
            } else {
                let text = match &state.target {
                    Some(t) => format!(
                        "connected to {} as {}; /help lists the commands",
                        t.address,
                        state.my_name()
                    ),
                    None => "connected".into(),
                };
                system(state, 0, Level::Notice, text);
            }
            flush_outbox(state, fx);
            auto_read(state, fx);
        }
        ConnectionState::Lost { reason } => {
            state.link = Link::Offline {
                reason: reason.clone(),
            };
            state.rtt = None;
            everywhere(state, Level::Error, format!("connection lost: {reason}"));
            unconfirm_in_flight(state);
        }
        ConnectionState::Reconnecting { attempt, delay } => {
            state.link = Link::Reconnecting {
                attempt,
                at: state.now.after(delay),
            };
            system(
                state,
                0,
                Level::Info,
                format!(
                    "reconnecting in {:.1}s (attempt {attempt})",
                    delay.as_secs_f32()
                ),
            );
        }
        ConnectionState::Closed { reason } => {
            state.link = Link::Offline {
                reason: reason.clone(),
            };
            state.rtt = None;
            everywhere(
                state,
                Level::Error,
                format!("disconnected: {reason}; /reconnect to connect again"),
            );
            unconfirm_in_flight(state);
        }
    }
}

/// Messages handed over but never confirmed: they may be lost with the connection.
fn unconfirm_in_flight(state: &mut State) {
    while let Some(client_ref) = state.in_flight.pop_front() {
        set_delivery(state, &client_ref, Delivery::Unconfirmed);
    }
}
