use super::schema::{agreements, controllers, processors};
use super::{from_db, to_db, DbConnection, Page, PageRequest, StoreError};
use crate::domain::agreement::{Agreement, AgreementSpec, Authorisation, ThirdCountryTransfers};
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
) -> Result<Agreement, StoreError> {
    super::write_transaction(conn, |conn| {
        // Taken first: signing may open windows, which appends to the processor's chain.
        match super::events::lock_chain(conn, &spec.processor_id) {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(other) => return Err(other),
        }
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
        let agreement = get(conn, &id)?;
        super::lifecycle::open_windows_for_agreement(conn, &agreement, now)?;
        Ok(agreement)
    })
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
) -> Result<Page<Agreement>, StoreError> {
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
    let rows = convert(query.load(conn)?)?;
    Ok(page.page(rows, |a| a.id.clone()))
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
