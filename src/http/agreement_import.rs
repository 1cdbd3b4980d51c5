//! Bulk import of agreements (an operator onboarding existing contracts): a JSON array or a CSV
//! file, checked as a whole, with every row's errors under `rows[i]` and nothing written unless
//! every row is right.

use super::auth::{Actor, Role};
use super::error::ApiError;
use super::openapi::{Forbidden, PayloadTooLarge, UnsupportedMediaType};
use super::{AppState, Routes};
use crate::domain::agreement::{
    self, AgreementInput, AgreementSpec, AgreementWithAnnex, AnnexEntryInput, Authorisation,
    ThirdCountryTransfers,
};
use crate::domain::{DomainError, FieldError};
use crate::store::agreements::{self, Recorded};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;

pub fn routes(routes: &mut Routes) {
    routes.add(Method::POST, "/v1/agreements/import", import);
}

/// More rows than this in one import are refused: split the file.
pub const MAX_IMPORT_ROWS: usize = 500;

/// The CSV columns, in the order the header may give them (any order is accepted).
const CSV_COLUMNS: [&str; 10] = [
    "controller_id",
    "processor_id",
    "authorisation",
    "notice_days",
    "objection_requires_reason",
    "third_country_transfers",
    "signed_at",
    "reference",
    "time_zone",
    "authorised_at_signing",
];

/// The agreements an import recorded, in the order of its rows.
#[derive(Serialize, utoipa::ToSchema)]
struct AgreementImport {
    items: Vec<AgreementWithAnnex>,
}

/// Import agreements from JSON or CSV, all or nothing
///
/// Requires an `admin` token (the agreements are recorded `active`, in force from their
/// `signed_at`), or a `processor` token whose `org` is every row's `processor_id` (each is
/// `proposed` until its controller confirms it). The body is a JSON array of agreements (as `createAgreement` takes them), or
/// CSV (`Content-Type: text/csv`) with a header row naming the columns `controller_id`,
/// `processor_id`, `authorisation`, `notice_days`, `objection_requires_reason`,
/// `third_country_transfers`, `signed_at` (RFC 3339), `reference`, `time_zone` and
/// `authorised_at_signing` (entry ids separated by spaces or `|`, each authorised by the
/// agreement itself; earlier decisions need the JSON form); `,` or `;` separates the cells.
/// At most 500 rows. Every row is checked, against the database too, before anything is
/// written: any refusal is a 422 listing every row's errors under `rows[i]` (the first row
/// after the CSV header is `rows[0]`), and nothing is recorded.
#[utoipa::path(
    post,
    path = "/v1/agreements/import",
    tag = "agreements",
    operation_id = "importAgreements",
    request_body(
        content(
            (Vec<AgreementInput> = "application/json", example = json!([{
                "controller_id": "roskilde-kommune",
                "processor_id": "timengo-dpg",
                "authorisation": "specific",
                "notice_days": 30,
                "third_country_transfers": "forbidden",
                "signed_at": "2025-03-01T09:00:00Z",
                "reference": "DPA 2024-03"
            }])),
            (String = "text/csv", example = json!("controller_id;processor_id;authorisation;notice_days;third_country_transfers;signed_at;reference\nroskilde-kommune;timengo-dpg;specific;30;forbidden;2025-03-01T09:00:00Z;DPA 2024-03\n")),
        )
    ),
    responses(
        (status = 201, description = "Every row was recorded.", body = AgreementImport),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
async fn import(
    state: web::Data<AppState>,
    actor: Actor,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !actor.is_admin() && actor.role != Role::Processor {
        return Err(ApiError::Forbidden(
            "agreements are imported by an admin or by the processor".into(),
        ));
    }
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let rows = match mime.as_str() {
        "application/json" => json_rows(&body)?,
        "text/csv" => csv_rows(&body)?,
        _ => {
            return Err(ApiError::UnsupportedMediaType(
                "send a JSON array with `Content-Type: application/json`, or CSV with \
                 `Content-Type: text/csv`"
                    .into(),
            ))
        }
    };
    if rows.is_empty() {
        return Err(super::error::invalid(
            "rows",
            "the import has no rows: give at least one agreement",
        ));
    }
    if rows.len() > MAX_IMPORT_ROWS {
        return Err(super::error::invalid(
            "rows",
            format!(
                "the import has {} rows; at most {MAX_IMPORT_ROWS} are taken at once: split it",
                rows.len()
            ),
        ));
    }
    let now = state.clock.now();
    let (specs, refused) = validate_rows(rows, now);
    if !actor.is_admin() {
        if let Some((i, spec)) = specs
            .iter()
            .find(|(_, s)| !actor.acts_for(Role::Processor, &s.processor_id))
        {
            return Err(ApiError::Forbidden(format!(
                "row {i} is for processor `{}`: a processor imports only its own agreements",
                spec.processor_id
            )));
        }
    }
    // As one by one: an admin imports existing contracts active, a processor proposes them
    // for each controller to confirm.
    let by = actor.decider(None);
    let admin = actor.is_admin();
    let items = state
        .db(move |conn| {
            let recorded = if admin {
                Recorded::Active { by: Some(&by) }
            } else {
                Recorded::Proposed { by: &by }
            };
            agreements::import(conn, &specs, refused, recorded, now)
        })
        .await?;
    Ok(HttpResponse::Created().json(AgreementImport { items }))
}

/// A row as decoded, with what could not be decoded in it.
struct Row {
    input: AgreementInput,
    errors: Vec<FieldError>,
}

fn json_rows(body: &[u8]) -> Result<Vec<Row>, ApiError> {
    let values: Vec<serde_json::Value> = match serde_json::from_slice(body) {
        Ok(values) => values,
        Err(e) if e.is_data() => {
            return Err(super::error::invalid(
                "rows",
                "the body must be a JSON array of agreements",
            ))
        }
        Err(e) => {
            return Err(ApiError::BadRequest(format!(
                "the body is not valid JSON: {e}"
            )))
        }
    };
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match serde_json::from_value(value) {
            Ok(input) => Row {
                input,
                errors: Vec::new(),
            },
            Err(e) => Row {
                input: empty_input(),
                errors: vec![FieldError::new(
                    format!("rows[{i}]"),
                    format!("wrong type or value: {e}"),
                )],
            },
        })
        .collect())
}

fn empty_input() -> AgreementInput {
    AgreementInput {
        controller_id: None,
        processor_id: None,
        authorisation: None,
        notice_days: None,
        objection_requires_reason: None,
        third_country_transfers: None,
        signed_at: None,
        reference: None,
        time_zone: None,
        notice_starts: None,
        authorised_at_signing: None,
        allowed_locations: None,
        annex_name: None,
    }
}

fn csv_rows(body: &[u8]) -> Result<Vec<Row>, ApiError> {
    // Spreadsheets save UTF-8 with a byte-order mark, and Danish ones separate cells with `;`.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let first_line = body.split(|b| *b == b'\n').next().unwrap_or_default();
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(body);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| super::error::invalid("header", format!("cannot read the header row: {e}")))?
        .iter()
        .map(str::to_ascii_lowercase)
        .collect();
    let unknown: Vec<&String> = header
        .iter()
        .filter(|name| !CSV_COLUMNS.contains(&name.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(super::error::invalid(
            "header",
            format!(
                "unknown column(s) {unknown:?}: the columns are {}",
                CSV_COLUMNS.join(", ")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                rows.push(Row {
                    input: empty_input(),
                    errors: vec![FieldError::new(format!("rows[{i}]"), e.to_string())],
                });
                continue;
            }
        };
        let mut row = Row {
            input: empty_input(),
            errors: Vec::new(),
        };
        for (name, cell) in header.iter().zip(record.iter()) {
            if !cell.is_empty() {
                decode_cell(&mut row, i, name, cell);
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Puts one non-empty cell into the row's input, or says why it cannot.
fn decode_cell(row: &mut Row, i: usize, column: &str, cell: &str) {
    let input = &mut row.input;
    let mut refuse = |message: String| {
        row.errors
            .push(FieldError::new(format!("rows[{i}].{column}"), message))
    };
    match column {
        "controller_id" => input.controller_id = Some(cell.into()),
        "processor_id" => input.processor_id = Some(cell.into()),
        "reference" => input.reference = Some(cell.into()),
        "time_zone" => input.time_zone = Some(cell.into()),
        "authorisation" => match Authorisation::parse(cell) {
            Some(value) => input.authorisation = Some(value),
            None => refuse(format!("`{cell}` is not general or specific")),
        },
        "third_country_transfers" => match ThirdCountryTransfers::parse(cell) {
            Some(value) => input.third_country_transfers = Some(value),
            None => refuse(format!("`{cell}` is not allowed_with_basis or forbidden")),
        },
        "notice_days" => match cell.parse::<i64>() {
            Ok(days) => input.notice_days = Some(days),
            Err(_) => refuse(format!("`{cell}` is not a whole number of days")),
        },
        "objection_requires_reason" => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "ja" | "1" => input.objection_requires_reason = Some(true),
            "false" | "no" | "nej" | "0" => input.objection_requires_reason = Some(false),
            _ => refuse(format!("`{cell}` is not true or false")),
        },
        "signed_at" => match DateTime::parse_from_rfc3339(cell) {
            Ok(at) => input.signed_at = Some(at.with_timezone(&Utc)),
            Err(_) => refuse(format!(
                "`{cell}` is not an RFC 3339 instant such as 2025-03-01T09:00:00Z"
            )),
        },
        "authorised_at_signing" => {
            input.authorised_at_signing = Some(
                cell.split(|c: char| c == '|' || c.is_whitespace())
                    .filter(|id| !id.is_empty())
                    .map(|id| AnnexEntryInput {
                        subprocessor_id: Some(id.into()),
                        authorised_by: None,
                        decided_at: None,
                    })
                    .collect(),
            )
        }
        // The header was checked against CSV_COLUMNS.
        _ => {}
    }
}

/// Validates every row: the valid ones with their position, and every refusal by row.
type Checked = (Vec<(usize, AgreementSpec)>, Vec<(usize, FieldError)>);

fn validate_rows(rows: Vec<Row>, now: DateTime<Utc>) -> Checked {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in rows.into_iter().enumerate() {
        let decoded: Vec<String> = row.errors.iter().map(|e| e.field.clone()).collect();
        let whole_row_refused = decoded.iter().any(|f| *f == format!("rows[{i}]"));
        errors.extend(row.errors.into_iter().map(|e| (i, e)));
        if whole_row_refused {
            continue;
        }
        match agreement::validate(&row.input, now) {
            // A row with an optional cell that could not be decoded is refused above, but
            // its other cells are still checked against the database.
            Ok(spec) => specs.push((i, spec)),
            Err(DomainError::Invalid(found)) => errors.extend(
                found
                    .into_iter()
                    .map(|e| FieldError::new(format!("rows[{i}].{}", e.field), e.message))
                    // A cell that could not be decoded was already reported as such.
                    .filter(|e| !decoded.contains(&e.field))
                    .map(|e| (i, e)),
            ),
        }
    }
    (specs, errors)
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(import))]
pub struct Api;

#[cfg(test)]
mod tests {
    use super::*;

    fn noon() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 12, 0, 0).unwrap()
    }

    #[test]
    fn csv_from_a_danish_spreadsheet_is_read() {
        let body = "\u{FEFF}controller_id;processor_id;authorisation;notice_days;third_country_transfers;objection_requires_reason;authorised_at_signing\n\
                    roskilde;timengo-dpg;general;7;forbidden;ja;a b|c\n";
        let rows = csv_rows(body.as_bytes()).unwrap();
        let (specs, refused) = validate_rows(rows, noon());
        assert!(refused.is_empty());
        let spec = &specs[0].1;
        assert_eq!(spec.terms.notice_days, 7);
        assert!(spec.terms.objection_requires_reason);
        let annex: Vec<_> = spec
            .authorised_at_signing
            .iter()
            .flatten()
            .map(|e| e.subprocessor_id.as_str())
            .collect();
        assert_eq!(annex, ["a", "b", "c"]);
    }

    #[test]
    fn each_row_reports_its_own_errors_once() {
        let body = "controller_id,processor_id,authorisation,notice_days,third_country_transfers\n\
                    roskilde,timengo-dpg,general,seven,forbidden\n\
                    lejre,timengo-dpg,sometimes,7,forbidden\n\
                    only,two\n";
        let (_, refused) = validate_rows(csv_rows(body.as_bytes()).unwrap(), noon());
        let fields: Vec<_> = refused.iter().map(|(_, e)| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["rows[0].notice_days", "rows[1].authorisation", "rows[2]"]
        );
    }

    #[test]
    fn unknown_columns_are_named() {
        let Err(ApiError::Invalid(errors)) = csv_rows(b"controller_id,colour\nx,y\n") else {
            panic!("expected an error");
        };
        assert!(errors[0].message.contains("colour"));
    }
}
