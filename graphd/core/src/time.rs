//! Timestamps: milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A point in time, in milliseconds since the Unix epoch.
///
/// Milliseconds are what Kubernetes and AWS report at best, and a `u64` keeps keys fixed-width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since.as_millis() as u64)
    }

    pub fn millis(self) -> u64 {
        self.0
    }

    /// The time `d` before this one, saturating at the epoch.
    pub fn minus(self, d: Duration) -> Self {
        Timestamp(self.0.saturating_sub(d.as_millis() as u64))
    }

    /// How long ago this was, seen from `now` (zero if it lies in the future).
    pub fn age(self, now: Timestamp) -> Duration {
        Duration::from_millis(now.0.saturating_sub(self.0))
    }
}

/// A duration as people write it in configs and rules: a whole number and one unit of `s`,
/// `m`, `h` or `d` (`90s`, `5m`, `7d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit, as in 5m or 7d"))?;
    let seconds: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    // In milliseconds it must fit a u64, as every `Timestamp` does.
    n.checked_mul(seconds * 1_000).map(Duration::from_millis).ok_or_else(|| format!("{text:?}: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7_200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(parse_duration("7").unwrap_err().contains("unit"));
        assert!(parse_duration("d").unwrap_err().contains("number"));
        assert!(parse_duration("3w").is_err());
        assert!(parse_duration("5 minutes").is_err());
        assert!(parse_duration("-5m").is_err());
        assert!(parse_duration("99999999999999999d").unwrap_err().contains("too long"));
    }
}
