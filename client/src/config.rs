//! The config file: `$XDG_CONFIG_HOME/imkit/imchat.toml` (or `~/.config/imkit/imchat.toml`).
//!
//! ```toml
//! log_file = "/tmp/imchat.log"      # default: $XDG_STATE_HOME/imkit/imchat.log
//! auto_read = true                  # read receipts when a conversation is viewed
//! mouse = false                     # mouse wheel scrolling (takes over text selection)
//!
//! [notifications]
//! bell = true
//! desktop = true                    # notify-send, when it is on PATH
//!
//! [keys]
//! preset = "emacs"                  # or "vi"
//! [keys.bind]
//! "C-n" = "next_unread"
//!
//! [theme]
//! accent = "cyan"
//!
//! [[profile]]
//! name = "local chat"
//! dialect = "chat-json"
//! address = "ws://127.0.0.1:18224/ws"
//! user = "alice"
//! # password = "…" or password_cmd = "pass show imkit"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::theme::ThemeConfig;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub log_file: Option<PathBuf>,
    pub auto_read: Option<bool>,
    pub mouse: Option<bool>,
    pub notifications: Notifications,
    pub keys: KeysConfig,
    pub theme: ThemeConfig,
    #[serde(rename = "profile")]
    pub profiles: Vec<Profile>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Notifications {
    pub bell: bool,
    pub desktop: bool,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            bell: true,
            desktop: true,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    pub preset: Option<String>,
    /// Key (`C-n`, `M-b`, `F2`, `PageUp`, `S-Tab`, `x`) to action name (see `keys::KeyAction`).
    pub bind: BTreeMap<String, String>,
}

/// A saved way to connect, offered on the connect form.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Profile {
    pub name: String,
    pub dialect: String,
    pub address: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub password_cmd: Option<String>,
    pub chat_v2: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid imchat config: {message}")]
    Parse { path: PathBuf, message: String },
}

impl Config {
    /// The file's place per the XDG base directory rules.
    pub fn default_path() -> Option<PathBuf> {
        config_home().map(|dir| dir.join("imkit").join("imchat.toml"))
    }

    /// Read `path`; a missing file is an empty config (all defaults).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text).map_err(|message| ConfigError::Parse {
                path: path.to_owned(),
                message,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(source) => Err(ConfigError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    pub fn parse(text: &str) -> Result<Config, String> {
        let config: Config = toml::from_str(text).map_err(|e| e.message().to_owned())?;
        config.theme.resolve()?;
        for profile in &config.profiles {
            profile
                .dialect
                .parse::<imkit_protocols::Dialect>()
                .map_err(|e| format!("profile {:?}: {e}", profile.name))?;
        }
        Ok(config)
    }

    /// Where logs go: the configured file, else `$XDG_STATE_HOME/imkit/imchat.log`.
    pub fn log_path(&self) -> Option<PathBuf> {
        self.log_file
            .clone()
            .or_else(|| state_home().map(|d| d.join("imkit").join("imchat.log")))
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| home().map(|h| h.join(fallback)))
}

fn config_home() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}

fn state_home() -> Option<PathBuf> {
    xdg("XDG_STATE_HOME", ".local/state")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_config_parses() {
        let config = Config::parse(
            r##"
log_file = "/tmp/x.log"
auto_read = false
mouse = true
[notifications]
bell = false
[keys]
preset = "vi"
[keys.bind]
"C-n" = "next_unread"
[theme]
accent = "#ff8800"
[[profile]]
name = "local"
dialect = "fishchat"
address = "127.0.0.1:17000"
user = "42"
"##,
        )
        .unwrap();
        assert_eq!(config.log_path(), Some(PathBuf::from("/tmp/x.log")));
        assert_eq!(config.auto_read, Some(false));
        assert!(!config.notifications.bell);
        assert!(config.notifications.desktop, "unset entries keep defaults");
        assert_eq!(config.keys.preset.as_deref(), Some("vi"));
        assert_eq!(config.keys.bind["C-n"], "next_unread");
        assert_eq!(config.profiles[0].user.as_deref(), Some("42"));
    }

    #[test]
    fn mistakes_are_named() {
        let err = Config::parse("[[profile]]\nname = \"x\"\ndialect = \"irc\"\n").unwrap_err();
        assert!(err.contains("unknown dialect \"irc\""), "{err}");
        let err = Config::parse("[theme]\naccent = \"plaid\"\n").unwrap_err();
        assert!(err.contains("theme.accent"), "{err}");
        let err = Config::parse("colour = 1\n").unwrap_err();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn a_missing_file_means_defaults() {
        let config = Config::load(Path::new("/nonexistent/imkit/imchat.toml")).unwrap();
        assert_eq!(config, Config::default());
    }
}
