//! `--hdr-log FILE`: an HdrHistogram interval log (one entry per timed step per second,
//! tagged with the step's name), readable by HdrHistogram's log tools.

use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

use crate::thresholds::StepMetric;

/// Interval histograms kept until the end of the run.
#[derive(Default)]
pub struct IntervalRecord {
    entries: Vec<(Duration, Duration, StepMetric, Histogram<u64>)>,
}

impl IntervalRecord {
    pub fn push(&mut self, start: Duration, length: Duration, steps: &[Histogram<u64>]) {
        for step in StepMetric::ALL {
            let h = &steps[step.index()];
            if !h.is_empty() {
                // A copy sized to its content: the tick's histogram is reused.
                let mut copy =
                    Histogram::new_with_bounds(1, h.max().max(2), 3).expect("valid bounds");
                let _ = copy.add(h);
                self.entries.push((start, length, step, copy));
            }
        }
    }

    pub fn render(&self, started: SystemTime) -> Vec<u8> {
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment("imkit loadgen: latency in microseconds, one entry per step per interval");
        builder
            .with_start_time(started)
            .with_base_time(started)
            .with_max_value_divisor(1000.0);
        let Ok(mut writer) = builder.begin_log_with(&mut out, &mut serializer) else {
            return Vec::new();
        };
        for (start, length, step, h) in &self.entries {
            let _ = writer.write_histogram(h, *start, *length, Tag::new(step.name()));
        }
        drop(writer);
        out
    }
}
