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

/// One part of the status line; the least important go first when space is short.
struct Part {
    text: String,
    /// Higher stays longer.
    keep: u8,
}

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let base = Style::new().fg(theme.status_fg).bg(theme.status_bg);
    let part = |text: String, keep: u8| Part { text, keep };
    let mut left: Vec<Part> = Vec::new();
    if let Some(target) = &state.target {
        left.push(part(target.dialect.to_string(), 3));
        left.push(part(target.address.clone(), 1));
    }
    left.push(part(state.my_name(), 4));
    let dot = match state.link {
        Link::Online => "●",
        Link::Connecting | Link::Reconnecting { .. } => "◌",
        Link::Idle | Link::Offline { .. } => "○",
    };
    left.push(part(format!("{dot} {}", link_text(state)), 9));
    if let Some(rtt) = state.rtt {
        left.push(part(format!("rtt {} ms", rtt.as_millis()), 2));
    }
    let mut right: Vec<Part> = Vec::new();
    let scroll = state.active_room().scroll;
    if scroll > 0 {
        right.push(part(format!("↑{scroll} End"), 5));
    }
    let unread = state.total_unread();
    if unread > 0 {
        right.push(part(format!("{unread} unread"), 6));
    }
    right.push(part("? help".into(), 0));

    let width = area.width as usize;
    let join = |parts: &[Part], lead: &str, tail: &str| {
        let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
        format!("{lead}{}{tail}", texts.join(" │ "))
    };
    // Drop the least important part until both sides fit.
    loop {
        let used = join(&left, " ", "").width() + join(&right, "", " ").width() + 1;
        if used <= width {
            break;
        }
        let weakest = left
            .iter()
            .chain(right.iter())
            .map(|p| p.keep)
            .filter(|&k| k < 9)
            .min();
        let Some(weakest) = weakest else { break };
        if let Some(i) = right.iter().position(|p| p.keep == weakest) {
            right.remove(i);
        } else if let Some(i) = left.iter().position(|p| p.keep == weakest) {
            left.remove(i);
        }
    }
    let left = join(&left, " ", "");
    let right = if right.is_empty() {
        String::new()
    } else {
        join(&right, "", " ")
    };
    let gap = width.saturating_sub(left.width() + right.width());
    let spans = vec![
        Span::styled(left, base.add_modifier(Modifier::BOLD)),
        Span::styled(" ".repeat(gap), base),
        Span::styled(right, base),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(base), area);
}
