//! Timestamps for `since`/`before` and creation times, and the formats users may write.

use std::fmt;

use jiff::civil::DateTime;
use jiff::tz::Offset;

/// Milliseconds since the Unix epoch, UTC.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Self(ms)
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Parses one of the formats Clusterpedia accepts for `since` and `before`:
    /// RFC 3339 (`2006-01-02T15:04:05Z07:00`), `2006-01-02 15:04:05` and `2006-01-02`
    /// (both UTC), and Unix time as 10 digits (seconds) or 13 digits (milliseconds).
    /// The error text lists the accepted formats.
    pub fn parse_search(value: &str) -> Result<Self, String> {
        let s = value.trim();
        let parsed = if s.contains('T') {
            parse_rfc3339(&restore_plus(s))
        } else if s.contains(' ') {
            parse_civil(s, true)
        } else if s.contains('-') {
            parse_civil(s, false)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            // At most 13 digits, so the parse cannot overflow.
            let n: i64 = s.parse().unwrap_or_default();
            match s.len() {
                10 => Some(n * 1000),
                13 => Some(n),
                _ => {
                    return Err(format!(
                        "a Unix timestamp must have 10 digits (seconds) or 13 digits \
                         (milliseconds), found {}; {ACCEPTED}",
                        s.len()
                    ));
                }
            }
        } else {
            None
        };
        parsed
            .map(Self)
            .ok_or_else(|| format!("not a valid time; {ACCEPTED}"))
    }

    /// Parses a Kubernetes `metav1.Time` (RFC 3339, e.g. `creationTimestamp`).
    pub fn parse_rfc3339(value: &str) -> Result<Self, String> {
        parse_rfc3339(value)
            .map(Self)
            .ok_or_else(|| format!("{value:?} is not an RFC 3339 time such as {RFC3339_EXAMPLE}"))
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC, seconds precision unless there are milliseconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Ok(ts) = jiff::Timestamp::from_millisecond(self.0) else {
            // Beyond years -9999..=9999, which RFC 3339 cannot write; such values never
            // come from parsing, so show the raw number rather than panic.
            return write!(f, "{}ms", self.0);
        };
        let dt = Offset::UTC.to_datetime(ts);
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        )?;
        if dt.millisecond() != 0 {
            write!(f, ".{:03}", dt.millisecond())?;
        }
        f.write_str("Z")
    }
}

const RFC3339_EXAMPLE: &str = "2006-01-02T15:04:05Z or 2006-01-02T15:04:05.999+07:00";

const ACCEPTED: &str = "accepted formats: RFC 3339 (2006-01-02T15:04:05Z07:00), \
                        2006-01-02 15:04:05 (UTC), 2006-01-02 (UTC), Unix time in seconds \
                        (10 digits) or milliseconds (13 digits)";

/// An unencoded `+` in a query string decodes to a space, turning
/// `2024-01-02T03:04:05+08:00` into `...05 08:00`. The meaning is unambiguous, so put the
/// sign back instead of rejecting what the user typed.
fn restore_plus(s: &str) -> std::borrow::Cow<'_, str> {
    let bytes = s.as_bytes();
    let n = bytes.len();
    let looks_like_offset = n > 6
        && bytes[n - 6] == b' '
        && bytes[n - 5].is_ascii_digit()
        && bytes[n - 4].is_ascii_digit()
        && bytes[n - 3] == b':'
        && bytes[n - 2].is_ascii_digit()
        && bytes[n - 1].is_ascii_digit();
    if looks_like_offset {
        std::borrow::Cow::Owned(format!("{}+{}", &s[..n - 6], &s[n - 5..]))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// A cursor over ASCII digits and separators, for the fixed-width formats.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn digits(&mut self, n: usize) -> Option<i32> {
        let chunk = self.bytes.get(self.pos..self.pos + n)?;
        if !chunk.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.pos += n;
        Some(
            chunk
                .iter()
                .fold(0, |acc, b| acc * 10 + i32::from(b - b'0')),
        )
    }

    fn byte(&mut self, want: u8) -> Option<()> {
        (self.bytes.get(self.pos) == Some(&want)).then(|| self.pos += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }

    /// `YYYY-MM-DD`, then `<sep>HH:MM:SS[.fraction]` when `sep` is given.
    fn datetime(&mut self, sep: Option<u8>) -> Option<DateTime> {
        let year = self.digits(4)?;
        self.byte(b'-')?;
        let month = self.digits(2)?;
        self.byte(b'-')?;
        let day = self.digits(2)?;
        let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
        if let Some(sep) = sep {
            self.byte(sep)?;
            hour = self.digits(2)?;
            self.byte(b':')?;
            minute = self.digits(2)?;
            self.byte(b':')?;
            second = self.digits(2)?;
            if self.byte(b'.').is_some() {
                nanos = self.fraction()?;
            }
        }
        DateTime::new(
            i16::try_from(year).ok()?,
            i8::try_from(month).ok()?,
            i8::try_from(day).ok()?,
            i8::try_from(hour).ok()?,
            i8::try_from(minute).ok()?,
            i8::try_from(second).ok()?,
            nanos,
        )
        .ok()
    }

    /// The digits after the decimal point, as nanoseconds. Like Go, any number of digits
    /// is accepted and those past nanoseconds are dropped.
    fn fraction(&mut self) -> Option<i32> {
        let start = self.pos;
        let mut nanos = 0;
        let mut scale = 100_000_000;
        while let Some(b) = self.peek().filter(u8::is_ascii_digit) {
            nanos += i32::from(b - b'0') * scale;
            scale /= 10;
            self.pos += 1;
        }
        (self.pos > start).then_some(nanos)
    }
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)` to Unix milliseconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let mut sc = Scanner {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let dt = sc.datetime(Some(b'T'))?;
    let offset_seconds = match sc.peek()? {
        b'Z' => {
            sc.pos += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            sc.pos += 1;
            let hours = sc.digits(2)?;
            sc.byte(b':')?;
            let minutes = sc.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    if !sc.done() {
        return None;
    }
    let ts = Offset::from_seconds(offset_seconds)
        .ok()?
        .to_timestamp(dt)
        .ok()?;
    Some(ts.as_millisecond())
}

/// `YYYY-MM-DD HH:MM:SS[.frac]` (with `time`) or `YYYY-MM-DD`, both UTC.
fn parse_civil(s: &str, time: bool) -> Option<i64> {
    let mut sc = Scanner {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let dt = sc.datetime(time.then_some(b' '))?;
    if !sc.done() {
        return None;
    }
    Some(Offset::UTC.to_timestamp(dt).ok()?.as_millisecond())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(s: &str) -> i64 {
        Timestamp::parse_search(s)
            .unwrap_or_else(|e| panic!("{s:?}: {e}"))
            .as_millis()
    }

    // 2024-01-02T03:04:05Z
    const T: i64 = 1_704_164_645_000;

    #[test]
    fn rfc3339() {
        assert_eq!(search("2024-01-02T03:04:05Z"), T);
        assert_eq!(search("2024-01-02T03:04:05.123Z"), T + 123);
        assert_eq!(search("2024-01-02T03:04:05.1Z"), T + 100);
        assert_eq!(search("2024-01-02T03:04:05.123456789Z"), T + 123);
        assert_eq!(search("2024-01-02T03:04:05.1234567891234Z"), T + 123);
        assert_eq!(search("2024-01-02T11:04:05+08:00"), T);
        assert_eq!(search("2024-01-01T22:04:05-05:00"), T);
        assert_eq!(search("2024-01-02T03:04:05+00:00"), T);
        assert_eq!(search("2024-01-02T03:04:05-00:00"), T);
        assert_eq!(search("  2024-01-02T03:04:05Z "), T);
    }

    #[test]
    fn unencoded_plus_in_offset() {
        assert_eq!(search("2024-01-02T11:04:05 08:00"), T);
        assert_eq!(search("2024-01-02T11:04:05.5 08:00"), T + 500);
    }

    #[test]
    fn datetime_and_date_are_utc() {
        assert_eq!(search("2024-01-02 03:04:05"), T);
        assert_eq!(search("2024-01-02 03:04:05.250"), T + 250);
        assert_eq!(search("2024-01-02"), 1_704_153_600_000);
        assert_eq!(search("1970-01-01"), 0);
        assert_eq!(search("1969-12-31"), -86_400_000);
        assert_eq!(search("2024-02-29"), 1_709_164_800_000);
    }

    #[test]
    fn unix_seconds_and_millis() {
        assert_eq!(search("1704164645"), T);
        assert_eq!(search("1704164645123"), T + 123);
        assert_eq!(search("0000000000"), 0);
        assert_eq!(search("9999999999999"), 9_999_999_999_999);
    }

    #[test]
    fn bad_search_times() {
        for bad in [
            "",
            "  ",
            "2024-13-01",
            "2024-02-30",
            "2023-02-29",
            "2024-1-2",
            "24-01-02",
            "2024-01-02x",
            "2024/01/02",
            "12345",
            "123456789012",
            "12345678901234",
            "-1704164645",
            "+1704164645",
            "yesterday",
            "now",
            "2024-01-02T03:04:05",
            "2024-01-02T03:04Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T03:60:00Z",
            "2024-01-02T03:04:60Z",
            "2024-01-02T03:04:05+24:00",
            "2024-01-02T03:04:05+0800",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T03:04:05z",
            "2024-01-02t03:04:05Z",
            "2024-01-02T03:04:05ZZ",
            "2024-01-02T03:04:05Z[UTC]",
            "2024-01-02 03:04",
            "2024-01-02 03:04:05Z",
            "2024-01-02  03:04:05",
            "１７０４１６４６４５",
            "2024-01-02T03:04:05\u{0}Z",
            "99999-01-01",
        ] {
            let err = Timestamp::parse_search(bad).err();
            assert!(err.is_some(), "{bad:?} should be rejected");
            let err = err.unwrap_or_default();
            assert!(err.contains("accepted formats: RFC 3339"), "{bad:?}: {err}");
        }
        assert!(
            Timestamp::parse_search("12345")
                .expect_err("must be rejected")
                .contains("10 digits (seconds) or 13 digits (milliseconds), found 5")
        );
    }

    #[test]
    fn rfc3339_for_creation_timestamps() {
        assert_eq!(
            Timestamp::parse_rfc3339("2024-01-02T03:04:05Z"),
            Ok(Timestamp(T))
        );
        assert_eq!(
            Timestamp::parse_rfc3339("2024-01-02T04:04:05.5+01:00"),
            Ok(Timestamp(T + 500))
        );
        for bad in [
            "",
            "2024-01-02",
            "1704164645",
            "2024-01-02 03:04:05",
            " 2024-01-02T03:04:05Z",
        ] {
            let err = Timestamp::parse_rfc3339(bad).expect_err("must be rejected");
            assert!(err.contains("not an RFC 3339 time"), "{bad:?}: {err}");
        }
        // The creation-time leniency for `+` is only for URL input.
        assert!(Timestamp::parse_rfc3339("2024-01-02T11:04:05 08:00").is_err());
    }

    #[test]
    fn display() {
        assert_eq!(Timestamp(T).to_string(), "2024-01-02T03:04:05Z");
        assert_eq!(Timestamp(T + 7).to_string(), "2024-01-02T03:04:05.007Z");
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Timestamp(-1).to_string(), "1969-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(i64::MAX).to_string(), format!("{}ms", i64::MAX));
    }

    #[test]
    fn display_round_trips() {
        for ms in [0, T, T + 1, T + 999, -86_400_000, 253_402_128_000_000] {
            let shown = Timestamp(ms).to_string();
            assert_eq!(
                Timestamp::parse_search(&shown),
                Ok(Timestamp(ms)),
                "{shown}"
            );
            assert_eq!(
                Timestamp::parse_rfc3339(&shown),
                Ok(Timestamp(ms)),
                "{shown}"
            );
        }
    }
}
