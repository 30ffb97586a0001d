//! Who is online, shared by the users of one process: a sender owes a delivery only to
//! recipients that can receive it, and a leaving user waits for what is still on its way.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, Ordering};

/// A user's state, one byte each.
pub mod state {
    pub const NOT_YET: u8 = 0;
    pub const ONLINE: u8 = 1;
    /// Connection lost or reconnecting.
    pub const AWAY: u8 = 2;
    pub const LEAVING: u8 = 3;
    pub const GONE: u8 = 4;
    /// Logging out, past its linger: what is sent to it now is not owed (it arrives, if at
    /// all, only because the connection is still open; the receiver then counts it owed).
    pub const CLOSING: u8 = 5;
    /// Flag: member of its group.
    pub const JOINED: u8 = 0x10;
}

pub struct Roster {
    states: Box<[AtomicU8]>,
    /// Server user id → user index, for partners the server picks (`match`).
    ids: Mutex<HashMap<String, u32>>,
}

impl Roster {
    pub fn new(users: usize) -> Roster {
        Roster {
            states: (0..users).map(|_| AtomicU8::new(state::NOT_YET)).collect(),
            ids: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, index: u32) -> u8 {
        self.states
            .get(index as usize)
            .map_or(state::GONE, |s| s.load(Ordering::Acquire))
    }

    /// Set the life state, keeping the JOINED flag.
    pub fn set(&self, index: u32, life: u8) {
        if let Some(s) = self.states.get(index as usize) {
            let _ = s.fetch_update(Ordering::AcqRel, Ordering::Acquire, |old| {
                Some((old & state::JOINED) | life)
            });
        }
    }

    pub fn set_joined(&self, index: u32, joined: bool) {
        if let Some(s) = self.states.get(index as usize) {
            if joined {
                s.fetch_or(state::JOINED, Ordering::AcqRel);
            } else {
                s.fetch_and(!state::JOINED, Ordering::AcqRel);
            }
        }
    }

    /// Whether a message sent now is owed to `index`.
    pub fn receivable(&self, index: u32, offline_messages: bool, need_joined: bool) -> bool {
        let s = self.get(index);
        if need_joined && s & state::JOINED == 0 {
            return false;
        }
        match s & 0x0f {
            // A leaving user still receives while it lingers for its peers.
            state::ONLINE | state::LEAVING => true,
            state::AWAY => offline_messages,
            _ => false,
        }
    }

    pub fn remember(&self, user: &str, index: u32) {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.to_owned(), index);
    }

    pub fn index_of(&self, user: &str) -> Option<u32> {
        self.ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(user)
            .copied()
    }
}
