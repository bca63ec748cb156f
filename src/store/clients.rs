//! Registered relying parties.

use jsonwebtoken::jwk::JwkSet;
use serde_json::json;
use sqlx::FromRow;
use time::OffsetDateTime;

use super::audit::{NewAuditEvent, audited_write, insert_audit};
use super::{BeginWrite, Store, StoreError, found, on_db};
use crate::domain::Scope;
use crate::domain::client::{AuthMethod, Client, EndpointUri, IdTokenAlg, LdapBind, RedirectUri};

/// A client as stored; list-valued fields are JSON arrays in text columns
/// (portable across both backends). Only [`ClientRow::decode`] turns it
/// into a [`Client`].
#[derive(Clone, FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    token_auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    request_uris: String,
    backchannel_logout_uri: Option<String>,
    first_party: bool,
    scopes: String,
    id_token_alg: String,
    jwks_uri: Option<String>,
    jwks: Option<String>,
    version: i64,
    require_sms: bool,
    require_strong_password: bool,
    name_en: Option<String>,
    description: Option<String>,
    description_en: Option<String>,
    logo_uri: Option<String>,
    home_uri: Option<String>,
    show_in_app_list: bool,
    app_passwords_allowed: bool,
    ldap_bind: String,
    ldap_search: bool,
    require_pushed_authorization_requests: bool,
    require_signed_request_object: bool,
    dpop_bound_access_tokens: bool,
    registered_dynamically: bool,
    registration_token_hash: Option<String>,
    grant_types: Option<String>,
}

const COLUMNS: &str = "id, name, secret_hash, token_auth_method, redirect_uris, post_logout_redirect_uris, \
    backchannel_logout_uri, first_party, scopes, id_token_alg, jwks_uri, jwks, version, require_sms, require_strong_password, \
    name_en, description, description_en, logo_uri, home_uri, show_in_app_list, app_passwords_allowed, ldap_bind, ldap_search, \
    require_pushed_authorization_requests, require_signed_request_object, \
    dpop_bound_access_tokens, request_uris, registered_dynamically, registration_token_hash, grant_types";

impl ClientRow {
    /// Every column parsed with the same types registration uses. A value
    /// that does not parse is an error, never a default: an unknown auth
    /// method read as `client_secret_basic`, or a broken redirect list read
    /// as empty, would silently change what the client may do.
    ///
    /// URIs are parsed without the production rule: it applies when they
    /// are registered, and a deployment that moved to production keeps
    /// what it registered before.
    fn decode(self) -> Result<Client, StoreError> {
        let id = self.id;
        let corrupt = |field: &'static str, reason: String| StoreError::Corrupt {
            table: "clients",
            id: id.clone(),
            field,
            reason,
        };
        let redirects = |field: &'static str, text: &str| -> Result<Vec<RedirectUri>, StoreError> {
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| corrupt(field, format!("is not a JSON list of strings: {e}")))?
                .iter()
                .map(|u| {
                    RedirectUri::parse(u, false)
                        .map_err(|why| corrupt(field, format!("{u:?} {why}")))
                })
                .collect()
        };
        let endpoint = |field: &'static str,
                        text: Option<String>|
         -> Result<Option<EndpointUri>, StoreError> {
            text.map(|u| {
                EndpointUri::parse(&u, false).map_err(|why| corrupt(field, format!("{u:?} {why}")))
            })
            .transpose()
        };
        let endpoints = |field: &'static str, text: &str| -> Result<Vec<EndpointUri>, StoreError> {
            serde_json::from_str::<Vec<String>>(text)
                .map_err(|e| corrupt(field, format!("is not a JSON list of strings: {e}")))?
                .into_iter()
                .map(|u| {
                    EndpointUri::parse(&u, false)
                        .map_err(|why| corrupt(field, format!("{u:?} {why}")))
                })
                .collect()
        };
        let token_auth_method = AuthMethod::parse(&self.token_auth_method).map_err(|_| {
            corrupt(
                "token_auth_method",
                format!("{:?} is unknown", self.token_auth_method),
            )
        })?;
        let id_token_alg = IdTokenAlg::parse(&self.id_token_alg).map_err(|_| {
            corrupt(
                "id_token_alg",
                format!("{:?} is unknown", self.id_token_alg),
            )
        })?;
        let ldap_bind = LdapBind::parse(&self.ldap_bind)
            .map_err(|_| corrupt("ldap_bind", format!("{:?} is unknown", self.ldap_bind)))?;
        let scopes = Scope::parse(&self.scopes)
            .map_err(|e| corrupt("scopes", e.reason.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let grant_types = self
            .grant_types
            .as_deref()
            .map(serde_json::from_str::<Vec<String>>)
            .transpose()
            .map_err(|e| corrupt("grant_types", format!("is not a JSON list of strings: {e}")))?;
        let jwks = self
            .jwks
            .as_deref()
            .map(serde_json::from_str::<JwkSet>)
            .transpose()
            .map_err(|e| corrupt("jwks", format!("is not a JWK set: {e}")))?;
        Ok(Client {
            redirect_uris: redirects("redirect_uris", &self.redirect_uris)?,
            post_logout_redirect_uris: redirects(
                "post_logout_redirect_uris",
                &self.post_logout_redirect_uris,
            )?,
            backchannel_logout_uri: endpoint(
                "backchannel_logout_uri",
                self.backchannel_logout_uri,
            )?,
            jwks_uri: endpoint("jwks_uri", self.jwks_uri)?,
            request_uris: endpoints("request_uris", &self.request_uris)?,
            logo_uri: endpoint("logo_uri", self.logo_uri)?,
            home_uri: endpoint("home_uri", self.home_uri)?,
            token_auth_method,
            id_token_alg,
            scopes,
            jwks,
            name: self.name,
            secret_hash: self.secret_hash,
            first_party: self.first_party,
            version: self.version,
            require_sms: self.require_sms,
            require_strong_password: self.require_strong_password,
            name_en: self.name_en,
            description: self.description,
            description_en: self.description_en,
            show_in_app_list: self.show_in_app_list,
            app_passwords_allowed: self.app_passwords_allowed,
            ldap_bind,
            ldap_search: self.ldap_search,
            require_pushed_authorization_requests: self.require_pushed_authorization_requests,
            require_signed_request_object: self.require_signed_request_object,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            registered_dynamically: self.registered_dynamically,
            registration_token_hash: self.registration_token_hash,
            grant_types,
            id,
        })
    }
}

/// The text columns of a client's list- and object-valued fields.
struct Encoded {
    redirect_uris: String,
    post_logout_redirect_uris: String,
    request_uris: String,
    scopes: String,
    jwks: Option<String>,
    grant_types: Option<String>,
}

fn encode(c: &Client) -> Encoded {
    Encoded {
        grant_types: c.grant_types.as_ref().map(|g| json!(g).to_string()),
        redirect_uris: json!(c.redirect_uris).to_string(),
        post_logout_redirect_uris: json!(c.post_logout_redirect_uris).to_string(),
        request_uris: json!(c.request_uris).to_string(),
        scopes: c.scopes.join(" "),
        jwks: c.jwks.as_ref().map(|set| json!(set).to_string()),
    }
}

/// Inserts client `$c` (created at `$at`) on `$exec` (a transaction);
/// shared by an administrator's registration and a dynamic one (which
/// spends an initial access token in the same transaction).
macro_rules! insert_client {
    ($exec:expr, $c:expr, $at:expr) => {{
        let c: &Client = $c;
        let e = encode(c);
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, token_auth_method, redirect_uris, post_logout_redirect_uris, \
             backchannel_logout_uri, first_party, scopes, id_token_alg, jwks_uri, jwks, created_at, updated_at, version, require_sms, require_strong_password, \
             name_en, description, description_en, logo_uri, home_uri, show_in_app_list, app_passwords_allowed, \
             ldap_bind, ldap_search, require_pushed_authorization_requests, require_signed_request_object, \
             registered_dynamically, registration_token_hash, grant_types, dpop_bound_access_tokens, request_uris) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, 1, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(c.token_auth_method.as_str())
        .bind(&e.redirect_uris)
        .bind(&e.post_logout_redirect_uris)
        .bind(c.backchannel_logout_uri.as_ref().map(EndpointUri::as_str))
        .bind(c.first_party)
        .bind(&e.scopes)
        .bind(c.id_token_alg.as_str())
        .bind(c.jwks_uri.as_ref().map(EndpointUri::as_str))
        .bind(&e.jwks)
        .bind($at)
        .bind(c.require_sms)
        .bind(c.require_strong_password)
        .bind(&c.name_en)
        .bind(&c.description)
        .bind(&c.description_en)
        .bind(c.logo_uri.as_ref().map(EndpointUri::as_str))
        .bind(c.home_uri.as_ref().map(EndpointUri::as_str))
        .bind(c.show_in_app_list)
        .bind(c.app_passwords_allowed)
        .bind(c.ldap_bind.as_str())
        .bind(c.ldap_search)
        .bind(c.require_pushed_authorization_requests)
        .bind(c.require_signed_request_object)
        .bind(c.registered_dynamically)
        .bind(&c.registration_token_hash)
        .bind(&e.grant_types)
        .bind(c.dpop_bound_access_tokens)
        .bind(&e.request_uris)
        .execute($exec)
        .await
    }};
}

impl Store {
    /// Registers a client; its audit entry commits with it.
    pub async fn insert_client(
        &self,
        c: &Client,
        created_at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            insert_client!(&mut *tx, c, created_at)?;
            insert_audit!(&mut *tx, audit, self.now())?;
            tx.commit().await
        }.await)
        .map_err(|e| StoreError::from_write(e, &["clients", "id"]).into_conflict("client_id"))
    }

    /// The client as stored now; [`StoreError::Corrupt`] when a stored
    /// value does not parse.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients WHERE id = $1");
        let row = on_db!(self, pool => sqlx::query_as::<_, ClientRow>(&sql).bind(id).fetch_optional(pool).await?);
        row.map(ClientRow::decode).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY id");
        let rows =
            on_db!(self, pool => sqlx::query_as::<_, ClientRow>(&sql).fetch_all(pool).await?);
        rows.into_iter().map(ClientRow::decode).collect()
    }

    /// One page of clients in id order, and how many there are.
    pub async fn page_clients(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Client>, i64), StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM clients ORDER BY id LIMIT $1 OFFSET $2");
        let (rows, total) = on_db!(self, pool => {
            let rows = sqlx::query_as::<_, ClientRow>(&sql)
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients")
                .fetch_one(pool)
                .await?;
            (rows, total)
        });
        let clients = rows
            .into_iter()
            .map(ClientRow::decode)
            .collect::<Result<_, _>>()?;
        Ok((clients, total))
    }

    /// How many clients sort before `id` (where it stands in the list).
    pub async fn clients_before(&self, id: &str) -> Result<i64, StoreError> {
        Ok(on_db!(self, pool => sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM clients WHERE id < $1"
        )
        .bind(id)
        .fetch_one(pool)
        .await?))
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
        let now = self.now();
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
    /// Why a versioned write of client `id` changed nothing: the client
    /// changed meanwhile (`Stale`) or is gone (`NotFound`).
    async fn unchanged(&self, id: &str) -> StoreError {
        match self.client(id).await {
            Ok(Some(_)) => StoreError::Stale,
            Ok(None) => StoreError::NotFound,
            Err(e) => e,
        }
    }

    /// Replaces the editable fields if the client is still at `version`.
    pub async fn update_client(
        &self,
        c: &Client,
        version: i64,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let e = encode(c);
        let now = self.now();
        audited_write!(self, audit, |tx| {
            let n = sqlx::query(
                "UPDATE clients SET name = $3, redirect_uris = $4, post_logout_redirect_uris = $5, backchannel_logout_uri = $6, \
                 first_party = $7, scopes = $8, id_token_alg = $9, updated_at = $10, require_sms = $11, \
                 require_strong_password = $12, name_en = $13, description = $14, description_en = $15, \
                 logo_uri = $16, home_uri = $17, show_in_app_list = $18, app_passwords_allowed = $19, \
                 ldap_bind = $20, ldap_search = $21, require_pushed_authorization_requests = $22, \
                 require_signed_request_object = $23, dpop_bound_access_tokens = $24, request_uris = $25, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(&c.id)
            .bind(version)
            .bind(&c.name)
            .bind(&e.redirect_uris)
            .bind(&e.post_logout_redirect_uris)
            .bind(c.backchannel_logout_uri.as_ref().map(EndpointUri::as_str))
            .bind(c.first_party)
            .bind(&e.scopes)
            .bind(c.id_token_alg.as_str())
            .bind(now)
            .bind(c.require_sms)
            .bind(c.require_strong_password)
            .bind(&c.name_en)
            .bind(&c.description)
            .bind(&c.description_en)
            .bind(c.logo_uri.as_ref().map(EndpointUri::as_str))
            .bind(c.home_uri.as_ref().map(EndpointUri::as_str))
            .bind(c.show_in_app_list)
            .bind(c.app_passwords_allowed)
            .bind(c.ldap_bind.as_str())
            .bind(c.ldap_search)
            .bind(c.require_pushed_authorization_requests)
            .bind(c.require_signed_request_object)
            .bind(c.dpop_bound_access_tokens)
            .bind(&e.request_uris)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                // Nothing written, so no audit entry: the transaction is
                // dropped (rolled back) and the caller hears why.
                drop(tx);
                return Err(self.unchanged(&c.id).await);
            }
            n
        });
        Ok(())
    }
}

impl Store {
    /// Replaces every metadata column of a dynamically registered client
    /// (RFC 7592 §2.2) if it is still at `version`; the secret and the
    /// registration access token are written as given.
    pub async fn replace_client(
        &self,
        c: &Client,
        version: i64,
        audit: &NewAuditEvent,
    ) -> Result<(), StoreError> {
        let e = encode(c);
        let now = self.now();
        audited_write!(self, audit, |tx| {
            let n = sqlx::query(
                "UPDATE clients SET name = $3, redirect_uris = $4, post_logout_redirect_uris = $5, backchannel_logout_uri = $6, \
                 scopes = $7, id_token_alg = $8, updated_at = $9, token_auth_method = $10, secret_hash = $11, \
                 jwks_uri = $12, jwks = $13, logo_uri = $14, home_uri = $15, grant_types = $16, \
                 registration_token_hash = $17, dpop_bound_access_tokens = $18, request_uris = $19, version = version + 1 \
                 WHERE id = $1 AND version = $2",
            )
            .bind(&c.id)
            .bind(version)
            .bind(&c.name)
            .bind(&e.redirect_uris)
            .bind(&e.post_logout_redirect_uris)
            .bind(c.backchannel_logout_uri.as_ref().map(EndpointUri::as_str))
            .bind(&e.scopes)
            .bind(c.id_token_alg.as_str())
            .bind(now)
            .bind(c.token_auth_method.as_str())
            .bind(&c.secret_hash)
            .bind(c.jwks_uri.as_ref().map(EndpointUri::as_str))
            .bind(&e.jwks)
            .bind(c.logo_uri.as_ref().map(EndpointUri::as_str))
            .bind(c.home_uri.as_ref().map(EndpointUri::as_str))
            .bind(&e.grant_types)
            .bind(&c.registration_token_hash)
            .bind(c.dpop_bound_access_tokens)
            .bind(&e.request_uris)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 0 {
                // Nothing written, so no audit entry: the transaction is
                // dropped (rolled back) and the caller hears why.
                drop(tx);
                return Err(self.unchanged(&c.id).await);
            }
            n
        });
        Ok(())
    }
}

/// What [`Store::insert_registered_client`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registered {
    Stored,
    /// The initial access token is unknown, expired, revoked or used up:
    /// nothing was stored.
    TokenRefused,
}

impl Store {
    /// Stores a client registered through `/register` (RFC 7591 §3), with
    /// its audit entry, in one transaction that first spends one use of the
    /// initial access token with this hash (when one is given). Spending is
    /// one conditional `UPDATE … uses_left = uses_left - 1 WHERE uses_left >
    /// 0`: two registrations at once are serialized on the token's row, so
    /// the last use is spent once and the other finds nothing left. If the
    /// client cannot be stored, the use is given back with the rollback.
    pub async fn insert_registered_client(
        &self,
        c: &Client,
        initial_token_hash: Option<&str>,
        audit: &NewAuditEvent,
    ) -> Result<Registered, StoreError> {
        let now = self.now();
        let result: Result<Registered, sqlx::Error> = on_db!(self, pool => async {
            let mut tx = pool.begin_write().await?;
            if let Some(hash) = initial_token_hash {
                let spent = sqlx::query(
                    "UPDATE registration_tokens SET uses_left = uses_left - 1 \
                     WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2 AND revoked_at IS NULL",
                )
                .bind(hash)
                .bind(now.unix_timestamp())
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if spent == 0 {
                    tx.rollback().await?;
                    return Ok(Registered::TokenRefused);
                }
            }
            insert_client!(&mut *tx, c, now)?;
            insert_audit!(&mut *tx, audit, now)?;
            tx.commit().await?;
            Ok(Registered::Stored)
        }.await);
        result.map_err(|e| StoreError::from_write(e, &["clients", "id"]).into_conflict("client_id"))
    }
}
