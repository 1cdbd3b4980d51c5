use super::auth::{Actor, Role};
use super::error::ApiError;
use super::openapi::{Paging, ValidationFailed};
use super::{parse_instant, AppState, PageQuery, Routes};
use crate::domain::party::Processor;
type ProcessorPage = crate::store::Page<Processor>;
use crate::domain::party::{validate_processor, OrganisationInput};
use crate::domain::subprocessor::{self, Subprocessor, SubprocessorInput};
use crate::domain::{DomainError, FieldError};
use crate::store::{agreements, events, organisations, subprocessors};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/v1/processors", create)
        .add(Method::GET, "/v1/processors", list)
        .add(Method::GET, "/v1/processors/{pid}", get)
        .add(
            Method::GET,
            "/v1/processors/{pid}/subprocessors",
            list_entries,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/subprocessors.csv",
            export_csv,
        )
        .add(Method::POST, "/v1/processors/{pid}/subprocessors", seed)
        .add(
            Method::GET,
            "/v1/processors/{pid}/agreements",
            list_agreements,
        )
        .add(Method::GET, "/v1/processors/{pid}/events", list_events)
        .add(
            Method::GET,
            "/v1/processors/{pid}/events/verify",
            verify_events,
        );
}

async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<OrganisationInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let spec = validate_processor(&body)?;
    let now = state.clock.now();
    let processor = state
        .db(move |conn| organisations::create_processor(conn, &spec, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/processors/{}", processor.id)))
        .json(processor))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    #[param(ignore)]
    limit: Option<i64>,
    #[param(ignore)]
    cursor: Option<String>,
    /// Search term matched against the name (case-insensitively) or the registration number.
    #[param(example = "timengo")]
    q: Option<String>,
}

/// List processors
///
/// Public. Processors ordered by id, paginated. `q` filters by name (case-insensitive
/// substring) or by registration number (substring).
#[utoipa::path(
    get,
    path = "/v1/processors",
    tag = "processors",
    operation_id = "listProcessors",
    security(()),
    params(ListQuery, Paging),
    responses(
        (status = 200, description = "One page of processors.", body = ProcessorPage),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let search = query.q.clone();
    let processors = state
        .db(move |conn| organisations::list_processors(conn, search.as_deref(), &page))
        .await?;
    Ok(HttpResponse::Ok().json(processors))
}

async fn get(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let processor = state
        .db(move |conn| organisations::get_processor(conn, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(processor))
}

#[derive(Deserialize)]
struct ListEntriesQuery {
    limit: Option<i64>,
    cursor: Option<String>,
    as_of: Option<String>,
}

impl ListEntriesQuery {
    fn as_of(&self) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
        self.as_of
            .as_deref()
            .map(|t| parse_instant("as_of", t))
            .transpose()
    }
}

async fn list_entries(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListEntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let as_of = query.as_of()?;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .request()?;
    let entries = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            subprocessors::list(conn, &pid, as_of, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(entries))
}

const CSV_HEADER: [&str; 14] = [
    "id",
    "name",
    "registration_scheme",
    "registration_number",
    "address",
    "country",
    "processing_locations",
    "location",
    "transfer_basis",
    "transfer_basis_note",
    "purpose",
    "contact_email",
    "active_from",
    "active_until",
];

fn csv_row(entry: &Subprocessor) -> [String; 14] {
    let text = |v: Option<String>| v.unwrap_or_default();
    [
        entry.id.clone(),
        entry.name.clone(),
        text(
            entry
                .registration
                .as_ref()
                .map(|r| r.scheme.as_str().to_string()),
        ),
        text(entry.registration.as_ref().map(|r| r.number.clone())),
        entry.address.clone(),
        entry.country.clone(),
        entry.processing_locations.join(" "),
        entry.location.as_str().to_string(),
        text(entry.transfer_basis.map(|b| b.as_str().to_string())),
        text(entry.transfer_basis_note.clone()),
        entry.purpose.clone(),
        text(entry.contact.as_ref().and_then(|c| c.email.clone())),
        text(entry.active_from.map(|t| t.to_rfc3339())),
        text(entry.active_until.map(|t| t.to_rfc3339())),
    ]
}

/// Characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
const FORMULA_TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Separators some spreadsheet opens a CSV with: Danish Excel splits on `;`.
const SEPARATORS: [char; 3] = [',', ';', '\t'];

/// A cell a spreadsheet could run as a formula gets a leading quote: one that starts with a
/// trigger, or holds one at the start of any piece a separator could split off. Every cell is
/// also written quoted (`QuoteStyle::Always`), so a separator inside it stays inside it.
fn defuse(cell: String) -> String {
    let starts_formula = |piece: &str| piece.trim_start_matches(' ').starts_with(FORMULA_TRIGGERS);
    if starts_formula(&cell) || cell.split(SEPARATORS).skip(1).any(starts_formula) {
        format!("'{cell}")
    } else {
        cell
    }
}

async fn export_csv(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ListEntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let as_of = query.as_of()?;
    let filename = format!("{pid}-subprocessors.csv");
    let entries = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            subprocessors::all(conn, &pid, as_of)
        })
        .await?;
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    let csv_failed = |e: csv::Error| ApiError::Internal(format!("csv: {e}"));
    writer.write_record(CSV_HEADER).map_err(csv_failed)?;
    for entry in &entries {
        writer
            .write_record(csv_row(entry).map(defuse))
            .map_err(csv_failed)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ApiError::Internal(format!("csv: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(bytes))
}

async fn seed(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    // One entry, or an array of entries seeded together (all or none).
    let (values, many) = match body.into_inner() {
        serde_json::Value::Array(items) => (items, true),
        single => (vec![single], false),
    };
    if values.is_empty() {
        return Err(super::error::invalid(
            "body",
            "the array is empty: send at least one entry",
        ));
    }
    let mut specs = Vec::with_capacity(values.len());
    let mut errors = Vec::new();
    for (i, value) in values.into_iter().enumerate() {
        let prefix = |field: &str| {
            if many {
                format!("[{i}].{field}")
            } else {
                field.to_string()
            }
        };
        let input: SubprocessorInput = match serde_json::from_value(value) {
            Ok(input) => input,
            Err(e) => {
                errors.push(FieldError::new(
                    prefix("body"),
                    format!("wrong type or value: {e}"),
                ));
                continue;
            }
        };
        match subprocessor::validate(&input) {
            Ok(spec) => specs.push(spec),
            Err(DomainError::Invalid(list)) => errors.extend(
                list.into_iter()
                    .map(|e| FieldError::new(prefix(&e.field), e.message)),
            ),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    let now = state.clock.now();
    let mut added = state
        .db(move |conn| subprocessors::seed(conn, &pid, &specs, now))
        .await?;
    if many {
        Ok(HttpResponse::Created().json(serde_json::json!({ "items": added })))
    } else {
        let entry = added.remove(0);
        Ok(HttpResponse::Created().json(entry))
    }
}

async fn list_agreements(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    let page = query.request()?;
    let list = state
        .db(move |conn| agreements::list(conn, agreements::Party::Processor(&pid), &page))
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The evidence log is for the processor itself and for controllers with an agreement with it;
/// a controller reads only the public events and those that name it.
pub(crate) async fn require_evidence_reader(
    state: &AppState,
    actor: &Actor,
    pid: &str,
) -> Result<events::Reader, ApiError> {
    if actor.is_admin() || actor.acts_for(Role::Processor, pid) {
        return Ok(events::Reader::Everything);
    }
    if actor.role == Role::Controller {
        let (pid, cid) = (pid.to_string(), actor.org.clone());
        let has_agreement = state
            .db(move |conn| {
                Ok(agreements::all_for_controller(conn, &cid)?
                    .iter()
                    .any(|a| a.processor_id == pid))
            })
            .await?;
        if has_agreement {
            return Ok(events::Reader::Controller(actor.org.clone()));
        }
    }
    Err(ApiError::Forbidden(format!(
        "the evidence log of `{pid}` is for that processor and its controllers"
    )))
}

async fn list_events(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let reader = require_evidence_reader(&state, &actor, &pid).await?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            events::list_for_processor(conn, &pid, &reader, &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list.map(|e| e.to_json())))
}

async fn verify_events(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let reader = require_evidence_reader(&state, &actor, &pid).await?;
    let verification = state
        .db(move |conn| events::verify_chain_for(conn, &pid, &reader))
        .await?;
    Ok(HttpResponse::Ok().json(verification))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list))]
pub struct Api;
