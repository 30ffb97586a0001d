//! Key bindings: key chords to intents. Emacs-style defaults, a vi preset (with a normal and an
//! insert layer), and per-key overrides from the config file.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::action::Action;
use crate::state::InputMode;

/// What a key can mean. The names (snake_case) are what `[keys.bind]` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAction {
    Submit,
    Backspace,
    Delete,
    Left,
    Right,
    WordLeft,
    WordRight,
    LineStart,
    LineEnd,
    KillToEnd,
    KillToStart,
    KillWord,
    Yank,
    HistoryPrev,
    HistoryNext,
    NextConversation,
    PrevConversation,
    NextUnread,
    ScrollUp,
    ScrollDown,
    PageUp,
    PageDown,
    ScrollTop,
    ScrollBottom,
    Help,
    Cancel,
    NextField,
    PrevField,
    Quit,
    /// vi: leave insert mode.
    NormalMode,
    /// vi: `i`, `a`, `I`, `A`.
    InsertMode,
    InsertAfter,
    InsertAtStart,
    InsertAtEnd,
    /// vi `:`: start a command.
    CommandLine,
    ClearLine,
}

impl KeyAction {
    const NAMES: &[(KeyAction, &str, &str)] = &[
        (
            KeyAction::Submit,
            "submit",
            "send the line / run the command",
        ),
        (
            KeyAction::Backspace,
            "backspace",
            "delete before the cursor",
        ),
        (KeyAction::Delete, "delete", "delete under the cursor"),
        (KeyAction::Left, "left", "cursor left"),
        (KeyAction::Right, "right", "cursor right"),
        (KeyAction::WordLeft, "word_left", "back one word"),
        (KeyAction::WordRight, "word_right", "forward one word"),
        (KeyAction::LineStart, "line_start", "start of line"),
        (KeyAction::LineEnd, "line_end", "end of line"),
        (KeyAction::KillToEnd, "kill_to_end", "cut to end of line"),
        (
            KeyAction::KillToStart,
            "kill_to_start",
            "cut to start of line",
        ),
        (KeyAction::KillWord, "kill_word", "cut the word before"),
        (KeyAction::Yank, "yank", "paste what was cut"),
        (KeyAction::HistoryPrev, "history_prev", "previous input"),
        (KeyAction::HistoryNext, "history_next", "next input"),
        (
            KeyAction::NextConversation,
            "next_conversation",
            "next conversation",
        ),
        (
            KeyAction::PrevConversation,
            "prev_conversation",
            "prev conversation",
        ),
        (KeyAction::NextUnread, "next_unread", "next unread"),
        (KeyAction::ScrollUp, "scroll_up", "back a line"),
        (KeyAction::ScrollDown, "scroll_down", "forward a line"),
        (KeyAction::PageUp, "page_up", "back a page"),
        (KeyAction::PageDown, "page_down", "forward a page"),
        (KeyAction::ScrollTop, "scroll_top", "oldest message"),
        (KeyAction::ScrollBottom, "scroll_bottom", "newest message"),
        (KeyAction::Help, "help", "this help"),
        (KeyAction::Cancel, "cancel", "close help / clear"),
        (KeyAction::NextField, "next_field", "next form field"),
        (KeyAction::PrevField, "prev_field", "previous form field"),
        (KeyAction::Quit, "quit", "quit"),
        (KeyAction::NormalMode, "normal_mode", "vi normal mode"),
        (KeyAction::InsertMode, "insert_mode", "vi insert mode"),
        (
            KeyAction::InsertAfter,
            "insert_after",
            "insert after cursor",
        ),
        (
            KeyAction::InsertAtStart,
            "insert_at_start",
            "insert at start",
        ),
        (KeyAction::InsertAtEnd, "insert_at_end", "insert at end"),
        (KeyAction::CommandLine, "command_line", "type a command"),
        (KeyAction::ClearLine, "clear_line", "clear the line"),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(a, ..)| *a == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("?")
    }

    pub fn describe(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(a, ..)| *a == self)
            .map(|(.., d)| *d)
            .unwrap_or("?")
    }
}

impl FromStr for KeyAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::NAMES
            .iter()
            .find(|(_, n, _)| *n == s)
            .map(|(a, ..)| *a)
            .ok_or_else(|| format!("unknown key action {s:?}"))
    }
}

/// A key with its modifiers, as written in the config: `C-a`, `M-b`, `S-Tab`, `F1`, `PageUp`, `x`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyChord {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl KeyChord {
    fn new(code: KeyCode, mods: KeyModifiers) -> Self {
        // Shift is part of the character for printable keys ('A', '?'), not a modifier.
        let mods = match code {
            KeyCode::Char(_) => mods - KeyModifiers::SHIFT,
            _ => mods,
        };
        KeyChord { code, mods }
    }

    pub fn from_event(key: KeyEvent) -> Self {
        match key.code {
            KeyCode::BackTab => KeyChord::new(KeyCode::Tab, key.modifiers | KeyModifiers::SHIFT),
            code => KeyChord::new(code, key.modifiers),
        }
    }
}

impl FromStr for KeyChord {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        while rest.len() > 2 && rest.as_bytes()[1] == b'-' {
            mods |= match &rest[..1] {
                "C" => KeyModifiers::CONTROL,
                "M" | "A" => KeyModifiers::ALT,
                "S" => KeyModifiers::SHIFT,
                other => return Err(format!("unknown modifier {other:?} in key {s:?}")),
            };
            rest = &rest[2..];
        }
        let code = match rest {
            "Enter" => KeyCode::Enter,
            "Tab" => KeyCode::Tab,
            "Backspace" => KeyCode::Backspace,
            "Delete" | "Del" => KeyCode::Delete,
            "Esc" => KeyCode::Esc,
            "Left" => KeyCode::Left,
            "Right" => KeyCode::Right,
            "Up" => KeyCode::Up,
            "Down" => KeyCode::Down,
            "Home" => KeyCode::Home,
            "End" => KeyCode::End,
            "PageUp" | "PgUp" => KeyCode::PageUp,
            "PageDown" | "PgDn" => KeyCode::PageDown,
            "Space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('F') => {
                KeyCode::F(f[1..].parse().map_err(|_| format!("unknown key {s:?}"))?)
            }
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
            _ => return Err(format!("unknown key {s:?}")),
        };
        Ok(KeyChord::new(code, mods))
    }
}

impl fmt::Display for KeyChord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mods.contains(KeyModifiers::CONTROL) {
            f.write_str("C-")?;
        }
        if self.mods.contains(KeyModifiers::ALT) {
            f.write_str("M-")?;
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            f.write_str("S-")?;
        }
        match self.code {
            KeyCode::Char(' ') => f.write_str("Space"),
            KeyCode::Char(c) => write!(f, "{c}"),
            KeyCode::F(n) => write!(f, "F{n}"),
            KeyCode::PageUp => f.write_str("PgUp"),
            KeyCode::PageDown => f.write_str("PgDn"),
            other => write!(f, "{other:?}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Emacs,
    Vi,
}

impl FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "emacs" => Ok(Preset::Emacs),
            "vi" | "vim" => Ok(Preset::Vi),
            other => Err(format!(
                "unknown key preset {other:?}; use \"emacs\" or \"vi\""
            )),
        }
    }
}

/// Bindings in force. `insert` is the only layer of the emacs preset; vi adds `normal`.
#[derive(Debug, Clone)]
pub struct KeyMap {
    pub preset: Preset,
    insert: Vec<(KeyChord, KeyAction)>,
    normal: Vec<(KeyChord, KeyAction)>,
}

/// Keys every preset shares (arrows, pages, function keys).
const COMMON: &[(&str, KeyAction)] = &[
    ("Enter", KeyAction::Submit),
    ("Backspace", KeyAction::Backspace),
    ("Delete", KeyAction::Delete),
    ("Left", KeyAction::Left),
    ("Right", KeyAction::Right),
    ("C-Left", KeyAction::WordLeft),
    ("C-Right", KeyAction::WordRight),
    ("Up", KeyAction::HistoryPrev),
    ("Down", KeyAction::HistoryNext),
    ("PageUp", KeyAction::PageUp),
    ("PageDown", KeyAction::PageDown),
    ("Home", KeyAction::ScrollTop),
    ("End", KeyAction::ScrollBottom),
    ("S-Up", KeyAction::ScrollUp),
    ("S-Down", KeyAction::ScrollDown),
    ("Tab", KeyAction::NextField),
    ("S-Tab", KeyAction::PrevField),
    ("M-Right", KeyAction::NextConversation),
    ("M-Left", KeyAction::PrevConversation),
    ("F1", KeyAction::Help),
    ("C-c", KeyAction::Quit),
];

const EMACS: &[(&str, KeyAction)] = &[
    ("C-a", KeyAction::LineStart),
    ("C-e", KeyAction::LineEnd),
    ("C-b", KeyAction::Left),
    ("C-f", KeyAction::Right),
    ("M-b", KeyAction::WordLeft),
    ("M-f", KeyAction::WordRight),
    ("C-d", KeyAction::Delete),
    ("C-h", KeyAction::Backspace),
    ("C-k", KeyAction::KillToEnd),
    ("C-u", KeyAction::KillToStart),
    ("C-w", KeyAction::KillWord),
    ("M-Backspace", KeyAction::KillWord),
    ("C-y", KeyAction::Yank),
    ("C-p", KeyAction::HistoryPrev),
    ("C-n", KeyAction::HistoryNext),
    ("M-n", KeyAction::NextConversation),
    ("M-p", KeyAction::PrevConversation),
    ("M-a", KeyAction::NextUnread),
    ("C-x", KeyAction::NextUnread),
    ("Esc", KeyAction::Cancel),
];

const VI_INSERT: &[(&str, KeyAction)] = &[
    ("Esc", KeyAction::NormalMode),
    ("C-w", KeyAction::KillWord),
    ("C-u", KeyAction::KillToStart),
    ("C-n", KeyAction::NextConversation),
    ("C-p", KeyAction::PrevConversation),
    ("C-x", KeyAction::NextUnread),
];

const VI_NORMAL: &[(&str, KeyAction)] = &[
    ("i", KeyAction::InsertMode),
    ("a", KeyAction::InsertAfter),
    ("I", KeyAction::InsertAtStart),
    ("A", KeyAction::InsertAtEnd),
    (":", KeyAction::CommandLine),
    ("h", KeyAction::Left),
    ("l", KeyAction::Right),
    ("0", KeyAction::LineStart),
    ("$", KeyAction::LineEnd),
    ("w", KeyAction::WordRight),
    ("b", KeyAction::WordLeft),
    ("x", KeyAction::Delete),
    ("D", KeyAction::KillToEnd),
    ("S", KeyAction::ClearLine),
    ("p", KeyAction::Yank),
    ("j", KeyAction::ScrollDown),
    ("k", KeyAction::ScrollUp),
    ("C-f", KeyAction::PageDown),
    ("C-b", KeyAction::PageUp),
    ("g", KeyAction::ScrollTop),
    ("G", KeyAction::ScrollBottom),
    ("J", KeyAction::NextConversation),
    ("K", KeyAction::PrevConversation),
    ("n", KeyAction::NextUnread),
    ("?", KeyAction::Help),
    ("Esc", KeyAction::Cancel),
];

fn table(entries: &[&[(&str, KeyAction)]]) -> Vec<(KeyChord, KeyAction)> {
    entries
        .iter()
        .flat_map(|e| e.iter())
        .filter_map(|(k, a)| k.parse().ok().map(|k| (k, *a)))
        .collect()
}

impl KeyMap {
    pub fn preset(preset: Preset) -> KeyMap {
        match preset {
            Preset::Emacs => KeyMap {
                preset,
                insert: table(&[EMACS, COMMON]),
                normal: Vec::new(),
            },
            Preset::Vi => KeyMap {
                preset,
                insert: table(&[VI_INSERT, COMMON]),
                normal: table(&[VI_NORMAL, COMMON]),
            },
        }
    }

    /// A preset with `[keys.bind]` overrides applied (to the insert layer, and for vi to the
    /// normal layer too). Errors name the bad entry.
    pub fn configured(preset: Preset, bind: &BTreeMap<String, String>) -> Result<KeyMap, String> {
        let mut map = KeyMap::preset(preset);
        for (key, action) in bind {
            let chord: KeyChord = key.parse()?;
            let action: KeyAction = action.parse()?;
            let layers = match preset {
                Preset::Emacs => vec![&mut map.insert],
                Preset::Vi => vec![&mut map.insert, &mut map.normal],
            };
            for layer in layers {
                layer.retain(|(k, _)| *k != chord);
                layer.insert(0, (chord, action));
            }
        }
        Ok(map)
    }

    /// The action for a key press in `mode`; printable keys type themselves in insert mode.
    pub fn action(&self, key: KeyEvent, mode: InputMode) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let chord = KeyChord::from_event(key);
        let layer = match (self.preset, mode) {
            (Preset::Vi, InputMode::Normal) => &self.normal,
            _ => &self.insert,
        };
        if let Some((_, action)) = layer.iter().find(|(k, _)| *k == chord) {
            return Some(Action::Key(*action));
        }
        match (chord.code, mode) {
            (KeyCode::Char(c), InputMode::Insert)
                if !chord
                    .mods
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
            {
                Some(Action::Insert(c))
            }
            _ => None,
        }
    }

    /// Rows for the help screen: keys joined per action, in a stable order.
    pub fn help(&self) -> Vec<(String, String)> {
        let mut rows: Vec<(String, String)> = Vec::new();
        let layers: Vec<(&str, &Vec<(KeyChord, KeyAction)>)> = match self.preset {
            Preset::Emacs => vec![("", &self.insert)],
            Preset::Vi => vec![("", &self.insert), ("normal: ", &self.normal)],
        };
        for (prefix, layer) in layers {
            for (action, ..) in KeyAction::NAMES {
                let keys: Vec<String> = layer
                    .iter()
                    .filter(|(_, a)| a == action)
                    .map(|(k, _)| k.to_string())
                    .collect();
                if keys.is_empty() || (!prefix.is_empty() && self.insert_has(*action)) {
                    continue;
                }
                rows.push((
                    format!("{prefix}{}", keys.join(" ")),
                    action.describe().into(),
                ));
            }
        }
        rows
    }

    fn insert_has(&self, action: KeyAction) -> bool {
        self.insert.iter().any(|(_, a)| *a == action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, mods: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, mods)
    }

    #[test]
    fn emacs_defaults() {
        let map = KeyMap::preset(Preset::Emacs);
        let ctrl = KeyModifiers::CONTROL;
        assert_eq!(
            map.action(key(KeyCode::Char('a'), ctrl), InputMode::Insert),
            Some(Action::Key(KeyAction::LineStart))
        );
        assert_eq!(
            map.action(
                key(KeyCode::Char('A'), KeyModifiers::SHIFT),
                InputMode::Insert
            ),
            Some(Action::Insert('A'))
        );
        assert_eq!(
            map.action(
                key(KeyCode::BackTab, KeyModifiers::SHIFT),
                InputMode::Insert
            ),
            Some(Action::Key(KeyAction::PrevField))
        );
        assert_eq!(
            map.action(key(KeyCode::PageUp, KeyModifiers::NONE), InputMode::Insert),
            Some(Action::Key(KeyAction::PageUp))
        );
        assert_eq!(
            map.action(key(KeyCode::Char('q'), ctrl), InputMode::Insert),
            None
        );
    }

    #[test]
    fn vi_has_two_layers() {
        let map = KeyMap::preset(Preset::Vi);
        let none = KeyModifiers::NONE;
        assert_eq!(
            map.action(key(KeyCode::Char('j'), none), InputMode::Normal),
            Some(Action::Key(KeyAction::ScrollDown))
        );
        assert_eq!(
            map.action(key(KeyCode::Char('j'), none), InputMode::Insert),
            Some(Action::Insert('j'))
        );
        assert_eq!(
            map.action(key(KeyCode::Esc, none), InputMode::Insert),
            Some(Action::Key(KeyAction::NormalMode))
        );
    }

    #[test]
    fn overrides_replace_bindings_and_report_mistakes() {
        let bind = BTreeMap::from([("C-n".to_string(), "next_unread".to_string())]);
        let map = KeyMap::configured(Preset::Emacs, &bind).unwrap();
        assert_eq!(
            map.action(
                key(KeyCode::Char('n'), KeyModifiers::CONTROL),
                InputMode::Insert
            ),
            Some(Action::Key(KeyAction::NextUnread))
        );
        let bad = BTreeMap::from([("C-n".to_string(), "fly".to_string())]);
        assert!(KeyMap::configured(Preset::Emacs, &bad).is_err());
        let bad = BTreeMap::from([("Q-n".to_string(), "quit".to_string())]);
        assert!(KeyMap::configured(Preset::Emacs, &bad).is_err());
    }

    #[test]
    fn chords_print_as_they_parse() {
        for s in ["C-a", "M-b", "S-Tab", "F1", "x", "C-Left"] {
            let chord: KeyChord = s.parse().unwrap();
            let printed = chord.to_string();
            assert_eq!(
                printed.parse::<KeyChord>().unwrap(),
                chord,
                "{s} -> {printed}"
            );
        }
    }
}
