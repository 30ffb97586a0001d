//! Reconnect policy: exponential backoff with full jitter (so that a server restart does not
//! see every client come back in the same millisecond).

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// Upper bound of the first wait.
    pub initial: Duration,
    /// Upper bound of any wait.
    pub max: Duration,
    /// Give up after this many failed attempts (`None`: never give up).
    pub max_attempts: Option<u32>,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
            max_attempts: None,
        }
    }
}

impl ReconnectPolicy {
    /// Do not reconnect at all: a lost connection closes the driver.
    pub fn never() -> Self {
        ReconnectPolicy {
            max_attempts: Some(0),
            ..ReconnectPolicy::default()
        }
    }

    pub fn allows(&self, attempt: u32) -> bool {
        self.max_attempts.is_none_or(|max| attempt <= max)
    }

    /// The wait before `attempt` (1-based): uniform in `[cap/2, cap]` where
    /// `cap = min(max, initial * 2^(attempt-1))`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let cap = self.initial.saturating_mul(1 << exp).min(self.max);
        let half = cap / 2;
        half + rng.random_range(Duration::ZERO..=half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn delays_grow_then_cap_and_stay_jittered() {
        let policy = ReconnectPolicy::default();
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        let first = policy.delay(1, &mut rng);
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
        let tenth = policy.delay(10, &mut rng);
        assert!(tenth >= Duration::from_secs(5) && tenth <= Duration::from_secs(10));
        let many: Vec<_> = (0..20).map(|_| policy.delay(30, &mut rng)).collect();
        assert!(many.iter().all(|d| *d <= policy.max));
        assert!(
            many.windows(2).any(|w| w[0] != w[1]),
            "jitter varies the waits"
        );
    }

    #[test]
    fn never_allows_no_attempt() {
        assert!(!ReconnectPolicy::never().allows(1));
        assert!(ReconnectPolicy::default().allows(1_000));
    }
}
