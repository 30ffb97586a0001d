//! The conversations: a side list on wide terminals, a row of tabs on narrow ones. Each shows
//! its unread count; the current one is marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use unicode_width::UnicodeWidthStr;

use crate::state::State;

fn clip(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > width {
            out.pop();
            out.push('…');
            break;
        }
        used += w;
        out.push(c);
    }
    out
}

pub fn render_list(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let block = Block::new()
        .borders(Borders::RIGHT)
        .border_style(Style::new().fg(theme.system));
    let inner = block.inner(area);
    let width = inner.width as usize;
    let lines: Vec<Line> = state
        .rooms
        .iter()
        .enumerate()
        .map(|(i, room)| {
            let active = i == state.active;
            let marker = if active { "▶ " } else { "  " };
            let count = if room.unread > 0 {
                format!(" {}", room.unread)
            } else {
                String::new()
            };
            let room_width = width.saturating_sub(2 + count.width());
            let title = clip(&room.title, room_width);
            let pad = room_width.saturating_sub(title.width());
            let mut style = Style::new();
            if room.ended.is_some() {
                style = style.fg(theme.system);
            }
            if active {
                style = style.fg(theme.accent).add_modifier(Modifier::BOLD);
            } else if room.unread > 0 {
                style = style.add_modifier(Modifier::BOLD);
            }
            Line::from(vec![
                Span::styled(marker, style),
                Span::styled(title, style),
                Span::raw(" ".repeat(pad)),
                Span::styled(
                    count,
                    Style::new().fg(theme.unread).add_modifier(Modifier::BOLD),
                ),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

pub fn render_tabs(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let mut spans = Vec::new();
    for (i, room) in state.rooms.iter().enumerate() {
        let active = i == state.active;
        let style = if active {
            Style::new()
                .fg(theme.accent)
                .add_modifier(Modifier::BOLD | Modifier::REVERSED)
        } else {
            Style::new()
        };
        spans.push(Span::styled(format!(" {} ", clip(&room.title, 12)), style));
        if room.unread > 0 {
            spans.push(Span::styled(
                format!("{} ", room.unread),
                Style::new().fg(theme.unread).add_modifier(Modifier::BOLD),
            ));
        }
        spans.push(Span::styled("│", Style::new().fg(theme.system)));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
