//! Online routes: which connections (all devices) a user is logged in on.

use foldhash::HashMap;

use imkit_protocols::UserId;

use super::ConnId;

#[derive(Debug, Default)]
pub(crate) struct Routes {
    by_user: HashMap<UserId, Vec<ConnId>>,
}

impl Routes {
    pub(crate) fn add(&mut self, user: &UserId, conn: ConnId) {
        let conns = self.by_user.entry(user.clone()).or_default();
        if !conns.contains(&conn) {
            conns.push(conn);
        }
    }

    /// Remove one route; true when it was the user's last connection.
    pub(crate) fn remove(&mut self, user: &UserId, conn: ConnId) -> bool {
        let Some(conns) = self.by_user.get_mut(user) else {
            return false;
        };
        conns.retain(|c| *c != conn);
        if conns.is_empty() {
            self.by_user.remove(user);
            true
        } else {
            false
        }
    }

    pub(crate) fn is_online(&self, user: &UserId) -> bool {
        self.by_user.contains_key(user)
    }

    /// The user's connections, copied into `into` (the caller may change routes while it
    /// delivers, e.g. when a slow receiver is dropped).
    pub(crate) fn connections_into(&self, user: &UserId, into: &mut Vec<ConnId>) {
        if let Some(conns) = self.by_user.get(user) {
            into.extend_from_slice(conns);
        }
    }

    pub(crate) fn online_users(&self) -> usize {
        self.by_user.len()
    }
}
