//! "May this account use this client now?" — the one question every
//! surface asks before it lets an account reach an application. The
//! blocks themselves (setting, lifting, listing) are `service::blocks`;
//! this module imports nothing of the services, so the token code can ask
//! it without an import cycle.

use uuid::Uuid;

use crate::state::AppState;
use crate::store::StoreError;
use crate::store::blocks::ActiveBlock;

/// Why [`may_use`] said no.
#[derive(Debug, thiserror::Error)]
pub enum UseError {
    /// The account is blocked for the client (or for every client).
    #[error("the account is blocked for this application ({})", .0.reason)]
    Blocked(ActiveBlock),
    #[error("{0}")]
    Store(#[from] StoreError),
}

/// May account `user_id` use client `client_id` now? `Ok(())` when no
/// active block names the client or `*`.
///
/// Every surface where an account reaches an application asks this, and
/// nothing else: `/authorize` (a page), the token endpoint's
/// authorization-code and refresh-token grants (`invalid_grant`), and every
/// check of an access token (`tokens::verify_access_token`: userinfo 401,
/// introspection `active: false`). The application-password check and the
/// LDAP bind (not built yet) must call it too, with the client the
/// application password is bound to (LDAP: the mail client), before they
/// answer success.
///
/// It is one lookup in a unique partial index (`account_blocks_active`).
/// It is deliberately not cached: a block must take effect on every node
/// at once (a per-node cache would need invalidation across nodes), and
/// the surfaces that call it already read the grant and the account row
/// per request, so one more indexed read keeps their cost class.
pub async fn may_use(state: &AppState, user_id: Uuid, client_id: &str) -> Result<(), UseError> {
    match state.store.active_block(user_id, client_id).await? {
        Some(block) => Err(UseError::Blocked(block)),
        None => Ok(()),
    }
}
