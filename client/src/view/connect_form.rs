//! The connect form, shown when imchat starts without a server to connect to.

use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::editor::Editor;
use crate::state::{FormField, State};

const LABEL: usize = 10;

pub fn render(state: &State, frame: &mut Frame, area: Rect) {
    let theme = &state.theme;
    let form = &state.form;
    let caps = form.dialect.capabilities();
    let width = area.width.min(64);
    let height = area.height.min(16);
    let popup = Rect::new(
        area.x + (area.width - width) / 2,
        area.y + (area.height - height) / 2,
        width,
        height,
    );
    let block = Block::bordered()
        .title(" imchat · connect ")
        .border_style(Style::new().fg(theme.accent));
    let inner = block.inner(popup);
    let field_width = (inner.width as usize).saturating_sub(LABEL + 3);

    let label = |field: FormField, text: &str| {
        let focused = form.focus == field;
        let style = if focused {
            Style::new().fg(theme.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Span::styled(
            format!("{}{text:LABEL$}", if focused { "›" } else { " " }),
            style,
        )
    };
    let choice = |text: String| Span::raw(format!(" ◀ {text} ▶"));
    let dim = Style::new().fg(theme.system);
    let shown = |editor: &Editor, secret: bool| -> String {
        let text: String = if secret {
            "•".repeat(editor.chars().len())
        } else {
            editor.text()
        };
        let skip = text.chars().count().saturating_sub(field_width);
        text.chars().skip(skip).collect()
    };

    let mut lines = Vec::new();
    let profile = match form.profile {
        Some(i) => form.profiles[i].name.clone(),
        None if form.profiles.is_empty() => String::new(),
        None => format!("{} saved", form.profiles.len()),
    };
    if form.profiles.is_empty() {
        lines.push(Line::from(vec![
            label(FormField::Profile, "Profile"),
            Span::styled(" none saved (imchat.toml)", dim),
        ]));
    } else {
        lines.push(Line::from(vec![
            label(FormField::Profile, "Profile"),
            choice(profile),
        ]));
    }
    lines.push(Line::from(vec![
        label(FormField::Dialect, "Dialect"),
        choice(form.dialect.to_string()),
    ]));
    lines.push(Line::from(vec![
        label(FormField::Address, "Address"),
        Span::raw(format!(" {}", shown(&form.address, false))),
    ]));
    let user_label = if caps.register { "Nick" } else { "User" };
    lines.push(Line::from(vec![
        label(FormField::User, user_label),
        Span::raw(format!(" {}", shown(&form.user, false))),
    ]));
    let password = if caps.password || !form.password.is_empty() {
        Span::raw(format!(" {}", shown(&form.password, true)))
    } else {
        Span::styled(" (not used by this dialect)", dim)
    };
    lines.push(Line::from(vec![
        label(FormField::Password, "Password"),
        password,
    ]));
    lines.push(Line::default());
    if let Some(error) = &form.error {
        lines.push(Line::styled(error.clone(), Style::new().fg(theme.error)));
        lines.push(Line::default());
    }
    lines.push(Line::styled(
        "Tab/↑↓ field · ←→ choose · Enter connect · C-c quit",
        dim,
    ));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        popup,
    );

    let row = FormField::ORDER
        .iter()
        .position(|f| *f == form.focus)
        .unwrap_or(0) as u16;
    let editor = match form.focus {
        FormField::Address => Some((&form.address, false)),
        FormField::User => Some((&form.user, false)),
        FormField::Password => Some((&form.password, true)),
        _ => None,
    };
    if let Some((editor, _)) = editor
        && !state.help
    {
        let before = editor.chars()[..editor.cursor()].len().min(field_width);
        let x = inner.x + (1 + LABEL + 1 + before) as u16;
        frame.set_cursor_position(Position::new(
            x.min(inner.right().saturating_sub(1)),
            inner.y + row,
        ));
    }
}
