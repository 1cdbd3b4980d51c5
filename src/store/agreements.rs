use super::schema::{agreement_annex_entries, agreements, controllers, processors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::agreement::{
    Agreement, AgreementSpec, AgreementWithAnnex, AnnexEntry, AnnexEntrySpec, Authorisation,
    ThirdCountryTransfers,
};
use crate::domain::authorised::AuthorisedBy;
use crate::domain::{DomainError, FieldError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Queryable, Selectable)]
#[diesel(table_name = agreements)]
struct AgreementRow {
    id: String,
    controller_id: String,
    processor_id: String,
    authorisation: String,
    notice_days: i32,
    objection_requires_reason: bool,
    third_country_transfers: String,
    signed_at: NaiveDateTime,
    reference: Option<String>,
    time_zone: String,
}

impl TryFrom<AgreementRow> for Agreement {
    type Error = StoreError;

    fn try_from(row: AgreementRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("agreement {}: bad {what}", row.id));
        Ok(Agreement {
            authorisation: Authorisation::parse(&row.authorisation)
                .ok_or_else(|| corrupt("authorisation"))?,
            third_country_transfers: ThirdCountryTransfers::parse(&row.third_country_transfers)
                .ok_or_else(|| corrupt("third_country_transfers"))?,
            notice_days: u16::try_from(row.notice_days).map_err(|_| corrupt("notice_days"))?,
            time_zone: crate::domain::deadline::parse_zone(&row.time_zone)
                .ok_or_else(|| corrupt("time_zone"))?,
            id: row.id,
            controller_id: row.controller_id,
            processor_id: row.processor_id,
            objection_requires_reason: row.objection_requires_reason,
            signed_at: from_db(row.signed_at),
            reference: row.reference,
        })
    }
}

fn convert(rows: Vec<AgreementRow>) -> Result<Vec<Agreement>, StoreError> {
    rows.into_iter().map(Agreement::try_from).collect()
}

/// Records a signed agreement. The lifecycle hooks in here later to open windows for changes
/// that are announced at signing time, which is why this runs in a write transaction.
pub fn create(
    conn: &mut DbConnection,
    spec: &AgreementSpec,
    now: DateTime<Utc>,
) -> Result<AgreementWithAnnex, StoreError> {
    super::write_transaction(conn, |conn| {
        lock_processor(conn, &spec.processor_id)?;
        create_locked(conn, spec, now)
    })
}

/// Taken first: signing may open windows, which appends to the processor's chain. A missing
/// processor is reported as a field error by the signing itself.
fn lock_processor(conn: &mut DbConnection, processor_id: &str) -> Result<(), StoreError> {
    match super::events::lock_chain(conn, processor_id) {
        Ok(()) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Records many agreements at once, all or none: every row is checked against the database
/// in one transaction, and any refusal rolls all back and is reported as a field error under
/// `rows[i]`, together with the refusals the caller found before (`refused`, by row).
pub fn import(
    conn: &mut DbConnection,
    rows: &[(usize, AgreementSpec)],
    refused: Vec<(usize, FieldError)>,
    now: DateTime<Utc>,
) -> Result<Vec<AgreementWithAnnex>, StoreError> {
    super::write_transaction(conn, |conn| {
        // Locks in one order, so two imports cannot wait for each other.
        let mut processors: Vec<&str> = rows.iter().map(|(_, s)| s.processor_id.as_str()).collect();
        processors.sort_unstable();
        processors.dedup();
        for processor_id in processors {
            lock_processor(conn, processor_id)?;
        }
        let mut created = Vec::new();
        let mut problems = refused;
        for (i, spec) in rows {
            // Each refusal below is decided by reads before any write, so the transaction
            // stays usable for the rows after it.
            match create_locked(conn, spec, now) {
                Ok(agreement) => created.push(agreement),
                Err(StoreError::Domain(DomainError::Invalid(errors))) => {
                    problems.extend(errors.into_iter().map(|e| {
                        (
                            *i,
                            FieldError::new(format!("rows[{i}].{}", e.field), e.message),
                        )
                    }))
                }
                Err(StoreError::Conflict(message)) => {
                    problems.push((*i, FieldError::new(format!("rows[{i}]"), message)))
                }
                Err(other) => return Err(other),
            }
        }
        if problems.is_empty() {
            return Ok(created);
        }
        problems.sort_by_key(|(i, _)| *i);
        Err(StoreError::Domain(DomainError::Invalid(
            problems.into_iter().map(|(_, e)| e).collect(),
        )))
    })
}

fn create_locked(
    conn: &mut DbConnection,
    spec: &AgreementSpec,
    now: DateTime<Utc>,
) -> Result<AgreementWithAnnex, StoreError> {
    let mut missing = Vec::new();
    let controller_exists: i64 = controllers::table
        .filter(controllers::id.eq(&spec.controller_id))
        .count()
        .get_result(conn)?;
    if controller_exists == 0 {
        missing.push(FieldError::new(
            "controller_id",
            format!(
                "no controller `{}`: create it first with POST /v1/controllers",
                spec.controller_id
            ),
        ));
    }
    let processor_exists: i64 = processors::table
        .filter(processors::id.eq(&spec.processor_id))
        .count()
        .get_result(conn)?;
    if processor_exists == 0 {
        missing.push(FieldError::new(
            "processor_id",
            format!("no processor `{}`", spec.processor_id),
        ));
    }
    if !missing.is_empty() {
        return Err(StoreError::Domain(DomainError::Invalid(missing)));
    }
    // One agreement per controller and processor: a second one would re-authorise, by its
    // own signing date, entries the first one's windows refused (objection laundering).
    // The chain lock taken above serialises this check with every other signing.
    let existing: Option<String> = agreements::table
        .filter(agreements::controller_id.eq(&spec.controller_id))
        .filter(agreements::processor_id.eq(&spec.processor_id))
        .select(agreements::id)
        .first(conn)
        .optional()?;
    if let Some(existing) = existing {
        return Err(StoreError::Conflict(format!(
            "controller `{}` already has an agreement with processor `{}` (`{existing}`): \
             there is one agreement per controller and processor, and a second one may not \
             authorise again what the first one's windows decided",
            spec.controller_id, spec.processor_id
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    diesel::insert_into(agreements::table)
        .values((
            agreements::id.eq(&id),
            agreements::controller_id.eq(&spec.controller_id),
            agreements::processor_id.eq(&spec.processor_id),
            agreements::authorisation.eq(spec.terms.authorisation.as_str()),
            agreements::notice_days.eq(i32::from(spec.terms.notice_days)),
            agreements::objection_requires_reason.eq(spec.terms.objection_requires_reason),
            agreements::third_country_transfers.eq(spec.terms.third_country_transfers.as_str()),
            agreements::signed_at.eq(to_db(spec.signed_at)),
            agreements::reference.eq(&spec.reference),
            agreements::time_zone.eq(spec.terms.time_zone.name()),
            agreements::created_at.eq(to_db(now)),
        ))
        .execute(conn)?;
    let annex = annex_at_signing(conn, spec)?;
    let rows: Vec<_> = annex
        .iter()
        .map(|entry| {
            (
                agreement_annex_entries::agreement_id.eq(&id),
                agreement_annex_entries::subprocessor_id.eq(&entry.subprocessor_id),
                agreement_annex_entries::authorised_by.eq(entry.authorised_by.as_str()),
                agreement_annex_entries::decided_at.eq(to_db(entry.decided_at)),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        crate::insert_rows!(conn, agreement_annex_entries::table, chunk)?;
    }
    let agreement = get(conn, &id)?;
    super::lifecycle::open_windows_for_agreement(conn, &agreement, now)?;
    Ok(AgreementWithAnnex {
        agreement,
        authorised_at_signing: annex,
    })
}

/// The annex an agreement is recorded with: the entries the caller names, each checked to be
/// one of the processor's entries in use, or else the processor's list at `signed_at`.
fn annex_at_signing(
    conn: &mut DbConnection,
    spec: &AgreementSpec,
) -> Result<Vec<AnnexEntry>, StoreError> {
    let Some(named) = &spec.authorised_at_signing else {
        return Ok(
            super::subprocessors::all(conn, &spec.processor_id, Some(spec.signed_at))?
                .into_iter()
                .map(|entry| AnnexEntry {
                    subprocessor_id: entry.id,
                    authorised_by: AuthorisedBy::Agreement,
                    decided_at: spec.signed_at,
                })
                .collect(),
        );
    };
    let in_use: std::collections::HashSet<String> =
        super::subprocessors::all(conn, &spec.processor_id, None)?
            .into_iter()
            .map(|entry| entry.id)
            .collect();
    let mut problems = Vec::new();
    for (i, entry) in named.iter().enumerate() {
        if !in_use.contains(&entry.subprocessor_id) {
            problems.push(FieldError::new(
                format!("authorised_at_signing[{i}].subprocessor_id"),
                format!(
                    "`{}` is not an entry in use on processor `{}`'s list: name entries from \
                     GET /v1/processors/{}/subprocessors",
                    entry.subprocessor_id, spec.processor_id, spec.processor_id
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::Domain(DomainError::Invalid(problems)));
    }
    Ok(named
        .iter()
        .map(|entry: &AnnexEntrySpec| AnnexEntry {
            subprocessor_id: entry.subprocessor_id.clone(),
            authorised_by: entry.authorised_by,
            decided_at: entry.decided_at.unwrap_or(spec.signed_at),
        })
        .collect())
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = agreement_annex_entries)]
struct AnnexRow {
    agreement_id: String,
    subprocessor_id: String,
    authorised_by: String,
    decided_at: NaiveDateTime,
}

/// Agreements with their annexes, read in one query per chunk of agreements.
pub fn with_annex(
    conn: &mut DbConnection,
    agreements: Vec<Agreement>,
) -> Result<Vec<AgreementWithAnnex>, StoreError> {
    let mut annexes: HashMap<String, Vec<AnnexEntry>> = HashMap::new();
    let ids: Vec<&str> = agreements.iter().map(|a| a.id.as_str()).collect();
    // Bound the bind parameters per statement (SQLite allows 32,766).
    for chunk in ids.chunks(500) {
        let rows: Vec<AnnexRow> = agreement_annex_entries::table
            .filter(agreement_annex_entries::agreement_id.eq_any(chunk))
            .order((
                agreement_annex_entries::agreement_id,
                agreement_annex_entries::subprocessor_id,
            ))
            .select(AnnexRow::as_select())
            .load(conn)?;
        for row in rows {
            let authorised_by = AuthorisedBy::parse(&row.authorised_by).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "agreement {}: bad annex authorised_by",
                    row.agreement_id
                ))
            })?;
            annexes
                .entry(row.agreement_id)
                .or_default()
                .push(AnnexEntry {
                    subprocessor_id: row.subprocessor_id,
                    authorised_by,
                    decided_at: from_db(row.decided_at),
                });
        }
    }
    Ok(agreements
        .into_iter()
        .map(|agreement| AgreementWithAnnex {
            authorised_at_signing: annexes.remove(&agreement.id).unwrap_or_default(),
            agreement,
        })
        .collect())
}

/// An agreement with its annex, as the API shows it.
pub fn get_with_annex(conn: &mut DbConnection, id: &str) -> Result<AgreementWithAnnex, StoreError> {
    let agreement = get(conn, id)?;
    with_annex(conn, vec![agreement])?
        .pop()
        .ok_or_else(|| StoreError::not_found("agreement", id))
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Agreement, StoreError> {
    agreements::table
        .find(id)
        .select(AgreementRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("agreement", id))?
        .try_into()
}

pub enum Party<'a> {
    Processor(&'a str),
    Controller(&'a str),
}

pub fn list(
    conn: &mut DbConnection,
    party: Party<'_>,
    page: &PageRequest,
) -> Result<Page<AgreementWithAnnex>, StoreError> {
    let mut query = agreements::table
        .select(AgreementRow::as_select())
        .order(agreements::id)
        .limit(page.fetch())
        .into_boxed();
    query = match party {
        Party::Processor(id) => query.filter(agreements::processor_id.eq(id.to_string())),
        Party::Controller(id) => query.filter(agreements::controller_id.eq(id.to_string())),
    };
    if let Some(after) = &page.after {
        query = query.filter(agreements::id.gt(after.clone()));
    }
    let loaded = convert(query.load(conn)?)?;
    let rows = with_annex(conn, loaded)?;
    Ok(page.page(rows, |a| a.agreement.id.clone()))
}

/// Every agreement of a processor, for opening windows and checking seeding.
pub fn all_for_processor(
    conn: &mut DbConnection,
    processor_id: &str,
) -> Result<Vec<Agreement>, StoreError> {
    convert(
        agreements::table
            .filter(agreements::processor_id.eq(processor_id))
            .order(agreements::id)
            .select(AgreementRow::as_select())
            .load(conn)?,
    )
}

/// Every agreement of a controller, for its authorised list.
pub fn all_for_controller(
    conn: &mut DbConnection,
    controller_id: &str,
) -> Result<Vec<Agreement>, StoreError> {
    convert(
        agreements::table
            .filter(agreements::controller_id.eq(controller_id))
            .order(agreements::id)
            .select(AgreementRow::as_select())
            .load(conn)?,
    )
}
