//! `view(&State, &mut Frame)`: draws the state, changes nothing.

pub mod connect_form;
pub mod conversations;
pub mod help;
pub mod input;
pub mod messages;
pub mod status;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

use crate::state::{Screen, State};

/// Below this width the conversations become a row of tabs instead of a side list.
pub const WIDE_FROM: u16 = 60;

/// Where each part of the chat screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatLayout {
    pub sidebar: Option<Rect>,
    pub tabs: Option<Rect>,
    pub title: Option<Rect>,
    pub messages: Rect,
    pub input: Rect,
    pub status: Rect,
}

impl ChatLayout {
    pub fn new(area: Rect) -> ChatLayout {
        let [main, input, status] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .areas(area);
        if area.width >= WIDE_FROM {
            let side = (area.width / 5).clamp(16, 26);
            let [sidebar, right] =
                Layout::horizontal([Constraint::Length(side), Constraint::Fill(1)]).areas(main);
            let [title, messages] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(right);
            ChatLayout {
                sidebar: Some(sidebar),
                tabs: None,
                title: Some(title),
                messages,
                input,
                status,
            }
        } else {
            let [tabs, messages] =
                Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(main);
            ChatLayout {
                sidebar: None,
                tabs: Some(tabs),
                title: None,
                messages,
                input,
                status,
            }
        }
    }
}

pub fn view(state: &State, frame: &mut Frame) {
    let area = frame.area();
    match state.screen {
        Screen::ConnectForm => connect_form::render(state, frame, area),
        Screen::Chat => {
            let layout = ChatLayout::new(area);
            if let Some(sidebar) = layout.sidebar {
                conversations::render_list(state, frame, sidebar);
            }
            if let Some(tabs) = layout.tabs {
                conversations::render_tabs(state, frame, tabs);
            }
            if let Some(title) = layout.title {
                messages::render_title(state, frame, title);
            }
            messages::render(state, frame, layout.messages);
            input::render(state, frame, layout.input);
            status::render(state, frame, layout.status);
        }
    }
    if state.help {
        help::render(state, frame, area);
    }
}
