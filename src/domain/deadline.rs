//! Periods in calendar days, as the EU counts them (Regulation 1182/71, art. 3): the day of the
//! event does not count, the period starts at the beginning of the next day and ends at the end
//! (24:00) of its last day, on the local calendar of the agreement's time zone. A notice given on
//! 24 March at 15:30 with 7 days closes at 1 April 00:00, whether or not summer time began in
//! between.

use chrono::{DateTime, Days, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// The time zone of an agreement that names none: where the standard clauses are used.
pub const DEFAULT_TIME_ZONE: Tz = chrono_tz::Europe::Copenhagen;

/// The last day of a period of `days` calendar days that starts the day after `from`, counted on
/// the calendar of `zone`; `None` only past the end of the calendar.
pub fn last_day(from: DateTime<Utc>, days: u16, zone: Tz) -> Option<NaiveDate> {
    from.with_timezone(&zone)
        .date_naive()
        .checked_add_days(Days::new(u64::from(days)))
}

/// The instant the period ends: the start (00:00 local) of the day after its last day, in UTC.
pub fn closes_at(from: DateTime<Utc>, days: u16, zone: Tz) -> Option<DateTime<Utc>> {
    let next_day = last_day(from, days, zone)?.checked_add_days(Days::new(1))?;
    start_of_day(next_day, zone)
}

/// 00:00 of `day` in `zone`; where a zone skips midnight (a daylight-saving change at 00:00),
/// the first instant of that day.
pub fn start_of_day(day: NaiveDate, zone: Tz) -> Option<DateTime<Utc>> {
    let midnight = day.and_hms_opt(0, 0, 0)?;
    match zone.from_local_datetime(&midnight) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(earliest, _) => Some(earliest.with_timezone(&Utc)),
        // The clock jumps over midnight: the day starts at the first hour that exists.
        LocalResult::None => (1..=3).find_map(|hour| {
            zone.from_local_datetime(&day.and_hms_opt(hour, 0, 0)?)
                .earliest()
                .map(|at| at.with_timezone(&Utc))
        }),
    }
}

/// The deadline stored for a window that has not started (its agreement counts notice from the
/// notice's dispatch, and none succeeded yet): past any sweep, so no deadline query can close
/// it by mistake; the API shows such a window's `closes_at` as null.
pub fn not_started() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Parses an IANA time zone name (`Europe/Copenhagen`).
pub fn parse_zone(name: &str) -> Option<Tz> {
    name.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn seven_calendar_days_across_the_switch_to_summer_time() {
        // 24 March 2027 15:30 in Copenhagen (CET, UTC+1) is 14:30 UTC; summer time begins on
        // 28 March. The period is 25–31 March; it ends 1 April 00:00 CEST = 31 March 22:00 UTC.
        let notice = utc(2027, 3, 24, 14, 30);
        let zone = DEFAULT_TIME_ZONE;
        assert_eq!(
            last_day(notice, 7, zone),
            NaiveDate::from_ymd_opt(2027, 3, 31)
        );
        assert_eq!(closes_at(notice, 7, zone), Some(utc(2027, 3, 31, 22, 0)));
    }

    #[test]
    fn the_day_of_the_notice_does_not_count_whatever_its_hour() {
        let zone = DEFAULT_TIME_ZONE;
        // 00:05 and 23:55 local on the same day give the same deadline.
        let early = utc(2026, 11, 22, 23, 5); // 23 Nov 00:05 CET
        let late = utc(2026, 11, 23, 22, 55); // 23 Nov 23:55 CET
        assert_eq!(closes_at(early, 30, zone), closes_at(late, 30, zone));
        assert_eq!(closes_at(late, 30, zone), Some(utc(2026, 12, 23, 23, 0)));
    }

    #[test]
    fn the_local_calendar_decides_the_day() {
        // 23:30 UTC on 23 Nov is already 24 Nov in Copenhagen.
        let notice = utc(2026, 11, 23, 23, 30);
        assert_eq!(
            last_day(notice, 1, DEFAULT_TIME_ZONE),
            NaiveDate::from_ymd_opt(2026, 11, 25)
        );
        assert_eq!(
            last_day(notice, 1, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 11, 24)
        );
    }

    #[test]
    fn across_the_switch_back_to_winter_time() {
        // Winter time begins 31 October 2027; 30 days from 15 October ends 14 November 24:00 CET.
        let notice = utc(2027, 10, 15, 10, 0);
        assert_eq!(
            closes_at(notice, 30, DEFAULT_TIME_ZONE),
            Some(utc(2027, 11, 14, 23, 0))
        );
    }

    #[test]
    fn a_zone_that_skips_midnight_starts_the_day_at_its_first_hour() {
        // America/Santiago moved clocks from 00:00 to 01:00 on 8 September 2024.
        let zone: Tz = "America/Santiago".parse().unwrap();
        let notice = utc(2024, 9, 6, 15, 0); // 6 Sep, local
        let at = closes_at(notice, 1, zone).unwrap();
        assert_eq!(at, utc(2024, 9, 8, 4, 0)); // 8 Sep 01:00 -03
    }

    #[test]
    fn names_parse() {
        assert_eq!(parse_zone("Europe/Copenhagen"), Some(DEFAULT_TIME_ZONE));
        assert_eq!(parse_zone("Mars/Olympus"), None);
    }
}
