//! Ports to the outside world. Each is a trait object chosen by
//! configuration; the development implementations write to an outbox
//! under the data directory and are refused in production.

pub mod captcha;
pub mod clock;
pub mod mail;
pub mod outbox;
pub mod sms;
