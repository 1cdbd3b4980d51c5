//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations and the
//! types' `ToSchema` derives, so what it says about bodies is what the code sends and accepts.
//! openapi.yaml and openapi.json in the repository are this output; a test fails when they
//! differ (`SUBREG_UPDATE_OPENAPI=1 cargo test --test api openapi_files` rewrites them).
//!
//! Each handler module has its own `Api` (its paths); `document` merges them and then applies
//! the conventions every operation shares (the refusals any route can answer), so no handler
//! can forget them.

use super::error::Problem;
use std::sync::OnceLock;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    extensions::ExtensionsBuilder, ContentBuilder, HttpMethod, Ref, RefOr, Required, Response,
};
use utoipa::{Modify, OpenApi, PartialSchema, ToResponse};

/// The document's introduction (`info.description`).
const DESCRIPTION: &str = "\
subreg keeps each data processor's public list of sub-processors (who, where, why and on
what legal ground data leaves the EEA), the data-processing agreements between processors
and their controllers (customers), and a per-processor, hash-chained evidence log of every
state change, so that a controller or an auditor can check afterwards that no entry, notice,
objection or consent was altered or removed.

JSON lives under `/v1`; every time is RFC 3339 in UTC. Lists are paginated with
`?limit=&cursor=` and answer `{\"items\": [...], \"next_cursor\": \"...\" | null}`; pass
`next_cursor` back unchanged as `cursor` to get the next page.

Authentication is a JWT bearer token (`Authorization: Bearer <JWT>`) with the claims `sub`,
`role` (`admin`, `processor` or `controller`), `org` (the processor or controller id the token
acts for), `exp`, `iat`, `iss` (`SUBREG_JWT_ISSUER`, default `subreg`) and `aud` (`subreg`).
A processor token writes only its own list; a controller token reads only for its own org;
an admin token may do everything. Processor pages and lists are public.

Every refusal is `application/problem+json` (RFC 9457) with `type`
(`urn:subreg:problem:<slug>`), `title`, `status`, `detail`, `request_id` and, for field
errors (422), `errors: [{field, message}]`. Request bodies are JSON (`Content-Type:
application/json`) of at most 256 KiB. A query parameter given twice is refused with 400.

Every answer carries `X-Request-Id`: the request's own if it was 1 to 128 visible ASCII
characters, otherwise a new UUIDv7; problems repeat it as `request_id`, and the server's log
line for the request carries it too.

Every GET route also answers `HEAD` (same status and headers, no body). A known path
asked with a method it does not support answers 405 with an `Allow` header naming the
methods it does; an unknown path answers 404. When the database is busy or unreachable
an operation answers 503 with `Retry-After`. Every POST takes an `Idempotency-Key`.

Events are also pushed to registered HTTPS endpoints: see `webhooks` for the exact
request a receiver gets.
";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "subreg",
        contact(name = "subreg maintainers"),
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((
        url = "/",
        description = "The server that serves this document (`GET /openapi.yaml`); every path \
            below is relative to it. The demo runs on `http://127.0.0.1:8080` \
            (`subreg serve --demo`)."
    )),
    tags(
        (name = "health", description = "Liveness, readiness and this document."),
        (name = "processors", description = "Processors and their public lists of sub-processors."),
        (name = "controllers", description = "Controllers, the customers of processors."),
        (name = "agreements", description = "Data-processing agreements between one controller and one processor."),
        (name = "changes", description = "A processor's changes to its list (draft, announced, effective, withdrawn)."),
        (name = "windows", description = "A controller's objection windows, its decisions and its authorised list."),
        (name = "evidence", description = "The hash-chained evidence log of a processor."),
        (name = "admin", description = "Operator tools (test clock, token revocation)."),
        (name = "feeds", description = "Atom feeds of the event log, public and per controller."),
        (name = "notices", description = "E-mail notices: who receives them, and those the mail server refused."),
        (name = "pages", description = "Server-rendered HTML for people (no JavaScript, strict CSP), in Danish and English."),
        (name = "webhooks", description = "Standard Webhooks delivery of events: endpoints, \
            their deliveries, and (under `webhooks`) the request each endpoint receives."),
    ),
    security(("bearerAuth" = [])),
    components(schemas(Problem), responses(
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        ValidationFailed,
        Unavailable,
    )),
)]
struct ApiDoc;

/// The whole document: every module's paths, the shared parts, and the conventions.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.description = Some(DESCRIPTION.into());
    doc.json_schema_dialect = Some("https://json-schema.org/draft/2020-12/schema".into());
    for part in [
        super::health::Api::openapi(),
        super::metrics::Api::openapi(),
        super::processors::Api::openapi(),
        super::events::Api::openapi(),
        super::evidence_log::Api::openapi(),
        super::controllers::Api::openapi(),
        super::agreements::Api::openapi(),
        super::agreement_import::Api::openapi(),
        super::changes::Api::openapi(),
        super::windows::Api::openapi(),
        super::resolutions::Api::openapi(),
        super::annex::Api::openapi(),
        super::feeds::Api::openapi(),
        super::calendar::Api::openapi(),
        super::webhooks::Api::openapi(),
        super::contacts::Api::openapi(),
        super::auth::Api::openapi(),
        super::clock::Api::openapi(),
        super::pages::Api::openapi(),
        super::change_page::Api::openapi(),
        super::decide::Api::openapi(),
        super::confirm::Api::openapi(),
        super::subscriptions::Api::openapi(),
        super::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc.webhooks = Some(super::webhooks::receiver_paths());
    Conventions.modify(&mut doc);
    doc
}

/// The document as served and as committed: (YAML, JSON).
fn rendered() -> &'static (String, String) {
    static RENDERED: OnceLock<(String, String)> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let doc = document();
        // Serialising plain data to a string does not fail; should it, the route says so.
        let yaml = doc
            .to_yaml()
            .unwrap_or_else(|e| format!("# the document could not be written: {e}\n"));
        let json = doc
            .to_pretty_json()
            .map(|j| format!("{j}\n"))
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}\n"));
        (yaml, json)
    })
}

pub fn yaml() -> &'static str {
    &rendered().0
}

pub fn json() -> &'static str {
    &rendered().1
}

/// Paths that answer without the database (no 503).
const STATIC_PATHS: [&str; 6] = [
    "/",
    "/healthz",
    "/metrics",
    "/openapi.yaml",
    "/openapi.json",
    "/static/subreg.css",
];

/// What every operation shares, added where a handler's annotation does not say it already:
/// 400 for a URL or query the server cannot read (any route), 503 when the database is busy
/// (any route that reads it), 401 where a token is needed, 422 and `Idempotency-Key` on writes.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearerAuth", bearer_scheme());
        for (path, item) in doc.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    apply(path, method, operation);
                }
            }
        }
    }
}

fn apply(path: &str, method: HttpMethod, operation: &mut Operation) {
    // `security(())` alone means public (said as the empty list); next to a scheme it means
    // "token optional", kept as it is, and such an operation still answers 401 to a bad token.
    let public = match operation.security.as_mut() {
        Some(requirements) if requirements.iter().all(|r| *r == Default::default()) => {
            requirements.clear();
            true
        }
        _ => false,
    };
    let write = matches!(
        method,
        HttpMethod::Post | HttpMethod::Put | HttpMethod::Patch | HttpMethod::Delete
    );
    let mut shared = vec![("400", "BadRequest")];
    if !public {
        shared.push(("401", "Unauthorized"));
    }
    if write {
        shared.push(("422", "ValidationFailed"));
    }
    if !STATIC_PATHS.contains(&path) {
        shared.push(("503", "Unavailable"));
    }
    let responses = &mut operation.responses.responses;
    for (status, name) in shared {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
    }
    if method == HttpMethod::Post {
        operation
            .parameters
            .get_or_insert_with(Vec::new)
            .insert(0, RefOr::T(idempotency_key()));
    }
    // A link that carries a whole request body is meant to be sent as it is (schemathesis would
    // otherwise merge generated fields into it and never reach the created resource).
    for response in responses.values_mut() {
        if let RefOr::T(Response { links, .. }) = response {
            for link in links.values_mut() {
                if let RefOr::T(link) = link {
                    if link.request_body.is_some() && link.extensions.is_none() {
                        link.extensions = Some(
                            ExtensionsBuilder::new()
                                .add("x-schemathesis", serde_json::json!({"merge_body": false}))
                                .build(),
                        );
                    }
                }
            }
        }
    }
}

fn bearer_scheme() -> SecurityScheme {
    SecurityScheme::Http(
        HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some(
                "A JWT with the claims `sub`, `role` (`admin` | `processor` | `controller`), \
                 `org`, `exp`, `iat`, `iss` and `aud` (`subreg`); HS256 with \
                 `SUBREG_JWT_SECRET`, or RS256 when `SUBREG_JWT_PUBLIC_KEY` is set, or \
                 RS256/ES256 from an identity provider when `SUBREG_JWT_JWKS_URL` is set (role, \
                 org and audience claims configurable, see the README). Mint one with \
                 `subreg token`.",
            ))
            .build(),
    )
}

fn idempotency_key() -> Parameter {
    ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Makes a retry safe (IETF httpapi idempotency-key draft). The same key from the same \
             role and org with the same request (path and body) answers the first successful \
             answer again for 24 hours, with `Idempotent-Replayed: true`; for a different request \
             422; while the first is still running 409 with `Retry-After`. Refused or failed \
             requests keep no answer. 1 to 255 visible ASCII characters, bare or in double \
             quotes; ignored without a bearer token.",
        ))
        .schema(Some(
            utoipa::openapi::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .min_length(Some(1))
                .max_length(Some(255)),
        ))
        .example(Some(serde_json::json!(
            "8e03978e-40d5-43e8-bc93-6894a57f9324"
        )))
        .build()
}

/// A problem+json body with `example` as the answer's example.
fn problem_response(description: &str, example: serde_json::Value) -> Response {
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(RefOr::<utoipa::openapi::Schema>::Ref(
                    Ref::from_schema_name("Problem"),
                )))
                .example(Some(example))
                .build(),
        )
        .build()
}

/// `#[derive(ToResponse)]` cannot name a response after a type that is not its body, so the
/// shared refusals are written out once here.
macro_rules! refusal {
    ($name:ident, $description:expr, $example:expr) => {
        pub struct $name;
        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (
                    stringify!($name),
                    RefOr::T(problem_response($description, $example)),
                )
            }
        }
    };
}

refusal!(
    BadRequest,
    "The body is not valid JSON, a query parameter has the wrong type or is given more than \
     once, or the URL's path or query holds a control character (such as `%00`) or is not UTF-8 \
     once percent-decoded (`urn:subreg:problem:bad-request`).",
    serde_json::json!({
        "type": "urn:subreg:problem:bad-request",
        "title": "Bad request",
        "status": 400,
        "detail": "the body is not valid JSON: EOF while parsing an object at line 1 column 10",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    Forbidden,
    "The token's role or organisation may not do this (`urn:subreg:problem:forbidden`).",
    serde_json::json!({
        "type": "urn:subreg:problem:forbidden",
        "title": "Not allowed",
        "status": 403,
        "detail": "your token acts for `eg-netblanket`, not for `timengo-dpg`",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    NotFound,
    "The resource does not exist (`urn:subreg:problem:not-found`).",
    serde_json::json!({
        "type": "urn:subreg:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "processor `no-such` does not exist",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    Conflict,
    "A resource with this id already exists, or a request with the same `Idempotency-Key` is \
     still in flight (`urn:subreg:problem:conflict`; retry after `Retry-After`).",
    serde_json::json!({
        "type": "urn:subreg:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "processor `timengo-dpg` already exists",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    PayloadTooLarge,
    "The body is larger than 256 KiB (`urn:subreg:problem:too-large`).",
    serde_json::json!({
        "type": "urn:subreg:problem:too-large",
        "title": "Request body too large",
        "status": 413,
        "detail": "the body has 300000 bytes; the limit is 262144",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    UnsupportedMediaType,
    "The body is not sent as `application/json` \
     (`urn:subreg:problem:unsupported-media-type`).",
    serde_json::json!({
        "type": "urn:subreg:problem:unsupported-media-type",
        "title": "Unsupported media type",
        "status": 415,
        "detail": "send the body as JSON with `Content-Type: application/json`",
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);
refusal!(
    ValidationFailed,
    "Fields are missing or invalid (`urn:subreg:problem:validation`); `errors` lists every one \
     with its path (e.g. `registration.number`, `processing_locations[1]`, `[0].name`, `limit`, \
     `cursor`, `as_of`) and what to fix. A JSON body of the wrong shape is reported as field \
     `body`; a text field holding a control character names that field.",
    serde_json::json!({
        "type": "urn:subreg:problem:validation",
        "title": "Invalid request",
        "status": 422,
        "detail": "fix these fields and send again: registration.number",
        "errors": [{
            "field": "registration.number",
            "message": "`13612871` fails the CVR modulus-11 check: check the digits against the CVR register"
        }],
        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
    })
);

/// 401 and 503 carry a header besides the problem.
pub struct Unauthorized;

impl<'r> ToResponse<'r> for Unauthorized {
    fn response() -> (&'r str, RefOr<Response>) {
        let mut response = problem_response(
            "No bearer token, or the token is malformed, expired, not valid yet (`nbf`), issued \
             in the future (`iat`), without `iat`, living longer than \
             `SUBREG_JWT_MAX_LIFETIME_SECS` (`exp - iat`), revoked \
             (`POST /v1/admin/orgs/{org}/revoke-tokens`), wrongly signed or meant for someone \
             else (`urn:subreg:problem:unauthorized`); `detail` says which.",
            serde_json::json!({
                "type": "urn:subreg:problem:unauthorized",
                "title": "Authentication required",
                "status": 401,
                "detail": "this route needs `Authorization: Bearer <token>`",
                "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
            }),
        );
        response.headers.insert(
            "WWW-Authenticate".into(),
            RefOr::T(string_header("`Bearer realm=\"subreg\"`")),
        );
        ("Unauthorized", RefOr::T(response))
    }
}

pub struct Unavailable;

impl<'r> ToResponse<'r> for Unavailable {
    fn response() -> (&'r str, RefOr<Response>) {
        let mut response = problem_response(
            "The database is busy or unavailable; retry after the `Retry-After` seconds \
             (`urn:subreg:problem:unavailable`).",
            serde_json::json!({
                "type": "urn:subreg:problem:unavailable",
                "title": "Temporarily unavailable",
                "status": 503,
                "detail": "the database is busy; retry in a moment",
                "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
            }),
        );
        response.headers.insert(
            "Retry-After".into(),
            RefOr::T(
                utoipa::openapi::HeaderBuilder::new()
                    .schema(Some(i64::schema()))
                    .description(Some("Seconds to wait before retrying."))
                    .build(),
            ),
        );
        ("Unavailable", RefOr::T(response))
    }
}

fn string_header(description: &str) -> utoipa::openapi::Header {
    utoipa::openapi::HeaderBuilder::new()
        .schema(Some(String::schema()))
        .description(Some(description))
        .build()
}

/// `{pid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("pid"), parameter_in = Path)]
pub struct ProcessorId(
    /// The processor's id (a slug).
    #[param(value_type = crate::domain::party::Slug, example = "timengo-dpg")]
    pub String,
);

/// `{cid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("cid"), parameter_in = Path)]
pub struct ControllerId(
    /// The controller's id (a slug).
    #[param(value_type = crate::domain::party::Slug, example = "roskilde-kommune")]
    pub String,
);

/// `?limit=&cursor=` of every list.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page size, 1 to 500 (default 50). Out of range: 422 (field `limit`); not an integer: 400.
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<i64>,
    /// Opaque: the `next_cursor` of the previous page, passed unchanged. A cursor this API did
    /// not return is refused with 422 (field `cursor`). Empty means the first page.
    pub cursor: Option<String>,
}

/// `{aid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("aid"), parameter_in = Path)]
pub struct AgreementId(
    /// The agreement's id (a UUID).
    #[param(example = "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10")]
    pub String,
);

/// `{chid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("chid"), parameter_in = Path)]
pub struct ChangeId(
    /// The change's id (a UUID).
    #[param(example = "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60")]
    pub String,
);

/// `{wid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("wid"), parameter_in = Path)]
pub struct WindowId(
    /// The objection window's id (a UUID); a window of another controller is 404.
    #[param(example = "9c4d1e2f-7a8b-4c5d-8e9f-0a1b2c3d4e5f")]
    pub String,
);

/// `{eid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("eid"), parameter_in = Path)]
pub struct EventId(
    /// The event's id (a UUID), as in a feed entry's `urn:uuid:` id.
    #[param(example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub String,
);

/// `{whid}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("whid"), parameter_in = Path)]
pub struct WebhookId(
    /// The webhook endpoint's id (a UUID).
    pub String,
);

/// `{did}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("did"), parameter_in = Path)]
pub struct DeliveryId(
    /// The delivery's id (a UUID).
    pub String,
);

/// `{org}` in a path.
#[derive(utoipa::IntoParams)]
#[into_params(names("org"), parameter_in = Path)]
pub struct OrgId(
    /// The `org` claim of the tokens to revoke (a processor's or controller's id, or an admin org).
    #[param(min_length = 1, max_length = 200, example = "roskilde-kommune")]
    pub String,
);
