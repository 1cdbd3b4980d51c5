//! The controller's annex for one processor (Bilag B / Annex IV of the Commission's clauses):
//! a printable HTML document and the same facts as JSON, tied to the evidence log by the hash
//! of the processor's last event at `as_of`.

use super::auth::Actor;
use super::error::ApiError;
use super::i18n::Lang;
use super::openapi::{ControllerId, Forbidden, NotFound, ValidationFailed};
use super::pages::{html, render};
use super::{annex_view, parse_instant, AppState, Routes};
use crate::domain::agreement::AgreementWithAnnex;
use crate::domain::authorised::{AuthorisedBy, AuthorisedEntry, ExcludedEntry};
use crate::domain::party::{Controller, Processor};
use crate::domain::window::ObjectionWindow;
use crate::store::pages::{self, AnnexFacts, EventRef};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/v1/controllers/{cid}/annex", annex_html)
        .add(Method::GET, "/v1/controllers/{cid}/annex.json", annex_json);
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct AnnexQuery {
    /// The processor the annex is for; missing is a field error (422). No agreement between
    /// the controller and this processor: 404.
    #[param(required = true, value_type = crate::domain::party::Slug, example = "timengo-dpg")]
    processor: Option<String>,
    /// An RFC 3339 instant (years 1 to 9999), e.g. `2026-11-23T12:00:00Z`; default now. Not
    /// such an instant: 422 (field `as_of`).
    #[param(format = DateTime, example = "2026-11-23T12:00:00Z")]
    as_of: Option<String>,
    /// The language of the HTML annex, overriding `Accept-Language`; the JSON ignores it.
    lang: Option<Lang>,
}

/// Checks who asks and loads the facts; shared by the HTML and the JSON.
async fn load(
    state: &AppState,
    actor: &Actor,
    cid: String,
    query: &AnnexQuery,
) -> Result<AnnexFacts, ApiError> {
    actor.require_controller(&cid)?;
    let pid = query
        .processor
        .clone()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            super::error::invalid(
                "processor",
                "`processor` is required: the id of the processor the annex is for",
            )
        })?;
    let as_of = match query.as_of.as_deref() {
        Some(text) => parse_instant("as_of", text)?,
        None => state.clock.now(),
    };
    state
        .db(move |conn| pages::annex(conn, &cid, &pid, as_of))
        .await
}

/// How and when an entry was authorised, with the window dates for tacit consent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct AuthorisationFacts {
    /// When: the agreement's `signed_at`, the approval's time, or the end of the window for
    /// tacit consent.
    #[schema(required = true)]
    pub(super) authorised_at: Option<DateTime<Utc>>,
    /// The window that authorised the entry; null for `agreement`.
    #[schema(required = true)]
    window: Option<WindowDates>,
}

/// The objection window that authorised an entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AnnexWindow)]
struct WindowDates {
    opened_at: DateTime<Utc>,
    /// Null while the window waits for its notice's dispatch.
    #[schema(required = true)]
    closes_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    closed_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    decided_at: Option<DateTime<Utc>>,
}

fn window_dates(window: &ObjectionWindow) -> WindowDates {
    WindowDates {
        opened_at: window.opened_at,
        closes_at: window.closes_at,
        closed_at: window.closed_at,
        decided_at: window.decided_at,
    }
}

pub(super) fn authorisation_of(facts: &AnnexFacts, item: &AuthorisedEntry) -> AuthorisationFacts {
    let window = item.window_id.as_ref().and_then(|w| facts.windows.get(w));
    let authorised_at = match window {
        // On the agreement's annex: from signing, or from the earlier decision it records.
        None => facts
            .agreements
            .iter()
            .find(|a| a.agreement.id == item.agreement_id)
            .and_then(|a| {
                a.authorised_at_signing
                    .iter()
                    .find(|e| e.subprocessor_id == item.entry.id)
            })
            .map(|e| e.decided_at),
        Some(w) => match item.authorised_by {
            // Silence authorises when the window ends.
            AuthorisedBy::TacitConsent => w.closed_at.or(w.closes_at),
            AuthorisedBy::Agreement | AuthorisedBy::Approved => w
                .approval
                .as_ref()
                .map(|a| a.at)
                .or(w.decided_at)
                .or(w.closed_at),
        },
    };
    AuthorisationFacts {
        authorised_at,
        window: window.map(window_dates),
    }
}

/// An authorised entry with the Annex IV fields and how and when it was authorised.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AnnexEntry)]
struct AnnexItem<'a> {
    #[serde(flatten)]
    entry: &'a AuthorisedEntry,
    /// Annex IV's name for the entry's `purpose`.
    description_of_processing: &'a str,
    #[serde(flatten)]
    #[schema(inline)]
    authorisation: AuthorisationFacts,
}

/// A controller's annex for one processor (Annex IV of decision 2021/915).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Annex)]
struct AnnexDocument<'a> {
    controller: &'a Controller,
    processor: &'a Processor,
    as_of: DateTime<Utc>,
    /// The agreements between the controller and the processor signed by `as_of`.
    agreements: &'a [AgreementWithAnnex],
    items: Vec<AnnexItem<'a>>,
    /// Entries the processor excluded for this controller after it refused them.
    excluded: &'a [ExcludedEntry],
    /// Windows that authorised an entry whose change has not taken effect yet (authorised,
    /// not yet in use), each with its change.
    authorised_not_in_use: Vec<&'a ObjectionWindow>,
    /// Windows whose change has not taken effect and that have not authorised it: open (with
    /// their deadline, `closes_at` and `closes_on_local_date`) or refused; each with its change.
    pending: Vec<&'a ObjectionWindow>,
    not_authorised: &'a [crate::domain::authorised::NotAuthorisedEntry],
    /// The processor's last event at `as_of` that the controller may see; null if there is
    /// none.
    #[schema(required = true)]
    last_event: Option<&'a EventRef>,
    /// Where to check the evidence chain the `last_event` belongs to.
    verify_url: String,
    /// The newest signed checkpoint of the processor's log at `as_of` (a C2SP signed note:
    /// origin, size, root, signature); null before the log has one.
    #[schema(required = true)]
    checkpoint: Option<AnnexCheckpoint>,
    /// The controller's evidence bundle for this processor: its events with inclusion proofs
    /// to the latest checkpoint, verifiable offline with `subreg verify-evidence`.
    evidence_url: String,
}

/// A signed checkpoint as the annex cites it.
#[derive(Serialize, utoipa::ToSchema)]
struct AnnexCheckpoint {
    #[schema(minimum = 0)]
    size: i64,
    /// The tree's root hash in hex (the note carries it in base64).
    root: String,
    /// The whole signed note.
    note: String,
}

fn verify_url(state: &AppState, pid: &str) -> String {
    format!("{}/v1/processors/{pid}/events/verify", state.public_url)
}

fn evidence_url(state: &AppState, cid: &str, pid: &str) -> String {
    format!(
        "{}/v1/controllers/{cid}/evidence?processor={pid}",
        state.public_url
    )
}

/// The controller's annex for one processor, as JSON
///
/// The same facts as `GET /v1/controllers/{cid}/annex`, as JSON. Same access rules.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/annex.json",
    tag = "windows",
    operation_id = "getAnnex",
    params(ControllerId, AnnexQuery),
    responses(
        (status = 200, description = "The annex.", body = AnnexDocument),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn annex_json(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<AnnexQuery>,
) -> Result<HttpResponse, ApiError> {
    let facts = load(&state, &actor, path.into_inner(), &query).await?;
    let document = AnnexDocument {
        controller: &facts.controller,
        processor: &facts.processor,
        as_of: facts.list.as_of,
        agreements: &facts.agreements,
        items: facts
            .list
            .items
            .iter()
            .map(|item| AnnexItem {
                entry: item,
                description_of_processing: &item.entry.purpose,
                authorisation: authorisation_of(&facts, item),
            })
            .collect(),
        excluded: &facts.list.excluded,
        authorised_not_in_use: facts
            .upcoming
            .iter()
            .filter(|w| annex_view::authorised_by(w, facts.list.as_of))
            .collect(),
        pending: facts
            .upcoming
            .iter()
            .filter(|w| !annex_view::authorised_by(w, facts.list.as_of))
            .collect(),
        not_authorised: &facts.list.not_authorised,
        last_event: facts.last_event.as_ref(),
        verify_url: verify_url(&state, &facts.processor.id),
        checkpoint: facts.checkpoint.as_ref().map(|c| AnnexCheckpoint {
            size: c.size,
            root: c.root.clone(),
            note: c.note.clone(),
        }),
        evidence_url: evidence_url(&state, &facts.controller.id, &facts.processor.id),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(document))
}

/// The controller's annex for one processor, as printable HTML
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token.
///
/// The annex of the agreement(s) between the controller and `processor` at `as_of` (default
/// now), titled with the agreement's `annex_name` ("Bilag B – Liste over godkendte
/// underdatabehandlere" under Datatilsynet's standard clauses, Annex IV under decision
/// 2021/915), one row per entry with Bilag B's columns (name, CVR number, address,
/// description of processing) plus Annex IV's contact person, the processing locations and
/// transfer basis, and how and when it was authorised. Sections: authorised and in use;
/// authorised but not yet in use; announced and not yet authorised (with the deadline); excluded
/// for this controller; conflicts with the agreement's terms; in use but not authorised (the
/// alarm); and the evidence checkpoint (the hash of the processor's last event at `as_of`, to
/// be checked against `GET /v1/processors/{pid}/events/verify`). No internal ids. Prints on A4
/// (`@media print`); the stylesheet is inlined so a saved copy prints styled. Language from
/// `lang` or `Accept-Language`. No agreement between them: 404. Refusals are problem+json,
/// like every API route.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/annex",
    tag = "windows",
    operation_id = "getAnnexHtml",
    params(ControllerId, AnnexQuery),
    responses(
        (status = 200, description = "The annex.", body = String, content_type = "text/html"),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn annex_html(
    state: web::Data<AppState>,
    req: HttpRequest,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<AnnexQuery>,
) -> Result<HttpResponse, ApiError> {
    let lang = Lang::negotiate(&req, query.lang);
    let facts = load(&state, &actor, path.into_inner(), &query).await?;
    let view = annex_view::view(
        lang,
        &facts,
        verify_url(&state, &facts.processor.id),
        evidence_url(&state, &facts.controller.id, &facts.processor.id),
    );
    let mut response = html(StatusCode::OK, render(&view)?);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    // The stylesheet is inlined (a saved copy prints styled): allow exactly it.
    if let Ok(csp) = header::HeaderValue::from_str(&annex_view::ANNEX_CSP) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(annex_html, annex_json))]
pub struct Api;
