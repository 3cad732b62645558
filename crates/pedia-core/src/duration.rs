//! Go duration strings (`1h`, `30s`, `1h30m`, `100ms`, `1.5h`) as Clusterpedia's config
//! files and Kubernetes-style flags write them, parsed into `std::time::Duration`.

use std::time::Duration;

/// Parses a Go `time.ParseDuration` string. Negative durations are refused: every
/// duration in the config is a timeout or a lifetime.
pub fn parse_go_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err("empty duration".to_owned());
    }
    if s.starts_with('-') {
        return Err(format!("duration {input:?} must not be negative"));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." {
            return Err(format!("invalid duration {input:?}: expected a number"));
        }
        let value: f64 = number
            .parse()
            .map_err(|_| format!("invalid duration {input:?}: bad number {number:?}"))?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "invalid duration {input:?}: missing unit (use ns, us, ms, s, m or h)"
                ));
            }
            other => {
                return Err(format!(
                    "invalid duration {input:?}: unknown unit {other:?} (use ns, us, ms, s, m or h)"
                ));
            }
        };
        total += value * nanos_per_unit;
        rest = &rest[unit_len..];
    }
    // Go's limit is about 290 years; anything beyond is a typo.
    if !total.is_finite() || total > 9.2e18 {
        return Err(format!("duration {input:?} is too large"));
    }
    Ok(Duration::from_nanos(total.round() as u64))
}

/// A duration flag: a Go duration that is not zero (timeouts and intervals).
pub fn parse_flag_duration(input: &str) -> Result<Duration, String> {
    match parse_go_duration(input)? {
        d if d.is_zero() => Err(format!("duration {input:?} must be positive")),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_forms() {
        let ok = |s: &str| parse_go_duration(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("1h"), Duration::from_secs(3600));
        assert_eq!(ok("30s"), Duration::from_secs(30));
        assert_eq!(ok("100ms"), Duration::from_millis(100));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("250us"), Duration::from_micros(250));
        assert_eq!(ok("250µs"), Duration::from_micros(250));
        assert_eq!(ok("10ns"), Duration::from_nanos(10));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("2m3.5s"), Duration::from_millis(123_500));
    }

    #[test]
    fn bad_forms() {
        for bad in ["", "10", "1x", "h", "-1s", "1.2.3s", "s10", "1e9999h"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?}");
        }
    }
}
