//! Atom feeds (RFC 4287, paged per RFC 5005) over the event log, with conditional GETs and an
//! in-process cache of rendered pages keyed by the feed's newest event (feeds/cache.rs).

mod cache;

pub use cache::{cache, FeedCache, VERSION_TRUST};
pub(crate) use cache::{ReadVersion, Rendered};

use super::auth::Actor;
use super::error::ApiError;
use super::i18n::Lang;
use super::openapi::{ControllerId, Forbidden, NotFound, ProcessorId, ValidationFailed};
use super::{AppState, Routes};
use crate::domain::notice;
use crate::store::events::StoredEvent;
use crate::store::feeds::{self, FeedScope};
use actix_web::http::{header, Method};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::SystemTime;
use utoipa::openapi::{HeaderBuilder, RefOr, Response, ResponseBuilder};
use utoipa::{PartialSchema, ToResponse};

/// Entries per feed page.
pub const FEED_PAGE_SIZE: i64 = 50;
const ATOM: &str = "application/atom+xml";
/// One answer for a missing token, a wrong token and an unknown controller, so the answer
/// reveals nothing about which it was.
const NO_FEED: &str = "there is no feed at this address";

pub fn routes(routes: &mut Routes) {
    routes
        .add(
            Method::GET,
            "/v1/processors/{pid}/feed.atom",
            processor_feed,
        )
        .add(
            Method::GET,
            "/v1/controllers/{cid}/feed.atom",
            controller_feed,
        )
        .add(
            Method::POST,
            "/v1/controllers/{cid}/feed-token",
            rotate_token,
        );
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct FeedQuery {
    /// Opaque: taken from a feed's `<link rel="next">`, passed unchanged (base64url of where
    /// the page starts). Absent or empty means the newest page. A value no link gave: 422
    /// (field `page`).
    #[param(pattern = "^[A-Za-z0-9_-]*$", example = "NDI")]
    page: Option<String>,
    /// The language of titles and summaries: `da` or `en`. Without it, `Accept-Language`
    /// decides (Danish when that prefers Danish, else English).
    #[param(value_type = Option<Lang>)]
    lang: Option<Lang>,
    /// Only the controller feed reads it (documented there).
    #[param(ignore)]
    token: Option<String>,
}

/// `?page=` is the opaque cursor of a `next` link: the sequence number the page starts below.
fn parse_page(page: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(page) = page.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    URL_SAFE_NO_PAD
        .decode(page)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.parse::<i64>().ok())
        .map(Some)
        .ok_or_else(|| {
            super::error::invalid(
                "page",
                "`page` is not one a `next` link gave: follow the link unchanged",
            )
        })
}

/// Everything that identifies one page of one feed.
struct FeedRequest {
    kind: &'static str,
    id: String,
    scope: FeedScope,
    before: Option<i64>,
    /// The controller feed's token, repeated in its links so a reader can follow them.
    token: Option<String>,
    token_hash: String,
    lang: Lang,
}

impl FeedRequest {
    fn feed_url(&self, public_url: &str, page: Option<i64>) -> String {
        let base = format!("{public_url}/v1/{}s/{}/feed.atom", self.kind, self.id);
        let mut params = Vec::new();
        if let Some(token) = &self.token {
            params.push(format!("token={token}"));
        }
        params.push(format!("lang={}", self.lang.code()));
        if let Some(seq) = page {
            params.push(format!("page={}", URL_SAFE_NO_PAD.encode(seq.to_string())));
        }
        format!("{base}?{}", params.join("&"))
    }

    fn cache_key(&self) -> String {
        format!(
            "{}\n{}\n{}\n{:?}\n{}",
            self.kind,
            self.id,
            self.token_hash,
            self.before,
            self.lang.code()
        )
    }
}

pub(crate) fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// What a feed says about itself besides its entries.
struct FeedHead {
    title: String,
    author: String,
    /// `updated` of an empty feed: when its owner was created.
    created_at: DateTime<Utc>,
}

/// The validators every feed answer carries, 200 and 304 alike.
fn validator_headers(response: &mut Response, private_note: &str) {
    let header = |description: &str| {
        RefOr::T(
            HeaderBuilder::new()
                .schema(Some(String::schema()))
                .description(Some(description))
                .build(),
        )
    };
    response.headers.insert(
        "ETag".into(),
        header(
            "Strong validator of the feed page (feed, newest event, page); a compressed \
             answer's tag has the content coding appended (`\"…-gzip\"`, `\"…-br\"`).",
        ),
    );
    response.headers.insert(
        "Last-Modified".into(),
        header("When the feed's newest event occurred (or its owner was created, if empty)."),
    );
    response
        .headers
        .insert("Cache-Control".into(), header(private_note));
}

const FEED_CACHE_CONTROL: &str =
    "`public, no-cache` (the processor feed) or `private, no-cache` (a controller's feed): \
     revalidate with the validators.";

/// 200 of a feed: one page of Atom.
struct FeedPage;

impl<'r> ToResponse<'r> for FeedPage {
    fn response() -> (&'r str, RefOr<Response>) {
        let mut response = ResponseBuilder::new()
            .description("The feed page (Atom 1.0).")
            .content(
                ATOM,
                utoipa::openapi::ContentBuilder::new()
                    .schema(Some(String::schema()))
                    .build(),
            )
            .build();
        validator_headers(&mut response, FEED_CACHE_CONTROL);
        ("FeedPage", RefOr::T(response))
    }
}

/// 304 of a feed.
struct FeedNotModified;

impl<'r> ToResponse<'r> for FeedNotModified {
    fn response() -> (&'r str, RefOr<Response>) {
        let mut response = ResponseBuilder::new()
            .description("Not modified since the validator the client sent; no body.")
            .build();
        validator_headers(&mut response, FEED_CACHE_CONTROL);
        ("FeedNotModified", RefOr::T(response))
    }
}

/// The processor's public Atom feed
///
/// Public. An Atom 1.0 feed (RFC 4287) of the processor's public events
/// (`change.announced`, `change.blocked`, `change.postponed`, `change.effective`,
/// `change.withdrawn`, `subprocessor.added`), newest
/// first, 50 a page; `<link rel="next">` leads to older entries (RFC 5005). Each entry has
/// the id `urn:uuid:{event id}`, a title, a plain-text `summary` and an HTML `content` for
/// people in the feed's language (names, not ids; deadlines as people write them), a
/// `<link rel="alternate" type="text/html">` to the change's page
/// (`/processors/{pid}/changes/{chid}`, or the processor's page for events of no change) and
/// a `<link rel="related" type="application/json">` to the event in the API. Send `If-None-Match` or `If-Modified-Since` to get 304 when
/// nothing changed.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/feed.atom",
    tag = "feeds",
    operation_id = "processorFeed",
    security(()),
    params(
        ProcessorId,
        FeedQuery,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` from an earlier answer; 304 when the feed page is unchanged (`*` and weak tags match too)."),
        ("If-Modified-Since" = Option<String>, Header, nullable = false, description = "A `Last-Modified` from an earlier answer (an HTTP date); 304 when the feed page is not newer. Used only without `If-None-Match`."),
    ),
    responses(
        (status = 200, response = FeedPage),
        (status = 304, response = FeedNotModified),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn processor_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let request = FeedRequest {
        kind: "processor",
        scope: FeedScope::Processor(pid.clone()),
        before: parse_page(query.page.as_deref())?,
        id: pid,
        token: None,
        token_hash: String::new(),
        lang: Lang::negotiate(&req, query.lang),
    };
    // The version is the newest event: asked of the database only when this process has
    // committed events since it last asked, or VERSION_TRUST has passed.
    let generation = crate::store::events::events_generation();
    let last = match state.feed_cache.known_version(&request.id, generation) {
        Some(last) => last,
        None => {
            let scope = request.scope.clone();
            let last = state.db(move |conn| feeds::last_seq(conn, &scope)).await?;
            state
                .feed_cache
                .remember_version(&request.id, generation, last);
            last
        }
    };
    let version = format!("{last:?}");
    let lang = request.lang;
    serve(&state, &req, request, version, last, move |conn, pid| {
        let (name, created_at) = feeds::processor_meta(conn, pid)?;
        Ok(FeedHead {
            title: match lang {
                Lang::Da => format!("Underdatabehandlere anvendt af {name}: ændringer"),
                Lang::En => format!("{name}: sub-processor changes"),
            },
            author: name,
            created_at,
        })
    })
    .await
}

/// A controller's private Atom feed
///
/// For the holder of the controller's feed token (feed readers cannot send bearer tokens).
/// The controller's own events (its windows, deadlines, objections, approvals, outcomes) and
/// the public events of the processors it has agreements with; format, paging and
/// conditional requests as in the processor feed. Each entry also carries its receipt,
/// `<log:receipt xmlns:log="urn:subreg:log" index="N">` holding the C2SP checkpoint signed
/// when the event was appended (as a webhook body's `log`). A missing or wrong token and an
/// unknown controller all get the same 404.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/feed.atom",
    tag = "feeds",
    operation_id = "controllerFeed",
    security(()),
    params(
        ControllerId,
        ("token" = String, Query, description = "The feed token from `POST /v1/controllers/{cid}/feed-token`."),
        FeedQuery,
        ("If-None-Match" = Option<String>, Header, nullable = false, description = "An `ETag` from an earlier answer; 304 when the feed page is unchanged (`*` and weak tags match too)."),
        ("If-Modified-Since" = Option<String>, Header, nullable = false, description = "A `Last-Modified` from an earlier answer (an HTTP date); 304 when the feed page is not newer. Used only without `If-None-Match`."),
    ),
    responses(
        (status = 200, response = FeedPage),
        (status = 304, response = FeedNotModified),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn controller_feed(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<FeedQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    let no_feed = || ApiError::NotFound(NO_FEED.into());
    let Some(token) = query.token.clone().filter(|t| !t.is_empty()) else {
        return Err(no_feed());
    };
    let presented = sha256_hex(&token);
    let before = parse_page(query.page.as_deref())?;
    let lookup_cid = cid.clone();
    // One query: the token hash, the newest event and the agreement count together.
    let found = state
        .db(
            move |conn| match feeds::controller_feed(conn, &lookup_cid) {
                Ok(controller) => Ok(Some(controller)),
                Err(crate::store::StoreError::NotFound { .. }) => Ok(None),
                Err(other) => Err(other),
            },
        )
        .await?;
    let Some(controller) = found else {
        return Err(no_feed());
    };
    let valid = controller
        .token_hash
        .as_deref()
        .is_some_and(|stored| constant_time_eq(stored.as_bytes(), presented.as_bytes()));
    if !valid {
        return Err(no_feed());
    }
    let last = controller.last_seq;
    // Signing an agreement adds older public events without a newer event, so the version
    // counts agreements too (they are never deleted).
    let version = format!("{last:?}/{}", controller.agreements);
    let scope = FeedScope::Controller(cid.clone());
    let lang = Lang::negotiate(&req, query.lang);
    let head = FeedHead {
        title: match lang {
            Lang::Da => format!(
                "{}: varsler og frister om underdatabehandlere",
                controller.name
            ),
            Lang::En => format!("{}: sub-processor notices and deadlines", controller.name),
        },
        author: "subreg".into(),
        created_at: controller.created_at,
    };
    let request = FeedRequest {
        kind: "controller",
        id: cid,
        scope,
        before,
        token: Some(token),
        token_hash: presented,
        lang,
    };
    serve(&state, &req, request, version, last, move |_, _| Ok(head)).await
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Answers a feed request from the cache or by rendering, honouring conditional headers.
async fn serve<H>(
    state: &AppState,
    req: &HttpRequest,
    request: FeedRequest,
    version: String,
    last: Option<i64>,
    head: H,
) -> Result<HttpResponse, ApiError>
where
    H: FnOnce(&mut crate::store::DbConnection, &str) -> Result<FeedHead, crate::store::StoreError>
        + Send
        + 'static,
{
    let key = request.cache_key();
    let rendered = match state.feed_cache.get(&key, &version) {
        Some(hit) => hit,
        None => {
            let rendered = render(state, &request, version, last, head).await?;
            state.feed_cache.put(key, rendered.clone());
            rendered
        }
    };
    let private = request.token.is_some();
    if not_modified(req, &rendered) {
        let mut response = HttpResponse::NotModified();
        validators(&mut response, &rendered, private);
        return Ok(response.finish());
    }
    let mut response = HttpResponse::Ok();
    validators(&mut response, &rendered, private);
    Ok(response.content_type(ATOM).body(rendered.body))
}

pub(crate) fn validators(
    response: &mut actix_web::HttpResponseBuilder,
    rendered: &Rendered,
    private: bool,
) {
    response
        .insert_header((header::ETAG, rendered.etag.clone()))
        .insert_header((header::LAST_MODIFIED, rendered.last_modified_header.clone()))
        // Readers must revalidate (cheaply, with the validators); a tokened feed is private.
        .insert_header((
            header::CACHE_CONTROL,
            if private {
                "private, no-cache"
            } else {
                "public, no-cache"
            },
        ));
}

/// RFC 9110 §13.2.2: If-None-Match wins; If-Modified-Since counts only without it.
pub(crate) fn not_modified(req: &HttpRequest, rendered: &Rendered) -> bool {
    let headers = req.headers();
    if let Some(value) = headers.get(header::IF_NONE_MATCH) {
        let Ok(text) = value.to_str() else {
            return false;
        };
        return text
            .split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == rendered.etag);
    }
    let Some(since) = headers
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<header::HttpDate>().ok())
    else {
        return false;
    };
    // HTTP dates have whole seconds.
    SystemTime::from(rendered.last_modified.trunc_subsecs(0)) <= SystemTime::from(since)
}

async fn render<H>(
    state: &AppState,
    request: &FeedRequest,
    version: String,
    last: Option<i64>,
    head: H,
) -> Result<Rendered, ApiError>
where
    H: FnOnce(&mut crate::store::DbConnection, &str) -> Result<FeedHead, crate::store::StoreError>
        + Send
        + 'static,
{
    let (scope, before, id) = (request.scope.clone(), request.before, request.id.clone());
    // The private feed carries each event's receipt, as webhooks do.
    let receipts_wanted = request.token.is_some();
    let (head, mut rows, newest, names, receipts) = state
        .db(move |conn| {
            let head = head(conn, &id)?;
            let rows = feeds::page(conn, &scope, before, FEED_PAGE_SIZE + 1)?;
            let newest = match last {
                Some(seq) => Some(feeds::occurred_at(conn, seq)?),
                None => None,
            };
            let names = feeds::names(conn, &rows)?;
            let mut receipts = std::collections::HashMap::new();
            if receipts_wanted {
                for row in rows.iter().take(FEED_PAGE_SIZE as usize) {
                    let receipt =
                        crate::store::log::receipt(conn, &row.processor_id, row.log_index)?;
                    receipts.insert(row.seq, receipt);
                }
            }
            Ok((head, rows, newest, names, receipts))
        })
        .await?;
    let more = rows.len() as i64 > FEED_PAGE_SIZE;
    rows.truncate(FEED_PAGE_SIZE as usize);
    let next = if more {
        rows.last().map(|e| e.seq)
    } else {
        None
    };
    // Never 1970: an empty feed was last updated when its owner was created.
    let updated = newest.unwrap_or(head.created_at);
    let public_url = state.public_url.as_str();
    let mut links = vec![
        Link {
            href: request.feed_url(public_url, request.before),
            rel: "self".into(),
            mime_type: Some(ATOM.into()),
            ..Default::default()
        },
        Link {
            href: request.feed_url(public_url, None),
            rel: "first".into(),
            mime_type: Some(ATOM.into()),
            ..Default::default()
        },
    ];
    if let Some(seq) = next {
        links.push(Link {
            href: request.feed_url(public_url, Some(seq)),
            rel: "next".into(),
            mime_type: Some(ATOM.into()),
            ..Default::default()
        });
    }
    let feed = Feed {
        id: format!("urn:subreg:feed:{}:{}", request.kind, request.id),
        title: Text::plain(head.title),
        updated: updated.fixed_offset(),
        authors: vec![Person {
            name: head.author,
            ..Default::default()
        }],
        links,
        generator: Some(Generator {
            value: "subreg".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        entries: rows
            .iter()
            .map(|e| {
                let mut entry = entry(public_url, e, request.lang, &names);
                if let Some(receipt) = receipts.get(&e.seq) {
                    entry.extensions = receipt_extension(receipt);
                }
                entry
            })
            .collect(),
        namespaces: if receipts_wanted {
            std::collections::BTreeMap::from([(LOG_PREFIX.into(), LOG_NAMESPACE.into())])
        } else {
            std::collections::BTreeMap::new()
        },
        ..Default::default()
    };
    let config = WriteConfig {
        write_document_declaration: true,
        indent_size: None,
    };
    let body = feed
        .write_with_config(Vec::new(), config)
        .map_err(|e| ApiError::Internal(format!("atom: {e}")))?;
    let body = String::from_utf8(body).map_err(|e| ApiError::Internal(format!("atom: {e}")))?;
    // Text stored before control characters were refused must not make the feed invalid
    // XML for good: the writer escapes markup but passes every character through.
    let body = crate::domain::text::xml_safe(&body).into_owned();
    Ok(Rendered::new(
        &request.cache_key(),
        version,
        updated,
        Bytes::from(body),
    ))
}

/// The namespace of the receipt element in private feed entries.
const LOG_NAMESPACE: &str = "urn:subreg:log";
const LOG_PREFIX: &str = "log";

/// `<log:receipt index="7">checkpoint</log:receipt>`: the event's index in its processor's log
/// and the signed checkpoint that includes it (as a webhook body's `log`).
fn receipt_extension(
    receipt: &crate::domain::evidence::LogReceipt,
) -> atom_syndication::extension::ExtensionMap {
    let element = atom_syndication::extension::Extension {
        name: format!("{LOG_PREFIX}:receipt"),
        value: receipt.checkpoint.clone(),
        attrs: std::collections::BTreeMap::from([("index".into(), receipt.index.to_string())]),
        children: std::collections::BTreeMap::new(),
    };
    std::collections::BTreeMap::from([(
        LOG_PREFIX.into(),
        std::collections::BTreeMap::from([("receipt".into(), vec![element])]),
    )])
}

fn entry(public_url: &str, event: &StoredEvent, lang: Lang, names: &notice::Names) -> Entry {
    let json = event.to_json();
    let notice = notice::describe_named(&json, lang, names);
    let pid = &event.processor_id;
    let code = lang.code();
    // A person's link opens the HTML page of the change (or the processor's page); the event
    // JSON stays one `related` link away.
    let alternate = match notice::change_id(&json) {
        Some(change) => format!("{public_url}/processors/{pid}/changes/{change}?lang={code}"),
        None => format!("{public_url}/processors/{pid}?lang={code}"),
    };
    let at = event.occurred_at().fixed_offset();
    let content = notice_html(&notice, &alternate, lang);
    Entry {
        id: format!("urn:uuid:{}", event.id),
        title: Text::plain(notice.title),
        updated: at,
        published: Some(at),
        links: vec![
            Link {
                href: alternate,
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                hreflang: Some(code.into()),
                ..Default::default()
            },
            Link {
                href: format!("{public_url}/v1/processors/{pid}/events/{}", event.id),
                rel: "related".into(),
                mime_type: Some("application/json".into()),
                ..Default::default()
            },
        ],
        categories: vec![Category {
            term: event.event_type.clone(),
            scheme: Some("urn:subreg:event-type".into()),
            label: None,
        }],
        summary: Some(Text::plain(notice.summary)),
        content: Some(Content {
            value: Some(content),
            content_type: Some("html".into()),
            lang: Some(code.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Escapes text for HTML (the feed writer then escapes the HTML once more as XML text).
fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// The entry's content for a feed reader: the notice's lines as a list and a link to the
/// change's page.
fn notice_html(notice: &notice::Notice, link: &str, lang: Lang) -> String {
    let items: String = notice
        .summary
        .lines()
        .map(|line| format!("<li>{}</li>", escape_html(line)))
        .collect();
    let open = match lang {
        Lang::Da => "Se ændringen",
        Lang::En => "See the change",
    };
    format!(
        "<p><strong>{}</strong></p><ul>{items}</ul><p><a href=\"{}\">{open}</a></p>",
        escape_html(&notice.title),
        escape_html(link)
    )
}

/// A controller's new feed token and the feed URL to give to a feed reader.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "feed_url": "https://subreg.example/v1/controllers/roskilde-kommune/feed.atom?token=3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "token": "3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
}))]
struct FeedToken {
    /// The private feed's absolute URL, token included.
    #[schema(format = "uri")]
    feed_url: String,
    /// 32 random bytes, base64url; shown only in this answer.
    #[schema(pattern = "^[A-Za-z0-9_-]{43}$")]
    token: String,
}

/// Create or rotate the controller's feed token
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. Makes a new
/// random token and returns it with the feed URL; the previous token stops working at once.
/// subreg stores only a SHA-256 hash of the token, so it is shown this once. No body is needed.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/feed-token",
    tag = "feeds",
    operation_id = "rotateFeedToken",
    params(ControllerId),
    responses(
        (
            status = 200,
            description = "The new token and the feed URL to give to a feed reader.",
            body = FeedToken,
            headers(("Cache-Control" = String, description = "`no-store`: the token is a secret.")),
            links(("ControllerFeed" = (
                operation_id = "controllerFeed",
                parameters(("cid" = "$request.path.cid"), ("token" = "$response.body#/token")),
            ))),
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = super::openapi::Conflict),
    )
)]
async fn rotate_token(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    // Only the hash is stored: a database leak does not leak working feed URLs.
    let hash = sha256_hex(&token);
    let store_cid = cid.clone();
    state
        .db(move |conn| feeds::set_feed_token_hash(conn, &store_cid, &hash))
        .await?;
    let feed_url = format!(
        "{}/v1/controllers/{cid}/feed.atom?token={token}",
        state.public_url
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(FeedToken { feed_url, token }))
}

/// An HTTP date (`Last-Modified`). HTTP dates cover 1970 to 9999 and the formatter panics
/// outside them, so an instant is clamped to that range first.
fn http_date(at: DateTime<Utc>) -> String {
    let earliest = DateTime::<Utc>::UNIX_EPOCH;
    let latest = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(earliest);
    header::HttpDate::from(SystemTime::from(at.clamp(earliest, latest))).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn http_dates_outside_1970_to_9999_are_clamped_not_panicked_on() {
        assert_eq!(
            http_date(DateTime::<Utc>::MIN_UTC),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            http_date(DateTime::<Utc>::MAX_UTC),
            "Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn conditional_headers() {
        let mut page = Rendered::new(
            "k",
            "v".into(),
            DateTime::from_timestamp(1_790_000_000, 500_000_000).unwrap_or_default(),
            Bytes::from_static(b"<feed/>"),
        );
        page.etag = "\"abc\"".into();
        let with = |name: &str, value: &str| {
            not_modified(
                &TestRequest::default()
                    .insert_header((name, value))
                    .to_http_request(),
                &page,
            )
        };
        assert!(with("if-none-match", "\"abc\""));
        assert!(with("if-none-match", "\"x\", W/\"abc\""));
        assert!(with("if-none-match", "*"));
        assert!(!with("if-none-match", "\"x\""));
        // Last-Modified is whole seconds: the same second is not modified, one earlier is.
        let same = http_date(page.last_modified);
        assert!(with("if-modified-since", &same));
        assert!(!with("if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT"));
        assert!(!with("if-modified-since", "not a date"));
        assert!(!not_modified(
            &TestRequest::default().to_http_request(),
            &page
        ));
    }

    #[test]
    fn page_cursors_and_token_comparison() {
        assert_eq!(parse_page(None).ok(), Some(None));
        let cursor = URL_SAFE_NO_PAD.encode("42");
        assert_eq!(parse_page(Some(&cursor)).ok(), Some(Some(42)));
        assert!(parse_page(Some(&URL_SAFE_NO_PAD.encode("x"))).is_err());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(processor_feed, controller_feed, rotate_token),
    components(responses(FeedPage, FeedNotModified))
)]
pub struct Api;
