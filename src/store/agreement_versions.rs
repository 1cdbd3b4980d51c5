//! The versions of an agreement's terms: version 1 as recorded, then amendments, each
//! proposed by one party and in force once the other confirms it (an admin's at once).
//! `agreements` keeps the terms of the version in force; windows name the version they
//! opened under and keep its terms.

use super::agreements::{self as agreement_store, agreement_event, json_text};
use super::schema::{agreement_versions, agreements};
use super::{from_db, to_db, DbConnection, StoreError};
use crate::domain::agreement::{
    Agreement, AgreementDetail, AgreementSpec, AgreementState, AgreementVersion, Authorisation,
    NoticeStarts, Proposer, ThirdCountryTransfers, VersionState,
};
use crate::domain::event::EventType;
use crate::domain::window::Decider;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Queryable, Selectable)]
#[diesel(table_name = agreement_versions)]
struct VersionRow {
    agreement_id: String,
    version: i32,
    authorisation: String,
    notice_days: i32,
    objection_requires_reason: bool,
    third_country_transfers: String,
    time_zone: String,
    allowed_locations: Option<String>,
    annex_name: String,
    state: String,
    proposed_by_party: String,
    proposed_at: NaiveDateTime,
    proposed_by: Option<String>,
    confirmed_at: Option<NaiveDateTime>,
    confirmed_by: Option<String>,
    notice_starts: String,
}

impl TryFrom<VersionRow> for AgreementVersion {
    type Error = StoreError;

    fn try_from(row: VersionRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| {
            StoreError::Corrupt(format!(
                "agreement {} version {}: bad {what}",
                row.agreement_id, row.version
            ))
        };
        let decider = |stored: &Option<String>| {
            stored
                .as_deref()
                .map(|text| serde_json::from_str::<Decider>(text).map_err(|_| corrupt("decider")))
                .transpose()
        };
        Ok(AgreementVersion {
            version: u32::try_from(row.version).map_err(|_| corrupt("version"))?,
            state: VersionState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
            authorisation: Authorisation::parse(&row.authorisation)
                .ok_or_else(|| corrupt("authorisation"))?,
            notice_days: u16::try_from(row.notice_days).map_err(|_| corrupt("notice_days"))?,
            objection_requires_reason: row.objection_requires_reason,
            third_country_transfers: ThirdCountryTransfers::parse(&row.third_country_transfers)
                .ok_or_else(|| corrupt("third_country_transfers"))?,
            time_zone: crate::domain::deadline::parse_zone(&row.time_zone)
                .ok_or_else(|| corrupt("time_zone"))?,
            notice_starts: NoticeStarts::parse(&row.notice_starts)
                .ok_or_else(|| corrupt("notice_starts"))?,
            allowed_locations: row
                .allowed_locations
                .as_deref()
                .map(|text| serde_json::from_str(text).map_err(|_| corrupt("allowed_locations")))
                .transpose()?,
            proposed_by_party: Proposer::parse(&row.proposed_by_party)
                .ok_or_else(|| corrupt("proposed_by_party"))?,
            proposed_by: decider(&row.proposed_by)?,
            confirmed_by: decider(&row.confirmed_by)?,
            proposed_at: from_db(row.proposed_at),
            confirmed_at: row.confirmed_at.map(from_db),
            annex_name: row.annex_name,
        })
    }
}

/// A version as it is first written.
pub(crate) struct NewVersion<'a> {
    pub agreement_id: &'a str,
    pub version: u32,
    pub spec: &'a AgreementSpec,
    pub state: VersionState,
    pub proposer: Proposer,
    pub proposed_by: Option<&'a Decider>,
    pub confirmed_by: Option<&'a Decider>,
    pub now: DateTime<Utc>,
}

pub(crate) fn insert(conn: &mut DbConnection, new: NewVersion<'_>) -> Result<(), StoreError> {
    let version = i32::try_from(new.version)
        .map_err(|_| StoreError::Conflict("too many amendments".into()))?;
    let terms = &new.spec.terms;
    let confirmed_at = (new.state == VersionState::Confirmed).then_some(to_db(new.now));
    diesel::insert_into(agreement_versions::table)
        .values((
            (
                agreement_versions::agreement_id.eq(new.agreement_id),
                agreement_versions::version.eq(version),
                agreement_versions::authorisation.eq(terms.authorisation.as_str()),
                agreement_versions::notice_days.eq(i32::from(terms.notice_days)),
                agreement_versions::objection_requires_reason.eq(terms.objection_requires_reason),
                agreement_versions::third_country_transfers
                    .eq(terms.third_country_transfers.as_str()),
                agreement_versions::time_zone.eq(terms.time_zone.name()),
                agreement_versions::allowed_locations.eq(new
                    .spec
                    .allowed_locations
                    .as_ref()
                    .map(json_text)
                    .transpose()?),
                agreement_versions::annex_name.eq(&new.spec.annex_name),
                agreement_versions::notice_starts.eq(terms.notice_starts.as_str()),
            ),
            (
                agreement_versions::state.eq(new.state.as_str()),
                agreement_versions::proposed_by_party.eq(new.proposer.as_str()),
                agreement_versions::proposed_at.eq(to_db(new.now)),
                agreement_versions::proposed_by.eq(new.proposed_by.map(json_text).transpose()?),
                agreement_versions::confirmed_at.eq(confirmed_at),
                agreement_versions::confirmed_by.eq(new.confirmed_by.map(json_text).transpose()?),
            ),
        ))
        .execute(conn)?;
    Ok(())
}

/// Every version of an agreement, oldest first.
pub fn versions(
    conn: &mut DbConnection,
    agreement_id: &str,
) -> Result<Vec<AgreementVersion>, StoreError> {
    agreement_versions::table
        .filter(agreement_versions::agreement_id.eq(agreement_id))
        .order(agreement_versions::version)
        .select(VersionRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AgreementVersion::try_from)
        .collect()
}

/// The agreement with its versions.
pub fn detail(conn: &mut DbConnection, agreement_id: &str) -> Result<AgreementDetail, StoreError> {
    let agreement = agreement_store::get(conn, agreement_id)?;
    let with_annex = super::agreement_annex::with_annex(conn, vec![agreement])?
        .pop()
        .ok_or_else(|| StoreError::not_found("agreement", agreement_id))?;
    Ok(AgreementDetail {
        agreement: with_annex.agreement,
        authorised_at_signing: with_annex.authorised_at_signing,
        versions: versions(conn, agreement_id)?,
        notice_contacts: super::contacts::list(
            conn,
            super::contacts::Owner::Agreement,
            agreement_id,
        )?,
    })
}

/// (agreement id, version) → (authorisation, objection_requires_reason).
pub(crate) type VersionTerms = HashMap<(String, i32), (Authorisation, bool)>;

/// The authorisation of each (agreement, version) asked for, to judge windows by the terms
/// they opened under.
pub(crate) fn authorisations(
    conn: &mut DbConnection,
    agreement_ids: &[String],
) -> Result<VersionTerms, StoreError> {
    let mut found = HashMap::new();
    for chunk in agreement_ids.chunks(500) {
        let rows: Vec<(String, i32, String, bool)> = agreement_versions::table
            .filter(agreement_versions::agreement_id.eq_any(chunk))
            .select((
                agreement_versions::agreement_id,
                agreement_versions::version,
                agreement_versions::authorisation,
                agreement_versions::objection_requires_reason,
            ))
            .load(conn)?;
        for (id, version, text, requires_reason) in rows {
            let authorisation = Authorisation::parse(&text).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "agreement {id} version {version}: bad authorisation"
                ))
            })?;
            found.insert((id, version), (authorisation, requires_reason));
        }
    }
    Ok(found)
}

/// The version waiting for confirmation, if any.
/// The version of the agreement's terms the processor proposed and the controller has yet to
/// confirm (a new agreement's version 1, or an amendment), if any.
pub fn awaiting_controller(
    conn: &mut DbConnection,
    agreement_id: &str,
) -> Result<Option<u32>, StoreError> {
    Ok(versions(conn, agreement_id)?
        .into_iter()
        .filter(|v| v.state == VersionState::Proposed && v.proposed_by_party == Proposer::Processor)
        .map(|v| v.version)
        .max())
}

fn pending(
    conn: &mut DbConnection,
    agreement: &Agreement,
) -> Result<Option<AgreementVersion>, StoreError> {
    Ok(versions(conn, &agreement.id)?
        .into_iter()
        .find(|v| v.state == VersionState::Proposed && v.version > agreement.version))
}

fn confirm_path(agreement: &Agreement, by: Proposer) -> String {
    match by {
        Proposer::Processor => format!(
            "POST /v1/processors/{}/agreements/{}/confirmation",
            agreement.processor_id, agreement.id
        ),
        _ => format!(
            "POST /v1/controllers/{}/agreements/{}/confirmation",
            agreement.controller_id, agreement.id
        ),
    }
}

/// Proposes an amendment of an active agreement (event `agreement.amended`); an admin's
/// takes effect at once (then `agreement.confirmed` too).
pub fn amend(
    conn: &mut DbConnection,
    agreement_id: &str,
    spec: &AgreementSpec,
    proposer: Proposer,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<AgreementDetail, StoreError> {
    let processor_id = agreement_store::get(conn, agreement_id)?.processor_id;
    super::write_transaction(conn, |conn| {
        super::events::lock_chain(conn, &processor_id)?;
        let agreement = agreement_store::get(conn, agreement_id)?;
        if agreement.state != AgreementState::Active || agreement.terminated_at.is_some() {
            let why = if agreement.terminated_at.is_some() {
                "terminated: it cannot be amended".to_string()
            } else {
                format!(
                    "proposed: confirm it first ({})",
                    confirm_path(&agreement, Proposer::Controller)
                )
            };
            return Err(StoreError::Conflict(format!(
                "agreement `{agreement_id}` is {why}"
            )));
        }
        if let Some(open) = pending(conn, &agreement)? {
            let confirmer = match open.proposed_by_party {
                Proposer::Controller => Proposer::Processor,
                _ => Proposer::Controller,
            };
            return Err(StoreError::Conflict(format!(
                "version {} of agreement `{agreement_id}` awaits the {}'s confirmation ({}); \
                 one amendment at a time",
                open.version,
                confirmer.as_str(),
                confirm_path(&agreement, confirmer)
            )));
        }
        let latest: Option<i32> = agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(agreement_id))
            .select(diesel::dsl::max(agreement_versions::version))
            .first(conn)?;
        let version = latest
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(agreement.version)
            .checked_add(1)
            .ok_or_else(|| StoreError::Conflict("too many amendments".into()))?;
        let admin = proposer == Proposer::Admin;
        insert(
            conn,
            NewVersion {
                agreement_id,
                version,
                spec,
                state: if admin {
                    VersionState::Confirmed
                } else {
                    VersionState::Proposed
                },
                proposer,
                proposed_by: Some(by),
                confirmed_by: admin.then_some(by),
                now,
            },
        )?;
        // The event shows the agreement as in force with every version, the new one last.
        let data = serde_json::to_value(detail(conn, agreement_id)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        super::events::append(
            conn,
            now,
            super::events::NewEvent {
                event_type: EventType::AgreementAmended,
                processor_id: agreement.processor_id.clone(),
                controller_id: Some(agreement.controller_id.clone()),
                data,
            },
        )?;
        if admin {
            put_in_force(conn, &agreement, version, spec, now)?;
        }
        detail(conn, agreement_id)
    })
}

/// The other party confirms the pending amendment (event `agreement.confirmed`): its terms
/// apply to windows opened from now on.
pub fn confirm(
    conn: &mut DbConnection,
    agreement: &Agreement,
    confirmer: Proposer,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(open) = pending(conn, agreement)? else {
        return Err(StoreError::Conflict(format!(
            "agreement `{}` is {} with no amendment awaiting confirmation",
            agreement.id,
            if agreement.terminated_at.is_some() {
                "terminated"
            } else {
                agreement.state.as_str()
            }
        )));
    };
    if open.proposed_by_party == confirmer {
        return Err(StoreError::Conflict(format!(
            "version {} was proposed by the {}: the other party confirms it ({})",
            open.version,
            confirmer.as_str(),
            confirm_path(
                agreement,
                match confirmer {
                    Proposer::Processor => Proposer::Controller,
                    _ => Proposer::Processor,
                }
            )
        )));
    }
    let version = i32::try_from(open.version)
        .map_err(|_| StoreError::Corrupt("version out of range".into()))?;
    let updated = diesel::update(
        agreement_versions::table
            .filter(agreement_versions::agreement_id.eq(&agreement.id))
            .filter(agreement_versions::version.eq(version))
            .filter(agreement_versions::state.eq(VersionState::Proposed.as_str())),
    )
    .set((
        agreement_versions::state.eq(VersionState::Confirmed.as_str()),
        agreement_versions::confirmed_at.eq(to_db(now)),
        agreement_versions::confirmed_by.eq(json_text(by)?),
    ))
    .execute(conn)?;
    if updated != 1 {
        return Err(StoreError::Busy);
    }
    let spec = AgreementSpec {
        authorised_at_signing: None,
        controller_id: agreement.controller_id.clone(),
        processor_id: agreement.processor_id.clone(),
        terms: crate::domain::agreement::AgreementTerms {
            authorisation: open.authorisation,
            notice_days: open.notice_days,
            objection_requires_reason: open.objection_requires_reason,
            third_country_transfers: open.third_country_transfers,
            time_zone: open.time_zone,
            notice_starts: open.notice_starts,
        },
        signed_at: agreement.signed_at,
        reference: agreement.reference.clone(),
        allowed_locations: open.allowed_locations,
        annex_name: open.annex_name,
    };
    put_in_force(conn, agreement, open.version, &spec, now)
}

/// Makes `version` the one in force: the agreement row takes its terms.
fn put_in_force(
    conn: &mut DbConnection,
    agreement: &Agreement,
    version: u32,
    spec: &AgreementSpec,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let terms = &spec.terms;
    diesel::update(agreements::table.find(&agreement.id))
        .set((
            agreements::version.eq(i32::try_from(version)
                .map_err(|_| StoreError::Conflict("too many amendments".into()))?),
            agreements::authorisation.eq(terms.authorisation.as_str()),
            agreements::notice_days.eq(i32::from(terms.notice_days)),
            agreements::objection_requires_reason.eq(terms.objection_requires_reason),
            agreements::third_country_transfers.eq(terms.third_country_transfers.as_str()),
            agreements::time_zone.eq(terms.time_zone.name()),
            agreements::allowed_locations.eq(spec
                .allowed_locations
                .as_ref()
                .map(json_text)
                .transpose()?),
            agreements::annex_name.eq(&spec.annex_name),
            agreements::notice_starts.eq(terms.notice_starts.as_str()),
        ))
        .execute(conn)?;
    let agreement = agreement_store::get(conn, &agreement.id)?;
    agreement_event(conn, EventType::AgreementConfirmed, &agreement, now)
}
