use super::schema::{controllers, processors};
use super::{to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::party::{Controller, ControllerSpec, Processor, ProcessorSpec};
use crate::domain::registration::{Registration, RegistrationScheme};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

#[derive(Queryable, Selectable)]
#[diesel(table_name = processors)]
struct ProcessorRow {
    id: String,
    name: String,
    registration_scheme: Option<String>,
    registration_number: Option<String>,
    address: String,
    country: String,
    contact_email: Option<String>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = controllers)]
struct ControllerRow {
    id: String,
    name: String,
    registration_scheme: Option<String>,
    registration_number: Option<String>,
    contact_email: Option<String>,
}

/// Rebuilds a registration from its two columns.
pub(crate) fn registration(scheme: Option<String>, number: Option<String>) -> Option<Registration> {
    Some(Registration {
        scheme: RegistrationScheme::parse(&scheme?)?,
        number: number?,
    })
}

pub(crate) fn registration_columns(r: &Option<Registration>) -> (Option<String>, Option<String>) {
    match r {
        Some(r) => (Some(r.scheme.as_str().to_string()), Some(r.number.clone())),
        None => (None, None),
    }
}

impl From<ProcessorRow> for Processor {
    fn from(row: ProcessorRow) -> Self {
        Processor {
            id: row.id,
            name: row.name,
            registration: registration(row.registration_scheme, row.registration_number),
            address: row.address,
            country: row.country,
            contact_email: row.contact_email,
        }
    }
}

impl From<ControllerRow> for Controller {
    fn from(row: ControllerRow) -> Self {
        Controller {
            id: row.id,
            name: row.name,
            registration: registration(row.registration_scheme, row.registration_number),
            contact_email: row.contact_email,
        }
    }
}

fn exists_conflict(what: &str, id: &str, error: StoreError) -> StoreError {
    match error {
        StoreError::Conflict(_) => StoreError::Conflict(format!("{what} `{id}` already exists")),
        other => other,
    }
}

pub fn create_processor(
    conn: &mut DbConnection,
    spec: &ProcessorSpec,
    now: DateTime<Utc>,
) -> Result<Processor, StoreError> {
    let (scheme, number) = registration_columns(&spec.registration);
    // Insert and read back in one transaction: an answer is an error only if nothing was written.
    super::write_transaction(conn, |conn| {
        diesel::insert_into(processors::table)
            .values((
                processors::id.eq(&spec.id),
                processors::name.eq(&spec.name),
                processors::registration_scheme.eq(scheme),
                processors::registration_number.eq(number),
                processors::address.eq(&spec.address),
                processors::country.eq(&spec.country),
                processors::contact_email.eq(&spec.contact_email),
                processors::created_at.eq(to_db(now)),
            ))
            .execute(conn)
            .map_err(|e| exists_conflict("processor", &spec.id, e.into()))?;
        // The index of processors shows it at once (http/conditional.rs).
        super::events::note_public_write();
        get_processor(conn, &spec.id)
    })
}

pub fn get_processor(conn: &mut DbConnection, id: &str) -> Result<Processor, StoreError> {
    processors::table
        .find(id)
        .select(ProcessorRow::as_select())
        .first(conn)
        .optional()?
        .map(Processor::from)
        .ok_or_else(|| StoreError::not_found("processor", id))
}

/// Lists processors by id; `search` matches the name (case-insensitively) or the registration number.
pub fn list_processors(
    conn: &mut DbConnection,
    search: Option<&str>,
    page: &PageRequest,
) -> Result<Page<Processor>, StoreError> {
    let mut query = processors::table
        .select(ProcessorRow::as_select())
        .order(processors::id)
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(processors::id.gt(after.clone()));
    }
    if let Some(term) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", term.to_lowercase());
        query = query.filter(
            lower(processors::name)
                .like(pattern.clone())
                .or(processors::registration_number.like(pattern)),
        );
    }
    let rows = query.load(conn)?.into_iter().map(Processor::from).collect();
    Ok(page.page(rows, |p: &Processor| p.id.clone()))
}

pub fn create_controller(
    conn: &mut DbConnection,
    spec: &ControllerSpec,
    now: DateTime<Utc>,
) -> Result<Controller, StoreError> {
    let (scheme, number) = registration_columns(&spec.registration);
    // Insert and read back in one transaction: an answer is an error only if nothing was written.
    super::write_transaction(conn, |conn| {
        diesel::insert_into(controllers::table)
            .values((
                controllers::id.eq(&spec.id),
                controllers::name.eq(&spec.name),
                controllers::registration_scheme.eq(scheme),
                controllers::registration_number.eq(number),
                controllers::contact_email.eq(&spec.contact_email),
                controllers::created_at.eq::<NaiveDateTime>(to_db(now)),
            ))
            .execute(conn)
            .map_err(|e| exists_conflict("controller", &spec.id, e.into()))?;
        get_controller(conn, &spec.id)
    })
}

pub fn get_controller(conn: &mut DbConnection, id: &str) -> Result<Controller, StoreError> {
    controllers::table
        .find(id)
        .select(ControllerRow::as_select())
        .first(conn)
        .optional()?
        .map(Controller::from)
        .ok_or_else(|| StoreError::not_found("controller", id))
}

pub fn list_controllers(
    conn: &mut DbConnection,
    page: &PageRequest,
) -> Result<Page<Controller>, StoreError> {
    let mut query = controllers::table
        .select(ControllerRow::as_select())
        .order(controllers::id)
        .limit(page.fetch())
        .into_boxed();
    if let Some(after) = &page.after {
        query = query.filter(controllers::id.gt(after.clone()));
    }
    let rows = query
        .load(conn)?
        .into_iter()
        .map(Controller::from)
        .collect();
    Ok(page.page(rows, |c: &Controller| c.id.clone()))
}
