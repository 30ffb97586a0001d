//! The broker's app heartbeat (§5, §9.2): once a socket has an account, every `interval` it
//! either logs the account out, when no `PONG` came for more than `max_wait` (since the
//! account was bound, or since the last `PONG`), or sends `PING`. After the logout the
//! pings stop and the socket stays open. The original ticks one global ticker; a timer per
//! connection gives the same sequence (4 PINGs, then the logout at 2.5 s with v1's 500 ms /
//! 2 s) without a scan over every connection.
//!
//! A PING due within a quarter interval may go out early, with frames the connection writes
//! anyway ([`Heartbeat::ping_early`]): on a busy socket the heartbeat then costs no write of
//! its own (v1 pings 10,000 sockets 20,000 times a second). It stands for the tick it was
//! due at, so the cadence holds: one PING per interval, busy or quiet, as the original's
//! ticker sends (moving the schedule to each early PING sent a third more of them). The
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
    /// that tick is a PING (not a logout) due within a quarter interval. It takes that
    /// tick's place: the next one is due an interval after it. A tick already due is left
    /// to [`Heartbeat::tick`], which runs at once: after a stall it credits the lateness
    /// and sends one PING, not one per interval missed.
    pub(super) fn ping_early(&mut self, now: Instant) -> bool {
        let Some(due) = self.next else {
            return false;
        };
        if due <= now || due > now + self.interval / 4 {
            return false;
        }
        // Silent for too long by then: the tick decides (a PONG may still come first).
        if due.saturating_duration_since(self.last_pong) > self.max_wait {
            return false;
        }
        self.next = Some(due + self.interval);
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
        // It stands for the tick at 500, which does not fire: the next is at 1000.
        assert_eq!(beat.next(), Some(t0 + 1000 * MS));
        assert_eq!(beat.tick(t0 + 500 * MS), None);
        // Silent since t0: the ticks at 1000, 1500, 2000 may go early (silence ≤ 2 s)...
        assert!(
            !beat.ping_early(t0 + 800 * MS),
            "not within a quarter of 1000"
        );
        assert!(beat.ping_early(t0 + 900 * MS));
        assert!(beat.ping_early(t0 + 1400 * MS));
        assert!(beat.ping_early(t0 + 1875 * MS));
        assert_eq!(beat.next(), Some(t0 + 2500 * MS));
        // ...the one at 2500 would be the logout: only the tick decides it.
        assert!(!beat.ping_early(t0 + 2400 * MS));
        assert_eq!(beat.tick(t0 + 2500 * MS), Some(Tick::Logout));
        assert!(
            !beat.ping_early(t0 + 2600 * MS),
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
        // It stood for the tick at 2000: the next is at 2500.
        assert_eq!(beat.next(), Some(t0 + 2500 * MS));
        assert!(
            !beat.ping_early(t0 + 2300 * MS),
            "not due within a quarter yet"
        );
        assert!(!beat.ping_early(t0 + 2400 * MS), "2.5 s of silence by then");
        beat.pong(t0 + 2410 * MS);
        assert!(beat.ping_early(t0 + 2420 * MS));
    }

    /// Frames written every 10 ms at `steps` (in 10 ms from `t0`), the write and then the
    /// timer as the pump runs them; the client answers each PING at once. When each PING
    /// went out, from `t0`.
    fn busy(
        t0: Instant,
        beat: &mut Heartbeat,
        steps: std::ops::RangeInclusive<u32>,
    ) -> Vec<Duration> {
        let mut pings = Vec::new();
        for step in steps {
            let now = t0 + step * 10 * MS;
            let early = beat.ping_early(now);
            let tick = match beat.tick(now) {
                Some(Tick::Logout) => panic!("logged out at {:?}", now - t0),
                Some(Tick::Ping) => true,
                None => false,
            };
            for _ in 0..(u8::from(early) + u8::from(tick)) {
                pings.push(now - t0);
                beat.pong(now);
            }
        }
        pings
    }

    #[test]
    fn after_a_stall_a_busy_socket_gets_one_ping_and_keeps_its_account() {
        let (t0, mut beat) = v1_started();
        beat.pong(t0 + 400 * MS);
        // Stopped from 450 ms to 3 s: the ticks at 500…3000 did not run.
        let pings = busy(t0, &mut beat, 300..=500);
        // One for the stall, then the cadence: 3.5, 4.0, 4.5, 5.0 (each within a quarter).
        assert_eq!(pings.len(), 5, "{pings:?}");
    }

    #[test]
    fn a_busy_socket_is_pinged_once_per_interval() {
        let (t0, mut beat) = v1_started();
        let pings = busy(t0, &mut beat, 1..=1000);
        // As the original's ticker: 20 in 10 s, each at most a quarter interval early.
        assert_eq!(pings.len(), 20, "{pings:?}");
        for (n, at) in (1..).zip(&pings) {
            let due = n * 500 * MS;
            assert!(*at <= due && due - *at <= 125 * MS, "ping {n} at {at:?}");
        }
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
