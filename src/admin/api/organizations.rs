//! `/api/v1/organizations`: the organization registry (单位) — search,
//! read, register, change, and import from CSV. System administrators
//! only (a service account's token with the `admin` scope).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminAuth;
use super::{ApiJson, ApiQuery};
use crate::domain::OrganizationStatus;
use crate::error::{ApiError, Problem};
use crate::service::org_import::{self, ImportReport};
use crate::service::organizations::{self, OrgError, OrgInput};
use crate::state::AppState;
use crate::store::organizations::Organization;

/// An organization of the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: uuid::Uuid,
    /// As on the organization's seal (unique).
    pub full_name: String,
    pub short_name: Option<String>,
    pub aliases: Vec<String>,
    /// Lower case; internationalized domains in their `xn--` form.
    pub mail_domains: Vec<String>,
    pub status: OrganizationStatus,
    /// Send it back with an update; a mismatch means someone else changed it.
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        OrganizationView {
            id: o.id,
            full_name: o.full_name,
            short_name: o.short_name,
            aliases: o.aliases.0,
            mail_domains: o.mail_domains.0,
            status: o.status,
            version: o.version,
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

/// One organization with who belongs to it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDetail {
    #[serde(flatten)]
    pub organization: OrganizationView,
    /// How many accounts belong to it.
    pub accounts: i64,
    /// The account names of its administrators (所邮箱管理员).
    pub administrators: Vec<String>,
}

impl From<OrgError> for ApiError {
    fn from(e: OrgError) -> Self {
        let text = e.to_string();
        match e {
            OrgError::Invalid(v) => ApiError::invalid(v.field, v.reason),
            OrgError::NameTaken { field, .. } => ApiError::conflict(field, text),
            OrgError::DomainTaken { .. } => ApiError::conflict("mail_domains", text),
            OrgError::Conflict(field) => ApiError::conflict(field, text),
            OrgError::NotFound => ApiError::not_found("no such organization"),
            OrgError::Stale => ApiError::stale(),
            OrgError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OrgSearch {
    /// Part of a full name, short name or alias (width, case and spacing
    /// do not matter), or a mail domain (`cnic.cn`); at most 100 characters.
    #[serde(default)]
    #[param(max_length = 100)]
    pub q: String,
    /// Only organizations with this status.
    pub status: Option<OrganizationStatus>,
    /// 1-based page number (default 1).
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<i64>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationPage {
    pub items: Vec<OrganizationView>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// The registry, ordered by full name.
#[utoipa::path(get, path = crate::routes::API_ORGANIZATIONS, tag = "organizations", operation_id = "organizations_list", params(OrgSearch),
    responses((status = 200, description = "One page of matching organizations.", body = OrganizationPage)))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminAuth,
    ApiQuery(q): ApiQuery<OrgSearch>,
) -> Result<Json<OrganizationPage>, ApiError> {
    let (page, per_page) = super::paging(q.page, q.per_page)?;
    if q.q.chars().count() > 100 {
        return Err(ApiError::invalid("q", "is too long"));
    }
    let (items, total) =
        organizations::list(&state, &q.q, q.status, per_page, (page - 1) * per_page).await?;
    Ok(Json(OrganizationPage {
        items: items.into_iter().map(Into::into).collect(),
        total,
        page,
        per_page,
    }))
}

/// A new organization.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganization {
    /// As on the organization's seal; unique (compared by key: width,
    /// case and spacing do not matter), and no other organization's short
    /// name or alias.
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "中国科学院计算机网络信息中心"
    )]
    pub full_name: String,
    #[schema(max_length = 50, example = "网络中心")]
    pub short_name: Option<String>,
    /// Other names it is known by (at most 50).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Its mail domains (at most 50), each of one organization.
    #[serde(default)]
    pub mail_domains: Vec<String>,
    /// Default `active`.
    pub status: Option<OrganizationStatus>,
}

/// Registers an organization (audited: `organization.created`).
#[utoipa::path(post, path = crate::routes::API_ORGANIZATIONS, tag = "organizations", operation_id = "organizations_create", request_body = CreateOrganization,
    responses((status = 201, description = "Registered.", body = OrganizationView),
        (status = 409, description = "A name or mail domain is another organization's; `detail` names it.", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiJson(body): ApiJson<CreateOrganization>,
) -> Result<(StatusCode, Json<OrganizationView>), ApiError> {
    let input = OrgInput {
        full_name: body.full_name,
        short_name: body.short_name,
        aliases: body.aliases,
        mail_domains: body.mail_domains,
        status: body.status,
    };
    let org = organizations::create(&state, &input, &admin.actor, &admin.origin).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

fn org_id(raw: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(raw).map_err(|_| ApiError {
        field: Some("id".into()),
        ..ApiError::bad_request(
            "`id` must be an organization id: a UUID such as 0190d2f4-5b7c-7e8a-9c4d-2f1e3a5b6c7d",
        )
    })
}

/// One organization, its number of accounts and its administrators.
#[utoipa::path(get, path = crate::routes::API_ORGANIZATION, tag = "organizations", operation_id = "organizations_get", params(("id" = uuid::Uuid, Path, description = "The organization id.")),
    responses((status = 200, description = "The organization.", body = OrganizationDetail)))]
pub async fn get(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
) -> Result<Json<OrganizationDetail>, ApiError> {
    let org = organizations::by_id(&state, org_id(&id)?).await?;
    detail(&state, org).await.map(Json)
}

async fn detail(state: &AppState, org: Organization) -> Result<OrganizationDetail, ApiError> {
    let accounts = organizations::member_count(state, &org).await?;
    let administrators = organizations::administrators(state, &org)
        .await?
        .into_iter()
        .map(|u| u.username)
        .collect();
    Ok(OrganizationDetail {
        organization: org.into(),
        accounts,
        administrators,
    })
}

/// Fields to change; an absent field stays. An empty `short_name` clears
/// it; `aliases` and `mail_domains` replace the whole list (`[]` clears).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganization {
    /// The `version` the change is based on.
    pub version: i64,
    #[schema(max_length = 200)]
    pub full_name: Option<String>,
    #[schema(max_length = 50)]
    pub short_name: Option<String>,
    pub aliases: Option<Vec<String>>,
    pub mail_domains: Option<Vec<String>>,
    pub status: Option<OrganizationStatus>,
}

/// Changes an organization (audited: `organization.updated`, naming the
/// fields that changed). Its accounts stay with it.
#[utoipa::path(patch, path = crate::routes::API_ORGANIZATION, tag = "organizations", operation_id = "organizations_update", params(("id" = uuid::Uuid, Path, description = "The organization id.")), request_body = UpdateOrganization,
    responses((status = 200, description = "The organization as changed.", body = OrganizationView),
        (status = 409, description = "A name or mail domain is another organization's (`detail` names it), or `version` is stale.", body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    admin: AdminAuth,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateOrganization>,
) -> Result<Json<OrganizationView>, ApiError> {
    let org = organizations::by_id(&state, org_id(&id)?).await?;
    let mut input = OrgInput::of(&org);
    if let Some(v) = body.full_name {
        input.full_name = v;
    }
    if let Some(v) = body.short_name {
        input.short_name = Some(v);
    }
    if let Some(v) = body.aliases {
        input.aliases = v;
    }
    if let Some(v) = body.mail_domains {
        input.mail_domains = v;
    }
    if let Some(v) = body.status {
        input.status = Some(v);
    }
    let (org, _) = organizations::update(
        &state,
        &org,
        body.version,
        &input,
        &admin.actor,
        &admin.origin,
    )
    .await?;
    Ok(Json(org.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check every line and report, writing nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Imports organizations from CSV (`text/csv`, UTF-8 with or without a
/// byte-order mark; header `full_name,short_name,aliases,mail_domains,status`,
/// aliases and domains separated by `;`). Each line is matched by its full
/// name and created, updated or left unchanged; a refused line is reported
/// with its line number and reason and does not stop the others. Each
/// accepted line is written in its own transaction; `dry_run=true` writes
/// nothing. A file that cannot be read as such (not UTF-8, a bad header,
/// an unclosed quote) is refused whole (422, `field`: `body` or `header`).
#[utoipa::path(post, path = crate::routes::API_ORGANIZATIONS_IMPORT, tag = "organizations", operation_id = "organizations_import", params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file."),
    responses((status = 200, description = "What became of each line.", body = ImportReport)))]
pub async fn import(
    State(state): State<AppState>,
    admin: AdminAuth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media != "text/csv" {
        return Err(ApiError {
            field: Some("Content-Type".into()),
            ..ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "the body must be a CSV file, sent with Content-Type: text/csv",
            )
        });
    }
    let file = org_import::parse(&body).map_err(|e| ApiError::invalid(e.field(), e.to_string()))?;
    let report = org_import::import(&state, file, q.dry_run, &admin.actor, &admin.origin).await?;
    Ok(Json(report))
}
