//! Two-party sessions: chat's random MATCH (the session ends when either side logs out) and
//! eutamias' sessions with a chosen peer (they last until closed, so messages to an offline
//! peer wait for it). Plus the pool of users free to be matched.

use std::collections::VecDeque;

use foldhash::HashMap;

use imkit_protocols::{SessionId, UserId};
use rand::Rng;

use super::ids::Sequence;

/// How many ended sessions are remembered (so a late send gets "partner left", not
/// "unknown session"); older ones are forgotten to bound memory.
const ENDED_REMEMBERED: usize = 65_536;

/// Chat session ids come from an auto-increment starting at 10 in the original.
const FIRST_SESSION_ID: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionKind {
    /// Made by `Match`: ends when either participant goes offline (`PartnerLeft`).
    Matched,
    /// Made by `OpenSession`: lasts until `CloseSession`.
    Opened,
}

#[derive(Debug)]
pub(crate) struct Session {
    pub a: UserId,
    pub b: UserId,
    pub kind: SessionKind,
    pub ids: Sequence,
}

impl Session {
    /// The other participant, or `None` if `user` is not in the session.
    pub(crate) fn peer_of(&self, user: &UserId) -> Option<&UserId> {
        if *user == self.a {
            Some(&self.b)
        } else if *user == self.b {
            Some(&self.a)
        } else {
            None
        }
    }
}

#[derive(Debug)]
pub(crate) struct Sessions {
    live: HashMap<SessionId, Session>,
    by_user: HashMap<UserId, Vec<SessionId>>,
    opened_pairs: HashMap<(UserId, UserId), SessionId>,
    ended: HashMap<SessionId, (UserId, UserId)>,
    ended_order: VecDeque<SessionId>,
    next_id: u64,
    /// Online users who may be matched: logged in on a dialect that matches, in no live
    /// matched session. A vector plus index, so a random pick is O(1) among 10,000.
    free: Vec<UserId>,
    free_index: HashMap<UserId, usize>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            live: HashMap::default(),
            by_user: HashMap::default(),
            opened_pairs: HashMap::default(),
            ended: HashMap::default(),
            ended_order: VecDeque::new(),
            next_id: FIRST_SESSION_ID,
            free: Vec::new(),
            free_index: HashMap::default(),
        }
    }
}

fn pair(a: &UserId, b: &UserId) -> (UserId, UserId) {
    if a <= b {
        (a.clone(), b.clone())
    } else {
        (b.clone(), a.clone())
    }
}

impl Sessions {
    pub(crate) fn get(&self, id: SessionId) -> Option<&Session> {
        self.live.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.live.get_mut(&id)
    }

    /// The participants of a session that has ended (if still remembered).
    pub(crate) fn ended(&self, id: SessionId) -> Option<&(UserId, UserId)> {
        self.ended.get(&id)
    }

    pub(crate) fn open(&mut self, a: &UserId, b: &UserId, kind: SessionKind) -> SessionId {
        let id = SessionId(self.next_id);
        self.next_id += 1;
        for user in [a, b] {
            self.by_user.entry(user.clone()).or_default().push(id);
        }
        if kind == SessionKind::Opened {
            self.opened_pairs.insert(pair(a, b), id);
        }
        self.live.insert(
            id,
            Session {
                a: a.clone(),
                b: b.clone(),
                kind,
                ids: Sequence::default(),
            },
        );
        id
    }

    /// The live `Opened` session between two users, if any (opening again reuses it).
    pub(crate) fn opened_between(&self, a: &UserId, b: &UserId) -> Option<SessionId> {
        self.opened_pairs.get(&pair(a, b)).copied()
    }

    /// End a session; returns it.
    pub(crate) fn end(&mut self, id: SessionId) -> Option<Session> {
        let session = self.live.remove(&id)?;
        for user in [&session.a, &session.b] {
            if let Some(ids) = self.by_user.get_mut(user) {
                ids.retain(|s| *s != id);
                if ids.is_empty() {
                    self.by_user.remove(user);
                }
            }
        }
        if session.kind == SessionKind::Opened {
            self.opened_pairs.remove(&pair(&session.a, &session.b));
        }
        self.ended
            .insert(id, (session.a.clone(), session.b.clone()));
        self.ended_order.push_back(id);
        if self.ended_order.len() > ENDED_REMEMBERED
            && let Some(old) = self.ended_order.pop_front()
        {
            self.ended.remove(&old);
        }
        Some(session)
    }

    /// The user's live sessions of `kind`.
    pub(crate) fn of_user(&self, user: &UserId, kind: SessionKind) -> Vec<SessionId> {
        self.by_user
            .get(user)
            .map(|ids| {
                ids.iter()
                    .copied()
                    .filter(|id| self.live.get(id).is_some_and(|s| s.kind == kind))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn in_matched_session(&self, user: &UserId) -> bool {
        self.matched_session_of(user).is_some()
    }

    /// The live matched session the user is in (one at most: matching picks free users).
    pub(crate) fn matched_session_of(&self, user: &UserId) -> Option<SessionId> {
        self.by_user.get(user)?.iter().copied().find(|id| {
            self.live
                .get(id)
                .is_some_and(|s| s.kind == SessionKind::Matched)
        })
    }

    pub(crate) fn set_free(&mut self, user: &UserId, free: bool) {
        match (free, self.free_index.get(user).copied()) {
            (true, None) => {
                self.free_index.insert(user.clone(), self.free.len());
                self.free.push(user.clone());
            }
            (false, Some(at)) => {
                self.free.swap_remove(at);
                self.free_index.remove(user);
                if let Some(moved) = self.free.get(at) {
                    self.free_index.insert(moved.clone(), at);
                }
            }
            _ => {}
        }
    }

    /// A random free user other than `me`.
    pub(crate) fn pick_free(&self, me: &UserId, rng: &mut impl Rng) -> Option<UserId> {
        let mine = self.free_index.get(me).copied();
        let others = self.free.len() - usize::from(mine.is_some());
        if others == 0 {
            return None;
        }
        let mut at = rng.random_range(0..others);
        if let Some(mine) = mine
            && at >= mine
        {
            at += 1;
        }
        self.free.get(at).cloned()
    }

    #[cfg(test)]
    pub(crate) fn free_count(&self) -> usize {
        self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn the_free_pool_never_picks_oneself() {
        let mut sessions = Sessions::default();
        let mut rng = SmallRng::seed_from_u64(1);
        let (a, b, c) = (UserId::from("a"), UserId::from("b"), UserId::from("c"));
        sessions.set_free(&a, true);
        assert_eq!(sessions.pick_free(&a, &mut rng), None);
        sessions.set_free(&b, true);
        sessions.set_free(&c, true);
        for _ in 0..100 {
            let picked = sessions.pick_free(&a, &mut rng).unwrap();
            assert_ne!(picked, a);
        }
        sessions.set_free(&b, false);
        sessions.set_free(&b, false);
        for _ in 0..20 {
            assert_eq!(sessions.pick_free(&a, &mut rng), Some(c.clone()));
        }
        // Someone not in the pool can still pick from it.
        assert!(sessions.pick_free(&b, &mut rng).is_some());
        assert_eq!(sessions.free_count(), 2);
    }

    #[test]
    fn ended_sessions_are_remembered_and_reopening_reuses() {
        let mut sessions = Sessions::default();
        let (a, b) = (UserId::from("a"), UserId::from("b"));
        let s = sessions.open(&a, &b, SessionKind::Opened);
        assert_eq!(s, SessionId(10));
        assert_eq!(sessions.opened_between(&b, &a), Some(s));
        let m = sessions.open(&a, &b, SessionKind::Matched);
        assert!(sessions.in_matched_session(&a));
        assert_eq!(sessions.of_user(&a, SessionKind::Matched), vec![m]);
        sessions.end(m).unwrap();
        assert!(!sessions.in_matched_session(&b));
        assert_eq!(sessions.ended(m), Some(&(a.clone(), b.clone())));
        assert!(sessions.get(m).is_none());
        assert!(sessions.get(s).is_some());
        sessions.end(s).unwrap();
        assert_eq!(sessions.opened_between(&a, &b), None);
    }
}
