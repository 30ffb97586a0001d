//! Faults on demand (`--chaos`), deterministic with `--seed`: added latency on every event a
//! connection receives, a rate of dropped connections (per command), and a rate of dropped
//! deliveries, the one deliberate loss (off by default) so a ledger can be shown to catch it.
//! The hooks sit in the hub's outbound path, so every dialect gets them.

use std::str::FromStr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

use crate::duration::parse_duration;

/// Added latency: fixed (`min == max`) or uniform in a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub min: Duration,
    pub max: Duration,
}

/// What `--chaos` asks for. The default does nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChaosConfig {
    pub latency: Option<Latency>,
    /// Probability, per command a connection sends, that the server drops that connection
    /// instead (what was queued for it is kept, as for any lost connection).
    pub drop_connection: f64,
    /// Probability that one delivery to one connection is silently dropped.
    pub drop_delivery: f64,
}

impl ChaosConfig {
    pub fn is_off(&self) -> bool {
        self.latency.is_none() && self.drop_connection <= 0.0 && self.drop_delivery <= 0.0
    }
}

/// `latency=20ms`, `latency=5ms..50ms`, `drop-connection=0.01`, `drop-delivery=1%`, joined
/// with commas.
impl FromStr for ChaosConfig {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut chaos = ChaosConfig::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, value) = part
                .split_once('=')
                .ok_or_else(|| format!("chaos option {part:?} needs a value, e.g. {part}=0.01"))?;
            match key.trim() {
                "latency" => {
                    let (min, max) = match value.split_once("..") {
                        Some((min, max)) => (parse_duration(min)?, parse_duration(max)?),
                        None => {
                            let fixed = parse_duration(value)?;
                            (fixed, fixed)
                        }
                    };
                    if min > max {
                        return Err(format!("chaos latency range {value:?} runs backwards"));
                    }
                    chaos.latency = Some(Latency { min, max });
                }
                "drop-connection" | "drop-connections" => {
                    chaos.drop_connection = parse_rate(key, value)?
                }
                "drop-delivery" | "drop-deliveries" => {
                    chaos.drop_delivery = parse_rate(key, value)?
                }
                other => {
                    return Err(format!(
                        "unknown chaos option {other:?}; expected latency, drop-connection or drop-delivery"
                    ));
                }
            }
        }
        Ok(chaos)
    }
}

fn parse_rate(key: &str, value: &str) -> Result<f64, String> {
    let value = value.trim();
    let rate = match value.strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => value.parse::<f64>(),
    }
    .map_err(|_| format!("chaos {key} wants a rate like 0.01 or 1%, not {value:?}"))?;
    if !(0.0..=1.0).contains(&rate) {
        return Err(format!(
            "chaos {key} must be between 0 and 1 (0% and 100%), not {value}"
        ));
    }
    Ok(rate)
}

/// The hub's fault injector: its own random stream, so turning chaos on does not change
/// what the rest of the hub picks for the same seed.
#[derive(Debug)]
pub(crate) struct Chaos {
    config: ChaosConfig,
    rng: SmallRng,
}

impl Chaos {
    pub(crate) fn new(config: ChaosConfig, seed: u64) -> Self {
        Chaos {
            config,
            rng: SmallRng::seed_from_u64(seed ^ 0xc4a0_5eed_0000_0001),
        }
    }

    /// When an event queued now may be handed out (`None`: at once).
    pub(crate) fn due(&mut self) -> Option<Instant> {
        let latency = self.config.latency?;
        let delay = if latency.min == latency.max {
            latency.min
        } else {
            self.rng.random_range(latency.min..=latency.max)
        };
        Some(Instant::now() + delay)
    }

    pub(crate) fn drop_connection(&mut self) -> bool {
        self.config.drop_connection > 0.0 && self.rng.random_bool(self.config.drop_connection)
    }

    /// Whether any delivery may be dropped (`drop-delivery` above 0).
    pub(crate) fn drops_deliveries(&self) -> bool {
        self.config.drop_delivery > 0.0
    }

    pub(crate) fn drop_delivery(&mut self) -> bool {
        self.config.drop_delivery > 0.0 && self.rng.random_bool(self.config.drop_delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_option() {
        let chaos: ChaosConfig = "latency=5ms..50ms, drop-connection=0.01,drop-delivery=2%"
            .parse()
            .unwrap();
        assert_eq!(
            chaos.latency,
            Some(Latency {
                min: Duration::from_millis(5),
                max: Duration::from_millis(50)
            })
        );
        assert_eq!(chaos.drop_connection, 0.01);
        assert!((chaos.drop_delivery - 0.02).abs() < 1e-12);
        let fixed: ChaosConfig = "latency=20ms".parse().unwrap();
        assert_eq!(
            fixed.latency.map(|l| l.min),
            Some(Duration::from_millis(20))
        );
        assert_eq!(
            fixed.latency.map(|l| l.max),
            Some(Duration::from_millis(20))
        );
        assert!(ChaosConfig::default().is_off());
        assert!(!fixed.is_off());
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, needle) in [
            ("drop-delivery=2", "between 0 and 1"),
            ("drop-delivery=x", "rate like"),
            ("latency=50ms..5ms", "backwards"),
            ("lose=1", "unknown chaos option"),
            ("latency", "needs a value"),
        ] {
            let e = text.parse::<ChaosConfig>().unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn same_seed_same_faults() {
        let config = ChaosConfig {
            drop_delivery: 0.3,
            ..ChaosConfig::default()
        };
        let run = |seed| {
            let mut chaos = Chaos::new(config.clone(), seed);
            (0..200).map(|_| chaos.drop_delivery()).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}
