//! The integration test binary: every test boots the real server on
//! 127.0.0.1:0 with its own data directory (and, when
//! `TONGXING_TEST_DATABASE_URL` / `TONGXING_TEST_REDIS_URL` are set, its own
//! PostgreSQL database and Redis key space).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod console;
mod helpers;

mod admin_api;
mod admin_console;
mod api_problems;
mod app_list;
mod app_passwords;
mod architecture;
mod audit_writer;
mod backchannel;
mod backup;
mod bad_bytes;
mod blocks;
mod calendar;
mod captcha;
mod cli;
mod client_enumeration;
mod clients;
mod clients_cli;
mod clock;
mod common_passwords;
mod contention;
mod demo_apps;
mod device;
mod dpop;
mod durable;
mod e2e;
mod i18n;
mod import;
mod interaction;
mod ldap;
mod ldap_dovecot;
mod local_times;
mod login;
mod login_limits;
mod mail;
mod metrics;
mod migrations;
mod nodes;
mod notice_language;
mod oidc;
mod oidc_exact;
mod oidc_rules;
mod openapi;
mod ops;
mod org_admins;
mod organizations;
mod outage;
mod pages;
mod par;
mod phones;
mod post_redirect_get;
mod recovery;
mod recovery_background;
mod registration;
mod retrieval_form;
mod retrieve;
mod review_cases;
mod review_queue;
mod revocation;
mod security_email;
mod session;
mod sessions;
mod sms_codes;
mod smtp_server;
mod step_up;
mod strength_meter;
mod unbind;
