//! The original's session table: one client process per user and device, keyed by the token
//! it logged in with. A new login on the same device replaces the old connection; the seat
//! outlives its socket (the original's process lingers after a disconnect), which is what
//! lets a later `t = "reconnect"` with the same token succeed silently.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use imkit_protocols::UserId;

use crate::hub::ConnId;

#[derive(Debug)]
struct Seat {
    token: String,
    /// The connection sitting in it, if one is live.
    conn: Option<ConnId>,
}

/// Every seat ever taken (at most three per user: the original's device list).
#[derive(Debug, Default)]
pub(super) struct Seats {
    seats: Mutex<HashMap<(UserId, String), Seat>>,
}

/// What taking a seat for a login found there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Taken {
    /// The connection that sat there before (to be closed: "be_replaced").
    pub replaced: Option<ConnId>,
    /// The seat already had this token: the original hands the old process the new socket
    /// and sends no reply.
    pub same_token: bool,
}

/// Why a reconnect found no seat to return to (the original's `r = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NoSeat {
    Offline,
    TokenNotMatch,
}

impl NoSeat {
    pub(super) fn reason(self) -> &'static str {
        match self {
            NoSeat::Offline => "offline",
            NoSeat::TokenNotMatch => "Token not match",
        }
    }
}

impl Seats {
    fn lock(&self) -> MutexGuard<'_, HashMap<(UserId, String), Seat>> {
        self.seats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A login (token already checked): `conn` takes the seat, whatever sat there.
    pub(super) fn log_in(&self, user: &UserId, device: &str, token: &str, conn: ConnId) -> Taken {
        let mut seats = self.lock();
        let key = (user.clone(), device.to_owned());
        let previous = seats.insert(
            key,
            Seat {
                token: token.to_owned(),
                conn: Some(conn),
            },
        );
        match previous {
            None => Taken {
                replaced: None,
                same_token: false,
            },
            Some(seat) => Taken {
                replaced: seat.conn.filter(|c| *c != conn),
                same_token: seat.token == token,
            },
        }
    }

    /// A reconnect: back into the seat the same token holds; returns the connection that
    /// was still in it.
    pub(super) fn reconnect(
        &self,
        user: &UserId,
        device: &str,
        token: &str,
        conn: ConnId,
    ) -> Result<Option<ConnId>, NoSeat> {
        let mut seats = self.lock();
        let Some(seat) = seats.get_mut(&(user.clone(), device.to_owned())) else {
            return Err(NoSeat::Offline);
        };
        if seat.token != token {
            return Err(NoSeat::TokenNotMatch);
        }
        Ok(seat.conn.replace(conn).filter(|c| *c != conn))
    }

    /// `conn` ended: the seat stays (for a reconnect) but is empty, unless someone else
    /// took it meanwhile.
    pub(super) fn leave(&self, user: &UserId, device: &str, conn: ConnId) {
        let mut seats = self.lock();
        if let Some(seat) = seats.get_mut(&(user.clone(), device.to_owned()))
            && seat.conn == Some(conn)
        {
            seat.conn = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_replaces_the_seat_and_a_reconnect_needs_its_token() {
        let seats = Seats::default();
        let bob = UserId::from(2);
        assert_eq!(
            seats.reconnect(&bob, "android", "t1", ConnId(1)),
            Err(NoSeat::Offline)
        );
        let first = seats.log_in(&bob, "android", "t1", ConnId(1));
        assert_eq!(
            first,
            Taken {
                replaced: None,
                same_token: false
            }
        );
        // Another device is another seat.
        assert_eq!(seats.log_in(&bob, "iphone", "t2", ConnId(2)).replaced, None);
        // A new token on the same device replaces connection 1.
        assert_eq!(
            seats.log_in(&bob, "android", "t3", ConnId(3)),
            Taken {
                replaced: Some(ConnId(1)),
                same_token: false
            }
        );
        // The same token again: silent takeover.
        assert!(seats.log_in(&bob, "android", "t3", ConnId(4)).same_token);
        seats.leave(&bob, "android", ConnId(3)); // not in the seat any more: no effect
        assert_eq!(
            seats.reconnect(&bob, "android", "t1", ConnId(5)),
            Err(NoSeat::TokenNotMatch)
        );
        assert_eq!(
            seats.reconnect(&bob, "android", "t3", ConnId(5)),
            Ok(Some(ConnId(4)))
        );
        seats.leave(&bob, "android", ConnId(5));
        assert_eq!(seats.reconnect(&bob, "android", "t3", ConnId(6)), Ok(None));
    }
}
