//! The input line, scrolled sideways so the cursor stays in view.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use unicode_width::UnicodeWidthChar;

use crate::state::{InputMode, State};

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let prompt = match state.mode {
        InputMode::Insert => "> ",
        InputMode::Normal => ": ",
    };
    let width = (area.width as usize).saturating_sub(prompt.len() + 1);
    let chars = state.input.chars();
    let cursor = state.input.cursor();
    // The first visible char: as far left as keeps the cursor on screen.
    let mut start = 0;
    let width_of = |from: usize, to: usize| -> usize {
        chars[from..to].iter().map(|c| c.width().unwrap_or(0)).sum()
    };
    while start < cursor && width_of(start, cursor) > width {
        start += 1;
    }
    let mut shown = String::new();
    let mut used = 0;
    for c in &chars[start..] {
        let w = c.width().unwrap_or(0);
        if used + w > width {
            break;
        }
        used += w;
        shown.push(*c);
    }
    let mut spans = vec![Span::styled(
        prompt,
        Style::new().fg(theme.accent).add_modifier(Modifier::BOLD),
    )];
    if chars.is_empty() {
        let hint = if area.width >= 60 {
            "type a message, /help for commands, ? for keys"
        } else {
            "/help commands, ? keys"
        };
        spans.push(Span::styled(hint, Style::new().fg(theme.system)));
    } else {
        spans.push(Span::raw(shown));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
    // Said while typing, not only on Enter: the server would drop the connection over it.
    if let Some(over) = crate::size_limit::input_excess(state) {
        let warning = format!(" {over} bytes too long ");
        let width = (warning.len() as u16).min(area.width);
        let at = Rect::new(area.right() - width, area.y, width, 1);
        frame.render_widget(
            Paragraph::new(Span::styled(
                warning,
                Style::new()
                    .fg(theme.error)
                    .add_modifier(Modifier::REVERSED),
            )),
            at,
        );
    }
    if !state.help {
        let x = area.x + (prompt.len() + width_of(start, cursor)) as u16;
        frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}
