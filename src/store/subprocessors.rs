use super::events::{self, NewEvent};
use super::organisations::{registration, registration_columns};
use super::schema::{agreements, subprocessors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::event::EventType;
use crate::domain::geography::Location;
use crate::domain::subprocessor::{
    Contact, EntryStatus, Subprocessor, SubprocessorSpec, TransferBasis,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

#[derive(Queryable, Selectable)]
#[diesel(table_name = subprocessors)]
struct EntryRow {
    id: String,
    processor_id: String,
    name: String,
    registration_scheme: Option<String>,
    registration_number: Option<String>,
    address: String,
    country: String,
    processing_locations: String,
    location: String,
    transfer_basis: Option<String>,
    transfer_basis_note: Option<String>,
    purpose: String,
    contact_name: Option<String>,
    contact_position: Option<String>,
    contact_email: Option<String>,
    status: String,
    active_from: Option<NaiveDateTime>,
    active_until: Option<NaiveDateTime>,
}

impl TryFrom<EntryRow> for Subprocessor {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("sub-processor {}: bad {what}", row.id));
        let contact = match (&row.contact_name, &row.contact_position, &row.contact_email) {
            (None, None, None) => None,
            _ => Some(Contact {
                name: row.contact_name.clone(),
                position: row.contact_position.clone(),
                email: row.contact_email.clone(),
            }),
        };
        Ok(Subprocessor {
            processing_locations: serde_json::from_str(&row.processing_locations)
                .map_err(|_| corrupt("processing_locations"))?,
            location: Location::parse(&row.location).ok_or_else(|| corrupt("location"))?,
            transfer_basis: match &row.transfer_basis {
                None => None,
                Some(text) => {
                    Some(TransferBasis::parse(text).ok_or_else(|| corrupt("transfer_basis"))?)
                }
            },
            status: EntryStatus::parse(&row.status).ok_or_else(|| corrupt("status"))?,
            registration: registration(row.registration_scheme, row.registration_number),
            contact,
            id: row.id,
            processor_id: row.processor_id,
            name: row.name,
            address: row.address,
            country: row.country,
            transfer_basis_note: row.transfer_basis_note,
            purpose: row.purpose,
            active_from: row.active_from.map(from_db),
            active_until: row.active_until.map(from_db),
        })
    }
}

fn convert(rows: Vec<EntryRow>) -> Result<Vec<Subprocessor>, StoreError> {
    rows.into_iter().map(Subprocessor::try_from).collect()
}

/// Inserts an entry on a processor's list with the given status.
pub fn insert(
    conn: &mut DbConnection,
    processor_id: &str,
    spec: &SubprocessorSpec,
    status: EntryStatus,
    active_from: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Subprocessor, StoreError> {
    let id = uuid::Uuid::now_v7().to_string();
    let (scheme, number) = registration_columns(&spec.registration);
    let contact = spec.contact.clone().unwrap_or(Contact {
        name: None,
        position: None,
        email: None,
    });
    let locations = serde_json::to_string(&spec.processing_locations)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    diesel::insert_into(subprocessors::table)
        .values((
            subprocessors::id.eq(&id),
            subprocessors::processor_id.eq(processor_id),
            subprocessors::name.eq(&spec.name),
            subprocessors::registration_scheme.eq(scheme),
            subprocessors::registration_number.eq(number),
            subprocessors::address.eq(&spec.address),
            subprocessors::country.eq(&spec.country),
            subprocessors::processing_locations.eq(locations),
            subprocessors::location.eq(spec.location.as_str()),
            subprocessors::transfer_basis.eq(spec.transfer_basis.map(TransferBasis::as_str)),
            subprocessors::transfer_basis_note.eq(&spec.transfer_basis_note),
            subprocessors::purpose.eq(&spec.purpose),
            subprocessors::contact_name.eq(contact.name),
            subprocessors::contact_position.eq(contact.position),
            subprocessors::contact_email.eq(contact.email),
            subprocessors::status.eq(status.as_str()),
            subprocessors::active_from.eq(active_from.map(to_db)),
            subprocessors::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    get(conn, processor_id, &id)
}

pub fn get(
    conn: &mut DbConnection,
    processor_id: &str,
    id: &str,
) -> Result<Subprocessor, StoreError> {
    subprocessors::table
        .filter(subprocessors::processor_id.eq(processor_id))
        .filter(subprocessors::id.eq(id))
        .select(EntryRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("sub-processor", id))?
        .try_into()
}

/// Seeds a processor's list directly: allowed only before the processor has any agreement,
/// since afterwards every addition needs the controllers' authorisation through a change.
pub fn seed(
    conn: &mut DbConnection,
    processor_id: &str,
    specs: &[SubprocessorSpec],
    now: DateTime<Utc>,
) -> Result<Vec<Subprocessor>, StoreError> {
    super::write_transaction(conn, |conn| {
        super::organisations::get_processor(conn, processor_id)?;
        let agreement_count: i64 = agreements::table
            .filter(agreements::processor_id.eq(processor_id))
            .count()
            .get_result(conn)?;
        if agreement_count > 0 {
            return Err(StoreError::Conflict(format!(
                "`{processor_id}` already has {agreement_count} agreement(s): add sub-processors \
                 through POST /v1/processors/{processor_id}/changes so controllers can object"
            )));
        }
        let mut added = Vec::with_capacity(specs.len());
        for spec in specs {
            let entry = insert(
                conn,
                processor_id,
                spec,
                EntryStatus::Active,
                Some(now),
                now,
            )?;
            events::append(
                conn,
                now,
                NewEvent {
                    event_type: EventType::SubprocessorAdded,
                    processor_id: processor_id.to_string(),
                    controller_id: None,
                    data: serde_json::to_value(&entry)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                },
            )?;
            added.push(entry);
        }
        Ok(added)
    })
}

/// A processor's list: the active entries, or with `as_of` the entries active at that instant.
pub fn list(
    conn: &mut DbConnection,
    processor_id: &str,
    as_of: Option<DateTime<Utc>>,
    page: &PageRequest,
) -> Result<Page<Subprocessor>, StoreError> {
    let mut query = subprocessors::table
        .filter(subprocessors::processor_id.eq(processor_id))
        .select(EntryRow::as_select())
        .order(subprocessors::id)
        .limit(page.fetch())
        .into_boxed();
    query = match as_of {
        None => query.filter(subprocessors::status.eq(EntryStatus::Active.as_str())),
        Some(at) => {
            let at = to_db(at);
            query.filter(subprocessors::active_from.le(at)).filter(
                subprocessors::active_until
                    .is_null()
                    .or(subprocessors::active_until.gt(at)),
            )
        }
    };
    if let Some(after) = &page.after {
        query = query.filter(subprocessors::id.gt(after.clone()));
    }
    let rows = convert(query.load(conn)?)?;
    Ok(page.page(rows, |e| e.id.clone()))
}

/// The whole list at an instant (or now), sorted by name, for exports and pages.
pub fn all(
    conn: &mut DbConnection,
    processor_id: &str,
    as_of: Option<DateTime<Utc>>,
) -> Result<Vec<Subprocessor>, StoreError> {
    let mut entries = Vec::new();
    let mut request = PageRequest::first(super::page::MAX_LIMIT);
    loop {
        let page = list(conn, processor_id, as_of, &request)?;
        entries.extend(page.items);
        match page.next_cursor {
            None => break,
            Some(_) => request.after = entries.last().map(|e| e.id.clone()),
        }
    }
    entries.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.id.cmp(&b.id))
    });
    Ok(entries)
}
