use super::events::{self, NewEvent};
use super::organisations::{registration, registration_columns};
use super::schema::{agreements, subprocessor_versions, subprocessors};
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
    version: i32,
    access_locations: String,
    sub_subprocessors: String,
    purpose_en: Option<String>,
    responsibilities: Option<String>,
    responsibilities_en: Option<String>,
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
        let version = u32::try_from(row.version).map_err(|_| corrupt("version"))?;
        Ok(Subprocessor {
            processing_locations: serde_json::from_str(&row.processing_locations)
                .map_err(|_| corrupt("processing_locations"))?,
            access_locations: serde_json::from_str(&row.access_locations)
                .map_err(|_| corrupt("access_locations"))?,
            sub_subprocessors: serde_json::from_str(&row.sub_subprocessors)
                .map_err(|_| corrupt("sub_subprocessors"))?,
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
            purpose_en: row.purpose_en,
            responsibilities: row.responsibilities,
            responsibilities_en: row.responsibilities_en,
            active_from: row.active_from.map(from_db),
            active_until: row.active_until.map(from_db),
            version,
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
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
    let locations = serde_json::to_string(&spec.processing_locations).map_err(corrupt)?;
    let access = serde_json::to_string(&spec.access_locations).map_err(corrupt)?;
    let subs = serde_json::to_string(&spec.sub_subprocessors).map_err(corrupt)?;
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
            subprocessors::access_locations.eq(access),
            subprocessors::sub_subprocessors.eq(subs),
            subprocessors::location.eq(spec.location.as_str()),
            subprocessors::transfer_basis.eq(spec.transfer_basis.map(TransferBasis::as_str)),
            subprocessors::transfer_basis_note.eq(&spec.transfer_basis_note),
            subprocessors::purpose.eq(&spec.purpose),
            subprocessors::purpose_en.eq(&spec.purpose_en),
            subprocessors::responsibilities.eq(&spec.responsibilities),
            subprocessors::responsibilities_en.eq(&spec.responsibilities_en),
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
    let mut rows = convert(query.load(conn)?)?;
    if let Some(at) = as_of {
        in_force_at(conn, &mut rows, at)?;
    }
    Ok(page.page(rows, |e| e.id.clone()))
}

/// Replaces each modified entry by the version that was in force at `at`.
fn in_force_at(
    conn: &mut DbConnection,
    entries: &mut [Subprocessor],
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let modified: Vec<&str> = entries
        .iter()
        .filter(|e| e.version > 1)
        .map(|e| e.id.as_str())
        .collect();
    if modified.is_empty() {
        return Ok(());
    }
    // The earliest version that ended after `at` was in force then.
    let ended: Vec<(String, String)> = subprocessor_versions::table
        .filter(subprocessor_versions::entry_id.eq_any(&modified))
        .filter(subprocessor_versions::valid_until.gt(to_db(at)))
        .order((
            subprocessor_versions::entry_id,
            subprocessor_versions::version,
        ))
        .select((
            subprocessor_versions::entry_id,
            subprocessor_versions::snapshot,
        ))
        .load(conn)?;
    let mut earlier = std::collections::HashMap::new();
    for (entry_id, snapshot) in ended {
        earlier.entry(entry_id).or_insert(snapshot);
    }
    for entry in entries.iter_mut() {
        if let Some(snapshot) = earlier.get(&entry.id) {
            let mut version: Subprocessor = serde_json::from_str(snapshot).map_err(|e| {
                StoreError::Corrupt(format!("sub-processor {}: bad version: {e}", entry.id))
            })?;
            // Whether and when it left the list is the entry's, not the version's.
            version.status = entry.status;
            version.active_until = entry.active_until;
            *entry = version;
        }
    }
    Ok(())
}

/// Makes a modification effective at `at`: the entry keeps its id and takes the proposed
/// version's contents as its next version; the version it leaves is kept whole, and the
/// proposal, now carried by the entry, leaves nothing of its own on the list.
pub fn apply_modification(
    conn: &mut DbConnection,
    processor_id: &str,
    entry_id: &str,
    proposal_id: &str,
    change_id: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let current = get(conn, processor_id, entry_id)?;
    let snapshot =
        serde_json::to_string(&current).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let version = i32::try_from(current.version)
        .ok()
        .and_then(|v| v.checked_add(1))
        .ok_or_else(|| StoreError::Corrupt(format!("sub-processor {entry_id}: bad version")))?;
    diesel::insert_into(subprocessor_versions::table)
        .values((
            subprocessor_versions::entry_id.eq(entry_id),
            subprocessor_versions::version.eq(version - 1),
            subprocessor_versions::snapshot.eq(snapshot),
            subprocessor_versions::valid_until.eq(to_db(at)),
            subprocessor_versions::change_id.eq(change_id),
        ))
        .execute(conn)?;
    let proposal: EntryRow = subprocessors::table
        .find(proposal_id)
        .select(EntryRow::as_select())
        .first(conn)?;
    diesel::update(subprocessors::table.find(entry_id))
        .set((
            subprocessors::name.eq(proposal.name),
            subprocessors::registration_scheme.eq(proposal.registration_scheme),
            subprocessors::registration_number.eq(proposal.registration_number),
            subprocessors::address.eq(proposal.address),
            subprocessors::country.eq(proposal.country),
            subprocessors::processing_locations.eq(proposal.processing_locations),
            subprocessors::access_locations.eq(proposal.access_locations),
            subprocessors::sub_subprocessors.eq(proposal.sub_subprocessors),
            subprocessors::location.eq(proposal.location),
            subprocessors::transfer_basis.eq(proposal.transfer_basis),
            subprocessors::transfer_basis_note.eq(proposal.transfer_basis_note),
            subprocessors::purpose.eq(proposal.purpose),
            subprocessors::purpose_en.eq(proposal.purpose_en),
            subprocessors::responsibilities.eq(proposal.responsibilities),
            subprocessors::responsibilities_en.eq(proposal.responsibilities_en),
            subprocessors::contact_name.eq(proposal.contact_name),
            subprocessors::contact_position.eq(proposal.contact_position),
            subprocessors::contact_email.eq(proposal.contact_email),
            subprocessors::version.eq(version),
        ))
        .execute(conn)?;
    diesel::update(subprocessors::table.find(proposal_id))
        .set((
            subprocessors::status.eq(EntryStatus::Inactive.as_str()),
            subprocessors::active_from.eq(to_db(at)),
            subprocessors::active_until.eq(to_db(at)),
        ))
        .execute(conn)?;
    Ok(())
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
