//! Command-line arguments.

use std::path::PathBuf;

use clap::Parser;
use imkit_protocols::Dialect;

use crate::config::Config;
use crate::effect::ConnectTarget;
use crate::explain;

/// imchat: a terminal chat client for the imkit dialects.
///
/// With a dialect, address or profile it connects straight away; without, it shows a connect
/// form. Settings and profiles: $XDG_CONFIG_HOME/imkit/imchat.toml.
#[derive(Debug, Clone, Default, Parser)]
#[command(name = "imchat", version)]
pub struct Cli {
    /// Server address, e.g. ws://127.0.0.1:18224/ws (default: the dialect's usual one).
    pub address: Option<String>,
    /// chat-json, simple-im, fishchat, fishchat-text, newim or eutamias.
    #[arg(long, short)]
    pub dialect: Option<Dialect>,
    /// Nickname (dialects that register an account, like chat-json).
    #[arg(long, short)]
    pub nick: Option<String>,
    /// User id to log in as (dialects that log in).
    #[arg(long, short)]
    pub user: Option<String>,
    /// Password (prefer --password-cmd or IMCHAT_PASSWORD: arguments are visible to others).
    #[arg(long, env = "IMCHAT_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// A shell command that prints the password, e.g. "pass show imkit".
    #[arg(long)]
    pub password_cmd: Option<String>,
    /// Connect with a profile from the config file.
    #[arg(long, short)]
    pub profile: Option<String>,
    /// Config file instead of $XDG_CONFIG_HOME/imkit/imchat.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Log file (default from the config, else $XDG_STATE_HOME/imkit/imchat.log).
    #[arg(long)]
    pub log_file: Option<PathBuf>,
    /// Key preset: emacs or vi.
    #[arg(long)]
    pub keys: Option<String>,
    /// No terminal bell.
    #[arg(long)]
    pub no_bell: bool,
    /// No desktop notifications.
    #[arg(long)]
    pub no_desktop: bool,
    /// Send read receipts only with /read.
    #[arg(long)]
    pub no_auto_read: bool,
    /// Scroll with the mouse wheel (the terminal's own text selection then needs Shift).
    #[arg(long)]
    pub mouse: bool,
    /// chat-json: speak the v2 protocol (tokens, reconnect, client ping).
    #[arg(long)]
    pub chat_v2: bool,
}

impl Cli {
    /// The server to connect to at once, if the arguments name one. Errors say what to add.
    pub fn target(&self, config: &Config) -> Result<Option<ConnectTarget>, String> {
        let user = self.nick.clone().or_else(|| self.user.clone());
        if let Some(name) = &self.profile {
            let profile = config
                .profiles
                .iter()
                .find(|p| &p.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        config.profiles.iter().map(|p| p.name.as_str()).collect();
                    format!(
                        "no profile named {name:?} in the config (profiles: {})",
                        known.join(", ")
                    )
                })?;
            let dialect: Dialect = profile.dialect.parse().map_err(|e| format!("{e}"))?;
            let dialect = self.dialect.unwrap_or(dialect);
            return Ok(Some(ConnectTarget {
                dialect,
                address: self
                    .address
                    .clone()
                    .or_else(|| profile.address.clone())
                    .unwrap_or_else(|| dialect.default_client_address().into()),
                user: user.or_else(|| profile.user.clone()),
                password: self.password.clone().or_else(|| profile.password.clone()),
                password_cmd: self
                    .password_cmd
                    .clone()
                    .or_else(|| profile.password_cmd.clone()),
                chat_v2: self.chat_v2 || profile.chat_v2,
            }));
        }
        if self.dialect.is_none() && self.address.is_none() {
            return Ok(None);
        }
        let dialect = self.dialect.unwrap_or(Dialect::ChatJson);
        if user.is_none() {
            return Err(explain::missing_user(dialect));
        }
        Ok(Some(ConnectTarget {
            dialect,
            address: self
                .address
                .clone()
                .unwrap_or_else(|| dialect.default_client_address().into()),
            user,
            password: self.password.clone(),
            password_cmd: self.password_cmd.clone(),
            chat_v2: self.chat_v2,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("imchat").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn the_issue_command_line_connects_at_once() {
        let cli = parse(&[
            "--dialect",
            "chat-json",
            "ws://127.0.0.1:18224/ws",
            "--nick",
            "alice",
        ]);
        let target = cli.target(&Config::default()).unwrap().unwrap();
        assert_eq!(target.dialect, Dialect::ChatJson);
        assert_eq!(target.address, "ws://127.0.0.1:18224/ws");
        assert_eq!(target.user.as_deref(), Some("alice"));
    }

    #[test]
    fn no_arguments_mean_the_form() {
        assert_eq!(parse(&[]).target(&Config::default()), Ok(None));
    }

    #[test]
    fn a_login_dialect_without_user_says_what_to_add() {
        let err = parse(&["--dialect", "simple-im"])
            .target(&Config::default())
            .unwrap_err();
        assert!(err.contains("--user"), "{err}");
        assert!(Cli::try_parse_from(["imchat", "--dialect", "irc"]).is_err());
    }

    #[test]
    fn profiles_fill_in_and_flags_override() {
        let config = Config::parse(
            "[[profile]]\nname = \"fish\"\ndialect = \"fishchat\"\nuser = \"7\"\npassword_cmd = \"echo x\"\n",
        )
        .unwrap();
        let target = parse(&["--profile", "fish", "--user", "8"])
            .target(&config)
            .unwrap()
            .unwrap();
        assert_eq!(target.dialect, Dialect::Fishchat);
        assert_eq!(target.address, "127.0.0.1:17000");
        assert_eq!(target.user.as_deref(), Some("8"));
        assert_eq!(target.password_cmd.as_deref(), Some("echo x"));
        assert!(parse(&["--profile", "nope"]).target(&config).is_err());
    }
}
