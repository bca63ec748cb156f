//! Registered relying parties.

use sqlx::FromRow;
use time::OffsetDateTime;

use super::audit::{NewAuditEvent, audited_write, insert_audit};
use super::{Store, StoreError, found, on_db};

/// A client as stored; list-valued fields are JSON arrays in text columns
/// (portable across both backends) and decoded by the client service.
#[derive(Clone, FromRow)]
pub struct ClientRow {
    pub id: String,
    pub name: String,
    pub secret_hash: Option<String>,
    pub token_auth_method: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub backchannel_logout_uri: Option<String>,
    pub first_party: bool,
    pub scopes: String,
    pub id_token_alg: String,
    pub jwks_uri: Option<String>,
    pub jwks: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub version: i64,
    pub require_sms: bool,
}

const COLUMNS: &str = "id, name, secret_hash, token_auth_method, redirect_uris, post_logout_redirect_uris, \
    backchannel_logout_uri, first_party, scopes, id_token_alg, jwks_uri, jwks, created_at, updated_at, version, require_sms";

impl Store {
    /// Registers a client; its audit entry commits with it.
    pub async fn insert_client(
        &self,
        c: &ClientRow,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => async {
            let mut tx = pool.begin().await?;
            sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, token_auth_method, redirect_uris, post_logout_redirect_uris, \
             backchannel_logout_uri, first_party, scopes, id_token_alg, jwks_uri, jwks, created_at, updated_at, version, require_sms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1, $14)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.token_auth_method)
        .bind(&c.redirect_uris)
        .bind(&c.post_logout_redirect_uris)
        .bind(&c.backchannel_logout_uri)
        .bind(c.first_party)
        .bind(&c.scopes)
        .bind(&c.id_token_alg)
        .bind(&c.jwks_uri)
        .bind(&c.jwks)
        .bind(c.created_at)
        .bind(c.require_sms)
        .execute(&mut *tx)
        .await?;
            insert_audit!(&mut *tx, audit)?;
            tx.commit().await
        }.await)
        .map_err(|e| StoreError::from_write(e, &["clients", "id"]).into_conflict("client_id"))
    }

    pub async fn client(&self, id: &str) -> Result<Option<ClientRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE id = $1");
        Ok(
            on_db!(self, pool => sqlx::query_as::<_, ClientRow>(&sql).bind(id).fetch_optional(pool).await?),
        )
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY id");
        Ok(on_db!(self, pool => sqlx::query_as::<_, ClientRow>(&sql).fetch_all(pool).await?))
    }

    /// Deletes the client and (by cascade) its grants, tokens and consents.
    pub async fn delete_client(&self, id: &str, audit: &NewAuditEvent) -> Result<(), StoreError> {
        let n = audited_write!(self, audit, |tx| sqlx::query(
            "DELETE FROM clients WHERE id = $1"
        )
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected());
        found(n)
    }

    pub async fn set_client_secret(
        &self,
        id: &str,
        secret_hash: &str,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        let n = audited_write!(self, audit, |tx| {
            sqlx::query(
            "UPDATE clients SET secret_hash = $2, updated_at = $3, version = version + 1 WHERE id = $1",
        )
        .bind(id)
        .bind(secret_hash)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        });
        found(n)
    }
}

impl Store {
    /// Replaces the editable fields if the client is still at `version`.
    pub async fn update_client(
        &self,
        c: &ClientRow,
        version: i64,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let now = OffsetDateTime::now_utc();
        let n = on_db!(self, pool => {
            let mut tx = pool.begin().await?;
            let n = sqlx::query(
                "UPDATE clients SET name = $3, redirect_uris = $4, post_logout_redirect_uris = $5, backchannel_logout_uri = $6, \
                 first_party = $7, scopes = $8, id_token_alg = $9, updated_at = $10, require_sms = $11, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(&c.id)
            .bind(version)
            .bind(&c.name)
            .bind(&c.redirect_uris)
            .bind(&c.post_logout_redirect_uris)
            .bind(&c.backchannel_logout_uri)
            .bind(c.first_party)
            .bind(&c.scopes)
            .bind(&c.id_token_alg)
            .bind(now)
            .bind(c.require_sms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n > 0 {
                insert_audit!(&mut *tx, audit)?;
            }
            tx.commit().await?;
            n
        });
        if n > 0 {
            return Ok(());
        }
        match self.client(&c.id).await? {
            Some(_) => Err(StoreError::Stale),
            None => Err(StoreError::NotFound),
        }
    }
}
