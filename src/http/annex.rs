//! The controller's annex for one processor (Bilag B / Annex IV of the Commission's clauses):
//! a printable HTML document and the same facts as JSON, tied to the evidence log by the hash
//! of the processor's last event at `as_of`.

use super::auth::Actor;
use super::error::ApiError;
use super::i18n::{Labels, Lang};
use super::openapi::{ControllerId, Forbidden, NotFound, ValidationFailed};
use super::pages::{html, render};
use super::{parse_instant, AppState, Routes};
use crate::domain::agreement::{Agreement, AgreementWithAnnex, Authorisation};
use crate::domain::authorised::{AuthorisedBy, AuthorisedEntry, NotAuthorisedReason};
use crate::domain::party::{Controller, Processor};
use crate::domain::subprocessor::Contact;
use crate::domain::window::ObjectionWindow;
use crate::store::pages::{self, AnnexFacts, EventRef};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, SecondsFormat, Utc};
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
struct AuthorisationFacts {
    /// When: the agreement's `signed_at`, the approval's time, or the end of the window for
    /// tacit consent.
    #[schema(required = true)]
    authorised_at: Option<DateTime<Utc>>,
    /// The window that authorised the entry; null for `agreement`.
    #[schema(required = true)]
    window: Option<WindowDates>,
}

/// The objection window that authorised an entry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = AnnexWindow)]
struct WindowDates {
    opened_at: DateTime<Utc>,
    closes_at: DateTime<Utc>,
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

fn authorisation_of(facts: &AnnexFacts, item: &AuthorisedEntry) -> AuthorisationFacts {
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
            AuthorisedBy::TacitConsent => Some(w.closed_at.unwrap_or(w.closes_at)),
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
    not_authorised: &'a [crate::domain::authorised::NotAuthorisedEntry],
    /// The processor's last event at `as_of` that the controller may see; null if there is
    /// none.
    #[schema(required = true)]
    last_event: Option<&'a EventRef>,
    /// Where to check the evidence chain the `last_event` belongs to.
    verify_url: String,
}

/// The annex's heading: the agreement's own name for it (`annex_name`, "Bilag B" by default)
/// where it shows one agreement (the one in force at `as_of`, or the pair's only one), else
/// the generic title.
fn annex_heading(l: &Labels, agreements: &[AgreementWithAnnex], as_of: DateTime<Utc>) -> String {
    let agreements: Vec<&Agreement> = agreements.iter().map(|a| &a.agreement).collect();
    let in_force: Vec<&Agreement> = agreements
        .iter()
        .copied()
        .filter(|a| a.in_force_at(as_of))
        .collect();
    let one = match (in_force.as_slice(), agreements.as_slice()) {
        ([only], _) | ([], [only]) => Some(*only),
        _ => None,
    };
    match one {
        Some(agreement) => format!("{}: {}", agreement.annex_name, l.annex_subject),
        None => l.annex_title.to_string(),
    }
}

fn verify_url(state: &AppState, pid: &str) -> String {
    format!("{}/v1/processors/{pid}/events/verify", state.public_url)
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
        not_authorised: &facts.list.not_authorised,
        last_event: facts.last_event.as_ref(),
        verify_url: verify_url(&state, &facts.processor.id),
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .json(document))
}

struct ItemRow {
    name: String,
    registration: String,
    address: String,
    contact: String,
    purpose: String,
    locations: String,
    location: &'static str,
    basis: &'static str,
    note: String,
    how: String,
}

struct AlarmRow {
    name: String,
    registration: String,
    locations: String,
    location: &'static str,
    reason: &'static str,
}

#[derive(Template)]
#[template(path = "annex.html")]
struct AnnexView {
    lang: &'static str,
    l: &'static Labels,
    title: String,
    heading: String,
    controller_name: String,
    controller_registration: String,
    controller_contact: String,
    processor_name: String,
    processor_registration: String,
    processor_address: String,
    processor_contact: String,
    as_of: String,
    as_of_iso: String,
    agreements: Vec<String>,
    items: Vec<ItemRow>,
    alarms: Vec<AlarmRow>,
    event_id: String,
    event_hash: String,
    event_at: String,
    verify_url: String,
}

fn contact_text(contact: Option<&Contact>) -> String {
    let Some(contact) = contact else {
        return String::new();
    };
    [&contact.name, &contact.position, &contact.email]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

fn how_text(lang: Lang, facts: &AnnexFacts, item: &AuthorisedEntry) -> String {
    let l = lang.labels();
    let authorisation = authorisation_of(facts, item);
    let at = |t: Option<DateTime<Utc>>| t.map(|t| lang.datetime(t)).unwrap_or_default();
    match item.authorised_by {
        AuthorisedBy::Agreement => {
            format!("{} {}", l.by_agreement, at(authorisation.authorised_at))
        }
        AuthorisedBy::Approved => {
            let mut approved = format!("{} {}", l.by_approval, at(authorisation.authorised_at));
            if item.late {
                approved = format!("{approved} ({})", l.late);
            }
            match &item.instruction {
                Some(instruction) => format!("{approved} — {}: {instruction}", l.instruction),
                None => approved,
            }
        }
        AuthorisedBy::TacitConsent => match authorisation.window {
            Some(w) => format!(
                "{} ({} {} – {})",
                l.by_tacit_consent,
                l.window,
                lang.datetime(w.opened_at),
                lang.datetime(w.closes_at)
            ),
            None => format!("{} {}", l.by_tacit_consent, at(authorisation.authorised_at)),
        },
    }
}

/// The controller's annex for one processor, as printable HTML
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token.
///
/// The annex of the agreement(s) between the controller and `processor` (Bilag B /
/// Annex IV of the Commission's clauses, decision 2021/915) at `as_of` (default now): for
/// every authorised entry its name, registration, address, contact, description of
/// processing (purpose), processing locations and transfer basis, and how and when it was
/// authorised (the agreement and when it was signed; an approval and when it was given;
/// tacit consent with the window's dates); the entries in use but not authorised as an
/// alarm section; and the id and hash of the processor's last event at `as_of`, to be
/// checked against `GET /v1/processors/{pid}/events/verify`. Labels as on the processor
/// page (`lang`, `Accept-Language`). No agreement between them: 404. Refusals are
/// problem+json, like every API route.
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
    let l = lang.labels();
    let facts = load(&state, &actor, path.into_inner(), &query).await?;
    let items = facts
        .list
        .items
        .iter()
        .map(|item| {
            let e = &item.entry;
            ItemRow {
                name: e.name.clone(),
                registration: lang.registration(e.registration.as_ref()),
                address: format!("{}, {}", e.address, lang.country(&e.country)),
                contact: contact_text(e.contact.as_ref()),
                purpose: e.purpose.clone(),
                locations: lang.countries(&e.processing_locations),
                location: lang.location(e.location),
                basis: lang.transfer_basis(e.transfer_basis),
                note: e.transfer_basis_note.clone().unwrap_or_default(),
                how: how_text(lang, &facts, item),
            }
        })
        .collect();
    let alarms = facts
        .list
        .not_authorised
        .iter()
        .map(|item| {
            let e = &item.entry;
            AlarmRow {
                name: e.name.clone(),
                registration: lang.registration(e.registration.as_ref()),
                locations: lang.countries(&e.processing_locations),
                location: lang.location(e.location),
                reason: match item.reason {
                    NotAuthorisedReason::Objected => l.reason_objected,
                    NotAuthorisedReason::NotApproved => l.reason_not_approved,
                    NotAuthorisedReason::InUseBeforeWindowClosed => l.reason_in_use,
                    NotAuthorisedReason::InUseWithoutAuthorisation => {
                        l.reason_in_use_without_authorisation
                    }
                },
            }
        })
        .collect();
    let agreements = facts
        .agreements
        .iter()
        .map(|a| &a.agreement)
        .map(|a| {
            let terms = match a.authorisation {
                Authorisation::General => l.general_authorisation,
                Authorisation::Specific => l.specific_authorisation,
            };
            format!(
                "{} ({}, {} {}; {terms}, {} {})",
                a.reference.clone().unwrap_or_else(|| a.id.clone()),
                a.id,
                l.signed,
                lang.datetime(a.signed_at),
                a.notice_days,
                l.notice_days
            )
        })
        .collect();
    let processor = &facts.processor;
    let controller = &facts.controller;
    let event = facts.last_event.as_ref();
    let heading = annex_heading(l, &facts.agreements, facts.list.as_of);
    let view = AnnexView {
        lang: lang.code(),
        l,
        title: format!("{heading} — {} / {}", controller.name, processor.name),
        heading,
        controller_name: controller.name.clone(),
        controller_registration: lang.registration(controller.registration.as_ref()),
        controller_contact: controller.contact_email.clone().unwrap_or_default(),
        processor_name: processor.name.clone(),
        processor_registration: lang.registration(processor.registration.as_ref()),
        processor_address: processor.address.clone(),
        processor_contact: processor.contact_email.clone().unwrap_or_default(),
        as_of: lang.datetime(facts.list.as_of),
        as_of_iso: facts.list.as_of.to_rfc3339_opts(SecondsFormat::Secs, true),
        agreements,
        items,
        alarms,
        event_id: event.map(|e| e.id.clone()).unwrap_or_default(),
        event_hash: event.map(|e| e.hash.clone()).unwrap_or_default(),
        event_at: event
            .map(|e| lang.datetime(e.occurred_at))
            .unwrap_or_default(),
        verify_url: verify_url(&state, &processor.id),
    };
    let mut response = html(StatusCode::OK, render(&view)?);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(response)
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(annex_html, annex_json))]
pub struct Api;
