//! The working-day calendar's marked dates (table `calendar_days`).

use time::Date;

use super::audit::NewAuditEvent;
use super::{Store, StoreError, on_db};
use crate::domain::calendar::{DayKind, SpecialDay, format_date, parse_date};

fn read(rows: Vec<(String, String, String)>) -> Vec<SpecialDay> {
    rows.into_iter()
        .filter_map(|(day, kind, note)| {
            Some(SpecialDay {
                date: parse_date(&day)?,
                kind: DayKind::parse(&kind)?,
                note,
            })
        })
        .collect()
}

impl Store {
    /// The marked dates from `from` to `to`, both included, by date.
    pub async fn calendar_days(&self, from: Date, to: Date) -> Result<Vec<SpecialDay>, StoreError> {
        let sql =
            "SELECT day, kind, note FROM calendar_days WHERE day >= $1 AND day <= $2 ORDER BY day";
        let (from, to) = (format_date(from), format_date(to));
        let rows: Vec<(String, String, String)> = on_db!(self, pool => sqlx::query_as(sql)
            .bind(&from)
            .bind(&to)
            .fetch_all(pool)
            .await?);
        Ok(read(rows))
    }

    /// Replaces the marked dates from `from` to `to` (a year) by `days`,
    /// with the audit entry, in one transaction: a reader sees the old list
    /// or the new one, never a mixture.
    pub async fn replace_calendar_days(
        &self,
        from: Date,
        to: Date,
        days: &[SpecialDay],
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = self.now();
        let (from, to) = (format_date(from), format_date(to));
        super::audit::audited_write!(self, audit, |tx| {
            sqlx::query("DELETE FROM calendar_days WHERE day >= $1 AND day <= $2")
                .bind(&from)
                .bind(&to)
                .execute(&mut *tx)
                .await?;
            for day in days {
                sqlx::query(
                    "INSERT INTO calendar_days (day, kind, note, updated_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(format_date(day.date))
                .bind(day.kind.as_str())
                .bind(&day.note)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            days.len() as u64
        });
        Ok(())
    }
}
