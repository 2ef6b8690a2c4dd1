//! "Today" in the Netherlands (Europe/Amsterdam), where the ledger's dates live.

use chrono::{Datelike, Duration, NaiveDate, TimeZone, Utc, Weekday};

/// Today's date in Europe/Amsterdam: UTC+1, or UTC+2 from the last Sunday of March 01:00 UTC
/// to the last Sunday of October 01:00 UTC (the EU rule in force since 1996).
pub fn today_in_amsterdam() -> NaiveDate {
    amsterdam_date(Utc::now())
}

/// Today in the Netherlands as a ledger date: the default `effective` and `as_of`.
pub fn today() -> kroniek_core::types::Date {
    kroniek_core::types::Date::from_naive(today_in_amsterdam())
}

fn last_sunday(year: i32, month: u32) -> NaiveDate {
    let first_next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .unwrap_or(NaiveDate::MIN);
    let mut d = first_next - Duration::days(1);
    while d.weekday() != Weekday::Sun {
        d -= Duration::days(1);
    }
    d
}

fn amsterdam_date(now: chrono::DateTime<Utc>) -> NaiveDate {
    let year = now.year();
    let at_one = |d: NaiveDate| d.and_hms_opt(1, 0, 0).map(|t| Utc.from_utc_datetime(&t));
    let summer = match (at_one(last_sunday(year, 3)), at_one(last_sunday(year, 10))) {
        (Some(start), Some(end)) => now >= start && now < end,
        _ => false,
    };
    let offset = if summer { 2 } else { 1 };
    (now + Duration::hours(offset)).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&Utc)
        };
        // 23:30 UTC in winter is already tomorrow in Amsterdam (UTC+1).
        assert_eq!(
            amsterdam_date(at("2026-01-10T23:30:00Z")).to_string(),
            "2026-01-11"
        );
        // 22:30 UTC in summer is tomorrow too (UTC+2); 21:30 is not.
        assert_eq!(
            amsterdam_date(at("2026-07-10T22:30:00Z")).to_string(),
            "2026-07-11"
        );
        assert_eq!(
            amsterdam_date(at("2026-07-10T21:30:00Z")).to_string(),
            "2026-07-10"
        );
        assert_eq!(last_sunday(2026, 3).to_string(), "2026-03-29");
        assert_eq!(last_sunday(2026, 10).to_string(), "2026-10-25");
    }
}
