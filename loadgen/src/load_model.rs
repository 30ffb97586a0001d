//! When each virtual user starts and stops, and which behaviour it runs.
//!
//! Users are numbered globally; consecutive users form units (a pair, a group) that run the same
//! behaviour and are never split across shards. Start times depend only on the global index,
//! so shards together reproduce the whole ramp.

use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::scenario::{Arrivals, Behaviour, LoadModel, Scenario, Stage};
use crate::shard::Shard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unit {
    pub first: u32,
    pub size: u32,
    pub behaviour: u16,
}

/// Users grouped into units, behaviours dealt by smooth weighted round robin (exact
/// proportions, deterministic).
#[derive(Debug, Clone)]
pub struct Layout {
    pub units: Vec<Unit>,
    pub users: u32,
}

impl Layout {
    pub fn new(behaviours: &[Behaviour], users: u32) -> Layout {
        let total: i64 = behaviours.iter().map(|b| i64::from(b.weight)).sum();
        let mut current = vec![0i64; behaviours.len()];
        let mut units = Vec::new();
        let mut next = 0u32;
        while next < users {
            for (c, b) in current.iter_mut().zip(behaviours) {
                *c += i64::from(b.weight);
            }
            let pick = (0..behaviours.len())
                .max_by_key(|&i| (current[i], -(i as i64)))
                .unwrap_or(0);
            current[pick] -= total;
            let size = behaviours[pick].unit_size().min(users - next);
            units.push(Unit {
                first: next,
                size,
                behaviour: pick as u16,
            });
            next += size;
        }
        Layout { units, users }
    }

    pub fn unit_of(&self, index: u32) -> Option<(usize, &Unit)> {
        let at = self.units.partition_point(|u| u.first + u.size <= index);
        self.units
            .get(at)
            .filter(|u| u.first <= index)
            .map(|u| (at, u))
    }
}

/// One user's place in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub index: u32,
    pub start: Duration,
    /// When a ramp-down stage takes the user off (None: at the end of the run).
    pub stop: Option<Duration>,
}

/// Users online at `t` under the closed model's stages (linear within a stage, from 0).
fn curve(stages: &[Stage], t: Duration) -> f64 {
    let (mut from, mut at) = (0.0, Duration::ZERO);
    for s in stages {
        let to = f64::from(s.to);
        if t < at + s.over.0 {
            let f = (t - at).as_secs_f64() / s.over.0.as_secs_f64();
            return from + (to - from) * f;
        }
        from = to;
        at += s.over.0;
    }
    from
}

/// The closed model's start (and ramp-down stop) of every user this shard owns, by start time.
pub fn closed_slots(stages: &[Stage], layout: &Layout, shard: Shard) -> Vec<Slot> {
    let mut slots = Vec::new();
    // Walk the stage boundaries: within a stage, users cross thresholds at linear times.
    for (u, unit) in layout.units.iter().enumerate() {
        if !shard.owns(u) {
            continue;
        }
        for index in unit.first..unit.first + unit.size {
            let need = f64::from(index + 1);
            let (mut from, mut at) = (0.0f64, Duration::ZERO);
            let (mut start, mut stop) = (None, None);
            for s in stages {
                let to = f64::from(s.to);
                let crossing = |level: f64| {
                    let f = if (to - from).abs() < f64::EPSILON {
                        0.0
                    } else {
                        ((level - from) / (to - from)).clamp(0.0, 1.0)
                    };
                    at + s.over.0.mul_f64(f)
                };
                if start.is_none() && to >= need {
                    start = Some(if from >= need { at } else { crossing(need) });
                } else if start.is_some() && stop.is_none() && to < need {
                    stop = Some(crossing(need - 1.0 + 1e-9).max(at));
                }
                from = to;
                at += s.over.0;
            }
            if let Some(start) = start {
                slots.push(Slot { index, start, stop });
            }
        }
    }
    slots.sort_by_key(|s| (s.start, s.index));
    debug_assert!(
        slots
            .iter()
            .all(|s| curve(stages, s.start) + 1e-6 >= f64::from(s.index))
    );
    slots
}

/// The open model's arrivals (every user this shard owns), by time.
pub fn open_slots(
    rate: f64,
    arrivals: Arrivals,
    duration: Duration,
    layout: &Layout,
    shard: Shard,
    seed: u64,
) -> Vec<Slot> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut t = 0.0f64;
    let mut slots = Vec::new();
    for index in 0..layout.users {
        match arrivals {
            // From the index, so rounding does not pile up over a long run.
            Arrivals::Constant => t = f64::from(index) / rate,
            Arrivals::Poisson if index > 0 => t += -(1.0 - rng.random::<f64>()).ln() / rate,
            Arrivals::Poisson => {}
        }
        if t >= duration.as_secs_f64() {
            break;
        }
        if layout.unit_of(index).is_some_and(|(u, _)| shard.owns(u)) {
            slots.push(Slot {
                index,
                start: Duration::from_secs_f64(t),
                stop: None,
            });
        }
    }
    slots
}

/// Users the layout needs: the closed peak, or the open model's expected arrivals (with room).
pub fn layout_users(scenario: &Scenario) -> u32 {
    match &scenario.load.model {
        LoadModel::Closed { stages, .. } => stages.iter().map(|s| s.to).max().unwrap_or(0),
        LoadModel::Open {
            arrival_rate,
            duration,
            ..
        } => {
            let expected = arrival_rate.0 * duration.as_secs_f64();
            (expected * 1.2 + 10.0 * expected.sqrt() + 16.0).min(10_000_000.0) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Talk;
    use crate::units::Dur;

    fn behaviour(weight: u32, talk: Talk) -> Behaviour {
        Behaviour {
            name: format!("{weight}"),
            weight,
            steps: vec![],
            talk,
        }
    }

    #[test]
    fn weights_deal_units_in_exact_proportion_and_units_stay_whole() {
        let bs = [behaviour(3, Talk::Pair), behaviour(1, Talk::Alone)];
        let layout = Layout::new(&bs, 1000);
        let pairs = layout.units.iter().filter(|u| u.behaviour == 0).count();
        let solos = layout.units.iter().filter(|u| u.behaviour == 1).count();
        assert_eq!(layout.units.iter().map(|u| u.size).sum::<u32>(), 1000);
        assert!(
            pairs.abs_diff(3 * solos) <= 3,
            "{pairs} pairs, {solos} solos"
        );
        assert_eq!(layout.unit_of(0).unwrap().1.size, 2);
        let (_, u) = layout.unit_of(999).unwrap();
        assert!(u.first <= 999 && 999 < u.first + u.size);
        assert!(layout.unit_of(1000).is_none());
    }

    #[test]
    fn closed_ramp_starts_users_linearly_and_shards_partition_them() {
        let stages = [
            Stage {
                to: 100,
                over: Dur(Duration::from_secs(10)),
            },
            Stage {
                to: 100,
                over: Dur(Duration::from_secs(5)),
            },
            Stage {
                to: 50,
                over: Dur(Duration::from_secs(5)),
            },
        ];
        let layout = Layout::new(&[behaviour(1, Talk::Pair)], 100);
        let all = closed_slots(&stages, &layout, Shard::WHOLE);
        assert_eq!(all.len(), 100);
        assert_eq!(all[0].start, Duration::from_millis(100));
        assert_eq!(all[99].start, Duration::from_secs(10));
        // Users 50..100 leave during the last stage, the highest first; the rest stay.
        let stop_of = |i: u32| all.iter().find(|s| s.index == i).unwrap().stop;
        assert_eq!(stop_of(10), None);
        assert!(stop_of(99).unwrap() <= stop_of(60).unwrap());
        assert!(stop_of(99).unwrap() >= Duration::from_secs(15));
        let a = closed_slots(&stages, &layout, Shard { index: 0, count: 2 });
        let b = closed_slots(&stages, &layout, Shard { index: 1, count: 2 });
        assert_eq!(a.len() + b.len(), 100);
        assert!(a.iter().all(|s| !b.iter().any(|t| t.index == s.index)));
        // Partners stay on one shard.
        assert!(a.iter().all(|s| a.iter().any(|t| t.index == s.index ^ 1)));
    }

    #[test]
    fn open_arrivals_follow_the_rate() {
        let layout = Layout::new(&[behaviour(1, Talk::Alone)], 1000);
        let slots = open_slots(
            10.0,
            Arrivals::Constant,
            Duration::from_secs(10),
            &layout,
            Shard::WHOLE,
            1,
        );
        assert_eq!(slots.len(), 100);
        let poisson = open_slots(
            10.0,
            Arrivals::Poisson,
            Duration::from_secs(60),
            &layout,
            Shard::WHOLE,
            1,
        );
        assert!((450..750).contains(&poisson.len()), "{}", poisson.len());
    }
}
