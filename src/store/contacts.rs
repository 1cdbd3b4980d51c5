//! Notice contacts of processors and agreements: replaced as a whole, read in order.

use super::schema::{agreements, notice_contacts, processors};
use super::{DbConnection, StoreError};
use crate::domain::contact::NoticeContact;
use crate::domain::language::Lang;
use diesel::prelude::*;

/// Whose contacts: a processor's (objections and approvals reach them) or an agreement's (the
/// controller's notice recipients for that agreement).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Processor,
    Agreement,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Processor => "processor",
            Owner::Agreement => "agreement",
        }
    }
}

fn parse_lang(code: &str) -> Lang {
    if code == "en" {
        Lang::En
    } else {
        Lang::Da
    }
}

/// The contacts of one owner, in the order they were given.
pub fn list(
    conn: &mut DbConnection,
    owner: Owner,
    owner_id: &str,
) -> Result<Vec<NoticeContact>, StoreError> {
    let rows: Vec<(String, String, String)> = notice_contacts::table
        .filter(notice_contacts::owner_kind.eq(owner.as_str()))
        .filter(notice_contacts::owner_id.eq(owner_id))
        .order(notice_contacts::position)
        .select((
            notice_contacts::name,
            notice_contacts::email,
            notice_contacts::language,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(name, email, language)| NoticeContact {
            name,
            email,
            language: parse_lang(&language),
        })
        .collect())
}

/// The contacts of several owners of one kind, by owner id.
pub(crate) fn list_many(
    conn: &mut DbConnection,
    owner: Owner,
    owner_ids: &[String],
) -> Result<Vec<(String, NoticeContact)>, StoreError> {
    let mut found = Vec::new();
    for chunk in owner_ids.chunks(500) {
        let rows: Vec<(String, String, String, String)> = notice_contacts::table
            .filter(notice_contacts::owner_kind.eq(owner.as_str()))
            .filter(notice_contacts::owner_id.eq_any(chunk))
            .order((notice_contacts::owner_id, notice_contacts::position))
            .select((
                notice_contacts::owner_id,
                notice_contacts::name,
                notice_contacts::email,
                notice_contacts::language,
            ))
            .load(conn)?;
        found.extend(rows.into_iter().map(|(owner_id, name, email, language)| {
            (
                owner_id,
                NoticeContact {
                    name,
                    email,
                    language: parse_lang(&language),
                },
            )
        }));
    }
    Ok(found)
}

/// Replaces a processor's contacts. `NotFound` for an unknown processor.
pub fn set_for_processor(
    conn: &mut DbConnection,
    processor_id: &str,
    contacts: &[NoticeContact],
) -> Result<Vec<NoticeContact>, StoreError> {
    super::write_transaction(conn, |conn| {
        let exists: i64 = processors::table
            .filter(processors::id.eq(processor_id))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            return Err(StoreError::not_found("processor", processor_id));
        }
        replace(conn, Owner::Processor, processor_id, contacts)
    })
}

/// Replaces the notice contacts of a controller's agreement. `NotFound` for an agreement
/// that does not exist or is another controller's.
pub fn set_for_agreement(
    conn: &mut DbConnection,
    controller_id: &str,
    agreement_id: &str,
    contacts: &[NoticeContact],
) -> Result<Vec<NoticeContact>, StoreError> {
    super::write_transaction(conn, |conn| {
        agreement_of(conn, controller_id, agreement_id)?;
        replace(conn, Owner::Agreement, agreement_id, contacts)
    })
}

/// `NotFound` unless the agreement exists and is the controller's.
pub fn agreement_of(
    conn: &mut DbConnection,
    controller_id: &str,
    agreement_id: &str,
) -> Result<(), StoreError> {
    let exists: i64 = agreements::table
        .filter(agreements::id.eq(agreement_id))
        .filter(agreements::controller_id.eq(controller_id))
        .count()
        .get_result(conn)?;
    if exists == 0 {
        return Err(StoreError::not_found("agreement", agreement_id));
    }
    Ok(())
}

fn replace(
    conn: &mut DbConnection,
    owner: Owner,
    owner_id: &str,
    contacts: &[NoticeContact],
) -> Result<Vec<NoticeContact>, StoreError> {
    diesel::delete(
        notice_contacts::table
            .filter(notice_contacts::owner_kind.eq(owner.as_str()))
            .filter(notice_contacts::owner_id.eq(owner_id)),
    )
    .execute(conn)?;
    let rows: Vec<_> = contacts
        .iter()
        .zip(0i32..)
        .map(|(c, position)| {
            (
                notice_contacts::owner_kind.eq(owner.as_str()),
                notice_contacts::owner_id.eq(owner_id),
                notice_contacts::position.eq(position),
                notice_contacts::name.eq(&c.name),
                notice_contacts::email.eq(&c.email),
                notice_contacts::language.eq(c.language.code()),
            )
        })
        .collect();
    if !rows.is_empty() {
        crate::insert_rows!(conn, notice_contacts::table, &rows)?;
    }
    list(conn, owner, owner_id)
}
