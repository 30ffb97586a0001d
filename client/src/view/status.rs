//! The status line: dialect, server, user, connection state, round-trip time.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthStr;

use crate::state::{Link, State};

/// The connection state in words.
pub fn link_text(state: &State) -> String {
    match &state.link {
        Link::Idle => "not connected".into(),
        Link::Connecting => "connecting…".into(),
        Link::Online => "online".into(),
        Link::Reconnecting { attempt, at } => {
            let wait = at.0.saturating_sub(state.now.0);
            format!("reconnecting in {}s (#{attempt})", wait.div_ceil(1000))
        }
        Link::Offline { .. } => "offline".into(),
    }
}

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let base = Style::new().fg(theme.status_fg).bg(theme.status_bg);
    let mut left: Vec<String> = Vec::new();
    if let Some(target) = &state.target {
        left.push(target.dialect.to_string());
        left.push(target.address.clone());
    }
    left.push(state.my_name());
    let dot = match state.link {
        Link::Online => "●",
        Link::Connecting | Link::Reconnecting { .. } => "◌",
        Link::Idle | Link::Offline { .. } => "○",
    };
    left.push(format!("{dot} {}", link_text(state)));
    if let Some(rtt) = state.rtt {
        left.push(format!("rtt {} ms", rtt.as_millis()));
    }
    let mut right: Vec<String> = Vec::new();
    let scroll = state.active_room().scroll;
    if scroll > 0 {
        right.push(format!("↑{scroll} End"));
    }
    let unread = state.total_unread();
    if unread > 0 {
        right.push(format!("{unread} unread"));
    }
    right.push("? help".into());
    let left = format!(" {}", left.join(" │ "));
    let right = format!("{} ", right.join(" │ "));
    let width = area.width as usize;
    let gap = width.saturating_sub(left.width() + right.width());
    let mut spans = vec![Span::styled(left, base.add_modifier(Modifier::BOLD))];
    if gap > 0 {
        spans.push(Span::styled(" ".repeat(gap), base));
        spans.push(Span::styled(right, base));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}
