//! The one place where errors become RFC 9457 problem+json responses.

use crate::domain::change::{ChangeError, ChangeState};
use crate::domain::window::{ObjectionWindow, WindowError, WindowState};
use crate::domain::{DomainError, FieldError};
use crate::store::StoreError;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::{AllOfBuilder, AnyOfBuilder, Schema};
use utoipa::openapi::{example::ExampleBuilder, ContentBuilder, Ref, RefOr, Response};
use utoipa::{PartialSchema, ToResponse, ToSchema};

/// An RFC 9457 problem. `type` is `urn:subreg:problem:<slug>` with the slugs `bad-request`
/// (400), `unauthorized` (401), `forbidden` (403), `not-found` (404), `method-not-allowed`
/// (405), `conflict` (409), `validation` and `rule-violation` (422), `too-large` (413),
/// `unsupported-media-type` (415), `unavailable` (503) and `internal` (500). Refusals by a rule
/// may carry further members that say how to fix the request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    #[schema(format = "uri", examples("urn:subreg:problem:validation"))]
    pub kind: String,
    /// A short summary of the kind of problem; the same for every problem of one type.
    pub title: &'static str,
    #[schema(minimum = 400, maximum = 599)]
    pub status: u16,
    /// What went wrong in this case, in words the caller can act on.
    pub detail: String,
    /// Every field to fix: on `urn:subreg:problem:validation` (422), and on the
    /// `rule-violation` (422) for `planned_from`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub errors: Option<Vec<FieldError>>,
    /// The request's id, as in the `X-Request-Id` response header and the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub request_id: Option<String>,
    /// Members a refusal by a rule adds (e.g. `earliest_allowed`, `state`, `window`).
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{method} is not allowed here; this path answers {}", allowed_list(.allowed))]
    MethodNotAllowed {
        method: String,
        allowed: Vec<actix_web::http::Method>,
    },
    #[error("{0}")]
    Conflict(String),
    /// A conflict that carries extra members for the client (e.g. the window's final state).
    #[error("{detail}")]
    ConflictWith {
        detail: String,
        extra: Map<String, Value>,
    },
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    /// A rule refused the request; `extra` carries what the caller needs to fix it.
    #[error("{detail}")]
    Unprocessable {
        detail: String,
        extra: Map<String, Value>,
    },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn kind(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            ApiError::Conflict(_) | ApiError::ConflictWith { .. } => {
                (StatusCode::CONFLICT, "conflict", "Conflict")
            }
            ApiError::Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid request",
            ),
            ApiError::Unprocessable { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "rule-violation",
                "Refused by a rule",
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "Request body too large",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }

    fn detail(&self) -> String {
        match self {
            ApiError::Invalid(errors) => {
                let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                format!("fix these fields and send again: {}", fields.join(", "))
            }
            // 5xx bodies say nothing internal; the log has the cause.
            ApiError::Internal(_) => "something went wrong on our side; it has been logged".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.kind().0
    }

    fn error_response(&self) -> HttpResponse {
        let (status, slug, title) = self.kind();
        if let ApiError::Internal(cause) = self {
            log::error!("internal error: {cause}");
        }
        let (errors, extra) = match self {
            ApiError::Invalid(errors) => (Some(errors.clone()), Map::new()),
            ApiError::Unprocessable { extra, .. } | ApiError::ConflictWith { extra, .. } => {
                (None, extra.clone())
            }
            _ => (None, Map::new()),
        };
        let body = Problem {
            kind: format!("urn:subreg:problem:{slug}"),
            title,
            status: status.as_u16(),
            detail: self.detail(),
            errors,
            // The id of the request (http/observe.rs), so a user's report finds the log line.
            request_id: crate::logging::request_id(),
            extra,
        };
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"subreg\""));
            }
            ApiError::Unavailable(_) => {
                response.insert_header((header::RETRY_AFTER, "1"));
            }
            ApiError::MethodNotAllowed { allowed, .. } => {
                response.insert_header((header::ALLOW, allowed_list(allowed)));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::Invalid(errors) => ApiError::Invalid(errors),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { .. } => ApiError::NotFound(error.to_string()),
            StoreError::Conflict(message) => ApiError::Conflict(message),
            StoreError::Domain(domain) => domain.into(),
            StoreError::Change(refusal) => change_refusal(refusal),
            StoreError::Window { error, window } => window_refusal(error, &window),
            StoreError::Busy => {
                ApiError::Unavailable("the database is busy; retry in a moment".into())
            }
            StoreError::ConnectionLost(cause) => {
                log::warn!("lost the database connection: {cause}");
                ApiError::Unavailable(
                    "the connection to the database was lost; retry in a moment".into(),
                )
            }
            StoreError::Pool(e) => {
                log::warn!("no database connection: {e}");
                ApiError::Unavailable("no database connection available; retry in a moment".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(format!("blocking task failed: {error}"))
    }
}

fn allowed_list(methods: &[actix_web::http::Method]) -> String {
    let names: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
    names.join(", ")
}

/// Shorthand for a single-field validation error.
pub fn invalid(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldError::new(field, message)])
}

fn extra(pairs: Value) -> Map<String, Value> {
    match pairs {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The members a refusal adds to its problem, as a JSON object.
fn members(members: impl Serialize) -> Map<String, Value> {
    extra(serde_json::to_value(members).unwrap_or_default())
}

/// What a change refused in its state adds to the problem.
#[derive(Serialize, ToSchema)]
struct ChangeConflictMembers {
    /// The change's current state.
    state: ChangeState,
}

/// What a `planned_from` before the windows close adds to the problem.
#[derive(Serialize, ToSchema)]
struct PlannedTooEarlyMembers {
    /// The earliest `planned_from` accepted.
    earliest_allowed: DateTime<Utc>,
    /// One error on field `planned_from`.
    errors: Vec<FieldError>,
}

/// What a decision the window does not allow now adds to the problem.
#[derive(Serialize, ToSchema)]
struct WindowConflictMembers<'a> {
    /// The window's state.
    state: WindowState,
    /// The window as it now stands.
    window: &'a ObjectionWindow,
}

fn change_refusal(refusal: ChangeError) -> ApiError {
    let detail = refusal.to_string();
    match refusal {
        ChangeError::PlannedTooEarly { earliest, .. } => ApiError::Unprocessable {
            detail: detail.clone(),
            extra: members(PlannedTooEarlyMembers {
                earliest_allowed: earliest,
                errors: vec![FieldError::new("planned_from", detail)],
            }),
        },
        ChangeError::NotDraft(state)
        | ChangeError::NotWithdrawable(state)
        | ChangeError::NotPostponable(state)
        | ChangeError::NotBlocked(state) => ApiError::ConflictWith {
            detail,
            extra: members(ChangeConflictMembers { state }),
        },
    }
}

fn window_refusal(error: WindowError, window: &ObjectionWindow) -> ApiError {
    match error {
        WindowError::ReasonRequired => invalid("reason", error.to_string()),
        WindowError::InstructionRequired => invalid("instruction", error.to_string()),
        other => ApiError::ConflictWith {
            detail: other.to_string(),
            extra: members(WindowConflictMembers {
                state: window.state,
                window,
            }),
        },
    }
}

/// A problem that carries members besides the common ones: its schema is `allOf` the
/// `Problem` and those members, so it says what `change_refusal`/`window_refusal` send.
macro_rules! problem_with {
    ($name:ident, $members:ty, $description:expr) => {
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                AllOfBuilder::new()
                    .item(Ref::from_schema_name(Problem::name()))
                    .item(<$members as PartialSchema>::schema())
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((Problem::name().into(), Problem::schema()));
                <$members as ToSchema>::schemas(schemas);
            }
        }
    };
}

problem_with!(
    ChangeConflictProblem,
    ChangeConflictMembers,
    "A change that cannot take this step in its state (409)."
);
problem_with!(
    PlannedTooEarlyProblem,
    PlannedTooEarlyMembers,
    "`planned_from` is earlier than the latest window close over the processor's agreements \
     (422, `urn:subreg:problem:rule-violation`)."
);
problem_with!(
    WindowConflictProblem,
    WindowConflictMembers<'static>,
    "A decision the window does not allow now (409)."
);

/// A refusal that is either the specialised problem or a plain one (e.g. a conflict between
/// concurrent requests, which carries no `state`): `anyOf` both.
macro_rules! or_problem {
    ($name:ident, $specialised:ty) => {
        pub struct $name;

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                AnyOfBuilder::new()
                    .item(Ref::from_schema_name(<$specialised>::name()))
                    .item(Ref::from_schema_name(Problem::name()))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                schemas.push((<$specialised>::name().into(), <$specialised>::schema()));
                <$specialised>::schemas(schemas);
            }
        }
    };
}

or_problem!(ChangeConflictOrProblem, ChangeConflictProblem);
or_problem!(PlannedTooEarlyOrProblem, PlannedTooEarlyProblem);

/// A problem+json response with `schema` and the named examples.
fn problem_response<const N: usize>(
    description: &str,
    schema: RefOr<Schema>,
    examples: [(&str, &str, Value); N],
) -> RefOr<Response> {
    let examples = examples.map(|(name, summary, value)| {
        (
            name,
            ExampleBuilder::new().summary(summary).value(Some(value)),
        )
    });
    utoipa::openapi::ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(schema))
                .examples_from_iter(examples)
                .build(),
        )
        .into()
}

/// 422 of creating a change: its fields, or, announced at once, a `planned_from` too early.
pub struct ChangeRefused;

impl<'r> ToResponse<'r> for ChangeRefused {
    fn response() -> (&'r str, RefOr<Response>) {
        let too_early = "planned_from 2026-12-01 00:00:00 UTC is before the objection windows \
                         close; the earliest allowed is 2026-12-23 12:00:00 UTC";
        let response = problem_response(
            "Fields are missing or invalid (`urn:subreg:problem:validation`, with `errors`), e.g. \
             `kind`, `summary`, `subprocessor.processing_locations[0]`, `replaces`; or, when the \
             change is announced at once, `planned_from` is earlier than the latest window close \
             (`urn:subreg:problem:rule-violation`, with `earliest_allowed` and an error on field \
             `planned_from`).",
            PlannedTooEarlyOrProblem::schema(),
            [
                (
                    "validation",
                    "Invalid fields",
                    json!({
                        "type": "urn:subreg:problem:validation",
                        "title": "Invalid request",
                        "status": 422,
                        "detail": "fix these fields and send again: replaces",
                        "errors": [{
                            "field": "replaces",
                            "message": "a replacement needs `replaces`: the id of the entry on your list"
                        }],
                        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
                    }),
                ),
                (
                    "too-early",
                    "planned_from before the windows close",
                    json!({
                        "type": "urn:subreg:problem:rule-violation",
                        "title": "Refused by a rule",
                        "status": 422,
                        "detail": too_early,
                        "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                        "earliest_allowed": "2026-12-23T12:00:00Z",
                        "errors": [{"field": "planned_from", "message": too_early}]
                    }),
                ),
            ],
        );
        ("ChangeRefused", response)
    }
}

/// 409 of a decision on a window.
pub struct WindowConflict;

impl<'r> ToResponse<'r> for WindowConflict {
    fn response() -> (&'r str, RefOr<Response>) {
        let response = problem_response(
            "The window does not allow this decision now (`urn:subreg:problem:conflict`): it is \
             closed (a deadline that has passed closes it first), an objection is already \
             recorded, there is no objection to withdraw, or an objection blocks approval. \
             `state` is the window's state and `window` the window as it now stands.",
            Ref::from_schema_name(WindowConflictProblem::name()).into(),
            [(
                "closed",
                "The deadline passed: the window ended in tacit consent",
                json!({
                    "type": "urn:subreg:problem:conflict",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "the window is closed: it ended tacit_consent",
                    "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                    "state": "tacit_consent",
                    "window": {
                        "id": "9c4d1e2f-7a8b-4c5d-8e9f-0a1b2c3d4e5f",
                        "change_id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60",
                        "agreement_id": "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10",
                        "agreement_version": 1,
                        "controller_id": "roskilde-kommune",
                        "processor_id": "timengo-dpg",
                        "opened_at": "2026-11-23T12:00:00Z",
                "notified_at": "2026-11-23T12:00:04Z",
                "notified_via": "email",
                        "closes_at": "2026-12-23T23:00:00Z",
                        "closes_on_local_date": "2026-12-23",
                        "state": "tacit_consent",
                        "conflicts": [],
                        "decided_at": "2026-12-23T23:00:00Z",
                        "closed_at": "2026-12-23T23:00:00Z",
                        "objection": null,
                        "approval": null,
                        "late": false,
                        "ended_as": null,
                        "resolution": null
                    }
                }),
            )],
        );
        ("WindowConflict", response)
    }
}
