//! The working-day calendar (工作日历) administrators keep, one year at a
//! time, and the working-day arithmetic every promise of "within N working
//! days" is counted with (see [`crate::domain::calendar`]).

use serde_json::json;
use time::{Date, OffsetDateTime, UtcOffset};

use super::audit::{Entry, Outcome};
use super::{Actor, Origin};
use crate::domain::calendar::{
    self, CalendarError, SpecialDay, WorkCalendar, check_year, end_of_day, horizon, local_date,
    year_bounds,
};
use crate::state::AppState;
use crate::store::StoreError;

/// The years the calendar takes: a list for a year far away is a typo.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("year: between 2000 and 2100")]
    Year,
    #[error(transparent)]
    Invalid(#[from] CalendarError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The institution's offset from UTC (`calendar.utc_offset`): which date
/// an instant falls on.
pub fn offset(state: &AppState) -> UtcOffset {
    calendar::parse_offset(&state.config.calendar.utc_offset).unwrap_or(UtcOffset::UTC)
}

/// The marked dates of a year, by date.
pub async fn year(state: &AppState, year: i32) -> Result<Vec<SpecialDay>, SetError> {
    let (from, to) = year_bounds(year)
        .filter(|_| YEARS.contains(&year))
        .ok_or(SetError::Year)?;
    Ok(state.store.calendar_days(from, to).await?)
}

/// Replaces a year's marked dates, given as (date, kind, note) in any
/// order, after checking them all (nothing is written when one is wrong);
/// audited `calendar.updated` with the counts.
pub async fn set_year(
    state: &AppState,
    year: i32,
    entries: Vec<(String, String, String)>,
    actor: &Actor,
    origin: &Origin,
) -> Result<Vec<SpecialDay>, SetError> {
    let (from, to) = year_bounds(year)
        .filter(|_| YEARS.contains(&year))
        .ok_or(SetError::Year)?;
    let days = check_year(year, entries)?;
    let holidays = days
        .iter()
        .filter(|d| d.kind == calendar::DayKind::Holiday)
        .count();
    let audit = Entry::new("calendar.updated", Outcome::Success)
        .actor(actor)
        .origin(origin)
        .detail(json!({
            "year": year,
            "holidays": holidays,
            "workdays": days.len() - holidays,
        }))
        .finish();
    state
        .store
        .replace_calendar_days(from, to, &days, &audit)
        .await?;
    Ok(days)
}

/// The calendar around `date`: its marked dates from `date` to far enough
/// after it for `n` working days.
async fn around(state: &AppState, date: Date, n: u32) -> Result<WorkCalendar, StoreError> {
    let last = date
        .checked_add(time::Duration::days(i64::from(horizon(n))))
        .unwrap_or(Date::MAX);
    Ok(WorkCalendar::new(
        state.store.calendar_days(date, last).await?,
    ))
}

/// The `n`-th working day after the local date of `at`.
pub async fn nth_working_day_after(
    state: &AppState,
    at: OffsetDateTime,
    n: u32,
) -> Result<Date, StoreError> {
    let date = local_date(at, offset(state));
    let cal = around(state, date, n).await?;
    // With no working day in the window (a calendar of holidays only,
    // which a whole-year save refuses nowhere), plain weekdays decide.
    Ok(cal
        .nth_working_day_after(date, n, horizon(n))
        .or_else(|| WorkCalendar::default().nth_working_day_after(date, n, horizon(n)))
        .unwrap_or(date))
}

/// When a promise of `n` working days made at `at` is due: the end of the
/// `n`-th working day after that day, in the institution's time (a case
/// submitted on a Friday evening with "one working day" is due at the end
/// of Monday, or of the first working day after a holiday).
pub async fn due_after_working_days(
    state: &AppState,
    at: OffsetDateTime,
    n: u32,
) -> Result<OffsetDateTime, StoreError> {
    let day = nth_working_day_after(state, at, n).await?;
    Ok(end_of_day(day, offset(state)))
}
