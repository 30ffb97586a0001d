//! loadgen: scenario-driven load on IM servers, with honest latency (measured from each
//! message's intended send time, so free of coordinated omission) and an exact message ledger
//! (every message carries a marker; receivers account for it).
//!
//! The binary is thin: [`cli`] parses arguments, [`run::run`] does the work.

pub mod cli;
pub mod embedded;
pub mod error;
pub mod ledger;
pub mod live;
pub mod load_model;
pub mod marker;
pub mod metrics;
pub mod report;
pub mod resources;
pub mod roster;
pub mod run;
pub mod scenario;
pub mod shard;
pub mod thresholds;
pub mod transport;
pub mod units;
pub mod virtual_user;
pub mod workers;

pub use error::{Error, Result, ScenarioError};
pub use report::Report;
pub use scenario::{Overrides, Scenario};
