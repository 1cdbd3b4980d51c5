//! What the decision page of a notice link shows: the window (with its change), the terms of
//! the agreement version it opened under, and the two parties' names.

use super::schema::objection_windows;
use super::{
    agreement_versions, lifecycle, organisations, subprocessors, DbConnection, StoreError,
};
use crate::domain::agreement::AgreementVersion;
use crate::domain::subprocessor::Subprocessor;
use crate::domain::window::ObjectionWindow;
use diesel::prelude::*;

pub struct DecidePage {
    pub window: ObjectionWindow,
    pub terms: AgreementVersion,
    pub controller_name: String,
    pub processor_name: String,
    /// The entry a replacement, removal or modification concerns.
    pub replaced: Option<Subprocessor>,
}

/// The window a link names, whoever's it is (the link's signature is the authority).
pub fn page(conn: &mut DbConnection, window_id: &str) -> Result<DecidePage, StoreError> {
    let controller_id: String = objection_windows::table
        .filter(objection_windows::id.eq(window_id))
        .select(objection_windows::controller_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| StoreError::not_found("objection window", window_id))?;
    let window = lifecycle::get_window(conn, &controller_id, window_id)?;
    let terms = agreement_versions::versions(conn, &window.agreement_id)?
        .into_iter()
        .find(|v| v.version == window.agreement_version)
        .ok_or_else(|| StoreError::not_found("agreement version", &window.agreement_id))?;
    let controller_name = organisations::get_controller(conn, &controller_id)?.name;
    let processor_name = organisations::get_processor(conn, &window.processor_id)?.name;
    let replaced = match window
        .change
        .as_deref()
        .and_then(|c| c.replaces.clone().or_else(|| c.modifies.clone()))
    {
        Some(id) => Some(subprocessors::get(conn, &window.processor_id, &id)?),
        None => None,
    };
    Ok(DecidePage {
        window,
        terms,
        controller_name,
        processor_name,
        replaced,
    })
}
