//! Accounts and credentials: registration with generated numeric ids (chat), creation on
//! first use (unless the accounts come from a file), passwords, and tokens (simple-im's
//! HTTP login, chat v2 reconnect).

use std::collections::VecDeque;

use foldhash::HashMap;

use imkit_protocols::UserId;
use rand::Rng;

use super::HubError;
use super::accounts_file::AccountsFile;
use super::ids::token_from;

/// How many tokens one user keeps (a new login issues one); older ones stop working.
const TOKENS_PER_USER: usize = 8;

/// Numeric ids start here, as the original chat's MySQL schema does.
const FIRST_NUMERIC_ID: u64 = 10;

#[derive(Debug, Default)]
struct Account {
    nick: Option<String>,
    password: Option<String>,
    tokens: VecDeque<String>,
}

#[derive(Debug)]
pub(crate) struct Accounts {
    /// From a file: unknown users are refused and passwords checked. Otherwise users are
    /// created on first use and any secret is accepted.
    fixed: bool,
    users: HashMap<UserId, Account>,
    by_nick: HashMap<String, UserId>,
    tokens: HashMap<String, UserId>,
    next_numeric: u64,
}

impl Accounts {
    pub(crate) fn new(file: Option<&AccountsFile>) -> Self {
        let mut accounts = Accounts {
            fixed: file.is_some(),
            users: HashMap::default(),
            by_nick: HashMap::default(),
            tokens: HashMap::default(),
            next_numeric: FIRST_NUMERIC_ID,
        };
        for user in file.map(|f| f.users.as_slice()).unwrap_or_default() {
            if let Some(nick) = &user.nick {
                accounts.by_nick.insert(nick.clone(), user.id.clone());
            }
            accounts.users.insert(
                user.id.clone(),
                Account {
                    nick: user.nick.clone(),
                    password: user.password.clone(),
                    tokens: VecDeque::new(),
                },
            );
        }
        accounts
    }

    #[cfg(test)]
    pub(crate) fn exists(&self, user: &UserId) -> bool {
        self.users.contains_key(user)
    }

    pub(crate) fn nick(&self, user: &UserId) -> Option<&str> {
        self.users.get(user).and_then(|a| a.nick.as_deref())
    }

    /// A new account with the next free numeric id.
    pub(crate) fn register(&mut self, nick: &str) -> UserId {
        let id = self.fresh_numeric_id();
        self.users.insert(
            id.clone(),
            Account {
                nick: Some(nick.to_owned()),
                ..Account::default()
            },
        );
        id
    }

    fn fresh_numeric_id(&mut self) -> UserId {
        loop {
            let id = UserId::from(self.next_numeric);
            self.next_numeric += 1;
            if !self.users.contains_key(&id) {
                return id;
            }
        }
    }

    /// Make sure `user` exists: created on first use, unless accounts come from a file.
    pub(crate) fn ensure(&mut self, user: &UserId) -> Result<(), HubError> {
        if self.users.contains_key(user) {
            Ok(())
        } else if self.fixed {
            Err(HubError::UnknownUser(user.clone()))
        } else {
            self.users.insert(user.clone(), Account::default());
            Ok(())
        }
    }

    /// Check a login. `secret` may be the password or a token the hub issued; `None` is
    /// accepted only when the dialect has no way to send one (`can_send_secret` false).
    pub(crate) fn check_login(
        &mut self,
        user: &UserId,
        secret: Option<&str>,
        can_send_secret: bool,
    ) -> Result<(), HubError> {
        self.ensure(user)?;
        if !self.fixed {
            return Ok(());
        }
        let Some(account) = self.users.get(user) else {
            return Err(HubError::UnknownUser(user.clone()));
        };
        match (secret, &account.password) {
            (_, None) => Ok(()),
            (None, Some(_)) if !can_send_secret => Ok(()),
            (Some(secret), Some(password)) if secret == password => Ok(()),
            (Some(secret), Some(_)) if self.tokens.get(secret) == Some(user) => Ok(()),
            _ => Err(HubError::WrongPassword(user.clone())),
        }
    }

    /// A password login by id or nick (simple-im's HTTP `/server/login` takes a phone).
    /// `numeric`: the dialect's ids are integers, so a new account for a non-numeric name
    /// gets a fresh numeric id with the name as its nick.
    pub(crate) fn password_login(
        &mut self,
        name: &str,
        password: &str,
        numeric: bool,
    ) -> Result<UserId, HubError> {
        let found = if self.users.contains_key(&UserId::from(name)) {
            Some(UserId::from(name))
        } else {
            self.by_nick.get(name).cloned()
        };
        let user = match found {
            Some(user) => user,
            None if self.fixed => return Err(HubError::UnknownUser(UserId::from(name))),
            None if numeric && name.parse::<u64>().is_err() => {
                let id = self.register(name);
                self.by_nick.insert(name.to_owned(), id.clone());
                id
            }
            None => {
                let id = UserId::from(name);
                self.users.insert(id.clone(), Account::default());
                id
            }
        };
        self.check_login(&user, Some(password), true)?;
        Ok(user)
    }

    /// Whether `token` was issued to `user` (and is still among its recent ones).
    pub(crate) fn token_is_valid(&self, user: &UserId, token: &str) -> bool {
        self.tokens.get(token) == Some(user)
    }

    /// The user `token` was issued to (while it is among their recent ones).
    pub(crate) fn token_user(&self, token: &str) -> Option<&UserId> {
        self.tokens.get(token)
    }

    pub(crate) fn issue_token(&mut self, user: &UserId, rng: &mut impl Rng) -> String {
        let token = token_from(rng);
        if let Some(account) = self.users.get_mut(user) {
            account.tokens.push_back(token.clone());
            if account.tokens.len() > TOKENS_PER_USER
                && let Some(old) = account.tokens.pop_front()
            {
                self.tokens.remove(&old);
            }
            self.tokens.insert(token.clone(), user.clone());
        }
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn file() -> AccountsFile {
        AccountsFile::parse(
            "accounts.toml",
            "[[user]]\nid = 1\npassword = \"pw\"\nnick = \"alice\"\n\n[[user]]\nid = \"bob\"\n",
        )
        .expect("valid file")
    }

    #[test]
    fn registration_skips_taken_numeric_ids() {
        let mut accounts = Accounts::new(None);
        accounts.ensure(&UserId::from(10)).unwrap();
        assert_eq!(accounts.register("alice"), UserId::from(11));
        assert_eq!(accounts.register("bob"), UserId::from(12));
        assert_eq!(accounts.nick(&UserId::from(12)), Some("bob"));
    }

    #[test]
    fn auto_mode_creates_on_first_use_and_accepts_any_secret() {
        let mut accounts = Accounts::new(None);
        let carol = UserId::from("carol");
        assert!(!accounts.exists(&carol));
        accounts.check_login(&carol, Some("x"), true).unwrap();
        assert!(accounts.exists(&carol));
        accounts.check_login(&carol, Some("y"), true).unwrap();
        assert_eq!(
            accounts.password_login("dave", "pw", true).unwrap(),
            UserId::from(10)
        );
        assert_eq!(
            accounts.password_login("dave", "other", true).unwrap(),
            UserId::from(10)
        );
    }

    #[test]
    fn file_mode_refuses_unknown_users_and_wrong_passwords() {
        let mut accounts = Accounts::new(Some(&file()));
        let one = UserId::from(1);
        assert_eq!(
            accounts.check_login(&UserId::from("eve"), Some("pw"), true),
            Err(HubError::UnknownUser(UserId::from("eve")))
        );
        assert_eq!(
            accounts.check_login(&one, Some("nope"), true),
            Err(HubError::WrongPassword(one.clone()))
        );
        assert_eq!(
            accounts.check_login(&one, None, true),
            Err(HubError::WrongPassword(one.clone()))
        );
        // A dialect that cannot send a password (fishchat) is let in by id.
        accounts.check_login(&one, None, false).unwrap();
        accounts.check_login(&one, Some("pw"), true).unwrap();
        // bob has no password: anything goes.
        accounts
            .check_login(&UserId::from("bob"), Some("x"), true)
            .unwrap();
        // By nick, as simple-im's HTTP login does; then the token works as a secret.
        assert_eq!(
            accounts.password_login("alice", "pw", true),
            Ok(one.clone())
        );
        assert_eq!(
            accounts.password_login("alice", "bad", true),
            Err(HubError::WrongPassword(one.clone()))
        );
        let token = accounts.issue_token(&one, &mut SmallRng::seed_from_u64(1));
        accounts.check_login(&one, Some(&token), true).unwrap();
        assert!(accounts.token_is_valid(&one, &token));
        assert_eq!(accounts.token_user(&token), Some(&one));
        assert_eq!(accounts.token_user("nobody's"), None);
        assert!(!accounts.token_is_valid(&UserId::from("bob"), &token));
    }

    #[test]
    fn only_the_recent_tokens_stay_valid() {
        let mut accounts = Accounts::new(None);
        let mut rng = SmallRng::seed_from_u64(3);
        let user = accounts.register("x");
        let first = accounts.issue_token(&user, &mut rng);
        let later: Vec<String> = (0..TOKENS_PER_USER)
            .map(|_| accounts.issue_token(&user, &mut rng))
            .collect();
        assert!(!accounts.token_is_valid(&user, &first));
        assert!(later.iter().all(|t| accounts.token_is_valid(&user, t)));
    }
}
