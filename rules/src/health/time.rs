//! Time in health rules: the RFC 3339 timestamps Kubernetes writes (`2025-09-11T20:50:21Z`),
//! in milliseconds. Durations (`5m`) are `graphd_core::parse_duration`'s.

use graphd_core::Timestamp;

/// An RFC 3339 date-time (`2025-09-11T20:50:21Z`, `…21.123456Z`, `…21+02:00`); `None` for
/// anything else, or a time before the epoch. Fractions beyond milliseconds are dropped.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let punctuation = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if bytes.len() < 20
        || !punctuation.iter().all(|&(at, c)| bytes[at] == c)
        || !matches!(bytes[10], b'T' | b't' | b' ')
    {
        return None;
    }
    let (year, month, day) = (digits(0, 4)?, digits(5, 7)?, digits(8, 10)?);
    let (hour, minute, second) = (digits(11, 13)?, digits(14, 16)?, digits(17, 19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut at = 19;
    let mut millis = 0;
    if bytes[at] == b'.' {
        let start = at + 1;
        at = start;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        if at == start {
            return None;
        }
        // The first three digits, padded: `.5` is 500 ms.
        let kept = &text[start..at.min(start + 3)];
        millis = kept.parse::<i64>().ok()? * 10_i64.pow(3 - kept.len() as u32);
    }
    let offset_minutes = match bytes.get(at) {
        Some(b'Z' | b'z') if at + 1 == bytes.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == bytes.len() && bytes[at + 3] == b':' => {
            let minutes = digits(at + 1, at + 3)? * 60 + digits(at + 4, at + 6)?;
            if sign == b'+' {
                minutes
            } else {
                -minutes
            }
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    u64::try_from(seconds * 1_000 + millis).ok().map(Timestamp)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_timestamps_become_epoch_milliseconds() {
        // `date -u -d 2025-09-11T20:50:21Z +%s` is 1757623821.
        assert_eq!(parse_rfc3339("2025-09-11T20:50:21Z"), Some(Timestamp(1_757_623_821_000)));
        assert_eq!(parse_rfc3339("2025-09-11T20:50:21.5Z"), Some(Timestamp(1_757_623_821_500)));
        assert_eq!(parse_rfc3339("2025-09-11T20:50:21.123456Z"), Some(Timestamp(1_757_623_821_123)));
        assert_eq!(parse_rfc3339("2025-09-11T22:50:21+02:00"), Some(Timestamp(1_757_623_821_000)));
        assert_eq!(parse_rfc3339("2025-09-11T19:50:21-01:00"), Some(Timestamp(1_757_623_821_000)));
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(Timestamp(0)));
        assert_eq!(parse_rfc3339("2024-02-29T00:00:00Z"), Some(Timestamp(1_709_164_800_000)));
        for bad in [
            "",
            "2025-09-11",
            "2025-09-11T20:50:21",
            "2025-13-11T20:50:21Z",
            "2025-09-11T20:50:21.Z",
            "1969-12-31T23:59:59Z",
            "yesterday",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }
}
