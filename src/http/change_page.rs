//! The public HTML page of one change (`/processors/{pid}/changes/{chid}`): what a feed
//! entry's `alternate` link and a notice's "view" link open. Da/en like the processor page;
//! the facts are built once here and reused by the decision page (http/decide.rs).

use super::conditional::{self, Cached};
use super::error::ApiError;
use super::feeds::ReadVersion;
use super::i18n::Lang;
use super::openapi::ProcessorId;
use super::pages::{chain_line, html_headers, render, HTML};
use super::{AppState, Routes};
use crate::domain::change::{Change, ChangeKind, ChangeState};
use crate::domain::geography::Location;
use crate::domain::language::{last_day, pick};
use crate::domain::subprocessor::Subprocessor;
use crate::store::pages::ChangePage;
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use chrono::{DateTime, Timelike, Utc};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes.add(Method::GET, "/processors/{pid}/changes/{chid}", change_page);
}

/// One line of the facts list: a term and its value.
pub(crate) struct Fact {
    pub term: &'static str,
    pub value: String,
}

/// The words of the change page (and the decision page's change part).
pub(crate) struct Words {
    pub kind: &'static str,
    pub subprocessor: &'static str,
    pub registration: &'static str,
    pub cvr: &'static str,
    pub address: &'static str,
    pub locations: &'static str,
    pub access: &'static str,
    pub eea: &'static str,
    pub transfer_basis: &'static str,
    pub transfer_note: &'static str,
    pub purpose: &'static str,
    pub replaces: &'static str,
    pub modifies: &'static str,
    pub state: &'static str,
    pub announced_at: &'static str,
    pub planned_from: &'static str,
    pub effective_at: &'static str,
    pub withdrawn_at: &'static str,
    pub deadline: &'static str,
    pub end_of: &'static str,
    pub not_planned: &'static str,
    pub back_to: &'static str,
    pub json: &'static str,
    pub language: &'static str,
    pub of: &'static str,
    pub by: &'static str,
}

pub(crate) static DA: Words = Words {
    kind: "Ændring",
    subprocessor: "Underdatabehandler",
    registration: "Registreringsnr.",
    cvr: "CVR-nr.",
    address: "Adresse",
    locations: "Lokalitet(er) for behandling",
    access: "Tilgås fra",
    eea: "Inden for / uden for EØS",
    transfer_basis: "Overførselsgrundlag",
    transfer_note: "Bemærkning om overførsel",
    purpose: "Beskrivelse af behandlingen",
    replaces: "Erstatter",
    modifies: "Ændrer",
    state: "Status",
    announced_at: "Varslet",
    planned_from: "Planlagt ibrugtagning",
    effective_at: "Taget i brug",
    withdrawn_at: "Trukket tilbage",
    deadline:
        "Seneste indsigelsesfrist (den enkelte dataansvarliges frist følger af dennes aftale)",
    end_of: "ved udgangen af",
    not_planned: "ikke planlagt",
    back_to: "Underdatabehandlere anvendt af",
    json: "Ændringen som JSON",
    language: "English",
    of: "af",
    by: "Databehandler",
};

pub(crate) static EN: Words = Words {
    kind: "Change",
    subprocessor: "Sub-processor",
    registration: "Registration",
    cvr: "CVR no.",
    address: "Address",
    locations: "Processing locations",
    access: "Accessed from",
    eea: "EEA",
    transfer_basis: "Transfer basis",
    transfer_note: "Transfer note",
    purpose: "Purpose (description of processing)",
    replaces: "Replaces",
    modifies: "Modifies",
    state: "State",
    announced_at: "Announced",
    planned_from: "Planned from",
    effective_at: "In use since",
    withdrawn_at: "Withdrawn",
    deadline: "Latest objection deadline (each controller's follows from its agreement)",
    end_of: "the end of",
    not_planned: "not planned",
    back_to: "Sub-processors of",
    json: "This change as JSON",
    language: "Dansk",
    of: "of",
    by: "Processor",
};

pub(crate) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
}

pub(crate) fn kind_word(lang: Lang, kind: ChangeKind) -> &'static str {
    match (lang, kind) {
        (Lang::Da, ChangeKind::Addition) => "Tilføjelse",
        (Lang::Da, ChangeKind::Replacement) => "Udskiftning",
        (Lang::Da, ChangeKind::Modification) => "Ændring",
        (Lang::Da, ChangeKind::Removal) => "Ophør",
        (Lang::En, ChangeKind::Addition) => "Addition",
        (Lang::En, ChangeKind::Replacement) => "Replacement",
        (Lang::En, ChangeKind::Modification) => "Modification",
        (Lang::En, ChangeKind::Removal) => "Removal",
    }
}

fn state_word(lang: Lang, state: ChangeState) -> &'static str {
    match (lang, state) {
        (Lang::Da, ChangeState::Draft) => "Kladde",
        (Lang::Da, ChangeState::Announced) => "Varslet",
        (Lang::Da, ChangeState::Effective) => "Gennemført (taget i brug)",
        (Lang::Da, ChangeState::Withdrawn) => "Trukket tilbage",
        (Lang::Da, ChangeState::Blocked) => {
            "Ikke taget i brug: en dataansvarlig har afvist ændringen, og databehandleren har endnu ikke løst det"
        }
        (Lang::En, ChangeState::Draft) => "Draft",
        (Lang::En, ChangeState::Announced) => "Announced",
        (Lang::En, ChangeState::Effective) => "Effective (in use)",
        (Lang::En, ChangeState::Withdrawn) => "Withdrawn",
        (Lang::En, ChangeState::Blocked) => {
            "Blocked until the processor resolves a customer's refusal"
        }
    }
}

/// A deadline as people write it: "ved udgangen af 1. december 2026" when it falls at
/// midnight Danish time (as deadlines do), else the instant.
/// A window's deadline as people write it, or that it waits for its notice's dispatch.
pub(crate) fn window_deadline_text(lang: Lang, closes_at: Option<DateTime<Utc>>) -> String {
    match (closes_at, lang) {
        (Some(at), _) => deadline_text(lang, at),
        (None, Lang::Da) => "løber fra det tidspunkt, hvor underretningen er afsendt".into(),
        (None, Lang::En) => "runs from when the notice is sent".into(),
    }
}

pub(crate) fn deadline_text(lang: Lang, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&chrono_tz::Europe::Copenhagen);
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        format!("{} {}", words(lang).end_of, lang.day(last_day(at)))
    } else {
        lang.datetime(at)
    }
}

/// "Tilføjelse af Zendesk, Inc." / "Addition of Zendesk, Inc.".
pub(crate) fn heading(lang: Lang, change: &Change) -> String {
    let name = change
        .subprocessor
        .as_ref()
        .map(|s| s.name.as_str())
        .unwrap_or("?");
    format!("{} {} {name}", kind_word(lang, change.kind), words(lang).of)
}

/// The facts of one change for a person: who, where, why, on what basis, when, and its state.
pub(crate) fn facts(
    lang: Lang,
    change: &Change,
    replaced: Option<&Subprocessor>,
    latest_deadline: Option<DateTime<Utc>>,
) -> Vec<Fact> {
    let w = words(lang);
    let mut facts = vec![Fact {
        term: w.kind,
        value: kind_word(lang, change.kind).into(),
    }];
    if let Some(entry) = &change.subprocessor {
        facts.push(Fact {
            term: w.subprocessor,
            value: entry.name.clone(),
        });
        // "CVR-nr.: 25890140", not "CVR-nr.: CVR 25890140".
        facts.push(match &entry.registration {
            Some(r) if r.scheme == crate::domain::registration::RegistrationScheme::Cvr => Fact {
                term: w.cvr,
                value: r.number.clone(),
            },
            other => Fact {
                term: w.registration,
                value: lang.registration(other.as_ref()),
            },
        });
        facts.push(Fact {
            term: w.address,
            value: format!("{}, {}", entry.address, lang.country(&entry.country)),
        });
        facts.push(Fact {
            term: w.locations,
            value: lang.countries(&entry.processing_locations),
        });
        if !entry.access_locations.is_empty() {
            facts.push(Fact {
                term: w.access,
                value: lang.countries(&entry.access_locations),
            });
        }
        facts.push(Fact {
            term: w.eea,
            value: lang.location(entry.location).into(),
        });
        facts.push(Fact {
            term: w.transfer_basis,
            value: lang.transfer_basis(entry.transfer_basis).into(),
        });
        if let Some(note) = &entry.transfer_basis_note {
            facts.push(Fact {
                term: w.transfer_note,
                value: note.clone(),
            });
        }
        let mut purpose = pick(lang, &entry.purpose, entry.purpose_en.as_deref()).to_string();
        let chain = chain_line(lang, entry);
        if !chain.is_empty() {
            purpose = format!("{purpose}. {chain}");
        }
        facts.push(Fact {
            term: w.purpose,
            value: purpose,
        });
        if entry.location == Location::ThirdCountry && entry.transfer_basis.is_none() {
            // Cannot happen for a validated entry; nothing more to say.
        }
    }
    if let Some(replaced) = replaced {
        facts.push(Fact {
            term: match change.kind {
                ChangeKind::Modification => w.modifies,
                _ => w.replaces,
            },
            value: replaced.name.clone(),
        });
    }
    facts.push(Fact {
        term: w.state,
        value: state_word(lang, change.state).into(),
    });
    if let Some(at) = change.announced_at {
        facts.push(Fact {
            term: w.announced_at,
            value: lang.datetime(at),
        });
    }
    facts.push(Fact {
        term: w.planned_from,
        value: change
            .planned_from
            .map_or_else(|| w.not_planned.to_string(), |at| lang.datetime(at)),
    });
    if let (Some(at), ChangeState::Announced | ChangeState::Blocked) =
        (latest_deadline, change.state)
    {
        facts.push(Fact {
            term: w.deadline,
            value: deadline_text(lang, at),
        });
    }
    if let Some(at) = change.effective_at {
        facts.push(Fact {
            term: w.effective_at,
            value: lang.datetime(at),
        });
    }
    if let Some(at) = change.withdrawn_at {
        facts.push(Fact {
            term: w.withdrawn_at,
            value: lang.datetime(at),
        });
    }
    facts
}

#[derive(Template)]
#[template(path = "change.html")]
struct ChangeView {
    lang: &'static str,
    l: &'static super::i18n::Labels,
    title: String,
    other_lang: &'static str,
    other_lang_url: String,
    other_lang_label: &'static str,
    processor_url: String,
    back: String,
    heading: String,
    processor_line: String,
    summary: String,
    facts: Vec<Fact>,
    json_url: String,
    json_label: &'static str,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ChangeParams {
    /// The page's language, overriding `Accept-Language`.
    lang: Option<Lang>,
}

fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Da => Lang::En,
        Lang::En => Lang::Da,
    }
}

/// The public page of one change (HTML)
///
/// Public. Server-rendered HTML (no JavaScript) of an announced, blocked, effective or
/// withdrawn change: its kind; the sub-processor with its registration, address and country,
/// processing (and access) locations by country name, inside or outside the EEA, the transfer
/// basis in words with its note, and the description of processing; the entry it replaces or
/// modifies, by name; its state; when it was announced, when it is planned to start, the
/// latest objection deadline while it is open, and when it took effect or was withdrawn. What
/// the feed entries' `alternate` links open. Danish or English by `lang` or
/// `Accept-Language`, as the processor page. A draft, an unknown change or processor is an
/// HTML 404.
#[utoipa::path(
    get,
    path = "/processors/{pid}/changes/{chid}",
    tag = "pages",
    operation_id = "changePage",
    security(()),
    params(
        ProcessorId,
        super::openapi::ChangeId,
        ChangeParams,
        (
            "If-None-Match" = Option<String>,
            Header,
            nullable = false,
            description = "An `ETag` from an earlier answer; 304 when the page is unchanged."
        ),
        (
            "If-Modified-Since" = Option<String>,
            Header,
            nullable = false,
            description = "A `Last-Modified` from an earlier answer; used only without `If-None-Match`."
        ),
    ),
    responses(
        (
            status = 200,
            description = "The page.",
            body = String,
            content_type = "text/html",
            headers(
                ("ETag" = String, description = "Strong validator of the page (the processor's \
                    newest public event, the change's latest deadline, language); a compressed \
                    answer's tag has the content coding appended (`\"…-gzip\"`, `\"…-br\"`)."),
                ("Last-Modified" = String, description = "When the processor's newest public \
                    event occurred."),
            )
        ),
        (
            status = 304,
            description = "Not modified since the validator the client sent; no body.",
            headers(
                ("ETag" = String, description = "The page's current validator."),
                ("Last-Modified" = String, description = "When the page last changed."),
            )
        ),
        (
            status = 404,
            description = "No such public change; an HTML page saying so.",
            body = String,
            content_type = "text/html"
        ),
    )
)]
async fn change_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    query: web::Query<ChangeParams>,
) -> Result<HttpResponse, ApiError> {
    let (pid, chid) = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let (lookup_pid, lookup_chid) = (pid.clone(), chid.clone());
    let version = conditional::version(&state, &format!("change\n{pid}\n{chid}"), move |conn| {
        match crate::store::pages::change_version(conn, &lookup_pid, &lookup_chid)? {
            Some(v) => Ok(ReadVersion {
                key: v.key(),
                last_modified: v.last_at,
            }),
            // A draft has no public page: answered as an unknown change.
            None => Err(crate::store::StoreError::not_found("change", lookup_chid)),
        }
    })
    .await;
    let version = match version {
        Ok(version) => version,
        Err(ApiError::NotFound(_)) => return super::pages::not_found(lang, &req),
        Err(other) => return Err(other),
    };
    let key = format!("change\n{pid}\n{chid}\n{}", lang.code());
    let rendered = match conditional::lookup(&state, &req, &key, &version, true) {
        Cached::NotModified(validators_only) => {
            return Ok(conditional::not_modified_answer(
                &validators_only,
                html_headers,
            ))
        }
        Cached::Hit(hit) => hit,
        Cached::Miss => {
            let found = state
                .db(move |conn| crate::store::pages::change_page(conn, &pid, &chid))
                .await;
            let page = match found {
                Ok(page) if page.change.state != ChangeState::Draft => page,
                Ok(_) | Err(ApiError::NotFound(_)) => return super::pages::not_found(lang, &req),
                Err(other) => return Err(other),
            };
            let body = Bytes::from(render(&change_view(&state.public_url, lang, &page))?);
            conditional::store(&state, &key, version, body, true)
        }
    };
    Ok(conditional::fresh_answer(rendered, HTML, html_headers))
}

fn change_view(public_url: &str, lang: Lang, page: &ChangePage) -> ChangeView {
    let w = words(lang);
    let change = &page.change;
    let pid = &page.processor.id;
    let heading = heading(lang, change);
    ChangeView {
        lang: lang.code(),
        l: lang.labels(),
        title: format!("{heading} — {}", page.processor.name),
        other_lang: other(lang).code(),
        other_lang_url: format!(
            "/processors/{pid}/changes/{}?lang={}",
            change.id,
            other(lang).code()
        ),
        other_lang_label: w.language,
        processor_url: format!("/processors/{pid}?lang={}", lang.code()),
        back: format!("← {} {}", w.back_to, page.processor.name),
        heading,
        processor_line: format!(
            "{}: {} ({})",
            w.by,
            page.processor.name,
            lang.registration(page.processor.registration.as_ref())
        ),
        summary: pick(lang, &change.summary, change.summary_en.as_deref()).to_string(),
        facts: facts(lang, change, page.replaced.as_ref(), page.latest_deadline),
        json_url: format!("{public_url}/v1/processors/{pid}/changes/{}", change.id),
        json_label: w.json,
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(change_page))]
pub struct Api;
