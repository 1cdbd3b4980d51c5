//! An agreement's own annex (Bilag B): the entries it authorises, recorded with it, each with
//! the decision that authorised it and from when.

use super::schema::agreement_annex_entries;
use super::{from_db, to_db, DbConnection, StoreError};
use crate::domain::agreement::{
    Agreement, AgreementSpec, AgreementWithAnnex, AnnexEntry, AnnexEntrySpec,
};
use crate::domain::authorised::AuthorisedBy;
use crate::domain::{DomainError, FieldError};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Records the annex of the new agreement `agreement_id` (see [`annex_at_signing`]).
pub(super) fn record(
    conn: &mut DbConnection,
    agreement_id: &str,
    spec: &AgreementSpec,
) -> Result<Vec<AnnexEntry>, StoreError> {
    let annex = annex_at_signing(conn, spec)?;
    let rows: Vec<_> = annex
        .iter()
        .map(|entry| {
            (
                agreement_annex_entries::agreement_id.eq(agreement_id),
                agreement_annex_entries::subprocessor_id.eq(&entry.subprocessor_id),
                agreement_annex_entries::authorised_by.eq(entry.authorised_by.as_str()),
                agreement_annex_entries::decided_at.eq(to_db(entry.decided_at)),
            )
        })
        .collect();
    for chunk in rows.chunks(500) {
        crate::insert_rows!(conn, agreement_annex_entries::table, chunk)?;
    }
    Ok(annex)
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
    let agreement = super::agreements::get(conn, id)?;
    with_annex(conn, vec![agreement])?
        .pop()
        .ok_or_else(|| StoreError::not_found("agreement", id))
}
