//! The help overlay: keys in force and the commands.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::commands::COMMANDS;
use crate::state::State;

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let width = area.width.saturating_sub(4).min(72);
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
    let key_col = state
        .key_help
        .iter()
        .map(|(k, _)| k.chars().count())
        .chain(COMMANDS.iter().map(|(c, _)| c.chars().count()))
        .max()
        .unwrap_or(10)
        .min(width as usize / 2);
    let bold = Style::new().fg(theme.accent).add_modifier(Modifier::BOLD);
    let row = |k: &str, d: &str| {
        Line::from(vec![
            Span::styled(format!("{k:key_col$}  "), bold),
            Span::raw(d.to_owned()),
        ])
    };
    let mut lines = vec![Line::styled("Commands", bold)];
    lines.extend(COMMANDS.iter().map(|(c, d)| row(c, d)));
    lines.push(Line::default());
    lines.push(Line::styled("Keys", bold));
    lines.extend(state.key_help.iter().map(|(k, d)| row(k, d)));
    let block = Block::bordered()
        .title(" imchat help · Esc or F1 closes ")
        .border_style(Style::new().fg(theme.accent));
    frame.render_widget(Clear, popup);
    frame.render_widget(Paragraph::new(lines).block(block), popup);
}
