//! What must happen before a code is issued: an ordered list of named
//! checks over what is known about the request and the browser (the idea
//! of node-oidc-provider's interaction policy). The first check that
//! applies names the [`Interaction`]; its name is the reason in the audit
//! log, and the interaction decides the error `prompt=none` gets (OIDC
//! Core §3.1.2.6).
//!
//! The same list runs on every path that can issue a code: the request
//! itself and the answer of the consent form (which skips the consent
//! check: it is the consent).

use super::AuthRequest;
use crate::oidc::errors::ErrorCode;
use crate::session::SignedIn;
use crate::store::users::User;

/// What the browser must do before a code can be issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// Sign in. `fresh`: this request itself demands a new sign-in, which
    /// the session remembers (the login page comes back without the
    /// parameters that forced it, so they cannot be replayed to skip it).
    Login { fresh: bool },
    /// Nothing: the account is blocked for this client (a page says so
    /// and offers the way back, which gives the client access_denied).
    Blocked,
    /// Change the password an administrator reset.
    ChangePassword,
    /// Bind a login phone (the account has none).
    BindPhone,
    /// Prove the phone by SMS (the application demands it).
    StepUp,
    /// Agree to share the requested scopes with the application.
    Consent,
}

impl Interaction {
    /// The error a `prompt=none` request gets instead (OIDC Core §3.1.2.6).
    pub fn prompt_none_error(self) -> ErrorCode {
        match self {
            Interaction::Login { .. } => ErrorCode::LoginRequired,
            Interaction::ChangePassword | Interaction::BindPhone | Interaction::StepUp => {
                ErrorCode::InteractionRequired
            }
            Interaction::Consent => ErrorCode::ConsentRequired,
            Interaction::Blocked => ErrorCode::AccessDenied,
        }
    }
}

/// What the checks look at.
pub struct Facts<'a> {
    pub req: &'a AuthRequest,
    /// The signed-in account, already checked against the database.
    pub signed_in: Option<(&'a User, &'a SignedIn)>,
    /// Unix milliseconds now (`auth_time` is whole seconds: a sign-in
    /// 0.06 s old would be 0 s old by it).
    pub now_ms: i64,
    /// A sign-in this request demanded earlier must come after these Unix
    /// milliseconds.
    pub reauth_owed: Option<i64>,
    /// The signed-in account must bind a login phone first.
    pub binding_owed: bool,
    /// The signed-in account is blocked for this client
    /// (`service::blocks::may_use`).
    pub blocked: bool,
    /// Whether the user's consent covers the request; `None` when consent
    /// is not asked (first-party client, nobody signed in, or this is the
    /// consent form's answer).
    pub consent_covered: Option<bool>,
}

/// A named check.
pub struct Check {
    /// The reason in the audit log.
    pub name: &'static str,
    /// What the `prompt=none` error says when this check applies.
    pub description: &'static str,
    pub applies: fn(&Facts) -> Option<Interaction>,
}

/// The checks, in order: the first that applies decides.
pub const CHECKS: &[Check] = &[
    Check {
        name: "prompt_login",
        description: "the request demands a new sign-in",
        applies: |f| {
            (f.req.prompt("login") || f.req.prompt("select_account"))
                .then_some(Interaction::Login { fresh: true })
        },
    },
    Check {
        name: "no_session",
        description: "the user is not signed in",
        applies: |f| {
            f.signed_in
                .is_none()
                .then_some(Interaction::Login { fresh: false })
        },
    },
    Check {
        name: "max_age",
        description: "the sign-in is older than max_age",
        // OIDC Core §3.1.2.1: older than max_age seconds is a new sign-in;
        // max_age=0 asks for one every time (no sign-in is 0 ms old).
        applies: |f| match (f.signed_in, f.req.max_age) {
            (Some((_, auth)), Some(max_age))
                if max_age == 0
                    || f.now_ms.saturating_sub(auth.auth_ms) > max_age.saturating_mul(1000) =>
            {
                Some(Interaction::Login { fresh: true })
            }
            _ => None,
        },
    },
    Check {
        // Core §3.1.2.1: the hint names the account the client expects; a
        // browser signed in as someone else signs in as that account (or,
        // with prompt=none, login_required).
        name: "id_token_hint_mismatch",
        description: "id_token_hint names another account than the one signed in",
        applies: |f| match (f.signed_in, &f.req.hint) {
            (Some((user, _)), Some(hint)) if hint.sub != user.id => {
                Some(Interaction::Login { fresh: false })
            }
            _ => None,
        },
    },
    Check {
        name: "reauth_owed",
        description: "the sign-in this request demanded has not happened",
        applies: |f| match (f.signed_in, f.reauth_owed) {
            (Some((_, auth)), Some(not_before)) if auth.auth_ms <= not_before => {
                Some(Interaction::Login { fresh: false })
            }
            _ => None,
        },
    },
    Check {
        // Before the password change: a person whose weak password blocked
        // this application learns so at once, and whom to ask.
        name: "blocked",
        description: "the account is blocked for this application",
        applies: |f| (f.signed_in.is_some() && f.blocked).then_some(Interaction::Blocked),
    },
    Check {
        name: "password_change_owed",
        description: "the user must change the password first",
        applies: |f| {
            f.signed_in
                .is_some_and(|(user, _)| user.must_change_password)
                .then_some(Interaction::ChangePassword)
        },
    },
    Check {
        name: "phone_binding_owed",
        description: "the user must bind a phone first",
        applies: |f| (f.signed_in.is_some() && f.binding_owed).then_some(Interaction::BindPhone),
    },
    Check {
        name: "sms_required",
        description: "SMS verification is required",
        // The application demands a proved phone (registered
        // `require_sms`, an essential acr) or prefers it (acr_values) and
        // the account can give it (service::acr).
        applies: |f| {
            f.signed_in
                .is_some_and(|(user, auth)| {
                    f.req.acr.step_up_owed(&auth.amr, super::can_step_up(user))
                })
                .then_some(Interaction::StepUp)
        },
    },
    Check {
        name: "consent_missing",
        description: "the user has not consented to this client",
        applies: |f| match f.consent_covered {
            Some(covered) if !covered || f.req.prompt("consent") => Some(Interaction::Consent),
            _ => None,
        },
    },
];

/// The first check that applies and the interaction it asks for, if any.
pub fn decide(facts: &Facts) -> Option<(&'static Check, Interaction)> {
    CHECKS
        .iter()
        .find_map(|c| (c.applies)(facts).map(|i| (c, i)))
}
