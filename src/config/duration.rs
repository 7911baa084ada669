//! Durations as operators write them: `300` (seconds, as AWSnycast), `500ms`, `2s`, `5m`, `1h`,
//! or a combination such as `1m30s`.

use std::time::Duration;

/// Parses a duration. A bare number is seconds (fractions allowed: `0.5`).
pub fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = t.parse::<f64>() {
        return seconds(secs);
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("`{t}` has a number without a unit at the end"))?;
        if num_len == 0 {
            return Err(format!("`{t}` is not a duration (expected e.g. 500ms, 2s, 5m)"));
        }
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("`{num}` in `{t}` is not a number"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" => 3600.0,
            other => {
                return Err(format!("unknown unit `{other}` in `{t}` (use ms, s, m or h)"));
            }
        };
        total += seconds(value * scale)?;
        rest = next;
    }
    Ok(total)
}

/// Seconds as a duration, refusing negative, non-finite and absurdly large values.
pub fn seconds(secs: f64) -> Result<Duration, String> {
    // A year is far beyond any sensible interval and keeps arithmetic far from overflow.
    if !secs.is_finite() || !(0.0..=31_536_000.0).contains(&secs) {
        return Err(format!("{secs} seconds is out of range"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Renders a duration compactly for summaries: `300s`, `500ms`, `1.5s`.
pub fn display(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let ok: &[(&str, u64)] = &[
            ("300", 300_000),
            ("1", 1_000),
            ("0.5", 500),
            ("500ms", 500),
            ("2s", 2_000),
            ("5m", 300_000),
            ("1h", 3_600_000),
            ("1m30s", 90_000),
            (" 10s ", 10_000),
            ("1.5s", 1_500),
            ("0", 0),
        ];
        for (text, millis) in ok {
            assert_eq!(parse(text), Ok(Duration::from_millis(*millis)), "{text}");
        }
        for bad in [
            "", "ms", "5x", "-1", "1e400", "10 s s", "s5", "1..2s", "NaN", "inf",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn display_forms() {
        assert_eq!(display(Duration::from_secs(300)), "300s");
        assert_eq!(display(Duration::from_millis(500)), "500ms");
        assert_eq!(display(Duration::from_millis(1500)), "1.5s");
    }
}
