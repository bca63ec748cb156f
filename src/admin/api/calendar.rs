//! `/api/v1/calendar/{year}`: the working-day calendar (工作日历), a year
//! at a time — the dates that differ from "Monday to Friday": holidays on
//! weekdays and worked weekend days (调休).

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiJson;
use super::auth::AdminAuth;
use crate::domain::calendar::{SpecialDay, format_date};
use crate::error::ApiError;
use crate::service::calendar::{self, SetError};
use crate::state::AppState;

/// One marked date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarDay {
    /// `YYYY-MM-DD`, the institution's local date.
    #[schema(example = "2027-02-08")]
    pub date: String,
    /// `holiday` (a weekday not worked) or `workday` (a Saturday or Sunday
    /// worked, 调休).
    #[schema(example = "holiday")]
    pub kind: String,
    /// The holiday's name, at most 60 characters.
    #[serde(default)]
    #[schema(example = "春节")]
    pub note: String,
}

/// A year's marked dates, by date.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CalendarYear {
    #[serde(default)]
    pub year: Option<i32>,
    pub days: Vec<CalendarDay>,
}

fn view(year: i32, days: Vec<SpecialDay>) -> CalendarYear {
    CalendarYear {
        year: Some(year),
        days: days
            .into_iter()
            .map(|d| CalendarDay {
                date: format_date(d.date),
                kind: d.kind.as_str().into(),
                note: d.note,
            })
            .collect(),
    }
}

fn parse_year(raw: &str) -> Result<i32, ApiError> {
    let year = raw.parse::<i32>().map_err(|_| ApiError {
        field: Some("year".into()),
        ..ApiError::bad_request("`year` must be a year such as 2027")
    })?;
    if !calendar::YEARS.contains(&year) {
        return Err(ApiError::invalid("year", "a year between 2000 and 2100"));
    }
    Ok(year)
}

fn problem(e: SetError) -> ApiError {
    match e {
        SetError::Year => ApiError::invalid("year", "a year between 2000 and 2100"),
        SetError::Invalid(e) => ApiError::invalid_named(
            format!("days[{}]", e.index),
            format!("{}: {}", e.date, e.problem.text()),
        ),
        SetError::Store(e) => e.into(),
    }
}

#[utoipa::path(get, path = crate::routes::API_CALENDAR_YEAR, tag = "calendar", operation_id = "calendar_get", params(("year" = i32, Path, description = "The year, 2000 to 2100.")),
    responses((status = 200, description = "The year's marked dates, by date (every other date: Monday to Friday are working days).", body = CalendarYear)))]
pub async fn get(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Path(year): Path<String>,
) -> Result<Json<CalendarYear>, ApiError> {
    let year = parse_year(&year)?;
    let days = calendar::year(&state, year).await.map_err(problem)?;
    Ok(Json(view(year, days)))
}

/// Replaces the year's list as a whole (an empty list: plain weekdays).
/// Every entry is checked before anything is written; audited
/// `calendar.updated`.
#[utoipa::path(put, path = crate::routes::API_CALENDAR_YEAR, tag = "calendar", operation_id = "calendar_put", params(("year" = i32, Path, description = "The year, 2000 to 2100.")), request_body = CalendarYear,
    responses((status = 200, description = "The year's list as stored, by date.", body = CalendarYear)))]
pub async fn put(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(year): Path<String>,
    ApiJson(body): ApiJson<CalendarYear>,
) -> Result<Json<CalendarYear>, ApiError> {
    let year = parse_year(&year)?;
    if body.year.is_some_and(|y| y != year) {
        return Err(ApiError::invalid(
            "year",
            "the body's year is not the path's",
        ));
    }
    let entries = body
        .days
        .into_iter()
        .map(|d| (d.date, d.kind, d.note))
        .collect();
    let days = calendar::set_year(&state, year, entries, &admin.actor, &admin.origin)
        .await
        .map_err(problem)?;
    Ok(Json(view(year, days)))
}
