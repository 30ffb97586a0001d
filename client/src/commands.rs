//! Slash commands typed in the input line.

use imkit_protocols::{GroupId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlashCommand {
    Match,
    /// Open a conversation with a user, optionally sending a first message.
    Msg {
        user: UserId,
        text: Option<String>,
    },
    Join(GroupId),
    Create(GroupId),
    Leave,
    Close,
    Read,
    Reconnect,
    Nick(String),
    Help,
    Quit,
}

/// What is wrong with a typed command, in words for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("unknown command /{0}; /help lists the commands")]
    Unknown(String),
    #[error("/{command} needs {what}, e.g. {example}")]
    Missing {
        command: &'static str,
        what: &'static str,
        example: &'static str,
    },
    #[error("/{0} takes no arguments")]
    Extra(&'static str),
}

/// The command list shown by /help: usage and what it does.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/match", "random partner"),
    ("/msg USER [TEXT]", "talk to USER"),
    ("/join GROUP", "join a group"),
    ("/create GROUP", "create a group"),
    ("/leave", "leave group/session"),
    ("/close", "close this window"),
    ("/read", "send read receipt"),
    ("/reconnect", "connect again"),
    ("/nick NAME", "name for next login"),
    ("/help", "keys and commands"),
    ("/quit", "leave imchat"),
];

/// Parse a line starting with `/`. `//text` is not a command (see [`is_command`]).
pub fn parse(line: &str) -> Result<SlashCommand, CommandError> {
    let body = line.trim().trim_start_matches('/');
    let (name, rest) = match body.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (body, ""),
    };
    let no_args = |command: SlashCommand, label: &'static str| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(CommandError::Extra(label))
        }
    };
    let one_word = |label: &'static str, what: &'static str, example: &'static str| match rest
        .split_whitespace()
        .collect::<Vec<_>>()
        .as_slice()
    {
        [word] => Ok(word.to_string()),
        [] => Err(CommandError::Missing {
            command: label,
            what,
            example,
        }),
        _ => Err(CommandError::Missing {
            command: label,
            what,
            example,
        }),
    };
    match name.to_ascii_lowercase().as_str() {
        "match" => no_args(SlashCommand::Match, "match"),
        "msg" | "query" => {
            let (user, text) = match rest.split_once(char::is_whitespace) {
                Some((user, text)) => (user, Some(text.trim().to_owned())),
                None => (rest, None),
            };
            if user.is_empty() {
                return Err(CommandError::Missing {
                    command: "msg",
                    what: "a user",
                    example: "/msg bob hello",
                });
            }
            Ok(SlashCommand::Msg {
                user: UserId::new(user.trim_start_matches('@')),
                text: text.filter(|t| !t.is_empty()),
            })
        }
        "join" => one_word("join", "one group name", "/join rust")
            .map(|g| SlashCommand::Join(GroupId::new(g.trim_start_matches('#')))),
        "create" => one_word("create", "one group name", "/create rust")
            .map(|g| SlashCommand::Create(GroupId::new(g.trim_start_matches('#')))),
        "leave" | "part" => no_args(SlashCommand::Leave, "leave"),
        "close" => no_args(SlashCommand::Close, "close"),
        "read" => no_args(SlashCommand::Read, "read"),
        "reconnect" => no_args(SlashCommand::Reconnect, "reconnect"),
        "nick" => one_word("nick", "one name", "/nick alice").map(SlashCommand::Nick),
        "help" => Ok(SlashCommand::Help),
        "quit" | "exit" => Ok(SlashCommand::Quit),
        other => Err(CommandError::Unknown(other.to_owned())),
    }
}

/// A line is a command when it starts with one `/`; `//` sends a literal slash.
pub fn is_command(line: &str) -> bool {
    line.starts_with('/') && !line.starts_with("//")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("/match"), Ok(SlashCommand::Match));
        assert_eq!(
            parse("/msg bob  hi there "),
            Ok(SlashCommand::Msg {
                user: UserId::new("bob"),
                text: Some("hi there".into())
            })
        );
        assert_eq!(
            parse("/msg @42"),
            Ok(SlashCommand::Msg {
                user: UserId::new("42"),
                text: None
            })
        );
        assert_eq!(
            parse("/join #rust"),
            Ok(SlashCommand::Join(GroupId::new("rust")))
        );
        assert_eq!(
            parse("/create ops"),
            Ok(SlashCommand::Create(GroupId::new("ops")))
        );
        assert_eq!(parse("/leave"), Ok(SlashCommand::Leave));
        assert_eq!(parse("/close"), Ok(SlashCommand::Close));
        assert_eq!(parse("/READ"), Ok(SlashCommand::Read));
        assert_eq!(parse("/reconnect"), Ok(SlashCommand::Reconnect));
        assert_eq!(parse("/nick carol"), Ok(SlashCommand::Nick("carol".into())));
        assert_eq!(parse("/help"), Ok(SlashCommand::Help));
        assert_eq!(parse("/quit"), Ok(SlashCommand::Quit));
    }

    #[test]
    fn explains_bad_commands() {
        assert_eq!(parse("/frob"), Err(CommandError::Unknown("frob".into())));
        let missing = parse("/join").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "/join needs one group name, e.g. /join rust"
        );
        assert_eq!(parse("/match now"), Err(CommandError::Extra("match")));
        assert!(matches!(parse("/msg"), Err(CommandError::Missing { .. })));
        assert!(matches!(
            parse("/nick a b"),
            Err(CommandError::Missing { .. })
        ));
    }

    #[test]
    fn double_slash_is_text() {
        assert!(is_command("/match"));
        assert!(!is_command("//match"));
        assert!(!is_command("hi /match"));
    }
}
