//! The public HTML pages: a processor's sub-processor page and the index of processors.
//! Rendered by askama (compile-time templates that escape every value), with a strict
//! Content-Security-Policy and the feeds' ETag/304 cache.

use super::conditional::{self, Cached};
use super::error::ApiError;
use super::feeds::ReadVersion;
use super::i18n::{Labels, Lang};
use super::openapi::{ProcessorId, ValidationFailed};
use super::{AppState, Routes};
use crate::domain::change::{Change, ChangeKind, ChangeState};
use crate::domain::language::pick;
use crate::domain::party::Processor;
use crate::store::pages::{self, ProcessorPage};
use crate::store::{organisations, PageRequest};
use actix_web::http::{header, Method, StatusCode};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use askama::Template;
use chrono::SecondsFormat;
use serde::Deserialize;

/// Effective changes per history page.
pub const HISTORY_PAGE_SIZE: i64 = 20;
/// Processors per index page.
const INDEX_PAGE_SIZE: i64 = 100;
pub(crate) const HTML: &str = "text/html; charset=utf-8";
/// No scripts at all; styles only from our own stylesheet, so no inline style needs a hash.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors 'none'";
const STYLESHEET: &str = include_str!("../../static/subreg.css");

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/processors", index)
        .add(Method::GET, "/processors/{pid}", processor_page)
        .add(Method::GET, "/static/subreg.css", stylesheet);
}

/// The headers every HTML answer carries, 304s and 404s included.
pub(crate) fn html_headers(response: &mut HttpResponseBuilder) {
    response
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // The language follows Accept-Language, so shared caches must key on it.
        .insert_header((header::VARY, "Accept-Language"));
}

pub(crate) fn render<T: Template>(template: &T) -> Result<String, ApiError> {
    template
        .render()
        .map_err(|e| ApiError::Internal(format!("template: {e}")))
}

pub(crate) fn html(status: StatusCode, body: String) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    html_headers(&mut response);
    response.content_type(HTML).body(body)
}

#[derive(Template)]
#[template(path = "not_found.html")]
struct NotFoundView {
    lang: &'static str,
    l: &'static Labels,
    title: &'static str,
    path: String,
}

/// An HTML 404 (a person followed a link), escaped like every other page.
pub(crate) fn not_found(lang: Lang, req: &HttpRequest) -> Result<HttpResponse, ApiError> {
    let l = lang.labels();
    let body = render(&NotFoundView {
        lang: lang.code(),
        l,
        title: l.not_found,
        path: req.path().to_string(),
    })?;
    Ok(html(StatusCode::NOT_FOUND, body))
}

/// The pages' stylesheet
///
/// Public. The one stylesheet of the HTML pages, served from the same origin so the
/// Content-Security-Policy needs no inline styles.
#[utoipa::path(
    get,
    path = "/static/subreg.css",
    tag = "pages",
    operation_id = "stylesheet",
    security(()),
    responses((status = 200, description = "The stylesheet.", body = String, content_type = "text/css"))
)]
async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(STYLESHEET)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct PageParams {
    /// The page's language, overriding `Accept-Language`.
    lang: Option<Lang>,
    /// The page of the change history, from 1 (the newest changes); past the last page: 404.
    /// 0, negative numbers and non-numbers are refused with 400 (by the query extractor).
    #[param(value_type = Option<i64>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<std::num::NonZeroU32>,
}

struct EntryRow {
    name: String,
    registration: String,
    address: String,
    locations: String,
    location: &'static str,
    outside: bool,
    basis: &'static str,
    note: String,
    /// The adequacy decisions behind an `adequacy_decision` basis, cited with number and date.
    decisions: String,
    /// "Accessed from …", or empty.
    access: String,
    /// The entry's own sub-processors on one line, or empty.
    chain: String,
    purpose: String,
    /// The day the entry came into use, or empty.
    in_use_since: String,
}

struct AnnouncedRow {
    kind: &'static str,
    name: String,
    replaces: String,
    detail: String,
    summary: String,
    planned_from: String,
    /// Why it has not started although `planned_from` passed (a blocked change); else empty.
    status: &'static str,
    object_until: String,
}

struct HistoryRow {
    effective: String,
    kind: &'static str,
    name: String,
    summary: String,
}

#[derive(Template)]
#[template(path = "processor.html")]
struct ProcessorView {
    lang: &'static str,
    l: &'static Labels,
    title: String,
    other_lang: &'static str,
    other_lang_url: String,
    processor_name: String,
    processor_registration: String,
    processor_address: String,
    /// The processor's e-mail address for questions and notices, or empty.
    contact_email: String,
    updated: String,
    updated_iso: String,
    feed_url: String,
    /// The e-mail subscription form posts here.
    subscribe_url: String,
    json_url: String,
    csv_url: String,
    /// The API description, where webhooks are documented for developers.
    api_docs_url: String,
    rows: Vec<EntryRow>,
    announced: Vec<AnnouncedRow>,
    history: Vec<HistoryRow>,
    newer_url: String,
    older_url: String,
}

fn other(lang: Lang) -> Lang {
    match lang {
        Lang::Da => Lang::En,
        Lang::En => Lang::Da,
    }
}

fn kind_label(l: &Labels, kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Addition => l.kind_addition,
        ChangeKind::Replacement => l.kind_replacement,
        ChangeKind::Removal => l.kind_removal,
        ChangeKind::Modification => l.kind_modification,
    }
}

fn change_name(change: &Change) -> String {
    change
        .subprocessor
        .as_ref()
        .map(|s| s.name.clone())
        .unwrap_or_default()
}

/// The processor's public sub-processor page (HTML)
///
/// Public. Server-rendered HTML (no JavaScript) that a processor links to from its DPA and
/// website: the processor's e-mail address for questions; the current list as a table (name,
/// registration as "CVR 13612870", address, processing locations by country name, EEA /
/// outside the EEA, transfer basis in words with its note and, for an adequacy decision, the
/// decision's title, number and date, purpose, and the day the entry came into use); announced
/// changes with when they are planned and until when controllers may object; the history of
/// effective changes, newest first, 20 a page (`page`); and how to follow changes, in plain
/// words: what the Atom feed is and how to add it to a feed reader or Outlook (the feed is also
/// announced in the head as `<link rel="alternate" type="application/atom+xml">` so feed
/// readers find it from this URL), how to get notices by e-mail, where webhooks are documented
/// (this API description), and the JSON and CSV exports. No internal ids.
///
/// Labels follow `Accept-Language` (Danish for `da`, English otherwise; `Vary:
/// Accept-Language`) unless `lang` overrides it; dates are in the reader's language in
/// Europe/Copenhagen time with the zone shown. Every value is HTML-escaped by the
/// template engine. Strict headers as on `/processors`. The `ETag` changes with the
/// processor's newest event and the language; `If-None-Match` (or, without it,
/// `If-Modified-Since`) gives 304. An unknown processor, or a history page past the last
/// one, is an HTML 404.
#[utoipa::path(
    get,
    path = "/processors/{pid}",
    tag = "pages",
    operation_id = "processorPage",
    security(()),
    params(
        ProcessorId,
        PageParams,
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
                ("ETag" = String, description = "Strong validator of the page (processor, newest \
                    event, language, history page); a compressed answer's tag has the content \
                    coding appended (`\"…-gzip\"`, `\"…-br\"`)."),
                ("Last-Modified" = String, description = "When the processor's newest event \
                    occurred (or the processor was created, if it has none)."),
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
            description = "No such processor, or a history page past the last one; an HTML page \
                saying so.",
            body = String,
            content_type = "text/html"
        ),
    )
)]
async fn processor_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let page = query.page.map_or(1, |p| i64::from(p.get()));
    let version = match conditional::processor_version(&state, &pid).await {
        Ok(version) => version,
        Err(ApiError::NotFound(_)) => return not_found(lang, &req),
        Err(other) => return Err(other),
    };
    let key = format!("page\n{pid}\n{}\n{page}", lang.code());
    let rendered = match conditional::lookup(&state, &req, &key, &version, true) {
        Cached::NotModified(validators_only) => {
            return Ok(conditional::not_modified_answer(
                &validators_only,
                html_headers,
            ))
        }
        Cached::Hit(hit) => hit,
        Cached::Miss => {
            let offset = (page - 1) * HISTORY_PAGE_SIZE;
            let load = pid.clone();
            let facts = state
                .db(move |conn| pages::processor_page(conn, &load, offset, HISTORY_PAGE_SIZE))
                .await?;
            // A page past the history's end is not rendered or cached: any number of them
            // would otherwise each cost a render and a cache slot.
            if page > 1 && offset >= facts.history_total {
                return not_found(lang, &req);
            }
            let last_at = version.last_modified;
            let view = processor_view(&state.public_url, lang, page, last_at, facts);
            let body = Bytes::from(render(&view)?);
            conditional::store(&state, &key, version, body, true)
        }
    };
    Ok(conditional::fresh_answer(rendered, HTML, html_headers))
}

/// An entry's own sub-processors, compactly: "Its sub-processors: Infosys Ltd (India; India,
/// accessed from India) — Second-line support; …".
pub(super) fn chain_line(lang: Lang, entry: &crate::domain::subprocessor::Subprocessor) -> String {
    if entry.sub_subprocessors.is_empty() {
        return String::new();
    }
    let l = lang.labels();
    let items: Vec<String> = entry
        .sub_subprocessors
        .iter()
        .map(|s| {
            let mut places = format!(
                "{}; {}",
                lang.country(&s.country),
                lang.countries(&s.processing_locations)
            );
            if !s.access_locations.is_empty() {
                places.push_str(&format!(
                    "; {} {}",
                    l.accessed_from.to_lowercase(),
                    lang.countries(&s.access_locations)
                ));
            }
            format!(
                "{} ({places}) — {}",
                s.name,
                pick(lang, &s.purpose, s.purpose_en.as_deref())
            )
        })
        .collect();
    format!("{}: {}", l.own_subprocessors, items.join("; "))
}

/// The adequacy decisions an entry's basis rests on, as the Official Journal titles them; with
/// more than one, each names its place.
fn decisions_text(lang: Lang, entry: &crate::domain::subprocessor::Subprocessor) -> String {
    let decisions = entry.adequacy_decisions();
    match decisions.as_slice() {
        [one] => super::adequacy::citation(lang, one),
        several => several
            .iter()
            .map(|d| {
                format!(
                    "{} {} {}",
                    super::adequacy::citation(lang, d),
                    lang.labels().decision_for,
                    lang.country(d.code)
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    }
}

fn processor_view(
    public_url: &str,
    lang: Lang,
    page: i64,
    updated: chrono::DateTime<chrono::Utc>,
    facts: ProcessorPage,
) -> ProcessorView {
    let l = lang.labels();
    let pid = &facts.processor.id;
    let api = format!("{public_url}/v1/processors/{pid}");
    let page_url = |n: i64| format!("/processors/{pid}?lang={}&page={n}", lang.code());
    let rows = facts
        .entries
        .iter()
        .map(|e| EntryRow {
            name: e.name.clone(),
            registration: lang.registration(e.registration.as_ref()),
            address: e.address.clone(),
            locations: lang.countries(&e.processing_locations),
            location: lang.location(e.location),
            outside: e.location == crate::domain::geography::Location::ThirdCountry,
            basis: lang.transfer_basis(e.transfer_basis),
            note: e.transfer_basis_note.clone().unwrap_or_default(),
            decisions: decisions_text(lang, e),
            access: if e.access_locations.is_empty() {
                String::new()
            } else {
                format!(
                    "{} {}",
                    l.accessed_from,
                    lang.countries(&e.access_locations)
                )
            },
            chain: chain_line(lang, e),
            purpose: pick(lang, &e.purpose, e.purpose_en.as_deref()).to_string(),
            in_use_since: e.active_from.map(|at| lang.date(at)).unwrap_or_default(),
        })
        .collect();
    let date = |at: Option<chrono::DateTime<chrono::Utc>>| match at {
        Some(at) => lang.datetime(at),
        None => l.not_planned.to_string(),
    };
    let announced = facts
        .announced
        .iter()
        .map(|a| {
            let entry = a.change.subprocessor.as_ref();
            AnnouncedRow {
                kind: kind_label(l, a.change.kind),
                name: change_name(&a.change),
                replaces: a
                    .replaced
                    .as_ref()
                    .filter(|_| a.change.kind == ChangeKind::Replacement)
                    .map(|r| r.name.clone())
                    .unwrap_or_default(),
                detail: entry
                    .filter(|_| a.change.kind != ChangeKind::Removal)
                    .map(|e| {
                        // Lower case inside brackets: "(inden for EØS)".
                        let location = lang.location(e.location);
                        let mut chars = location.chars();
                        let location: String = chars
                            .next()
                            .map(|first| first.to_lowercase().chain(chars).collect())
                            .unwrap_or_default();
                        format!(
                            "{}; {} ({location})",
                            lang.registration(e.registration.as_ref()),
                            lang.countries(&e.processing_locations),
                        )
                    })
                    .unwrap_or_default(),
                summary: pick(lang, &a.change.summary, a.change.summary_en.as_deref()).to_string(),
                planned_from: date(a.change.planned_from),
                status: match a.change.state {
                    ChangeState::Blocked => l.blocked,
                    _ => "",
                },
                object_until: match (a.change.kind, a.general, a.specific) {
                    // A removal opens no window: there is nothing to object to.
                    (ChangeKind::Removal, _, _) => "—".into(),
                    // Silence is not approval under specific authorisation: no deadline to
                    // object by, but an approval each controller must give first.
                    (_, false, true) => l.prior_approval.into(),
                    (_, true, true) => {
                        format!("{}; {}", date(a.objections_until), l.prior_approval_also)
                    }
                    _ => date(a.objections_until),
                },
            }
        })
        .collect();
    let history = facts
        .history
        .iter()
        .map(|c| HistoryRow {
            effective: date(c.effective_at),
            kind: kind_label(l, c.kind),
            name: change_name(c),
            summary: pick(lang, &c.summary, c.summary_en.as_deref()).to_string(),
        })
        .collect();
    let shown_to = page * HISTORY_PAGE_SIZE;
    ProcessorView {
        lang: lang.code(),
        l,
        title: format!("{} {}", l.subprocessors_of, facts.processor.name),
        other_lang: other(lang).code(),
        other_lang_url: format!("/processors/{pid}?lang={}", other(lang).code()),
        processor_registration: lang.registration(facts.processor.registration.as_ref()),
        processor_address: facts.processor.address.clone(),
        contact_email: facts.processor.contact_email.clone().unwrap_or_default(),
        updated: lang.datetime(updated),
        updated_iso: updated.to_rfc3339_opts(SecondsFormat::Secs, true),
        feed_url: format!("{api}/feed.atom"),
        subscribe_url: format!("/processors/{pid}/subscribe"),
        json_url: format!("{api}/subprocessors"),
        csv_url: format!("{api}/subprocessors.csv"),
        api_docs_url: format!("{public_url}/openapi.yaml"),
        rows,
        announced,
        history,
        newer_url: if page > 1 {
            page_url(page - 1)
        } else {
            String::new()
        },
        older_url: if facts.history_total > shown_to {
            page_url(page + 1)
        } else {
            String::new()
        },
        processor_name: facts.processor.name,
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct IndexParams {
    /// The page's language, overriding `Accept-Language`.
    lang: Option<Lang>,
    /// Part of a name or a registration number, e.g. `timengo` or `35833684`.
    #[param(example = "timengo")]
    q: Option<String>,
    /// Opaque: taken from the page's link to the next page, passed unchanged. A cursor this
    /// site did not give is refused with 422 (field `cursor`). Empty means the first page.
    cursor: Option<String>,
}

struct ProcessorRow {
    url: String,
    name: String,
    registration: String,
    address: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexView {
    lang: &'static str,
    l: &'static Labels,
    title: &'static str,
    other_lang: &'static str,
    other_lang_url: String,
    q: String,
    rows: Vec<ProcessorRow>,
    next_url: String,
}

/// Percent-encodes a query value (the search term goes back into links).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// HTML index of processors, searchable by name or CVR
///
/// Public. Server-rendered HTML (no JavaScript) listing processors, 100 a page, each linking
/// to its sub-processor page. `q` matches the name (case-insensitively) or the registration
/// number. Labels in Danish or English (see `lang`). Sent with a strict
/// Content-Security-Policy (`default-src 'none'; style-src 'self'; ...`),
/// `X-Content-Type-Options: nosniff` and `Referrer-Policy: no-referrer`.
#[utoipa::path(
    get,
    path = "/processors",
    tag = "pages",
    operation_id = "processorIndexPage",
    security(()),
    params(
        IndexParams,
        (
            "If-None-Match" = Option<String>,
            Header,
            nullable = false,
            description = "An `ETag` from an earlier answer; 304 when the index is unchanged."
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
            description = "The index page.",
            body = String,
            content_type = "text/html",
            headers(
                ("ETag" = String, description = "Strong validator of the page (the processors \
                    registered, language, search, cursor); a compressed answer's tag has the \
                    content coding appended (`\"…-gzip\"`, `\"…-br\"`)."),
                ("Last-Modified" = String, description = "When the newest processor was \
                    registered."),
            )
        ),
        (
            status = 304,
            description = "Not modified since the validator the client sent; no body.",
            headers(
                ("ETag" = String, description = "The page's current validator."),
                ("Last-Modified" = String, description = "When the index last changed."),
            )
        ),
        (status = 422, response = ValidationFailed),
    )
)]
async fn index(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<IndexParams>,
) -> Result<HttpResponse, ApiError> {
    let lang = Lang::negotiate(&req, query.lang);
    let page = PageRequest::parse(Some(INDEX_PAGE_SIZE), query.cursor.as_deref())?;
    let q = query.q.clone().unwrap_or_default();
    // Processors are only added, never changed: their number and the newest one version the
    // index (trusted in memory as the feeds' versions are).
    let version = conditional::version(&state, "index", |conn| {
        pages::index_version(conn).map(|(count, newest)| ReadVersion {
            key: format!("{count}/{newest:?}"),
            last_modified: newest,
        })
    })
    .await?;
    let key = format!("index\n{}\n{q}\n{:?}", lang.code(), query.cursor.as_deref());
    // Only the plain index is kept: searches would each take a cache slot.
    let cacheable = q.is_empty() && query.cursor.is_none();
    let rendered = match conditional::lookup(&state, &req, &key, &version, cacheable) {
        Cached::NotModified(validators_only) => {
            return Ok(conditional::not_modified_answer(
                &validators_only,
                html_headers,
            ))
        }
        Cached::Hit(hit) => hit,
        Cached::Miss => {
            let search = q.clone();
            let found = state
                .db(move |conn| organisations::list_processors(conn, Some(&search), &page))
                .await?;
            let body = Bytes::from(render(&index_view(lang, q, found))?);
            conditional::store(&state, &key, version, body, cacheable)
        }
    };
    Ok(conditional::fresh_answer(rendered, HTML, html_headers))
}

fn index_view(lang: Lang, q: String, found: crate::store::Page<Processor>) -> IndexView {
    let l = lang.labels();
    let rows = found
        .items
        .iter()
        .map(|p| ProcessorRow {
            url: format!("/processors/{}?lang={}", p.id, lang.code()),
            name: p.name.clone(),
            registration: lang.registration(p.registration.as_ref()),
            address: p.address.clone(),
        })
        .collect();
    let next_url = found
        .next_cursor
        .map(|cursor| {
            format!(
                "/processors?lang={}&q={}&cursor={}",
                lang.code(),
                encode(&q),
                encode(&cursor)
            )
        })
        .unwrap_or_default();
    IndexView {
        lang: lang.code(),
        l,
        title: l.processors,
        other_lang: other(lang).code(),
        other_lang_url: format!("/processors?lang={}&q={}", other(lang).code(), encode(&q)),
        q,
        rows,
        next_url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("A & B"), "A%20%26%20B");
        assert_eq!(encode("æ"), "%C3%A6");
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(index, processor_page, stylesheet), components(schemas(Lang)))]
pub struct Api;
