//! Ending a browser session and telling the relying parties that took part
//! in it (OIDC Back-Channel Logout 1.0): each client with a
//! `backchannel_logout_uri` gets a signed logout token by POST, retried with
//! backoff, and each delivery is audited.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::audit::{Entry, Outcome};
use super::clients;
use super::tokens;
use super::{Actor, Origin};
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::User;

const ATTEMPTS: u32 = 4;

/// Records the logout and starts back-channel deliveries for `sid`.
/// Deliveries run in the background; the user is not kept waiting.
pub async fn end_session(
    state: &AppState,
    user: &User,
    sid: Option<&str>,
    origin: &Origin,
) -> Result<(), StoreError> {
    Entry::new("logout", Outcome::Success)
        .actor(&Actor::user(user))
        .subject(user)
        .origin(origin)
        .queue(&state.audit)
        .await?;
    let Some(sid) = sid else { return Ok(()) };
    state.store.delete_sign_in(sid).await?;
    let rows = state.store.take_rp_sessions(sid).await?;
    spawn_deliveries(
        state,
        rows.into_iter()
            .map(|(client, user)| (sid.to_string(), client, user))
            .collect(),
    );
    Ok(())
}

/// The sign-ins `sids` were ended from the sessions page (committed, with
/// their audit entry): tell the clients of each. Like
/// [`end_all_sessions`] this never fails the caller's answer; what cannot
/// start now is retried in the background.
pub async fn sign_ins_ended(state: &AppState, sids: Vec<String>) {
    let mut left = Vec::new();
    for sid in sids {
        if let Err(e) = take_and_deliver_sid(state, &sid).await {
            tracing::warn!(error = %e, "back-channel logout could not start; retrying in the background");
            left.push(sid);
        }
    }
    if left.is_empty() {
        return;
    }
    let task_state = state.clone();
    state.background.spawn(async move {
        let state = task_state;
        for attempt in 1..ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
            let mut failed = Vec::new();
            for sid in left {
                if let Err(e) = take_and_deliver_sid(&state, &sid).await {
                    if attempt + 1 == ATTEMPTS {
                        tracing::error!(error = %e, "back-channel logout was not sent");
                    }
                    failed.push(sid);
                }
            }
            if failed.is_empty() {
                return;
            }
            left = failed;
        }
    });
}

async fn take_and_deliver_sid(state: &AppState, sid: &str) -> Result<(), StoreError> {
    let rows = state.store.take_rp_sessions(sid).await?;
    spawn_deliveries(
        state,
        rows.into_iter()
            .map(|(client, user)| (sid.to_string(), client, user))
            .collect(),
    );
    Ok(())
}

/// Every session of the account ends (password changed, account
/// disabled, sessions revoked): tell every client of every session.
///
/// The caller has committed the change that ends the sessions; this step
/// cannot undo it, so it never fails the caller's answer (an administrator
/// would lose a generated password for a change that was stored). When
/// the clients cannot be read now, the work goes on in the background.
pub async fn end_all_sessions(state: &AppState, user: &User) {
    end_sessions_of(state, user.id, None).await;
}

/// [`end_all_sessions`] for an account known by its id (an import).
pub async fn end_all_sessions_of(state: &AppState, user_id: Uuid) {
    end_sessions_of(state, user_id, None).await;
}

/// Like [`end_all_sessions`], but the session `keep_sid` goes on (the user
/// changed their own password in it).
pub async fn end_other_sessions(state: &AppState, user: &User, keep_sid: &str) {
    end_sessions_of(state, user.id, Some(keep_sid.to_string())).await;
}

async fn end_sessions_of(state: &AppState, user_id: Uuid, keep_sid: Option<String>) {
    let Err(e) = take_and_deliver(state, user_id, keep_sid.as_deref()).await else {
        return;
    };
    tracing::warn!(error = %e, "back-channel logout could not start; retrying in the background");
    let task_state = state.clone();
    state.background.spawn(async move {
        let state = task_state;
        for attempt in 1..ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
            match take_and_deliver(&state, user_id, keep_sid.as_deref()).await {
                Ok(()) => return,
                Err(e) if attempt + 1 == ATTEMPTS => {
                    tracing::error!(user = %user_id, error = %e, "back-channel logout was not sent");
                }
                Err(_) => {}
            }
        }
    });
}

/// Takes the account's client sessions (all but `keep_sid`, which is put
/// back) and starts a delivery for each.
async fn take_and_deliver(
    state: &AppState,
    user_id: Uuid,
    keep_sid: Option<&str>,
) -> Result<(), StoreError> {
    let rows = state.store.take_user_rp_sessions(user_id).await?;
    let (keep, end): (Vec<_>, Vec<_>) = rows
        .into_iter()
        .partition(|(sid, _)| Some(sid.as_str()) == keep_sid);
    for (sid, client) in keep {
        state.store.add_rp_session(&sid, &client, user_id).await?;
    }
    spawn_deliveries(
        state,
        end.into_iter()
            .map(|(sid, client)| (sid, client, user_id))
            .collect(),
    );
    Ok(())
}

/// The browser sessions `rows` (sid, client) of account `user_id` were
/// taken out by a committed change (a block): tell each client, in the
/// background.
pub fn notify_clients(state: &AppState, user_id: Uuid, rows: Vec<(String, String)>) {
    spawn_deliveries(
        state,
        rows.into_iter()
            .map(|(sid, client)| (sid, client, user_id))
            .collect(),
    );
}

fn spawn_deliveries(state: &AppState, rows: Vec<(String, String, Uuid)>) {
    for (sid, client_id, user_id) in rows {
        let task_state = state.clone();
        state.background.spawn(async move {
            let state = task_state;
            if let Err(e) = deliver(&state, &client_id, user_id, &sid).await {
                tracing::warn!(client = %client_id, error = %e, "back-channel logout could not be recorded");
            }
        });
    }
}

async fn deliver(
    state: &AppState,
    client_id: &str,
    user_id: Uuid,
    sid: &str,
) -> Result<(), StoreError> {
    let Some(client) = clients::find(state, client_id).await? else {
        return Ok(());
    };
    let Some(uri) = client.backchannel_logout_uri.clone() else {
        return Ok(());
    };
    let mut outcome = Err("not attempted".to_string());
    for attempt in 0..ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
        }
        // A fresh token per attempt: each has its own jti and iat.
        let token = match tokens::logout_token(state, &client, user_id, sid).await {
            Ok(t) => t,
            Err(e) => {
                outcome = Err(e.to_string());
                break;
            }
        };
        outcome = match state
            .http
            .post(uri.as_str())
            .form(&[("logout_token", token.as_str())])
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => Ok(r.status().as_u16()),
            Ok(r) => Err(format!("HTTP {}", r.status().as_u16())),
            Err(e) => Err(if e.is_timeout() {
                "timeout".into()
            } else {
                "connection failed".into()
            }),
        };
        if outcome.is_ok() {
            break;
        }
    }
    let (result, detail) = match &outcome {
        Ok(status) => (
            Outcome::Success,
            json!({ "client_id": client.id, "status": status }),
        ),
        Err(why) => (
            Outcome::Failure,
            json!({ "client_id": client.id, "error": why, "attempts": ATTEMPTS }),
        ),
    };
    let user = state.store.user_by_id(user_id).await?;
    let mut entry = Entry::new("logout.backchannel", result).detail(detail);
    if let Some(u) = &user {
        entry = entry.subject(u);
    }
    entry.write(&state.store).await
}
