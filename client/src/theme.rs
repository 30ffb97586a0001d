//! Colours, from the `[theme]` table of the config file.

use ratatui::style::Color;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    pub accent: Color,
    pub own: Color,
    pub peer: Color,
    pub system: Color,
    pub error: Color,
    pub unread: Color,
    pub status_fg: Color,
    pub status_bg: Color,
    pub timestamp: Color,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            accent: Color::Cyan,
            own: Color::Green,
            peer: Color::Yellow,
            system: Color::DarkGray,
            error: Color::Red,
            unread: Color::LightMagenta,
            status_fg: Color::Black,
            status_bg: Color::Cyan,
            timestamp: Color::DarkGray,
        }
    }
}

/// The `[theme]` table: every entry optional, colour names as ratatui reads them
/// (`red`, `light-blue`, `#ff8800`, `42`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: Option<String>,
    pub own: Option<String>,
    pub peer: Option<String>,
    pub system: Option<String>,
    pub error: Option<String>,
    pub unread: Option<String>,
    pub status_fg: Option<String>,
    pub status_bg: Option<String>,
    pub timestamp: Option<String>,
}

impl ThemeConfig {
    /// The default theme with the configured colours applied; names a bad colour.
    pub fn resolve(&self) -> Result<Theme, String> {
        let mut theme = Theme::default();
        let slots: [(&Option<String>, &mut Color, &str); 9] = [
            (&self.accent, &mut theme.accent, "accent"),
            (&self.own, &mut theme.own, "own"),
            (&self.peer, &mut theme.peer, "peer"),
            (&self.system, &mut theme.system, "system"),
            (&self.error, &mut theme.error, "error"),
            (&self.unread, &mut theme.unread, "unread"),
            (&self.status_fg, &mut theme.status_fg, "status_fg"),
            (&self.status_bg, &mut theme.status_bg, "status_bg"),
            (&self.timestamp, &mut theme.timestamp, "timestamp"),
        ];
        for (value, slot, name) in slots {
            if let Some(value) = value {
                *slot = value
                    .parse()
                    .map_err(|_| format!("theme.{name}: {value:?} is not a colour"))?;
            }
        }
        Ok(theme)
    }
}
