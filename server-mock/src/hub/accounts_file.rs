//! `--accounts FILE`: the users (ids, passwords, nicks) and the groups they are in. With a
//! file, unknown users and wrong passwords are refused.
//!
//! ```toml
//! [[user]]
//! id = 1                 # integer or string
//! password = "secret"    # optional: no password = any secret
//! nick = "alice"         # optional: also a login name (simple-im's phone)
//! groups = ["lobby"]     # optional
//! ```

use std::collections::HashSet;
use std::path::Path;

use imkit_protocols::{GroupId, UserId};
use serde::Deserialize;
use toml::Spanned;

/// A user as the file lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUser {
    pub id: UserId,
    pub password: Option<String>,
    pub nick: Option<String>,
    pub groups: Vec<GroupId>,
}

/// A parsed, checked accounts file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsFile {
    pub users: Vec<FileUser>,
}

/// What is wrong with an accounts file, naming the file, the line and the key.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("cannot read accounts file {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    user: Vec<RawUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Spanned<RawId>,
    password: Option<String>,
    nick: Option<Spanned<String>>,
    #[serde(default)]
    groups: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Number(u64),
    Text(String),
}

impl AccountsFile {
    pub fn load(path: &Path) -> Result<AccountsFile, AccountsError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AccountsError::Read {
            file: file.clone(),
            source,
        })?;
        AccountsFile::parse(&file, &text)
    }

    /// Parse `text`; `file` is only used in error messages.
    pub fn parse(file: &str, text: &str) -> Result<AccountsFile, AccountsError> {
        let invalid = |offset: usize, message: String| AccountsError::Invalid {
            file: file.to_owned(),
            line: line_of(text, offset),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map(|s| s.start).unwrap_or(0);
            invalid(offset, e.message().trim().to_owned())
        })?;

        let mut users = Vec::with_capacity(raw.user.len());
        let mut seen = HashSet::new();
        let mut nicks = HashSet::new();
        for user in raw.user {
            let at = user.id.span().start;
            let id = match user.id.into_inner() {
                RawId::Number(n) => UserId::from(n),
                RawId::Text(s) if s.trim().is_empty() => {
                    return Err(invalid(at, "key `id`: a user id cannot be empty".into()));
                }
                RawId::Text(s) => UserId::from(s),
            };
            if !seen.insert(id.clone()) {
                return Err(invalid(at, format!("key `id`: user {id} is listed twice")));
            }
            let nick = match user.nick {
                Some(nick) => {
                    let at = nick.span().start;
                    let nick = nick.into_inner();
                    if !nicks.insert(nick.clone()) {
                        return Err(invalid(
                            at,
                            format!("key `nick`: nick {nick:?} is used by two users"),
                        ));
                    }
                    Some(nick)
                }
                None => None,
            };
            let mut groups = Vec::with_capacity(user.groups.len());
            for group in user.groups {
                if group.get_ref().trim().is_empty() {
                    return Err(invalid(
                        group.span().start,
                        "key `groups`: a group name cannot be empty".into(),
                    ));
                }
                groups.push(GroupId::new(group.into_inner()));
            }
            users.push(FileUser {
                id,
                password: user.password,
                nick,
                groups,
            });
        }
        Ok(AccountsFile { users })
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> String {
        AccountsFile::parse("users.toml", text)
            .expect_err("should be refused")
            .to_string()
    }

    #[test]
    fn parses_users_with_numeric_and_text_ids() {
        let file = AccountsFile::parse(
            "users.toml",
            "[[user]]\nid = 7\npassword = \"pw\"\ngroups = [\"lobby\", \"ops\"]\n\n[[user]]\nid = \"bob\"\nnick = \"Bob\"\n",
        )
        .unwrap();
        assert_eq!(
            file.users,
            vec![
                FileUser {
                    id: UserId::from(7),
                    password: Some("pw".into()),
                    nick: None,
                    groups: vec![GroupId::from("lobby"), GroupId::from("ops")],
                },
                FileUser {
                    id: UserId::from("bob"),
                    password: None,
                    nick: Some("Bob".into()),
                    groups: vec![],
                },
            ]
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let unknown = error("[[user]]\nid = 1\npasword = \"x\"\n");
        assert!(unknown.starts_with("users.toml:3: "), "{unknown}");
        assert!(unknown.contains("pasword"), "{unknown}");

        let missing = error("[[user]]\npassword = \"x\"\n");
        assert!(missing.starts_with("users.toml:1: "), "{missing}");
        assert!(missing.contains("id"), "{missing}");

        let twice = error("[[user]]\nid = 1\n[[user]]\nid = \"1\"\n");
        assert_eq!(twice, "users.toml:4: key `id`: user 1 is listed twice");

        let nick = error("[[user]]\nid = 1\nnick = \"a\"\n[[user]]\nid = 2\nnick = \"a\"\n");
        assert_eq!(
            nick,
            "users.toml:6: key `nick`: nick \"a\" is used by two users"
        );

        let syntax = error("[[user]]\nid = 1\npassword = \"open\n");
        assert!(syntax.starts_with("users.toml:3: "), "{syntax}");

        let empty_group = error("[[user]]\nid = 1\ngroups = [\"\"]\n");
        assert_eq!(
            empty_group,
            "users.toml:3: key `groups`: a group name cannot be empty"
        );
    }

    #[test]
    fn a_missing_file_says_which() {
        let e = AccountsFile::load(Path::new("/nonexistent/imkit/users.toml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("cannot read accounts file /nonexistent/imkit/users.toml: "),
            "{e}"
        );
    }
}
