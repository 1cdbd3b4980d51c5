//! A controller's authorised list: which of its processors' entries it has authorised, how,
//! which the processor excluded for it (a resolved refusal), and which are in use without its
//! authorisation. A replaced entry stays on a controller's list until the replacement is
//! authorised or resolved for that controller.

use super::agreement::AgreementWithAnnex;
use super::subprocessor::Subprocessor;
use super::window::{ObjectionWindow, WindowState};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// `agreement`: on the list when the agreement was signed (Bilag B / Annex IV). `approved` /
/// `tacit_consent`: the outcome of the entry's window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthorisedBy {
    Agreement,
    Approved,
    TacitConsent,
}

impl AuthorisedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorisedBy::Agreement => "agreement",
            AuthorisedBy::Approved => "approved",
            AuthorisedBy::TacitConsent => "tacit_consent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            AuthorisedBy::Agreement,
            AuthorisedBy::Approved,
            AuthorisedBy::TacitConsent,
        ]
        .into_iter()
        .find(|by| by.as_str() == text)
    }
}

/// `objected` / `not_approved`: the outcome of the entry's window.
/// `in_use_before_window_closed`: the entry is in use while its window is still open (or has no
/// window for this agreement). `in_use_without_authorisation`: the processor took the change
/// live explicitly over this controller's unresolved refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotAuthorisedReason {
    Objected,
    NotApproved,
    InUseBeforeWindowClosed,
    InUseWithoutAuthorisation,
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

/// An entry the processor excluded for this controller after it refused it: the
/// sub-processor does not process this controller's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ExcludedEntry {
    #[serde(flatten)]
    pub entry: Subprocessor,
    #[schema(format = "uuid")]
    pub agreement_id: String,
    /// The refused window the resolution answers.
    #[schema(format = "uuid")]
    pub window_id: String,
    /// The processor's note on the resolution; null if none was given.
    #[schema(required = true)]
    pub resolution_note: Option<String>,
}

/// A controller's authorised list at `as_of`: what it has authorised (`items`), what the
/// processor excluded for it (`excluded`) and what is in use without its authorisation
/// (`not_authorised`), over all its agreements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AuthorisedList {
    pub as_of: DateTime<Utc>,
    pub items: Vec<AuthorisedEntry>,
    pub excluded: Vec<ExcludedEntry>,
    pub not_authorised: Vec<NotAuthorisedEntry>,
}

/// An entry replaced by an effective replacement, with the id of that change.
pub struct Replaced {
    pub entry: Subprocessor,
    pub change_id: String,
}

/// What one processor's side looks like at `as_of`, as loaded by the store.
pub struct ProcessorFacts<'a> {
    /// Entries in use at `as_of`.
    pub entries: &'a [Subprocessor],
    /// Entry id → id of the change that brought it in.
    pub introduced_by: &'a HashMap<String, String>,
    /// (change id, agreement id) → window.
    pub windows: &'a HashMap<(String, String), ObjectionWindow>,
    /// Entry id → the effective modifications of it: (change id, in force from), oldest first.
    pub modifications: &'a HashMap<String, Vec<(String, DateTime<Utc>)>>,
    /// Windows whose change the processor took live over them while they were unresolved.
    pub live_over: &'a HashSet<String>,
    /// Entries out of use at `as_of` because a replacement became effective.
    pub replaced: &'a [Replaced],
}

enum Verdict {
    /// On the agreement's annex, authorised from the annex entry's date.
    Annexed(AuthorisedBy),
    /// By the outcome of the entry's window.
    Authorised(AuthorisedBy),
    Excluded,
    NotAuthorised(NotAuthorisedReason),
}

fn judge(
    agreement: &AgreementWithAnnex,
    entry: &Subprocessor,
    window: Option<&ObjectionWindow>,
    live_over: &HashSet<String>,
    as_of: DateTime<Utc>,
) -> Verdict {
    if let Some(annexed) = agreement
        .authorised_at_signing
        .iter()
        .find(|a| a.subprocessor_id == entry.id && a.decided_at <= as_of)
    {
        return Verdict::Annexed(annexed.authorised_by);
    }
    window_verdict(window, live_over, as_of)
}

/// What the controller's window for an entry says at `as_of`.
fn window_verdict(
    window: Option<&ObjectionWindow>,
    live_over: &HashSet<String>,
    as_of: DateTime<Utc>,
) -> Verdict {
    let Some(window) = window.filter(|w| w.closed_by(as_of)) else {
        return Verdict::NotAuthorised(NotAuthorisedReason::InUseBeforeWindowClosed);
    };
    let refused = window.state_at(as_of);
    if matches!(refused, WindowState::Objected | WindowState::NotApproved) {
        if window.resolution.as_ref().is_some_and(|r| r.at <= as_of) {
            return Verdict::Excluded;
        }
        if live_over.contains(&window.id) {
            return Verdict::NotAuthorised(NotAuthorisedReason::InUseWithoutAuthorisation);
        }
    }
    match refused {
        WindowState::Approved => Verdict::Authorised(AuthorisedBy::Approved),
        WindowState::TacitConsent => Verdict::Authorised(AuthorisedBy::TacitConsent),
        WindowState::Objected => Verdict::NotAuthorised(NotAuthorisedReason::Objected),
        WindowState::NotApproved => Verdict::NotAuthorised(NotAuthorisedReason::NotApproved),
        WindowState::Open | WindowState::Withdrawn => {
            Verdict::NotAuthorised(NotAuthorisedReason::InUseBeforeWindowClosed)
        }
    }
}

/// Combines a controller's agreements, each judged by its own annex, terms and windows.
pub fn authorised_list<'a>(
    as_of: DateTime<Utc>,
    agreements: impl IntoIterator<Item = (&'a AgreementWithAnnex, ProcessorFacts<'a>)>,
) -> AuthorisedList {
    let mut list = AuthorisedList {
        as_of,
        items: Vec::new(),
        excluded: Vec::new(),
        not_authorised: Vec::new(),
    };
    for (with_annex, facts) in agreements {
        let agreement = &with_annex.agreement;
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
        let window_of = |change_id: &String| {
            facts
                .windows
                .get(&(change_id.clone(), agreement.id.clone()))
        };
        // A replaced entry stays in use for this controller while the replacement is neither
        // authorised nor resolved for it.
        let kept = facts.replaced.iter().filter(|old| {
            window_of(&old.change_id).is_some_and(|w| {
                matches!(
                    window_verdict(Some(w), facts.live_over, as_of),
                    Verdict::NotAuthorised(_)
                )
            })
        });
        for entry in facts.entries.iter().chain(kept.map(|old| &old.entry)) {
            let window = facts.introduced_by.get(&entry.id).and_then(window_of);
            let authorised = |authorised_by, window: Option<&ObjectionWindow>| AuthorisedEntry {
                entry: entry.clone(),
                authorised_by,
                agreement_id: agreement.id.clone(),
                window_id: window.map(|w| w.id.clone()),
                instruction: window
                    .filter(|_| authorised_by == AuthorisedBy::Approved)
                    .and_then(|w| w.approval.as_ref())
                    .and_then(|a| a.instruction.clone()),
                late: authorised_by == AuthorisedBy::Approved && window.is_some_and(|w| w.late),
            };
            let mut verdict = judge(with_annex, entry, window, facts.live_over, as_of);
            let mut window = window;
            let refused = facts
                .introduced_by
                .get(&entry.id)
                .and_then(|c| refused_before.get(c.as_str()));
            if let (Verdict::Annexed(AuthorisedBy::Agreement), Some(refused)) = (&verdict, refused)
            {
                window = Some(*refused);
                verdict = Verdict::NotAuthorised(match refused.state_at(as_of) {
                    WindowState::Objected => NotAuthorisedReason::Objected,
                    _ => NotAuthorisedReason::NotApproved,
                });
            }
            // Each version in force since needs its own authorisation, unless the annex was
            // recorded with it already on the list.
            let annexed_at = with_annex
                .authorised_at_signing
                .iter()
                .find(|a| a.subprocessor_id == entry.id)
                .map(|a| a.decided_at);
            let modifications = facts.modifications.get(&entry.id).into_iter().flatten();
            for (change_id, from) in modifications {
                let covered = annexed_at.is_some_and(|at| at >= *from);
                let settled = matches!(verdict, Verdict::NotAuthorised(_) | Verdict::Excluded);
                if *from > as_of || covered || settled {
                    continue;
                }
                window = window_of(change_id);
                verdict = window_verdict(window, facts.live_over, as_of);
            }
            match verdict {
                Verdict::Annexed(authorised_by) => list.items.push(authorised(authorised_by, None)),
                Verdict::Authorised(authorised_by) => {
                    list.items.push(authorised(authorised_by, window))
                }
                Verdict::Excluded => {
                    if let Some(window) = window {
                        list.excluded.push(ExcludedEntry {
                            entry: entry.clone(),
                            agreement_id: agreement.id.clone(),
                            window_id: window.id.clone(),
                            resolution_note: window
                                .resolution
                                .as_ref()
                                .and_then(|r| r.note.clone()),
                        });
                    }
                }
                Verdict::NotAuthorised(reason) => list.not_authorised.push(NotAuthorisedEntry {
                    entry: entry.clone(),
                    reason,
                    agreement_id: agreement.id.clone(),
                    window_id: window.map(|w| w.id.clone()),
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
    use crate::domain::agreement::{Agreement, AnnexEntry};
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
            access_locations: vec![],
            sub_subprocessors: vec![],
            location: Location::Eea,
            transfer_basis: None,
            transfer_basis_note: None,
            purpose: "x".into(),
            purpose_en: None,
            responsibilities: None,
            responsibilities_en: None,
            contact: None,
            status: EntryStatus::Active,
            active_from: Some(active_from),
            active_until: None,
            version: 1,
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
            notified_at: None,
            notified_via: None,
            closes_at: Some(t),
            closes_on_local_date: None,
            late: false,
            ended_as: None,
            resolution: None,
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
        let annexed = |id: &str, authorised_by, decided_at| AnnexEntry {
            subprocessor_id: id.into(),
            authorised_by,
            decided_at,
        };
        let now = noon();
        let agreement = AgreementWithAnnex {
            agreement,
            authorised_at_signing: vec![
                annexed("bilag-b", AuthorisedBy::Agreement, signed),
                annexed(
                    "approved-2025",
                    AuthorisedBy::Approved,
                    signed - Duration::days(300),
                ),
                annexed(
                    "approved-later",
                    AuthorisedBy::Approved,
                    now + Duration::days(1),
                ),
            ],
        };
        let closed = Some(now - Duration::days(1));
        let cases = [
            (None, "bilag-b", Some(AuthorisedBy::Agreement), None),
            (None, "approved-2025", Some(AuthorisedBy::Approved), None),
            (
                None,
                "approved-later",
                None,
                Some(NotAuthorisedReason::InUseBeforeWindowClosed),
            ),
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
                modifications: &HashMap::new(),
                live_over: &HashSet::new(),
                replaced: &[],
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
