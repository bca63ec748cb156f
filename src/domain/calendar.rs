//! The working-day calendar (工作日历): which days the institution works.
//! Monday to Friday are working days and Saturday and Sunday are not,
//! except where an administrator says otherwise for a date: a public
//! holiday on a weekday (`holiday`), or a weekend day worked in exchange
//! for a longer holiday (`workday`, 调休 — e.g. Sunday 2027-02-07 before
//! the Spring Festival week). Promises such as "the result comes within
//! one working day" are counted on it.

use std::collections::BTreeMap;

use time::{Date, Month, OffsetDateTime, Time, UtcOffset, Weekday};

/// What an administrator says about one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DayKind {
    /// Not worked although a weekday (or a weekend day of a holiday,
    /// listed for completeness: it changes nothing).
    Holiday,
    /// Worked although a Saturday or Sunday (调休).
    Workday,
}

impl DayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::Workday => "workday",
        }
    }

    pub fn parse(text: &str) -> Option<DayKind> {
        match text.trim() {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::Workday),
            _ => None,
        }
    }
}

/// One date the calendar says something about, with a note (the
/// holiday's name) for the people who read the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialDay {
    pub date: Date,
    pub kind: DayKind,
    pub note: String,
}

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 60;

/// What is wrong with one entry of a year's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryProblem {
    NotADate,
    OtherYear,
    UnknownKind,
    WorkdayOnWeekday,
    BadNote,
    Twice,
}

impl EntryProblem {
    /// The reason in English, for the API and the command line.
    pub fn text(self) -> &'static str {
        match self {
            EntryProblem::NotADate => "not a date (YYYY-MM-DD)",
            EntryProblem::OtherYear => "not in this year",
            EntryProblem::UnknownKind => "the kind is `holiday` or `workday`",
            EntryProblem::WorkdayOnWeekday => {
                "a workday (调休) is a Saturday or Sunday; weekdays are worked anyway"
            }
            EntryProblem::BadNote => "the note is one line of at most 60 characters",
            EntryProblem::Twice => "this date is listed twice",
        }
    }
}

/// Why a year's list was refused: the entry (0-based, in the order given)
/// and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("entry {} ({date}): {}", index + 1, problem.text())]
pub struct CalendarError {
    pub index: usize,
    /// The date as given (it may not be a date).
    pub date: String,
    pub problem: EntryProblem,
}

/// `YYYY-MM-DD`, the one date form the calendar reads and writes.
pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let text = text.trim();
    (text.len() == 10)
        .then(|| Date::parse(text, format).ok())
        .flatten()
}

pub fn format_date(date: Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// Checks one year's list as a whole: every date in `year`, no date twice,
/// a `workday` only on a Saturday or Sunday (a weekday is worked anyway),
/// notes of at most [`MAX_NOTE_CHARS`] characters without control
/// characters. Returns the list sorted by date.
pub fn check_year(
    year: i32,
    entries: Vec<(String, String, String)>,
) -> Result<Vec<SpecialDay>, CalendarError> {
    let mut days = Vec::with_capacity(entries.len());
    let mut seen = std::collections::BTreeSet::new();
    for (index, (date_text, kind_text, note)) in entries.into_iter().enumerate() {
        let refuse = |problem| CalendarError {
            index,
            date: date_text.trim().chars().take(40).collect(),
            problem,
        };
        let date = parse_date(&date_text).ok_or_else(|| refuse(EntryProblem::NotADate))?;
        if date.year() != year {
            return Err(refuse(EntryProblem::OtherYear));
        }
        let kind = DayKind::parse(&kind_text).ok_or_else(|| refuse(EntryProblem::UnknownKind))?;
        if kind == DayKind::Workday && !is_weekend(date) {
            return Err(refuse(EntryProblem::WorkdayOnWeekday));
        }
        let note = note.trim().to_string();
        if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
            return Err(refuse(EntryProblem::BadNote));
        }
        if !seen.insert(date) {
            return Err(refuse(EntryProblem::Twice));
        }
        days.push(SpecialDay { date, kind, note });
    }
    days.sort_by_key(|d| d.date);
    Ok(days)
}

/// Reads the text form administrators edit: one date per line,
/// `2027-02-11 holiday 春节`, `2027-02-07 workday 春节调休`; blank lines
/// and lines starting with `#` are skipped. Gives (date, kind, note)
/// triples for [`check_year`]; a line without a kind is refused there.
pub fn parse_lines(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut parts = line.splitn(3, char::is_whitespace);
            let date = parts.next().unwrap_or_default().to_string();
            let rest = parts.collect::<Vec<_>>().join(" ");
            let mut rest = rest.trim_start().splitn(2, char::is_whitespace);
            let kind = rest.next().unwrap_or_default().to_string();
            let note = rest.next().unwrap_or_default().trim().to_string();
            (date, kind, note)
        })
        .collect()
}

/// The text form of a year's list (what [`parse_lines`] reads back).
pub fn to_lines(days: &[SpecialDay]) -> String {
    days.iter()
        .map(|d| {
            let line = format!("{} {} {}", format_date(d.date), d.kind.as_str(), d.note);
            format!("{}\n", line.trim_end())
        })
        .collect()
}

/// The calendar over some span of dates: what administrators said about
/// them, and the weekday rule everywhere else.
#[derive(Debug, Clone, Default)]
pub struct WorkCalendar {
    special: BTreeMap<Date, DayKind>,
}

impl WorkCalendar {
    pub fn new(days: impl IntoIterator<Item = SpecialDay>) -> WorkCalendar {
        WorkCalendar {
            special: days.into_iter().map(|d| (d.date, d.kind)).collect(),
        }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        match self.special.get(&date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(date),
        }
    }

    /// The `n`-th working day after `date` (`date` itself not counted,
    /// whatever it is). `None` when there is none within `horizon` days —
    /// a calendar of holidays only, which an administrator cannot save for
    /// a whole year but a window of lookups may see.
    pub fn nth_working_day_after(&self, date: Date, n: u32, horizon: u32) -> Option<Date> {
        let mut day = date;
        let mut left = n;
        for _ in 0..horizon {
            day = day.next_day()?;
            if self.is_working_day(day) {
                left = left.saturating_sub(1);
                if left == 0 {
                    return Some(day);
                }
            }
        }
        None
    }
}

/// The institution's local date of an instant.
pub fn local_date(at: OffsetDateTime, offset: UtcOffset) -> Date {
    at.to_offset(offset).date()
}

/// The end of `date` in the institution's time (the first instant of the
/// next day), as an instant.
pub fn end_of_day(date: Date, offset: UtcOffset) -> OffsetDateTime {
    let next = date.next_day().unwrap_or(date);
    next.with_time(Time::MIDNIGHT).assume_offset(offset)
}

/// The first and last date of a year.
pub fn year_bounds(year: i32) -> Option<(Date, Date)> {
    Some((
        Date::from_calendar_date(year, Month::January, 1).ok()?,
        Date::from_calendar_date(year, Month::December, 31).ok()?,
    ))
}

/// How many days after a date the lookups of `n` working days read: long
/// enough for the longest Chinese holiday (8 days) around every weekend.
pub fn horizon(n: u32) -> u32 {
    n.saturating_mul(3).saturating_add(30)
}

/// Parses `+08:00` / `-05:30` / `Z`.
pub fn parse_offset(text: &str) -> Option<UtcOffset> {
    let text = text.trim();
    if text == "Z" || text == "+00:00" {
        return Some(UtcOffset::UTC);
    }
    let format = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    UtcOffset::parse(text, format).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn spring_festival_2027() -> WorkCalendar {
        let lines = "# 春节\n2027-02-06 workday 春节调休\n2027-02-08 holiday 春节\n\
                     2027-02-09 holiday\n2027-02-10 holiday\n2027-02-11 holiday\n\
                     2027-02-12 holiday\n2027-02-20 workday 春节调休\n";
        WorkCalendar::new(check_year(2027, parse_lines(lines)).unwrap())
    }

    #[test]
    fn weekdays_work_unless_an_administrator_says_otherwise() {
        let plain = WorkCalendar::default();
        assert!(plain.is_working_day(date!(2027 - 02 - 08))); // a Monday
        assert!(!plain.is_working_day(date!(2027 - 02 - 06))); // a Saturday
        let cal = spring_festival_2027();
        assert!(!cal.is_working_day(date!(2027 - 02 - 08)));
        assert!(cal.is_working_day(date!(2027 - 02 - 06)));
        assert!(cal.is_working_day(date!(2027 - 02 - 15)));
    }

    #[test]
    fn working_days_are_counted_over_weekends_holidays_and_adjusted_days() {
        let cal = spring_festival_2027();
        // Friday 2027-02-05: the next working day is the adjusted Saturday.
        assert_eq!(
            cal.nth_working_day_after(date!(2027 - 02 - 05), 1, horizon(1)),
            Some(date!(2027 - 02 - 06))
        );
        // Saturday 2027-02-06 (worked): the holiday week and the weekend
        // pass, Monday 2027-02-15 is next.
        assert_eq!(
            cal.nth_working_day_after(date!(2027 - 02 - 06), 1, horizon(1)),
            Some(date!(2027 - 02 - 15))
        );
        assert_eq!(
            cal.nth_working_day_after(date!(2027 - 02 - 06), 6, horizon(6)),
            Some(date!(2027 - 02 - 20))
        );
        // Without the calendar the same Friday gives Monday.
        assert_eq!(
            WorkCalendar::default().nth_working_day_after(date!(2027 - 02 - 05), 1, horizon(1)),
            Some(date!(2027 - 02 - 08))
        );
    }

    #[test]
    fn a_year_list_is_checked_entry_by_entry() {
        let entry = |d: &str, k: &str| (d.to_string(), k.to_string(), String::new());
        let err = check_year(2027, vec![entry("2027-02-08", "workday")]).unwrap_err();
        assert_eq!(
            (err.index, err.problem),
            (0, EntryProblem::WorkdayOnWeekday)
        );
        let err = check_year(2027, vec![entry("2026-12-31", "holiday")]).unwrap_err();
        assert_eq!(err.problem, EntryProblem::OtherYear);
        let err = check_year(
            2027,
            vec![
                entry("2027-01-01", "holiday"),
                entry("2027-01-01", "holiday"),
            ],
        )
        .unwrap_err();
        assert_eq!((err.index, err.problem), (1, EntryProblem::Twice));
        let err = check_year(2027, vec![entry("2027-13-01", "holiday")]).unwrap_err();
        assert_eq!(err.problem, EntryProblem::NotADate);
        let err = check_year(2027, vec![entry("2027-01-01", "vacation")]).unwrap_err();
        assert_eq!(err.problem, EntryProblem::UnknownKind);
        let long = ("2027-01-01".into(), "holiday".into(), "元".repeat(61));
        assert!(check_year(2027, vec![long]).is_err());
        // The positive control: the same entries, well formed, pass sorted.
        let ok = check_year(
            2027,
            vec![
                entry("2027-10-01", "holiday"),
                entry("2027-01-01", "holiday"),
            ],
        )
        .unwrap();
        assert_eq!(ok[0].date, date!(2027 - 01 - 01));
    }

    #[test]
    fn the_text_form_reads_back() {
        let cal = check_year(2027, parse_lines("2027-02-06  workday  春节 调休\n")).unwrap();
        assert_eq!(cal[0].note, "春节 调休");
        assert_eq!(to_lines(&cal), "2027-02-06 workday 春节 调休\n");
        assert_eq!(check_year(2027, parse_lines(&to_lines(&cal))).unwrap(), cal);
    }

    #[test]
    fn days_end_in_the_institutions_time() {
        let beijing = parse_offset("+08:00").unwrap();
        // 17:30 UTC on the 5th is already the 6th in Beijing.
        let at = date!(2027 - 02 - 05)
            .with_hms(17, 30, 0)
            .unwrap()
            .assume_utc();
        assert_eq!(local_date(at, beijing), date!(2027 - 02 - 06));
        let end = end_of_day(date!(2027 - 02 - 06), beijing);
        assert_eq!(
            end.to_offset(UtcOffset::UTC),
            date!(2027 - 02 - 06)
                .with_hms(16, 0, 0)
                .unwrap()
                .assume_utc()
        );
        assert_eq!(parse_offset("Z"), Some(UtcOffset::UTC));
        assert!(parse_offset("8").is_none());
    }
}
