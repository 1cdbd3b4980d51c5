//! The application's clock: the system clock, or the test clock that SUBREG_TEST_CLOCK enables.
//! Domain code takes "now" as an argument; this is where it comes from.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// The one source of "now" for the whole application.
///
/// The test clock is the system clock shifted by an offset that only moves forward; the
/// offset is persisted by the store so that every process on one database shares it.
#[derive(Clone, Debug)]
pub enum Clock {
    System,
    Test(Arc<AtomicI64>),
}

/// How far the test clock may run ahead: a century is more than any notice period, and every
/// instant it reaches stays a date both databases and chrono can hold.
pub const MAX_TEST_OFFSET_MS: i64 = 100 * 366 * 24 * 60 * 60 * 1000;

/// Keeps an offset within `0..=MAX_TEST_OFFSET_MS`, whatever was stored earlier.
pub fn bounded_offset(offset_ms: i64) -> i64 {
    offset_ms.clamp(0, MAX_TEST_OFFSET_MS)
}

impl Clock {
    pub fn test(offset_ms: i64) -> Self {
        Clock::Test(Arc::new(AtomicI64::new(bounded_offset(offset_ms))))
    }

    /// Now, to the microsecond: the precision both databases store, so a time read back
    /// equals the time written.
    pub fn now(&self) -> DateTime<Utc> {
        let system = Utc::now().trunc_subsecs(6);
        match self {
            Clock::System => system,
            Clock::Test(offset) => Duration::try_milliseconds(offset.load(Ordering::SeqCst))
                .and_then(|by| system.checked_add_signed(by))
                .unwrap_or(system),
        }
    }

    pub fn is_test(&self) -> bool {
        matches!(self, Clock::Test(_))
    }

    /// Offset of the test clock in milliseconds (0 for the system clock).
    pub fn offset_ms(&self) -> i64 {
        match self {
            Clock::System => 0,
            Clock::Test(offset) => offset.load(Ordering::SeqCst),
        }
    }

    /// Adopts an offset seen in the database if it is ahead of ours (another process advanced it).
    pub fn sync_offset(&self, offset_ms: i64) {
        if let Clock::Test(offset) = self {
            offset.fetch_max(bounded_offset(offset_ms), Ordering::SeqCst);
        }
    }
}

/// Parses an ISO 8601 duration such as `P8D` or `PT36H` for advancing the test clock.
pub fn parse_advance(text: &str) -> Result<Duration, String> {
    let parsed = iso8601::duration(text)
        .map_err(|_| format!("`{text}` is not an ISO 8601 duration such as P8D or PT12H"))?;
    let std: std::time::Duration = parsed.into();
    let advance = Duration::from_std(std).map_err(|_| "the duration is too long".to_string())?;
    if advance <= Duration::zero() {
        return Err("the clock only moves forward: give a positive duration".into());
    }
    if advance.num_milliseconds() > MAX_TEST_OFFSET_MS {
        return Err("the test clock moves at most 100 years ahead: give a shorter duration".into());
    }
    Ok(advance)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_parses_days_and_hours() {
        assert_eq!(parse_advance("P8D"), Ok(Duration::days(8)));
        assert_eq!(parse_advance("PT36H"), Ok(Duration::hours(36)));
        assert!(parse_advance("8 days").is_err());
        assert!(parse_advance("PT0S").is_err());
        assert!(parse_advance("P300000Y").is_err());
        assert!(parse_advance("P101Y").is_err());
    }

    #[test]
    fn an_offset_stored_out_of_bounds_never_panics() {
        for stored in [i64::MAX, i64::MIN, -1, MAX_TEST_OFFSET_MS + 1] {
            let clock = Clock::test(stored);
            assert!(clock.now() >= Utc::now() - Duration::seconds(1));
            clock.sync_offset(stored);
            assert!(clock.offset_ms() <= MAX_TEST_OFFSET_MS);
        }
    }

    #[test]
    fn test_clock_moves_forward_only() {
        let clock = Clock::test(0);
        clock.sync_offset(5_000);
        clock.sync_offset(1_000);
        assert_eq!(clock.offset_ms(), 5_000);
        assert!(clock.now() > Utc::now() + Duration::seconds(4));
    }
}
