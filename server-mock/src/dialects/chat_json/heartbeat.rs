//! The broker's app heartbeat (§5, §9.2): once a socket has an account, every `interval` it
//! either logs the account out, when no `PONG` came for more than `max_wait` (since the
//! account was bound, or since the last `PONG`), or sends `PING`. After the logout the
//! pings stop and the socket stays open. The original ticks one global ticker; a timer per
//! connection gives the same sequence (4 PINGs, then the logout at 2.5 s with v1's 500 ms /
//! 2 s) without a scan over every connection.
//!
//! A PING due within a quarter interval may go out early, with frames the connection writes
//! anyway ([`Heartbeat::ping_early`]): on a busy socket the heartbeat then costs no write of
//! its own (v1 pings 10,000 sockets 20,000 times a second). Such a socket sees PINGs every
//! 375–500 ms (v1) instead of every 500 ms; a quiet one keeps the exact cadence, and the
//! logout is only ever decided at the tick itself.
//!
//! A tick that runs late (the host stole the CPU, the runtime was busy) means this server
//! read nothing in that time either: a PONG may sit unread, or the client, stalled with us,
//! could not send it. So the lateness is not counted as the client's silence, and a stall
//! of a few seconds does not log out every account (seen under 80% steal: 2,740 errors
//! and half the messages lost in a 40-user run). A silent client is still logged out, at
//! most one stall later.

use std::time::Duration;

use tokio::time::Instant;

/// What a due tick asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tick {
    Ping,
    Logout,
}

#[derive(Debug)]
pub(super) struct Heartbeat {
    interval: Duration,
    max_wait: Duration,
    /// The next tick; `None` before an account is bound and after the logout.
    next: Option<Instant>,
    last_pong: Instant,
}

impl Heartbeat {
    pub(super) fn new(interval: Duration, max_wait: Duration) -> Heartbeat {
        Heartbeat {
            // A zero interval would spin; a millisecond is below any useful setting.
            interval: interval.max(Duration::from_millis(1)),
            max_wait,
            next: None,
            last_pong: Instant::now(),
        }
    }

    /// The socket now has an account (created or resumed): the silence counts from now.
    pub(super) fn start(&mut self, now: Instant) {
        self.last_pong = now;
        self.next = Some(now + self.interval);
    }

    pub(super) fn pong(&mut self, now: Instant) {
        self.last_pong = now;
    }

    pub(super) fn next(&self) -> Option<Instant> {
        self.next
    }

    /// Whether to send a PING now, with other frames, rather than at the next tick: yes when
    /// that tick is a PING (not a logout) due within a quarter interval. The tick after it
    /// is then an interval from now.
    pub(super) fn ping_early(&mut self, now: Instant) -> bool {
        let Some(due) = self.next else {
            return false;
        };
        if due > now + self.interval / 4 {
            return false;
        }
        // Silent for too long by then: the tick decides (a PONG may still come first).
        if due.saturating_duration_since(self.last_pong) > self.max_wait {
            return false;
        }
        self.next = Some(now + self.interval);
        true
    }

    /// The tick due at `now`, if one is (and the one after it scheduled).
    pub(super) fn tick(&mut self, now: Instant) -> Option<Tick> {
        let due = self.next.filter(|due| *due <= now)?;
        let late = now - due;
        self.last_pong = (self.last_pong + late).min(now);
        if now.saturating_duration_since(self.last_pong) > self.max_wait {
            self.next = None;
            return Some(Tick::Logout);
        }
        // Keep the cadence, but never fire a burst after a stall.
        let following = due + self.interval;
        self.next = Some(if following > now {
            following
        } else {
            now + self.interval
        });
        Some(Tick::Ping)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn v1() -> Heartbeat {
        Heartbeat::new(500 * MS, 2000 * MS)
    }

    /// v1's timers, with an account bound now.
    fn v1_started() -> (Instant, Heartbeat) {
        let t0 = Instant::now();
        let mut beat = v1();
        beat.start(t0);
        (t0, beat)
    }

    #[test]
    fn silent_before_an_account() {
        let mut beat = v1();
        assert_eq!(beat.next(), None);
        assert_eq!(beat.tick(Instant::now() + 10_000 * MS), None);
    }

    #[test]
    fn four_pings_then_the_logout_then_nothing() {
        let (t0, mut beat) = v1_started();
        let mut ticks = Vec::new();
        for step in 1..=8 {
            let now = t0 + step * 500 * MS;
            assert_eq!(beat.next(), (step <= 5).then_some(now));
            ticks.push(beat.tick(now));
        }
        let ping = Some(Tick::Ping);
        assert_eq!(
            ticks,
            [ping, ping, ping, ping, Some(Tick::Logout), None, None, None]
        );
    }

    #[test]
    fn a_pong_keeps_the_account() {
        let (t0, mut beat) = v1_started();
        for step in 1..=20 {
            let now = t0 + step * 500 * MS;
            assert_eq!(beat.tick(now), Some(Tick::Ping), "tick {step}");
            beat.pong(now);
        }
    }

    #[test]
    fn not_due_yet_is_no_tick() {
        let (t0, mut beat) = v1_started();
        assert_eq!(beat.tick(t0 + 499 * MS), None);
        assert_eq!(beat.next(), Some(t0 + 500 * MS));
    }

    #[test]
    fn a_ping_goes_early_only_within_a_quarter_interval_and_never_instead_of_the_logout() {
        let t0 = Instant::now();
        let mut beat = v1();
        assert!(!beat.ping_early(t0), "no account, no ping");
        beat.start(t0);
        assert!(!beat.ping_early(t0 + 374 * MS));
        assert_eq!(beat.next(), Some(t0 + 500 * MS));
        assert!(beat.ping_early(t0 + 375 * MS));
        assert_eq!(beat.next(), Some(t0 + 875 * MS));
        // The tick it replaced does not fire.
        assert_eq!(beat.tick(t0 + 500 * MS), None);
        // Silent since t0: ticks at 875, 1375, 1875 could go early (silence ≤ 2 s at each)...
        assert!(beat.ping_early(t0 + 800 * MS));
        assert_eq!(beat.next(), Some(t0 + 1300 * MS));
        assert!(beat.ping_early(t0 + 1200 * MS));
        assert!(beat.ping_early(t0 + 1650 * MS));
        assert_eq!(beat.next(), Some(t0 + 2150 * MS));
        // ...the one at 2150 would be the logout: only the tick decides it.
        assert!(!beat.ping_early(t0 + 2100 * MS));
        assert_eq!(beat.tick(t0 + 2150 * MS), Some(Tick::Logout));
        assert!(
            !beat.ping_early(t0 + 2200 * MS),
            "no pings after the logout"
        );
    }

    #[test]
    fn a_pong_before_the_tick_lets_the_ping_go_early_again() {
        let (t0, mut beat) = v1_started();
        for step in 1..=3 {
            assert_eq!(beat.tick(t0 + step * 500 * MS), Some(Tick::Ping));
        }
        // The tick at 2000 is a ping (silence exactly 2 s is not too long), at 2500 a
        // logout unless a PONG comes.
        assert!(beat.ping_early(t0 + 1900 * MS));
        assert!(!beat.ping_early(t0 + 2300 * MS));
        beat.pong(t0 + 2310 * MS);
        assert!(beat.ping_early(t0 + 2320 * MS));
    }

    #[test]
    fn a_stall_does_not_fire_a_burst() {
        let t0 = Instant::now();
        let mut beat = Heartbeat::new(500 * MS, 60_000 * MS);
        beat.start(t0);
        let late = t0 + 3_200 * MS;
        assert_eq!(beat.tick(late), Some(Tick::Ping));
        assert_eq!(beat.next(), Some(late + 500 * MS));
    }

    #[test]
    fn a_stall_longer_than_the_wait_is_not_silence() {
        let (t0, mut beat) = v1_started();
        assert_eq!(beat.tick(t0 + 500 * MS), Some(Tick::Ping));
        beat.pong(t0 + 510 * MS);
        // The tick due at 1000 runs at 4000: 3 s without a PONG, but this server did not run.
        assert_eq!(beat.tick(t0 + 4000 * MS), Some(Tick::Ping));
        assert_eq!(beat.next(), Some(t0 + 4500 * MS));
        beat.pong(t0 + 4020 * MS);
        assert_eq!(beat.tick(t0 + 4500 * MS), Some(Tick::Ping));
    }

    #[test]
    fn a_silent_client_is_logged_out_one_stall_later() {
        let (t0, mut beat) = v1_started();
        // Due at 500, runs at 3500: the 3 s are not counted (silence 0.5 s).
        assert_eq!(beat.tick(t0 + 3500 * MS), Some(Tick::Ping));
        // On time from here: 1.0, 1.5, 2.0 s of silence, then 2.5 s is too long.
        let ping = Some(Tick::Ping);
        let ticks: Vec<_> = (1..=4)
            .map(|k| beat.tick(t0 + (3500 + k * 500) * MS))
            .collect();
        assert_eq!(ticks, [ping, ping, ping, Some(Tick::Logout)]);
    }
}
