//! The message view: timestamps, names, delivery marks, wrapping and scrollback.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

use crate::state::{Delivery, Level, LineBody, Room, State};
use crate::view::ChatLayout;

/// Width of `HH:MM ` before every line; wrapped rows are indented by it.
const STAMP: usize = 6;

/// The size of the message area for the state's terminal size.
pub fn area_size(state: &State) -> (u16, u16) {
    let (w, h) = state.size;
    let layout = ChatLayout::new(Rect::new(0, 0, w, h));
    (layout.messages.width, layout.messages.height)
}

/// How far back the room can scroll (rows above the first screenful).
pub fn max_scroll(state: &State, index: usize) -> usize {
    let (w, h) = area_size(state);
    let rows = rows(state, &state.rooms[index], w as usize).len();
    rows.saturating_sub(h as usize)
}

fn delivery_mark(delivery: &Delivery) -> String {
    match delivery {
        Delivery::Queued => "  (queued)".into(),
        Delivery::Sending => "  (sending…)".into(),
        Delivery::Sent => "  (sent)".into(),
        Delivery::Accepted(Some(id)) => format!("  ✓ #{id}"),
        Delivery::Accepted(None) => "  ✓".into(),
        Delivery::Read(_) => "  ✓✓ read".into(),
        Delivery::Unconfirmed => "  (? unconfirmed: the connection dropped)".into(),
        Delivery::NotSent(reason) => format!("  ✗ not sent: {reason}"),
    }
}

/// Every line of the room as screen rows of `width` columns.
pub fn rows(state: &State, room: &Room, width: usize) -> Vec<Line<'static>> {
    let theme = &state.theme;
    let mut out = Vec::new();
    for line in &room.lines {
        let stamp = Span::styled(
            format!("{} ", line.at.clock(state.utc_offset_secs)),
            Style::new().fg(theme.timestamp),
        );
        let mut spans = vec![stamp];
        match &line.body {
            LineBody::Message {
                from, text, own, ..
            } => {
                let colour = if own.is_some() { theme.own } else { theme.peer };
                spans.push(Span::styled(
                    format!("{from}: "),
                    Style::new().fg(colour).add_modifier(Modifier::BOLD),
                ));
                spans.push(Span::raw(text.clone()));
                if let Some(own) = own {
                    let style = match own.delivery {
                        Delivery::NotSent(_) | Delivery::Unconfirmed => {
                            Style::new().fg(theme.error)
                        }
                        Delivery::Queued => Style::new().fg(theme.unread),
                        _ => Style::new().fg(theme.system),
                    };
                    spans.push(Span::styled(delivery_mark(&own.delivery), style));
                }
            }
            LineBody::System { level, text } => {
                let style = match level {
                    Level::Info => Style::new().fg(theme.system),
                    Level::Notice => Style::new().fg(theme.accent),
                    Level::Error => Style::new().fg(theme.error),
                };
                spans.push(Span::styled(format!("-- {text}"), style));
            }
        }
        out.extend(wrap(spans, width, STAMP));
    }
    out
}

/// Greedy wrap of styled text at word boundaries; continuation rows are indented.
fn wrap(spans: Vec<Span<'static>>, width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(indent + 8);
    let cells: Vec<(char, Style)> = spans
        .iter()
        .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
        .collect();
    let mut rows: Vec<Vec<(char, Style)>> = Vec::new();
    let mut row: Vec<(char, Style)> = Vec::new();
    let mut used = 0;
    let mut i = 0;
    while i < cells.len() {
        let (c, _) = cells[i];
        let w = c.width().unwrap_or(0);
        if used + w > width {
            // Break after the last space of the row if there is one past the indent.
            let start = if rows.is_empty() { 0 } else { indent };
            let cut = row
                .iter()
                .rposition(|(c, _)| *c == ' ')
                .filter(|&p| p > start);
            let carry: Vec<(char, Style)> = match cut {
                Some(p) => row.split_off(p + 1),
                None => Vec::new(),
            };
            rows.push(std::mem::take(&mut row));
            row = std::iter::repeat_n((' ', Style::new()), indent).collect();
            used = indent;
            for cell in carry {
                used += cell.0.width().unwrap_or(0);
                row.push(cell);
            }
            continue;
        }
        row.push(cells[i]);
        used += w;
        i += 1;
    }
    rows.push(row);
    rows.into_iter().map(to_line).collect()
}

fn to_line(cells: Vec<(char, Style)>) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut text = String::new();
    let mut style = None;
    for (c, s) in cells {
        if style.is_some_and(|st| st != s) {
            spans.push(Span::styled(
                std::mem::take(&mut text),
                style.unwrap_or_default(),
            ));
        }
        style = Some(s);
        text.push(c);
    }
    if !text.is_empty() {
        spans.push(Span::styled(text, style.unwrap_or_default()));
    }
    Line::from(spans)
}

pub fn render_title(state: &State, frame: &mut Frame, area: Rect) {
    let room = state.active_room();
    let theme = &state.theme;
    let mut spans = vec![Span::styled(
        format!(" {}", room.title),
        Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
    )];
    let detail = match (&room.conversation, &room.ended) {
        (_, Some(ended)) => Some(ended.clone()),
        (Some(c @ imkit_protocols::Conversation::Session(_)), None) => Some(c.to_string()),
        (None, None) => state.target.as_ref().map(|t| t.address.clone()),
        _ => None,
    };
    if let Some(detail) = detail {
        spans.push(Span::styled(
            format!(" · {detail}"),
            Style::new().fg(theme.system),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let room = state.active_room();
    let all = rows(state, room, area.width as usize);
    let height = area.height as usize;
    let end = all
        .len()
        .saturating_sub(room.scroll)
        .max(height.min(all.len()));
    let start = end.saturating_sub(height);
    let mut visible: Vec<Line> = all[start..end].to_vec();
    // New lines come in at the bottom, as in every chat.
    let pad = height.saturating_sub(visible.len());
    let mut shown: Vec<Line> = vec![Line::default(); pad];
    shown.append(&mut visible);
    frame.render_widget(Paragraph::new(shown), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn wraps_at_spaces_and_indents() {
        let lines = wrap(
            vec![Span::raw("12:00 bob: the quick brown fox jumps")],
            20,
            6,
        );
        assert_eq!(
            text(&lines),
            ["12:00 bob: the ", "      quick brown ", "      fox jumps"]
        );
    }

    #[test]
    fn breaks_long_words_and_counts_wide_chars() {
        let lines = wrap(vec![Span::raw("12:00 x: 世界世界世界世界")], 16, 6);
        assert_eq!(
            text(&lines),
            ["12:00 x: ", "      世界世界世", "      界世界"]
        );
    }
}
