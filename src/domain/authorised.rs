//! A controller's authorised list: which of its processors' entries it has authorised, how,
//! and which are in use without its authorisation.

use super::agreement::Agreement;
use super::subprocessor::Subprocessor;
use super::window::{ObjectionWindow, WindowState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// `agreement`: on the list when the agreement was signed (Bilag B / Annex IV). `approved` /
/// `tacit_consent`: the outcome of the entry's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorisedBy {
    Agreement,
    Approved,
    TacitConsent,
}

/// `objected` / `not_approved`: the outcome of the entry's window.
/// `in_use_before_window_closed`: the entry is in use while its window is still open (or has no
/// window for this agreement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotAuthorisedReason {
    Objected,
    NotApproved,
    InUseBeforeWindowClosed,
}

/// An entry the controller has authorised, with how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuthorisedEntry {
    #[serde(flatten)]
    pub entry: Subprocessor,
    pub authorised_by: AuthorisedBy,
    #[schema(format = "uuid")]
    pub agreement_id: String,
    /// The window that authorised it; null for `agreement`.
    #[schema(required = true)]
    pub window_id: Option<String>,
    /// The controller's documented instruction given with the approval, where the agreement
    /// did not allow the entry by itself; null otherwise.
    #[schema(required = true)]
    pub instruction: Option<String>,
    /// Approved after the deadline (the window had ended `objected` or `not_approved`).
    pub late: bool,
}

/// An entry in use that the controller has not authorised: its compliance alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NotAuthorisedEntry {
    #[serde(flatten)]
    pub entry: Subprocessor,
    pub reason: NotAuthorisedReason,
    #[schema(format = "uuid")]
    pub agreement_id: String,
    /// The entry's window under this agreement, or null if it has none.
    #[schema(required = true)]
    pub window_id: Option<String>,
}

/// A controller's authorised list at `as_of`: what it has authorised (`items`) and what is in
/// use without its authorisation (`not_authorised`), over all its agreements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuthorisedList {
    pub as_of: DateTime<Utc>,
    pub items: Vec<AuthorisedEntry>,
    pub not_authorised: Vec<NotAuthorisedEntry>,
}

/// What one processor's side looks like at `as_of`, as loaded by the store.
pub struct ProcessorFacts<'a> {
    /// Entries in use at `as_of`.
    pub entries: &'a [Subprocessor],
    /// Entry id → id of the change that brought it in.
    pub introduced_by: &'a HashMap<String, String>,
    /// (change id, agreement id) → window.
    pub windows: &'a HashMap<(String, String), ObjectionWindow>,
}

enum Verdict {
    Authorised(AuthorisedBy),
    NotAuthorised(NotAuthorisedReason),
}

fn judge(
    agreement: &Agreement,
    entry: &Subprocessor,
    window: Option<&ObjectionWindow>,
    as_of: DateTime<Utc>,
) -> Verdict {
    if entry
        .active_from
        .is_some_and(|from| from <= agreement.signed_at)
    {
        return Verdict::Authorised(AuthorisedBy::Agreement);
    }
    let Some(window) = window.filter(|w| w.closed_by(as_of)) else {
        return Verdict::NotAuthorised(NotAuthorisedReason::InUseBeforeWindowClosed);
    };
    match window.state_at(as_of) {
        WindowState::Approved => Verdict::Authorised(AuthorisedBy::Approved),
        WindowState::TacitConsent => Verdict::Authorised(AuthorisedBy::TacitConsent),
        WindowState::Objected => Verdict::NotAuthorised(NotAuthorisedReason::Objected),
        WindowState::NotApproved => Verdict::NotAuthorised(NotAuthorisedReason::NotApproved),
        WindowState::Open | WindowState::Withdrawn => {
            Verdict::NotAuthorised(NotAuthorisedReason::InUseBeforeWindowClosed)
        }
    }
}

/// Combines a controller's agreements, each judged by its own terms and windows.
pub fn authorised_list<'a>(
    as_of: DateTime<Utc>,
    agreements: impl IntoIterator<Item = (&'a Agreement, ProcessorFacts<'a>)>,
) -> AuthorisedList {
    let mut list = AuthorisedList {
        as_of,
        items: Vec::new(),
        not_authorised: Vec::new(),
    };
    for (agreement, facts) in agreements {
        // A proposed agreement authorises nothing; a terminated one nothing from its end on.
        if !agreement.in_force_at(as_of) {
            continue;
        }
        // What an earlier agreement of the pair refused stays refused: a new agreement's
        // signing does not authorise it again (objection laundering).
        let refused_before: HashMap<&str, &ObjectionWindow> = facts
            .windows
            .values()
            .filter(|w| w.agreement_id != agreement.id && w.closed_by(as_of))
            .filter(|w| {
                matches!(
                    w.state_at(as_of),
                    WindowState::Objected | WindowState::NotApproved
                )
            })
            .map(|w| (w.change_id.as_str(), w))
            .collect();
        for entry in facts.entries {
            let change_id = facts.introduced_by.get(&entry.id);
            let window = change_id.and_then(|change_id| {
                facts
                    .windows
                    .get(&(change_id.clone(), agreement.id.clone()))
            });
            let window_id = window.map(|w| w.id.clone());
            let verdict = match (
                judge(agreement, entry, window, as_of),
                change_id.and_then(|c| refused_before.get(c.as_str())),
            ) {
                (Verdict::Authorised(AuthorisedBy::Agreement), Some(refused)) => {
                    let reason = if refused.state_at(as_of) == WindowState::Objected {
                        NotAuthorisedReason::Objected
                    } else {
                        NotAuthorisedReason::NotApproved
                    };
                    list.not_authorised.push(NotAuthorisedEntry {
                        entry: entry.clone(),
                        reason,
                        agreement_id: agreement.id.clone(),
                        window_id: Some(refused.id.clone()),
                    });
                    continue;
                }
                (verdict, _) => verdict,
            };
            match verdict {
                Verdict::Authorised(authorised_by) => list.items.push(AuthorisedEntry {
                    entry: entry.clone(),
                    authorised_by,
                    agreement_id: agreement.id.clone(),
                    window_id: window_id.filter(|_| authorised_by != AuthorisedBy::Agreement),
                    instruction: window
                        .filter(|_| authorised_by == AuthorisedBy::Approved)
                        .and_then(|w| w.approval.as_ref())
                        .and_then(|a| a.instruction.clone()),
                    late: authorised_by == AuthorisedBy::Approved && window.is_some_and(|w| w.late),
                }),
                Verdict::NotAuthorised(reason) => list.not_authorised.push(NotAuthorisedEntry {
                    entry: entry.clone(),
                    reason,
                    agreement_id: agreement.id.clone(),
                    window_id,
                }),
            }
        }
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: the rules are tested on dates, not on the machine's clock.
    fn noon() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 12, 0, 0).unwrap()
    }
    use crate::domain::geography::Location;
    use crate::domain::subprocessor::EntryStatus;
    use chrono::Duration;

    fn entry(id: &str, active_from: DateTime<Utc>) -> Subprocessor {
        Subprocessor {
            id: id.into(),
            processor_id: "p".into(),
            name: id.into(),
            registration: None,
            address: "a".into(),
            country: "DK".into(),
            processing_locations: vec!["DK".into()],
            location: Location::Eea,
            transfer_basis: None,
            transfer_basis_note: None,
            purpose: "x".into(),
            contact: None,
            status: EntryStatus::Active,
            active_from: Some(active_from),
            active_until: None,
        }
    }

    fn window(state: WindowState, closed_at: Option<DateTime<Utc>>) -> ObjectionWindow {
        let t = noon();
        ObjectionWindow {
            id: "w".into(),
            change_id: "ch".into(),
            agreement_id: "a".into(),
            agreement_version: 1,
            controller_id: "c".into(),
            processor_id: "p".into(),
            opened_at: t,
            closes_at: t,
            closes_on_local_date: None,
            late: false,
            ended_as: None,
            state,
            conflicts: vec![],
            decided_at: closed_at,
            closed_at,
            objection: None,
            approval: None,
            change: None,
        }
    }

    #[test]
    fn entries_are_judged_by_signing_date_and_window_outcome() {
        let signed = noon() - Duration::days(60);
        let agreement = Agreement {
            id: "a".into(),
            ..crate::domain::agreement::in_force(30, signed)
        };
        let now = noon();
        let closed = Some(now - Duration::days(1));
        let cases = [
            (None, "bilag-b", Some(AuthorisedBy::Agreement), None),
            (
                Some(window(WindowState::TacitConsent, closed)),
                "tacit",
                Some(AuthorisedBy::TacitConsent),
                None,
            ),
            (
                Some(window(WindowState::Approved, closed)),
                "approved",
                Some(AuthorisedBy::Approved),
                None,
            ),
            (
                Some(window(WindowState::Objected, closed)),
                "objected",
                None,
                Some(NotAuthorisedReason::Objected),
            ),
            (
                Some(window(WindowState::NotApproved, closed)),
                "silent",
                None,
                Some(NotAuthorisedReason::NotApproved),
            ),
            (
                Some(window(WindowState::Open, None)),
                "early",
                None,
                Some(NotAuthorisedReason::InUseBeforeWindowClosed),
            ),
        ];
        for (w, id, authorised, refused) in cases {
            let from = if id == "bilag-b" {
                signed - Duration::days(1)
            } else {
                now - Duration::days(2)
            };
            let entries = [entry(id, from)];
            let introduced_by = HashMap::from([(id.to_string(), "ch".to_string())]);
            let windows: HashMap<_, _> = w
                .into_iter()
                .map(|w| (("ch".to_string(), "a".to_string()), w))
                .collect();
            let facts = ProcessorFacts {
                entries: &entries,
                introduced_by: &introduced_by,
                windows: &windows,
            };
            let list = authorised_list(now, [(&agreement, facts)]);
            assert_eq!(
                list.items.first().map(|e| e.authorised_by),
                authorised,
                "{id}"
            );
            assert_eq!(
                list.not_authorised.first().map(|e| e.reason),
                refused,
                "{id}"
            );
        }
    }

    #[test]
    fn a_window_closed_after_as_of_does_not_count_yet() {
        let now = noon();
        let w = window(WindowState::TacitConsent, Some(now));
        assert!(!w.closed_by(now - Duration::seconds(1)));
        assert!(w.closed_by(now));
    }
}
