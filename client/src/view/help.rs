//! The help overlay: keys in force and the commands.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::commands::COMMANDS;
use crate::state::State;

/// Keys that every user knows or that only the connect form uses: left out to save rows.
const OBVIOUS: &[&str] = &[
    "send the line / run the command",
    "delete before the cursor",
    "delete under the cursor",
    "next form field",
    "previous form field",
];

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let width = area.width.saturating_sub(2).min(100);
    let height = area.height.saturating_sub(2);
    if width < 20 || height < 4 {
        return;
    }
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let inner = width.saturating_sub(2) as usize;
    // Two columns where there is room for them, else one.
    let columns = if inner >= 70 { 2 } else { 1 };
    let column = inner / columns;
    let bold = Style::new().fg(theme.accent).add_modifier(Modifier::BOLD);
    let cell = |key: &str, what: &str, key_col: usize| -> Vec<Span<'static>> {
        let key: String = key.chars().take(key_col).collect();
        // Key, two spaces, description, one space before the next column.
        let what_col = column.saturating_sub(key_col + 3);
        let what: String = what.chars().take(what_col).collect();
        vec![
            Span::styled(format!("{key:key_col$}  "), bold),
            Span::raw(format!("{what:what_col$} ")),
        ]
    };
    let table = |rows: Vec<(String, String)>| -> Vec<Line<'static>> {
        let key_col = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(8)
            .min(column / 2);
        let per_column = rows.len().div_ceil(columns);
        (0..per_column)
            .map(|r| {
                let mut spans = Vec::new();
                for c in 0..columns {
                    if let Some((k, d)) = rows.get(c * per_column + r) {
                        spans.extend(cell(k, d, key_col));
                    }
                }
                Line::from(spans)
            })
            .collect()
    };
    let commands = COMMANDS
        .iter()
        .map(|(c, d)| (c.to_string(), d.to_string()))
        .collect();
    let keys = state
        .key_help
        .iter()
        .filter(|(_, d)| !OBVIOUS.contains(&d.as_str()))
        .cloned()
        .collect();
    let mut lines = table(commands);
    lines.push(Line::default());
    lines.extend(table(keys));
    let block = Block::bordered()
        .title(" imchat help · Esc or F1 closes ")
        .border_style(Style::new().fg(theme.accent));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
