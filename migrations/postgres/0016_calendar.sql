-- The working-day calendar (工作日历): the dates an administrator marked
-- as a holiday on a weekday or a worked weekend day (调休); every other
-- date follows the weekday rule (domain::calendar). Dates are the
-- institution's local dates as text, YYYY-MM-DD, which sorts as dates.
-- Same version numbers as migrations/sqlite.
CREATE TABLE calendar_days (
    day TEXT PRIMARY KEY NOT NULL CHECK (length(day) = 10),
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    note TEXT NOT NULL DEFAULT '',
    updated_at TIMESTAMPTZ NOT NULL
);
