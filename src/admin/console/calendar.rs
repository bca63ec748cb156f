//! `/admin/calendar`: the working-day calendar, a year at a time — the
//! year's exceptions as a table and as the text administrators edit
//! (`2027-02-08 holiday 春节`), saved as a whole.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{AdminSession, Nav};
use crate::domain::calendar::{self, DayKind, SpecialDay, format_date, parse_lines, to_lines};
use crate::error::PageError;
use crate::extract::{ClientOrigin, CsrfForm};
use crate::pages::{Chrome, PageCtx, render, render_status};
use crate::service::calendar::{self as service, SetError};
use crate::state::AppState;

/// One exception as the table shows it.
struct Row {
    date: String,
    weekday: &'static str,
    kind: &'static str,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/calendar.html")]
struct CalendarPage {
    c: Chrome,
    nav: Nav,
    year: i32,
    rows: Vec<Row>,
    text: String,
    next_working_day: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<String>,
}

#[derive(Deserialize)]
pub struct SaveForm {
    year: String,
    days: String,
}

fn this_year(state: &AppState) -> i32 {
    calendar::local_date(state.clock.now(), service::offset(state)).year()
}

async fn page(
    state: &AppState,
    ctx: &PageCtx,
    nav: Nav,
    year: i32,
    text: Option<String>,
    error: Option<String>,
) -> Result<CalendarPage, PageError> {
    let c = ctx.chrome().await?;
    let days: Vec<SpecialDay> = service::year(state, year).await.map_err(|e| match e {
        SetError::Store(e) => PageError::from(e),
        _ => PageError::NotFound,
    })?;
    let t = ctx.t();
    let rows = days
        .iter()
        .map(|d| Row {
            date: format_date(d.date),
            weekday: t.weekdays[usize::from(d.date.weekday().number_days_from_monday())],
            kind: match d.kind {
                DayKind::Holiday => t.calendar_holiday,
                DayKind::Workday => t.calendar_workday,
            },
            note: d.note.clone(),
        })
        .collect();
    let next = service::nth_working_day_after(state, state.clock.now(), 1).await?;
    Ok(CalendarPage {
        next_working_day: (t.calendar_next_working_day)(&format!(
            "{} {}",
            format_date(next),
            t.weekdays[usize::from(next.weekday().number_days_from_monday())]
        )),
        c,
        nav,
        year,
        rows,
        text: text.unwrap_or_else(|| to_lines(&days)),
        error,
    })
}

fn year_of(raw: Option<&str>, state: &AppState) -> Result<i32, PageError> {
    match raw.map(str::trim).filter(|y| !y.is_empty()) {
        None => Ok(this_year(state)),
        Some(y) => y
            .parse::<i32>()
            .ok()
            .filter(|y| service::YEARS.contains(y))
            .ok_or(PageError::BadRequest),
    }
}

pub async fn show(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let year = year_of(q.year.as_deref(), &state)?;
    render(&page(&state, &ctx, admin.nav(), year, None, None).await?)
}

pub async fn save(
    State(state): State<AppState>,
    ctx: PageCtx,
    admin: AdminSession,
    ClientOrigin(origin): ClientOrigin,
    CsrfForm(form, _): CsrfForm<SaveForm>,
) -> Result<Response, PageError> {
    let year = year_of(Some(&form.year), &state)?;
    let result = service::set_year(
        &state,
        year,
        parse_lines(&form.days),
        &admin.actor(),
        &origin,
    )
    .await;
    let t = ctx.t();
    match result {
        Ok(_) => Ok(
            Redirect::to(&format!("{}?year={year}", crate::routes::ADMIN_CALENDAR)).into_response(),
        ),
        Err(SetError::Invalid(e)) => {
            let message = t.calendar_problem(&e);
            render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(
                    &state,
                    &ctx,
                    admin.nav(),
                    year,
                    Some(form.days),
                    Some(message),
                )
                .await?,
            )
        }
        Err(SetError::Year) => Err(PageError::BadRequest),
        Err(SetError::Store(e)) => Err(e.into()),
    }
}
