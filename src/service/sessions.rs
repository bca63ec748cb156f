//! The rules of a browser sign-in, apart from where the browser keeps it
//! (`crate::session`): whether a sign-in still holds, how long a sign-in
//! may wait for its SMS code, and what happens to the session's earlier
//! sign-in when someone signs in.

use std::time::Duration;

use uuid::Uuid;

use super::Origin;
use crate::crypto::random;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::users::{AccountStatus, User};

/// How long a sign-in may wait for its SMS code.
pub const STEP_UP_FOR: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("random: {0}")]
    Random(#[from] getrandom::Error),
}

/// The account a sign-in names, if the sign-in still holds: the account
/// exists, is active, and its session epoch has not moved since (a
/// password change, disabling or revocation moves it).
pub async fn holder(
    state: &AppState,
    user_id: Uuid,
    epoch: i64,
) -> Result<Option<User>, StoreError> {
    Ok(state
        .store
        .user_by_id(user_id)
        .await?
        .filter(|u| u.status == AccountStatus::Active && u.session_epoch == epoch))
}

/// The `sid` (OIDC session id) a new sign-in of `user` gets in a browser
/// whose session so far was `previous` (account, sid). Signing in again as
/// the same account keeps the sid, so relying parties that joined the
/// session still hear of its end; another account's session is ended first,
/// back-channel logout included.
pub async fn sid_for(
    state: &AppState,
    user: &User,
    previous: Option<(Uuid, String)>,
    origin: &Origin,
) -> Result<String, SessionError> {
    match previous {
        Some((id, sid)) if id == user.id => Ok(sid),
        Some((id, sid)) => {
            if let Some(old) = state.store.user_by_id(id).await? {
                super::logout::end_session(state, &old, Some(&sid), origin).await?;
            }
            Ok(random::token()?)
        }
        None => Ok(random::token()?),
    }
}
