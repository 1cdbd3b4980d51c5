//! Changes to a processor's list and their state machine: draft → announced → effective,
//! or withdrawn before it is effective.

use super::agreement::{Agreement, ThirdCountryTransfers};
use super::geography::Location;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Addition,
    Replacement,
    Removal,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Addition => "addition",
            ChangeKind::Replacement => "replacement",
            ChangeKind::Removal => "removal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ChangeKind::Addition,
            ChangeKind::Replacement,
            ChangeKind::Removal,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// Additions and replacements bring in a new sub-processor, which controllers must
    /// authorise; a removal needs nobody's consent.
    pub fn opens_windows(self) -> bool {
        !matches!(self, ChangeKind::Removal)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Draft,
    Announced,
    Effective,
    Withdrawn,
}

impl ChangeState {
    pub const ALL: [ChangeState; 4] = [
        ChangeState::Draft,
        ChangeState::Announced,
        ChangeState::Effective,
        ChangeState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Draft => "draft",
            ChangeState::Announced => "announced",
            ChangeState::Effective => "effective",
            ChangeState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        ChangeState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("the change is {}; only a draft can be announced", .0.as_str())]
    NotDraft(ChangeState),
    #[error("the change is already {}; only a draft or announced change can be withdrawn", .0.as_str())]
    NotWithdrawable(ChangeState),
    #[error("planned_from {planned_from} is before the objection windows close; the earliest allowed is {earliest}")]
    PlannedTooEarly {
        planned_from: DateTime<Utc>,
        earliest: DateTime<Utc>,
    },
}

pub fn check_announce(state: ChangeState) -> Result<(), ChangeError> {
    match state {
        ChangeState::Draft => Ok(()),
        other => Err(ChangeError::NotDraft(other)),
    }
}

pub fn check_withdraw(state: ChangeState) -> Result<(), ChangeError> {
    match state {
        ChangeState::Draft | ChangeState::Announced => Ok(()),
        other => Err(ChangeError::NotWithdrawable(other)),
    }
}

/// When a window opened at `opened_at` under an agreement with `notice_days` closes.
pub fn window_closes_at(opened_at: DateTime<Utc>, notice_days: u16) -> DateTime<Utc> {
    opened_at + Duration::days(i64::from(notice_days))
}

/// The earliest instant an addition or replacement announced at `announced_at` may be used:
/// when the last of the processor's agreements' windows closes.
pub fn earliest_use(announced_at: DateTime<Utc>, agreements: &[Agreement]) -> DateTime<Utc> {
    agreements
        .iter()
        .map(|a| window_closes_at(announced_at, a.notice_days))
        .max()
        .unwrap_or(announced_at)
}

/// Checks `planned_from` at announcement; `None` means "as early as allowed".
pub fn plan(
    kind: ChangeKind,
    planned_from: Option<DateTime<Utc>>,
    announced_at: DateTime<Utc>,
    agreements: &[Agreement],
) -> Result<DateTime<Utc>, ChangeError> {
    let earliest = if kind.opens_windows() {
        earliest_use(announced_at, agreements)
    } else {
        announced_at
    };
    match planned_from {
        None => Ok(earliest),
        Some(planned_from) if planned_from < earliest && kind.opens_windows() => {
            Err(ChangeError::PlannedTooEarly {
                planned_from,
                earliest,
            })
        }
        // A removal may take effect at once; a past instant means "now".
        Some(planned_from) => Ok(planned_from.max(announced_at)),
    }
}

/// Conflicts shown on a window from the moment it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The entry processes data outside the EEA and the agreement forbids that.
    ThirdCountryForbidden,
    /// The processor plans to use the entry before this controller's window closes.
    PlannedBeforeWindowCloses,
}

pub fn conflicts(
    location: Location,
    transfers: ThirdCountryTransfers,
    planned_from: DateTime<Utc>,
    closes_at: DateTime<Utc>,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    if location == Location::ThirdCountry && transfers == ThirdCountryTransfers::Forbidden {
        found.push(Conflict::ThirdCountryForbidden);
    }
    if planned_from < closes_at {
        found.push(Conflict::PlannedBeforeWindowCloses);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: the rules are tested on dates, not on the machine's clock.
    fn noon() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 12, 0, 0).unwrap()
    }
    use crate::domain::agreement::Authorisation;

    fn agreement(notice_days: u16) -> Agreement {
        Agreement {
            id: format!("a{notice_days}"),
            controller_id: "c".into(),
            processor_id: "p".into(),
            authorisation: Authorisation::General,
            notice_days,
            objection_requires_reason: false,
            third_country_transfers: ThirdCountryTransfers::AllowedWithBasis,
            signed_at: DateTime::<Utc>::MIN_UTC,
            reference: None,
        }
    }

    #[test]
    fn planned_from_must_wait_for_the_longest_window() {
        let now = noon();
        let agreements = [agreement(7), agreement(30)];
        assert_eq!(
            plan(ChangeKind::Addition, None, now, &agreements),
            Ok(now + Duration::days(30))
        );
        let early = now + Duration::days(29);
        assert_eq!(
            plan(ChangeKind::Addition, Some(early), now, &agreements),
            Err(ChangeError::PlannedTooEarly {
                planned_from: early,
                earliest: now + Duration::days(30)
            })
        );
        assert_eq!(
            plan(
                ChangeKind::Removal,
                Some(now - Duration::days(1)),
                now,
                &agreements
            ),
            Ok(now)
        );
        assert_eq!(plan(ChangeKind::Addition, None, now, &[]), Ok(now));
    }

    #[test]
    fn state_machine_refuses_out_of_order_steps() {
        assert!(check_announce(ChangeState::Draft).is_ok());
        assert_eq!(
            check_announce(ChangeState::Announced),
            Err(ChangeError::NotDraft(ChangeState::Announced))
        );
        assert!(check_withdraw(ChangeState::Announced).is_ok());
        assert!(check_withdraw(ChangeState::Effective).is_err());
        assert!(check_withdraw(ChangeState::Withdrawn).is_err());
    }

    #[test]
    fn conflicts_are_computed_from_terms_and_dates() {
        let now = noon();
        let later = now + Duration::days(7);
        assert_eq!(
            conflicts(
                Location::ThirdCountry,
                ThirdCountryTransfers::Forbidden,
                later,
                later
            ),
            [Conflict::ThirdCountryForbidden]
        );
        assert_eq!(
            conflicts(Location::Eea, ThirdCountryTransfers::Forbidden, now, later),
            [Conflict::PlannedBeforeWindowCloses]
        );
        assert!(conflicts(
            Location::ThirdCountry,
            ThirdCountryTransfers::AllowedWithBasis,
            later,
            later
        )
        .is_empty());
    }
}

/// A change as the API shows it; `windows` only for the processor and admins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    pub id: String,
    pub processor_id: String,
    pub kind: ChangeKind,
    /// The new entry (addition, replacement) or the entry removed (removal).
    pub subprocessor: Option<super::subprocessor::Subprocessor>,
    /// The entry replaced (replacement) or removed (removal).
    pub replaces: Option<String>,
    pub summary: String,
    /// When the processor intends to start; a draft may leave it open until announcement.
    pub planned_from: Option<DateTime<Utc>>,
    pub state: ChangeState,
    pub announced_at: Option<DateTime<Utc>>,
    pub earliest_use: Option<DateTime<Utc>>,
    pub effective_at: Option<DateTime<Utc>>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<super::window::ObjectionWindow>>,
}

/// A change as a processor submits it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ChangeInput {
    pub kind: Option<ChangeKind>,
    pub subprocessor: Option<super::subprocessor::SubprocessorInput>,
    pub replaces: Option<String>,
    pub summary: Option<String>,
    pub planned_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub announce: bool,
}

/// A validated change, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSpec {
    pub kind: ChangeKind,
    pub subprocessor: Option<super::subprocessor::SubprocessorSpec>,
    pub replaces: Option<String>,
    pub summary: String,
    pub planned_from: Option<DateTime<Utc>>,
    pub announce: bool,
}

pub fn validate(input: &ChangeInput) -> Result<ChangeSpec, super::DomainError> {
    let mut problems = super::error::Problems::default();
    let summary =
        super::subprocessor::required_text(&mut problems, "summary", input.summary.as_deref());
    let kind = input.kind.unwrap_or_else(|| {
        problems.push(
            "kind",
            "`kind` is required: addition, replacement or removal",
        );
        ChangeKind::Addition
    });
    let subprocessor = match (kind, &input.subprocessor) {
        (ChangeKind::Removal, Some(_)) => {
            problems.push(
                "subprocessor",
                "a removal names the entry in `replaces`; leave out `subprocessor`",
            );
            None
        }
        (ChangeKind::Removal, None) => None,
        (_, None) => {
            problems.push(
                "subprocessor",
                format!("an {} needs the new `subprocessor` entry", kind.as_str()),
            );
            None
        }
        (_, Some(entry)) => match super::subprocessor::validate(entry) {
            Ok(spec) => Some(spec),
            Err(super::DomainError::Invalid(errors)) => {
                problems.extend_prefixed("subprocessor", errors);
                None
            }
        },
    };
    let replaces = input
        .replaces
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from);
    match (kind, &replaces) {
        (ChangeKind::Addition, Some(_)) => problems.push(
            "replaces",
            "an addition replaces nothing: use kind replacement, or leave out `replaces`",
        ),
        (ChangeKind::Replacement | ChangeKind::Removal, None) => problems.push(
            "replaces",
            format!(
                "a {} needs `replaces`: the id of the entry on your list",
                kind.as_str()
            ),
        ),
        _ => {}
    }
    if let Some(Err(error)) = input
        .planned_from
        .map(|t| super::text::check_instant("planned_from", t))
    {
        problems.push(error.field, error.message);
    }
    problems.finish(ChangeSpec {
        kind,
        subprocessor,
        replaces,
        summary,
        planned_from: input.planned_from,
        announce: input.announce,
    })
}
