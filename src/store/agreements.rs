use super::agreement_versions::NewVersion;
use super::events::NewEvent;
use super::schema::{agreement_versions, agreements, controllers, processors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::agreement::{
    Agreement, AgreementSpec, AgreementState, AgreementWithAnnex, Authorisation, NoticeStarts,
    Proposer, ThirdCountryTransfers, VersionState,
};
use crate::domain::event::EventType;
use crate::domain::window::Decider;
use crate::domain::{DomainError, FieldError};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

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
    state: String,
    in_force_from: Option<NaiveDateTime>,
    proposed_by: Option<String>,
    confirmed_at: Option<NaiveDateTime>,
    confirmed_by: Option<String>,
    terminated_at: Option<NaiveDateTime>,
    termination_reason: Option<String>,
    terminated_by: Option<String>,
    allowed_locations: Option<String>,
    annex_name: String,
    version: i32,
    notice_starts: String,
}

impl TryFrom<AgreementRow> for Agreement {
    type Error = StoreError;

    fn try_from(row: AgreementRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("agreement {}: bad {what}", row.id));
        let decider = |stored: &Option<String>, what: &str| {
            stored
                .as_deref()
                .map(|text| serde_json::from_str::<Decider>(text).map_err(|_| corrupt(what)))
                .transpose()
        };
        Ok(Agreement {
            authorisation: Authorisation::parse(&row.authorisation)
                .ok_or_else(|| corrupt("authorisation"))?,
            third_country_transfers: ThirdCountryTransfers::parse(&row.third_country_transfers)
                .ok_or_else(|| corrupt("third_country_transfers"))?,
            notice_days: u16::try_from(row.notice_days).map_err(|_| corrupt("notice_days"))?,
            time_zone: crate::domain::deadline::parse_zone(&row.time_zone)
                .ok_or_else(|| corrupt("time_zone"))?,
            notice_starts: NoticeStarts::parse(&row.notice_starts)
                .ok_or_else(|| corrupt("notice_starts"))?,
            state: AgreementState::parse(&row.state).ok_or_else(|| corrupt("state"))?,
            version: u32::try_from(row.version).map_err(|_| corrupt("version"))?,
            proposed_by: decider(&row.proposed_by, "proposed_by")?,
            confirmed_by: decider(&row.confirmed_by, "confirmed_by")?,
            terminated_by: decider(&row.terminated_by, "terminated_by")?,
            allowed_locations: row
                .allowed_locations
                .as_deref()
                .map(|text| serde_json::from_str(text).map_err(|_| corrupt("allowed_locations")))
                .transpose()?,
            in_force_from: row.in_force_from.map(from_db),
            confirmed_at: row.confirmed_at.map(from_db),
            terminated_at: row.terminated_at.map(from_db),
            termination_reason: row.termination_reason,
            annex_name: row.annex_name,
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

fn json<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn json_text<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    Ok(json(value)?.to_string())
}

pub(crate) fn agreement_event(
    conn: &mut DbConnection,
    event_type: EventType,
    agreement: &Agreement,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    super::events::append(
        conn,
        now,
        NewEvent {
            event_type,
            processor_id: agreement.processor_id.clone(),
            controller_id: Some(agreement.controller_id.clone()),
            data: json(agreement)?,
        },
    )?;
    Ok(())
}

/// How an agreement comes into the registry.
#[derive(Clone, Copy)]
pub enum Recorded<'a> {
    /// Proposed by the processor: it waits for the controller's confirmation.
    Proposed { by: &'a Decider },
    /// An existing contract an admin imports (or the demo data): in force from its signing.
    Active { by: Option<&'a Decider> },
}

/// Records an agreement: proposed (event `agreement.proposed`), or active at once (event
/// `agreement.confirmed`, and windows open for the changes announced now).
pub fn create(
    conn: &mut DbConnection,
    spec: &AgreementSpec,
    recorded: Recorded<'_>,
    now: DateTime<Utc>,
) -> Result<AgreementWithAnnex, StoreError> {
    super::write_transaction(conn, |conn| {
        lock_processor(conn, &spec.processor_id)?;
        create_locked(conn, spec, recorded, now)
    })
}

/// Taken first: recording appends to the processor's chain. A missing processor is reported
/// as a field error by the recording itself.
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
    recorded: Recorded<'_>,
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
            match create_locked(conn, spec, recorded, now) {
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
    recorded: Recorded<'_>,
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
    // One live agreement per controller and processor: a second one would re-authorise,
    // by its own signing date, entries the first one's windows refused (objection
    // laundering); changed terms are an amendment of the live one. The chain lock taken
    // above serialises this check with every other recording.
    let live: Option<String> = agreements::table
        .filter(agreements::controller_id.eq(&spec.controller_id))
        .filter(agreements::processor_id.eq(&spec.processor_id))
        .filter(agreements::state.ne(AgreementState::Terminated.as_str()))
        .filter(
            agreements::terminated_at
                .is_null()
                .or(agreements::terminated_at.gt(to_db(now))),
        )
        .select(agreements::id)
        .first(conn)
        .optional()?;
    if let Some(live) = live {
        return Err(StoreError::Conflict(format!(
            "controller `{}` already has an agreement with processor `{}` (`{live}`): \
             there is one live agreement per controller and processor, and a second one may \
             not authorise again what the first one's windows decided; change its terms \
             with POST /v1/agreements/{live}/amendments, or terminate it first with \
             POST /v1/agreements/{live}/termination",
            spec.controller_id, spec.processor_id
        )));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (state, in_force_from, proposed_by, confirmed_at, confirmed_by) = match &recorded {
        Recorded::Proposed { by } => (
            AgreementState::Proposed,
            None,
            Some(json_text(by)?),
            None,
            None,
        ),
        Recorded::Active { by } => (
            AgreementState::Active,
            Some(to_db(spec.signed_at)),
            None,
            Some(to_db(now)),
            by.map(json_text).transpose()?,
        ),
    };
    let allowed_locations = spec.allowed_locations.as_ref().map(json_text).transpose()?;
    diesel::insert_into(agreements::table)
        .values((
            (
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
            ),
            (
                agreements::state.eq(state.as_str()),
                agreements::in_force_from.eq(in_force_from),
                agreements::proposed_by.eq(proposed_by),
                agreements::confirmed_at.eq(confirmed_at),
                agreements::confirmed_by.eq(confirmed_by),
                agreements::allowed_locations.eq(allowed_locations),
                agreements::annex_name.eq(&spec.annex_name),
                agreements::notice_starts.eq(spec.terms.notice_starts.as_str()),
            ),
        ))
        .execute(conn)?;
    let (proposer, proposed_by, confirmed_by) = match recorded {
        Recorded::Proposed { by } => (Proposer::Processor, Some(by), None),
        Recorded::Active { by } => (Proposer::Admin, by, by),
    };
    super::agreement_versions::insert(
        conn,
        NewVersion {
            agreement_id: &id,
            version: 1,
            spec,
            state: if state == AgreementState::Active {
                VersionState::Confirmed
            } else {
                VersionState::Proposed
            },
            proposer,
            proposed_by,
            confirmed_by,
            now,
        },
    )?;
    let annex = super::agreement_annex::record(conn, &id, spec)?;
    let recorded = AgreementWithAnnex {
        agreement: get(conn, &id)?,
        authorised_at_signing: annex,
    };
    // The event carries the annex: what the agreement authorised is part of the evidence.
    super::events::append(
        conn,
        now,
        NewEvent {
            event_type: if state == AgreementState::Active {
                EventType::AgreementConfirmed
            } else {
                EventType::AgreementProposed
            },
            processor_id: spec.processor_id.clone(),
            controller_id: Some(spec.controller_id.clone()),
            data: json(&recorded)?,
        },
    )?;
    if state == AgreementState::Active {
        super::lifecycle::open_windows_for_agreement(conn, &recorded.agreement, now)?;
    }
    Ok(recorded)
}

/// The controller confirms a proposed agreement: it is in force from now, and windows open
/// for the changes announced now (event `agreement.confirmed`). On an active agreement it
/// confirms the amendment the processor proposed.
pub fn confirm(
    conn: &mut DbConnection,
    controller_id: &str,
    agreement_id: &str,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<Agreement, StoreError> {
    confirm_version(conn, controller_id, agreement_id, None, by, now)
}

/// [`confirm`], only if `version` (when given) is the version awaiting the controller's
/// confirmation under the chain lock: a confirmation link confirms the terms it showed, never
/// a later proposal (`StoreError::Conflict` otherwise).
pub fn confirm_version(
    conn: &mut DbConnection,
    controller_id: &str,
    agreement_id: &str,
    version: Option<u32>,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<Agreement, StoreError> {
    let processor_id = get_for_controller(conn, controller_id, agreement_id)?.processor_id;
    super::write_transaction(conn, |conn| {
        super::events::lock_chain(conn, &processor_id)?;
        if let Some(version) = version {
            let awaiting = super::agreement_versions::awaiting_controller(conn, agreement_id)?;
            if awaiting != Some(version) {
                return Err(StoreError::Conflict(format!(
                    "version {version} of agreement `{agreement_id}` no longer awaits confirmation"
                )));
            }
        }
        let agreement = get_for_controller(conn, controller_id, agreement_id)?;
        if agreement.state != AgreementState::Proposed || agreement.terminated_at.is_some() {
            super::agreement_versions::confirm(conn, &agreement, Proposer::Controller, by, now)?;
            return get(conn, agreement_id);
        }
        let by = json_text(by)?;
        let updated = diesel::update(agreements::table.find(agreement_id))
            .filter(agreements::state.eq(AgreementState::Proposed.as_str()))
            .set((
                agreements::state.eq(AgreementState::Active.as_str()),
                agreements::in_force_from.eq(to_db(now.max(agreement.signed_at))),
                agreements::confirmed_at.eq(to_db(now)),
                agreements::confirmed_by.eq(&by),
            ))
            .execute(conn)?;
        if updated != 1 {
            return Err(StoreError::Busy);
        }
        diesel::update(
            agreement_versions::table
                .filter(agreement_versions::agreement_id.eq(agreement_id))
                .filter(agreement_versions::version.eq(1)),
        )
        .set((
            agreement_versions::state.eq(VersionState::Confirmed.as_str()),
            agreement_versions::confirmed_at.eq(to_db(now)),
            agreement_versions::confirmed_by.eq(&by),
        ))
        .execute(conn)?;
        let agreement = get(conn, agreement_id)?;
        agreement_event(conn, EventType::AgreementConfirmed, &agreement, now)?;
        super::lifecycle::open_windows_for_agreement(conn, &agreement, now)?;
        Ok(agreement)
    })
}

/// The processor confirms the amendment its controller proposed (event `agreement.confirmed`).
pub fn confirm_by_processor(
    conn: &mut DbConnection,
    processor_id: &str,
    agreement_id: &str,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<Agreement, StoreError> {
    let theirs = |agreement: Agreement| {
        if agreement.processor_id == processor_id {
            Ok(agreement)
        } else {
            Err(StoreError::not_found("agreement", agreement_id))
        }
    };
    theirs(get(conn, agreement_id)?)?;
    super::write_transaction(conn, |conn| {
        super::events::lock_chain(conn, processor_id)?;
        let agreement = theirs(get(conn, agreement_id)?)?;
        super::agreement_versions::confirm(conn, &agreement, Proposer::Processor, by, now)?;
        get(conn, agreement_id)
    })
}

/// Either party (or an admin) terminates an agreement from `effective_at` (now or later):
/// event `agreement.terminated` now; from `effective_at` its open windows end `withdrawn`
/// (at once if it is now, else by the sweeper) and it authorises nothing.
pub fn terminate(
    conn: &mut DbConnection,
    agreement_id: &str,
    effective_at: DateTime<Utc>,
    reason: Option<&str>,
    by: &Decider,
    now: DateTime<Utc>,
) -> Result<Agreement, StoreError> {
    let processor_id = get(conn, agreement_id)?.processor_id;
    super::write_transaction(conn, |conn| {
        super::events::lock_chain(conn, &processor_id)?;
        let agreement = get(conn, agreement_id)?;
        if let Some(at) = agreement.terminated_at {
            return Err(StoreError::Conflict(format!(
                "agreement `{agreement_id}` is already terminated (effective {}); a terminated \
                 agreement stays terminated: record a new agreement for the pair",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )));
        }
        let updated = diesel::update(agreements::table.find(agreement_id))
            .filter(agreements::terminated_at.is_null())
            .set((
                agreements::terminated_at.eq(to_db(effective_at)),
                agreements::termination_reason.eq(reason),
                agreements::terminated_by.eq(json_text(by)?),
            ))
            .execute(conn)?;
        if updated != 1 {
            return Err(StoreError::Busy);
        }
        let agreement = get(conn, agreement_id)?;
        agreement_event(conn, EventType::AgreementTerminated, &agreement, now)?;
        if effective_at <= now {
            end_locked(conn, &agreement, now)?;
        }
        get(conn, agreement_id)
    })
}

/// Makes a termination take effect; the caller holds the processor's chain lock.
fn end_locked(
    conn: &mut DbConnection,
    agreement: &Agreement,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(at) = agreement.terminated_at else {
        return Ok(());
    };
    let updated = diesel::update(agreements::table.find(&agreement.id))
        .filter(agreements::state.ne(AgreementState::Terminated.as_str()))
        .set(agreements::state.eq(AgreementState::Terminated.as_str()))
        .execute(conn)?;
    if updated == 1 {
        super::lifecycle::withdraw_agreement_windows(
            conn,
            &agreement.processor_id,
            &agreement.id,
            at,
            now,
        )?;
    }
    Ok(())
}

/// Terminations whose effective date has come: state `terminated`, open windows withdrawn.
/// Returns how many agreements ended.
pub fn end_due_terminations(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let due: Vec<(String, String)> = agreements::table
        .filter(agreements::state.ne(AgreementState::Terminated.as_str()))
        .filter(agreements::terminated_at.le(to_db(now)))
        .select((agreements::processor_id, agreements::id))
        .load(conn)?;
    let mut ended = 0;
    for (processor_id, id) in due {
        let ended_now = super::write_transaction(conn, |conn| {
            super::events::lock_chain(conn, &processor_id)?;
            // Re-read under the lock: another sweeper may have ended it meanwhile.
            let agreement = get(conn, &id)?;
            if agreement.state == AgreementState::Terminated {
                return Ok::<_, StoreError>(false);
            }
            end_locked(conn, &agreement, now)?;
            Ok(true)
        })?;
        ended += usize::from(ended_now);
    }
    Ok(ended)
}

/// The agreement if `controller_id` is its controller, else 404.
fn get_for_controller(
    conn: &mut DbConnection,
    controller_id: &str,
    agreement_id: &str,
) -> Result<Agreement, StoreError> {
    match get(conn, agreement_id)? {
        agreement if agreement.controller_id == controller_id => Ok(agreement),
        _ => Err(StoreError::not_found("agreement", agreement_id)),
    }
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
    let rows = super::agreement_annex::with_annex(conn, loaded)?;
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

/// Up to `limit` agreements of a processor after the id `after`, in id order: an
/// announcement reads them a page at a time to hold a bounded number in memory.
pub fn for_processor_page(
    conn: &mut DbConnection,
    processor_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Agreement>, StoreError> {
    let mut query = agreements::table
        .filter(agreements::processor_id.eq(processor_id))
        .order(agreements::id)
        .limit(limit)
        .select(AgreementRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(agreements::id.gt(after.to_string()));
    }
    convert(query.load(conn)?)
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
