use super::auth::Actor;
use super::conditional::{self, Cached};
use super::error::{ApiError, Problem};
use super::feeds::validators;
use super::openapi::{
    Conflict, Forbidden, NotFound, Paging, PayloadTooLarge, ProcessorId, UnsupportedMediaType,
    ValidationFailed,
};
use super::{parse_instant, AppState, PageQuery, Routes};
use crate::domain::agreement::AgreementWithAnnex;
use crate::domain::party::{validate_processor, OrganisationInput, Processor};
use crate::domain::subprocessor::{self, Subprocessor, SubprocessorInput, SubprocessorItems};
use crate::domain::{DomainError, FieldError};
use crate::store::{agreements, organisations, subprocessors};
use actix_web::http::Method;
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder, Schema};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

type ProcessorPage = crate::store::Page<Processor>;
type SubprocessorPage = crate::store::Page<Subprocessor>;
type AgreementPage = crate::store::Page<AgreementWithAnnex>;

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
        );
}

/// A valid entry, for the links that add one (seeding, a change announcing an addition).
pub(super) fn qbox_entry() -> serde_json::Value {
    serde_json::json!({
        "name": "Qbox ApS",
        "registration": {"scheme": "cvr", "number": "27720102"},
        "address": "Vesterbrogade 1, 1620 København V",
        "country": "DK",
        "processing_locations": ["DK"],
        "transfer_basis": null,
        "transfer_basis_note": null,
        "purpose": "Customer logging",
        "contact": null
    })
}

/// The body of a change that announces [`qbox_entry`] as an addition.
pub(super) fn announce_addition() -> serde_json::Value {
    serde_json::json!({
        "kind": "addition",
        "subprocessor": qbox_entry(),
        "replaces": null,
        "summary": "Adding Qbox for customer logging",
        "planned_from": null,
        "announce": true
    })
}

/// The body of a change that removes the entry the response names.
fn remove_entry() -> serde_json::Value {
    serde_json::json!({
        "kind": "removal",
        "replaces": "$response.body#/id",
        "subprocessor": null,
        "summary": "We no longer use this sub-processor",
        "planned_from": null,
        "announce": true
    })
}

/// The body of a change that replaces the entry the response names by [`qbox_entry`].
fn replace_entry() -> serde_json::Value {
    serde_json::json!({
        "kind": "replacement",
        "replaces": "$response.body#/id",
        "subprocessor": qbox_entry(),
        "summary": "Replacing the entry with Qbox",
        "planned_from": null,
        "announce": true
    })
}

/// The name of the links that give only one party of a new agreement.
const PARTIAL_BODY_LINK: &str = "CreateAgreement";

/// A link that gives only part of a request body (`CreateAgreement`: one party's id) asks
/// schemathesis to generate the rest (`merge_body: true`); the conventions in openapi.rs send
/// every other link's body as it is.
pub(super) struct PartialBodyLinks;

impl utoipa::Modify for PartialBodyLinks {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let operations = doc.paths.paths.values_mut().flat_map(|item| {
            [item.get.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
        });
        for operation in operations {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if let Some(RefOr::T(link)) = response.links.get_mut(PARTIAL_BODY_LINK) {
                    link.extensions = Some(
                        utoipa::openapi::extensions::ExtensionsBuilder::new()
                            .add("x-schemathesis", serde_json::json!({"merge_body": true}))
                            .build(),
                    );
                }
            }
        }
    }
}

/// Create a processor
///
/// Requires an `admin` token. The `id` is a slug chosen by the caller.
#[utoipa::path(
    post,
    path = "/v1/processors",
    tag = "processors",
    operation_id = "createProcessor",
    request_body(
        content = OrganisationInput,
        example = json!({
            "id": "timengo-dpg",
            "name": "Timengo DPG A/S",
            "registration": {"scheme": "cvr", "number": "35833684"},
            "address": "Lautrupvang 1, 2750 Ballerup",
            "country": "DK",
            "contact_email": "dpo@example.com"
        })
    ),
    responses(
        (
            status = 201,
            description = "The processor was created.",
            body = Processor,
            headers(("Location" = String, description = "The path of the created resource.")),
            links(
                ("GetProcessor" = (operation_id = "getProcessor", parameters(("pid" = "$response.body#/id")))),
                ("SeedSubprocessors" = (operation_id = "seedSubprocessors", parameters(("pid" = "$response.body#/id")))),
                ("ListSubprocessors" = (operation_id = "listSubprocessors", parameters(("pid" = "$response.body#/id")))),
                ("CreateChange" = (operation_id = "createChange", parameters(("pid" = "$response.body#/id")))),
                ("ListChanges" = (operation_id = "listChanges", parameters(("pid" = "$response.body#/id")))),
                ("ListEvents" = (operation_id = "listEvents", parameters(("pid" = "$response.body#/id")))),
                ("VerifyEvents" = (operation_id = "verifyEvents", parameters(("pid" = "$response.body#/id")))),
                ("ProcessorFeed" = (operation_id = "processorFeed", parameters(("pid" = "$response.body#/id")))),
                ("ProcessorPage" = (operation_id = "processorPage", parameters(("pid" = "$response.body#/id")))),
                ("CreateAgreement" = (
                    operation_id = "createAgreement",
                    description = "An agreement of this processor with a controller.",
                    request_body = json!({"processor_id": "$response.body#/id"})
                )),
                ("SeedEntry" = (
                    operation_id = "seedSubprocessors",
                    description = "Seed one valid entry (allowed while the processor has no agreement).",
                    parameters(("pid" = "$response.body#/id")),
                    request_body = qbox_entry
                )),
                ("AnnounceAddition" = (
                    operation_id = "createChange",
                    description = "Announce a valid addition (no agreement yet: no window).",
                    parameters(("pid" = "$response.body#/id")),
                    request_body = announce_addition
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
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

/// Get a processor
///
/// Public.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}",
    tag = "processors",
    operation_id = "getProcessor",
    security(()),
    params(ProcessorId),
    responses(
        (status = 200, description = "The processor.", body = Processor),
        (status = 404, response = NotFound),
    )
)]
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListEntriesQuery {
    #[param(ignore)]
    limit: Option<i64>,
    #[param(ignore)]
    cursor: Option<String>,
    /// An RFC 3339 instant, e.g. `2026-11-23T12:00:00Z`: list the entries that were active then
    /// instead of now. Not an RFC 3339 instant, or outside the years 1 to 9999: 422 (field
    /// `as_of`).
    #[param(format = DateTime, example = "2026-11-23T12:00:00Z")]
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

/// A processor's list of sub-processors
///
/// Public. Without `as_of`: the entries that are active now. With `as_of`: the entries
/// that were active at that instant (`active_from <= as_of < active_until`), for history.
/// Ordered by entry id, paginated.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/subprocessors",
    tag = "processors",
    operation_id = "listSubprocessors",
    security(()),
    params(ProcessorId, Paging, ListEntriesQuery),
    responses(
        (
            status = 200,
            description = "One page of entries.",
            body = SubprocessorPage,
            headers(
                ("ETag" = String, description = "Strong validator of this answer (processor, newest \
                    public event, query); a compressed answer's tag has the content coding \
                    appended."),
                ("Last-Modified" = String, description = "When the processor's newest public event \
                    occurred (or the processor was created, if it has none)."),
            )
        ),
        (
            status = 304,
            description = "Not modified since the validator the client sent (`If-None-Match` or \
                `If-Modified-Since`); no body.",
            headers(
                ("ETag" = String, description = "The current validator."),
                ("Last-Modified" = String, description = "When the list last changed."),
            )
        ),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_entries(
    state: web::Data<AppState>,
    req: HttpRequest,
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
    let key = format!(
        "list\n{pid}\n{as_of:?}\n{:?}\n{:?}",
        query.limit, query.cursor
    );
    let cacheable = query.limit.is_none() && query.cursor.is_none() && as_of.is_none();
    let rendered = conditional(&state, &req, key, cacheable, pid, move |conn, pid| {
        let entries = subprocessors::list(conn, pid, as_of, &page)?;
        serde_json::to_vec(&entries)
            .map(Bytes::from)
            .map_err(|e| crate::store::StoreError::Corrupt(format!("json: {e}")))
    })
    .await?;
    Ok(match rendered {
        Answer::NotModified(mut response) => response.finish(),
        Answer::Fresh(mut response, body) => response.content_type("application/json").body(body),
    })
}

/// A conditional answer: 304, or 200 with the body; both carry the validators.
enum Answer {
    NotModified(HttpResponseBuilder),
    Fresh(HttpResponseBuilder, Bytes),
}

/// The list and its CSV change only with the processor's public events (a change taking
/// effect is one): the processor's version (trusted in memory, else one cheap query) gives a
/// strong ETag and Last-Modified, so a conditional request is answered 304 without loading the
/// list. The default rendering (no paging, no `as_of`) is cached per version; other variants
/// are rendered each time.
async fn conditional<F>(
    state: &AppState,
    req: &HttpRequest,
    key: String,
    cacheable: bool,
    pid: String,
    load: F,
) -> Result<Answer, ApiError>
where
    F: FnOnce(&mut crate::store::DbConnection, &str) -> Result<Bytes, crate::store::StoreError>
        + Send
        + 'static,
{
    let version = conditional::processor_version(state, &pid).await?;
    let rendered = match conditional::lookup(state, req, &key, &version, cacheable) {
        Cached::NotModified(validators_only) => {
            let mut response = HttpResponse::NotModified();
            validators(&mut response, &validators_only, false);
            return Ok(Answer::NotModified(response));
        }
        Cached::Hit(hit) => hit,
        Cached::Miss => {
            let body = state.db(move |conn| load(conn, &pid)).await?;
            conditional::store(state, &key, version, body, cacheable)
        }
    };
    let mut response = HttpResponse::Ok();
    validators(&mut response, &rendered, false);
    Ok(Answer::Fresh(response, rendered.body))
}

const CSV_HEADER: [&str; 16] = [
    "id",
    "name",
    "registration_scheme",
    "registration_number",
    "address",
    "country",
    "processing_locations",
    "access_locations",
    "location",
    "transfer_basis",
    "transfer_basis_note",
    "purpose",
    "sub_subprocessors",
    "contact_email",
    "active_from",
    "active_until",
];

/// One cell for the chain: `name (country; processing codes; access codes): purpose`, entries
/// separated by ` | `.
fn sub_subprocessors_cell(entry: &Subprocessor) -> String {
    entry
        .sub_subprocessors
        .iter()
        .map(|s| {
            format!(
                "{} ({}; {}; {}): {}",
                s.name,
                s.country,
                s.processing_locations.join(" "),
                s.access_locations.join(" "),
                s.purpose
            )
        })
        .collect::<Vec<_>>()
        .join(" | ")
}

fn csv_row(entry: &Subprocessor) -> [String; 16] {
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
        entry.access_locations.join(" "),
        entry.location.as_str().to_string(),
        text(entry.transfer_basis.map(|b| b.as_str().to_string())),
        text(entry.transfer_basis_note.clone()),
        entry.purpose.clone(),
        sub_subprocessors_cell(entry),
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

/// The list as CSV
///
/// Public. The whole list (active now, or at `as_of`) as one CSV file, sorted by name,
/// with a header row: `id, name, registration_scheme, registration_number, address,
/// country, processing_locations, access_locations` (space-separated codes), `location,
/// transfer_basis, transfer_basis_note, purpose, sub_subprocessors` (each as `name (country;
/// processing codes; access codes): purpose`, separated by ` | `), `contact_email,
/// active_from, active_until`. Every cell is
/// quoted; empty cells stand for absent values. A cell that starts with `=`, `+`, `-`, `@`,
/// tab or carriage return, or holds one at the start of a piece after a `,`, `;` or tab, is
/// prefixed with `'` so that spreadsheets do not run it as a formula.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/subprocessors.csv",
    tag = "processors",
    operation_id = "exportSubprocessorsCsv",
    security(()),
    params(ProcessorId, ListEntriesQuery),
    responses(
        (
            status = 200,
            description = "The list as CSV (`text/csv; charset=utf-8`), served as an attachment.",
            body = String,
            content_type = "text/csv",
            headers(
                ("Content-Disposition" = String,
                    description = "`attachment; filename=\"{pid}-subprocessors.csv\"`"),
                ("ETag" = String, description = "Strong validator of this answer (processor, newest \
                    public event, `as_of`)."),
                ("Last-Modified" = String, description = "When the processor's newest public event \
                    occurred (or the processor was created, if it has none)."),
            ),
            example = json!("\"id\",\"name\",\"registration_scheme\",\"registration_number\",\"address\",\"country\",\"processing_locations\",\"access_locations\",\"location\",\"transfer_basis\",\"transfer_basis_note\",\"purpose\",\"sub_subprocessors\",\"contact_email\",\"active_from\",\"active_until\"\n\"8d0e6c1c-1f4b-4a3e-9f39-0a4f1c2b7d11\",\"Microsoft Azure\",\"cvr\",\"13612870\",\"Kanalvej 7, 2800 Kgs. Lyngby\",\"DK\",\"IE NL\",\"\",\"eea\",\"\",\"\",\"Cloud platform hosting the DPG service\",\"\",\"\",\"2026-11-23T12:00:00+00:00\",\"\"\n")
        ),
        (
            status = 304,
            description = "Not modified since the validator the client sent (`If-None-Match` or \
                `If-Modified-Since`); no body.",
            headers(
                ("ETag" = String, description = "The current validator."),
                ("Last-Modified" = String, description = "When the list last changed."),
            )
        ),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn export_csv(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<ListEntriesQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let as_of = query.as_of()?;
    let filename = format!("{pid}-subprocessors.csv");
    let key = format!("csv\n{pid}\n{as_of:?}");
    let rendered = conditional(&state, &req, key, as_of.is_none(), pid, move |conn, pid| {
        let entries = subprocessors::all(conn, pid, as_of)?;
        csv_body(&entries).map_err(|e| crate::store::StoreError::Corrupt(format!("csv: {e}")))
    })
    .await?;
    let disposition = (
        "Content-Disposition",
        format!("attachment; filename=\"{filename}\""),
    );
    Ok(match rendered {
        Answer::NotModified(mut response) => response.insert_header(disposition).finish(),
        Answer::Fresh(mut response, body) => response
            .content_type("text/csv; charset=utf-8")
            .insert_header(disposition)
            .body(body),
    })
}

fn csv_body(entries: &[Subprocessor]) -> Result<Bytes, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .quote_style(csv::QuoteStyle::Always)
        .from_writer(Vec::new());
    writer.write_record(CSV_HEADER)?;
    for entry in entries {
        writer.write_record(csv_row(entry).map(defuse))?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| csv::Error::from(e.into_error()))
}

/// The body of a seeding request: one entry, or a non-empty array of entries.
pub struct SeedRequest;

impl PartialSchema for SeedRequest {
    fn schema() -> RefOr<Schema> {
        let entry = || Ref::from_schema_name(SubprocessorInput::name());
        OneOfBuilder::new()
            .item(entry())
            .item(ArrayBuilder::new().min_items(Some(1)).items(entry()))
            .into()
    }
}

impl ToSchema for SeedRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            SubprocessorInput::name().into(),
            SubprocessorInput::schema(),
        ));
        SubprocessorInput::schemas(schemas);
    }
}

/// What a seeding request answers: the entry when one was sent, the entries when an array was.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum Seeded {
    One(Box<Subprocessor>),
    Many(SubprocessorItems),
}

/// Seed the list directly
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
///
/// Adds active entries to the list without a change, which is allowed only while the
/// processor has no agreement: afterwards every addition goes through a change so that
/// controllers can object, and seeding is refused with 409.
///
/// The body is either one entry (answered with the created entry) or a non-empty array of
/// entries (answered with `{"items": [...]}`); an array is seeded all or nothing. Field
/// errors of an array name the element, e.g. `[2].processing_locations[0]`. Each added
/// entry appends a `subprocessor.added` event to the evidence log.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/subprocessors",
    tag = "processors",
    operation_id = "seedSubprocessors",
    params(ProcessorId),
    request_body(
        content = inline(SeedRequest),
        examples(
            ("one" = (summary = "One entry", value = json!({
                "name": "Microsoft Azure",
                "registration": {"scheme": "cvr", "number": "13612870"},
                "address": "Kanalvej 7, 2800 Kgs. Lyngby",
                "country": "DK",
                "processing_locations": ["IE", "NL"],
                "purpose": "Cloud platform hosting the DPG service"
            }))),
            ("many" = (summary = "Several entries at once", value = json!([
                {
                    "name": "Microsoft Azure",
                    "registration": {"scheme": "cvr", "number": "13612870"},
                    "address": "Kanalvej 7, 2800 Kgs. Lyngby",
                    "country": "DK",
                    "processing_locations": ["IE", "NL"],
                    "purpose": "Cloud platform hosting the DPG service"
                },
                {
                    "name": "Example Support Inc.",
                    "registration": {"scheme": "other", "number": "EIN 12-3456789"},
                    "address": "1 Main Street, Springfield",
                    "country": "US",
                    "processing_locations": ["US"],
                    "transfer_basis": "standard_contractual_clauses",
                    "purpose": "Second-line support",
                    "contact": {"name": "Jane Doe", "position": "DPO", "email": "dpo@example.com"}
                }
            ]))),
        )
    ),
    responses(
        (
            status = 201,
            description = "The entries were added. One entry in the body: the created entry. An \
                array in the body: `{\"items\": [...]}` with the created entries in the order sent.",
            body = inline(Seeded),
            links(
                ("RemoveEntry" = (
                    operation_id = "createChange",
                    description = "A removal of the seeded entry (one entry sent).",
                    parameters(("pid" = "$request.path.pid")),
                    request_body = remove_entry
                )),
                ("ReplaceEntry" = (
                    operation_id = "createChange",
                    description = "A replacement of the seeded entry (one entry sent).",
                    parameters(("pid" = "$request.path.pid")),
                    request_body = replace_entry
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (
            status = 409,
            description = "The processor already has an agreement: add entries through a change \
                instead (`urn:subreg:problem:conflict`). Also a request with the same \
                `Idempotency-Key` still in flight (retry after `Retry-After`).",
            body = Problem,
            content_type = "application/problem+json",
            example = json!({
                "type": "urn:subreg:problem:conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "`timengo-dpg` already has 1 agreement(s): add sub-processors through POST /v1/processors/timengo-dpg/changes so controllers can object",
                "request_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b"
            })
        ),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
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
    let seeded = if many {
        Seeded::Many(SubprocessorItems { items: added })
    } else {
        Seeded::One(Box::new(added.remove(0)))
    };
    Ok(HttpResponse::Created().json(seeded))
}

/// A processor's agreements
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. Ordered by
/// agreement id, paginated. An unknown processor has an empty list.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/agreements",
    tag = "agreements",
    operation_id = "listProcessorAgreements",
    params(ProcessorId, Paging),
    responses(
        (status = 200, description = "One page of agreements.", body = AgreementPage),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    )
)]
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

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        create,
        list,
        get,
        list_entries,
        export_csv,
        seed,
        list_agreements
    ),
    modifiers(&PartialBodyLinks)
)]
pub struct Api;
