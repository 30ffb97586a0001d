//! loadgen: scenario-driven load on IM servers, with honest latency (measured from each
//! message's intended send time, so free of coordinated omission) and an exact message ledger
//! (every message carries a marker; receivers account for it).
//!
//! The binary is thin: [`cli`] parses arguments, [`run::run`] does the work.

pub mod error;
pub mod ledger;
pub mod marker;
pub mod metrics;
pub mod scenario;
pub mod thresholds;
pub mod units;

pub use error::{Error, Result, ScenarioError};
pub use scenario::{Overrides, Scenario};
