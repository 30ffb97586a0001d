//! Human units in scenarios and thresholds: durations (`150ms`, `2m`), rates (`50/s`), sizes.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;

/// A duration written with a unit: `500us`, `150ms`, `1.5s`, `2m`, `1h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "String")]
pub struct Dur(pub Duration);

impl TryFrom<String> for Dur {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        parse_duration(&s).map(Dur)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// Parse `<number><unit>` with unit one of `us`, `µs`, `ms`, `s`, `m`, `h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = split_unit(text.trim());
    let scale_us = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" | "min" => 60e6,
        "h" => 3600e6,
        _ => {
            return Err(format!(
                "{text:?} is not a duration; write a number and a unit: us, ms, s, m or h (e.g. \"150ms\", \"2m\")"
            ));
        }
    };
    let value: f64 = number
        .replace('_', "")
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: {number:?} is not a number"))?;
    if !(value.is_finite() && value >= 0.0) || value * scale_us > 1e15 {
        return Err(format!(
            "{text:?} is out of range: a duration is between 0 and about 30 years"
        ));
    }
    Ok(Duration::from_nanos((value * scale_us * 1e3).round() as u64))
}

pub(crate) fn split_unit(text: &str) -> (&str, &str) {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_' || c == '-' || c == '+'))
        .unwrap_or(text.len());
    (text[..at].trim(), text[at..].trim())
}

/// The shortest exact-looking form: `150ms`, `2s`, `1.5s`, `2m`.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        "0s".into()
    } else if us.is_multiple_of(3_600_000_000) {
        format!("{}h", us / 3_600_000_000)
    } else if us.is_multiple_of(60_000_000) {
        format!("{}m", us / 60_000_000)
    } else if us >= 1_000_000 {
        format!("{}s", trim_float(us as f64 / 1e6))
    } else if us >= 1_000 {
        format!("{}ms", trim_float(us as f64 / 1e3))
    } else {
        format!("{us}us")
    }
}

fn trim_float(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Events per second, written `50/s`, `3000/m`, `2/h` or a bare number (per second).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Deserialize)]
#[serde(try_from = "RateText")]
pub struct Rate(pub f64);

#[derive(Deserialize)]
#[serde(untagged)]
enum RateText {
    Text(String),
    Number(f64),
}

impl TryFrom<RateText> for Rate {
    type Error = String;
    fn try_from(t: RateText) -> Result<Self, String> {
        match t {
            RateText::Number(n) if n.is_finite() && n > 0.0 => Ok(Rate(n)),
            RateText::Number(n) => Err(format!("rate {n} must be above 0")),
            RateText::Text(s) => parse_rate(&s),
        }
    }
}

pub fn parse_rate(text: &str) -> Result<Rate, String> {
    let err = || {
        format!("{text:?} is not a rate; write a count per unit: \"50/s\", \"3000/m\", \"10/h\"")
    };
    let (count, per) = text.split_once('/').ok_or_else(err)?;
    let count: f64 = count.trim().replace('_', "").parse().map_err(|_| err())?;
    let per = match per.trim() {
        "s" | "1s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => parse_duration(other).map_err(|_| err())?.as_secs_f64(),
    };
    if !(count.is_finite() && count > 0.0 && per > 0.0) {
        return Err(format!("{text:?}: a rate must be above 0"));
    }
    Ok(Rate(count / per))
}

impl Rate {
    /// The mean gap between two events.
    pub fn interval(self) -> Duration {
        Duration::from_secs_f64(1.0 / self.0)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", trim_float(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_refuse_without() {
        assert_eq!(parse_duration("150ms"), Ok(Duration::from_millis(150)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500us"), Ok(Duration::from_micros(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_duration("150").unwrap_err().contains("unit"));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("xs").is_err());
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_micros(2500)), "2.5ms");
    }

    #[test]
    fn rates_parse_per_unit() {
        assert_eq!(parse_rate("50/s").unwrap().0, 50.0);
        assert_eq!(parse_rate("3000/m").unwrap().0, 50.0);
        assert_eq!(parse_rate("20_000/s").unwrap().0, 20_000.0);
        assert_eq!(parse_rate("1/500ms").unwrap().0, 2.0);
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("0/s").is_err());
        assert_eq!(
            parse_rate("4/s").unwrap().interval(),
            Duration::from_millis(250)
        );
    }
}
