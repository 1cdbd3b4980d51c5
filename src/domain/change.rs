//! Changes to a processor's list and their state machine: draft → announced → effective,
//! or withdrawn before it is effective.

use super::agreement::{Agreement, ThirdCountryTransfers};
use super::geography::Location;
use super::subprocessor::TransferBasis;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// `addition`: a new entry. `replacement`: a new entry that replaces an existing one.
/// `removal`: an existing entry leaves the list. `modification`: a new version of an existing
/// entry (locations, transfer basis, purpose, contact), which keeps its id. All but a removal
/// open an objection window per agreement when announced; a removal is announced but opens
/// none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Addition,
    Replacement,
    Removal,
    Modification,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Addition => "addition",
            ChangeKind::Replacement => "replacement",
            ChangeKind::Removal => "removal",
            ChangeKind::Modification => "modification",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            ChangeKind::Addition,
            ChangeKind::Replacement,
            ChangeKind::Removal,
            ChangeKind::Modification,
        ]
        .into_iter()
        .find(|k| k.as_str() == text)
    }

    /// Additions, replacements and modifications bring in a sub-processor or new terms of one,
    /// which controllers must authorise; a removal needs nobody's consent.
    pub fn opens_windows(self) -> bool {
        !matches!(self, ChangeKind::Removal)
    }
}

/// `draft` → `announced` → `effective`, or `withdrawn` before it is effective. `blocked`: its
/// `planned_from` came while windows that ended `objected` or `not_approved` had no resolution;
/// it becomes effective by itself once they are resolved or approved late, or when the processor
/// takes it live explicitly; it may be postponed (back to `announced`) or withdrawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeState {
    Draft,
    Announced,
    Effective,
    Withdrawn,
    Blocked,
}

impl ChangeState {
    pub const ALL: [ChangeState; 5] = [
        ChangeState::Draft,
        ChangeState::Announced,
        ChangeState::Effective,
        ChangeState::Withdrawn,
        ChangeState::Blocked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChangeState::Draft => "draft",
            ChangeState::Announced => "announced",
            ChangeState::Effective => "effective",
            ChangeState::Withdrawn => "withdrawn",
            ChangeState::Blocked => "blocked",
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
    #[error("the change is already {}; only a draft, announced or blocked change can be withdrawn", .0.as_str())]
    NotWithdrawable(ChangeState),
    #[error("the change is {}; only an announced or blocked change can be postponed", .0.as_str())]
    NotPostponable(ChangeState),
    #[error("the change is {}; only a blocked change is taken live explicitly (an announced one becomes effective by itself at planned_from)", .0.as_str())]
    NotBlocked(ChangeState),
    #[error("planned_from {planned_from} is too early: it must leave the reaction time after the objection windows close (and not be in the past); the earliest allowed is {earliest}")]
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
        ChangeState::Draft | ChangeState::Announced | ChangeState::Blocked => Ok(()),
        other => Err(ChangeError::NotWithdrawable(other)),
    }
}

/// Moves `planned_from` of an announced or blocked change later: the new instant must be
/// later than the current one, not in the past, and not before `earliest` (the latest window
/// close plus the reaction time).
pub fn check_postpone(
    state: ChangeState,
    current: Option<DateTime<Utc>>,
    requested: DateTime<Utc>,
    earliest: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), ChangeError> {
    if !matches!(state, ChangeState::Announced | ChangeState::Blocked) {
        return Err(ChangeError::NotPostponable(state));
    }
    let floor = earliest.max(now);
    let floor = match current {
        // Strictly later than the current plan: one second is the smallest step the API shows.
        Some(current) => floor.max(
            current
                .checked_add_signed(chrono::Duration::seconds(1))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        ),
        None => floor,
    };
    if requested < floor {
        return Err(ChangeError::PlannedTooEarly {
            planned_from: requested,
            earliest: floor,
        });
    }
    Ok(())
}

/// Whether the processor may take the change live over its unresolved windows.
pub fn check_go_live(state: ChangeState) -> Result<(), ChangeError> {
    match state {
        ChangeState::Blocked => Ok(()),
        other => Err(ChangeError::NotBlocked(other)),
    }
}

/// When a window opened at `opened_at` under an agreement with `notice_days` closes: at the end
/// of the last calendar day in the agreement's time zone (`super::deadline`); past the end of
/// the calendar, never.
pub fn window_closes_at(opened_at: DateTime<Utc>, notice_days: u16, zone: Tz) -> DateTime<Utc> {
    super::deadline::closes_at(opened_at, notice_days, zone).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The earliest instant an addition or replacement announced at `announced_at` may be used:
/// when the last of the processor's agreements' windows closes.
pub fn earliest_use(announced_at: DateTime<Utc>, agreements: &[Agreement]) -> DateTime<Utc> {
    agreements
        .iter()
        .map(|a| window_closes_at(announced_at, a.notice_days, a.time_zone))
        .max()
        .unwrap_or(announced_at)
}

/// The earliest `planned_from` once the windows close at `last_close`: the processor gets
/// `reaction` to answer a refusal before the change may become effective (resolve, postpone,
/// withdraw), so windows never close and their change go live in the same instant.
pub fn earliest_planned_from(
    last_close: DateTime<Utc>,
    reaction: chrono::Duration,
) -> DateTime<Utc> {
    last_close
        .checked_add_signed(reaction)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Checks `planned_from` at announcement; `None` means "as early as allowed": the latest
/// window close plus `reaction` for additions and replacements (with no agreement, no window
/// and no wait).
pub fn plan(
    kind: ChangeKind,
    planned_from: Option<DateTime<Utc>>,
    announced_at: DateTime<Utc>,
    agreements: &[Agreement],
    reaction: chrono::Duration,
) -> Result<DateTime<Utc>, ChangeError> {
    let last_close = (!agreements.is_empty()).then(|| earliest_use(announced_at, agreements));
    plan_by_last_close(kind, planned_from, announced_at, last_close, reaction)
}

/// [`plan`] from the latest window close alone (`None`: no agreement), for an announcement
/// that reads its agreements a chunk at a time.
pub fn plan_by_last_close(
    kind: ChangeKind,
    planned_from: Option<DateTime<Utc>>,
    announced_at: DateTime<Utc>,
    last_close: Option<DateTime<Utc>>,
    reaction: chrono::Duration,
) -> Result<DateTime<Utc>, ChangeError> {
    let earliest = match last_close {
        Some(last_close) if kind.opens_windows() => earliest_planned_from(last_close, reaction),
        _ => announced_at,
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

/// Conflicts shown on a window from the moment it opens, computed when it opens.
/// `third_country_forbidden`: the entry processes data outside the EEA and the agreement
/// forbids third-country transfers. `planned_before_window_closes`: the processor plans to use
/// the entry before this controller's window closes (e.g. an agreement signed while the change
/// was announced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Conflict {
    /// The entry processes data outside the EEA and the agreement forbids that.
    ThirdCountryForbidden,
    /// The processor plans to use the entry before this controller's window closes.
    PlannedBeforeWindowCloses,
    /// The entry (or one of its sub-sub-processors) processes or accesses data in a country
    /// outside the agreement's `allowed_locations`.
    LocationNotAllowed,
    /// The entry's transfer basis is an Art. 49 derogation: derogations cover occasional
    /// transfers, not a standing sub-processor (EDPB Guidelines 2/2018).
    DerogationForOngoingTransfer,
}

impl Conflict {
    /// Whether silence cannot cure it: a window with such a conflict ends `not_approved` at its
    /// deadline under general authorisation too, and approving it needs a documented
    /// instruction (GDPR Art. 28(3)(a)); a contract's ban is not amended by silence.
    pub fn blocks_silence(self) -> bool {
        match self {
            Conflict::ThirdCountryForbidden
            | Conflict::LocationNotAllowed
            | Conflict::DerogationForOngoingTransfer => true,
            Conflict::PlannedBeforeWindowCloses => false,
        }
    }
}

/// `location_not_allowed` where the agreement restricts the countries and the entry processes
/// or accesses data (itself or through a sub-sub-processor) in one outside them.
pub fn location_conflict(
    data_locations: &[&str],
    allowed_locations: Option<&[String]>,
) -> Option<Conflict> {
    let allowed = allowed_locations?;
    data_locations
        .iter()
        .any(|code| !allowed.iter().any(|a| a == code))
        .then_some(Conflict::LocationNotAllowed)
}

pub fn conflicts(
    location: Location,
    basis: Option<TransferBasis>,
    transfers: ThirdCountryTransfers,
    planned_from: DateTime<Utc>,
    closes_at: DateTime<Utc>,
) -> Vec<Conflict> {
    let mut found = Vec::new();
    if location == Location::ThirdCountry && transfers == ThirdCountryTransfers::Forbidden {
        found.push(Conflict::ThirdCountryForbidden);
    }
    if basis == Some(TransferBasis::Derogation) {
        found.push(Conflict::DerogationForOngoingTransfer);
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
    use chrono::Duration;

    fn agreement(notice_days: u16) -> Agreement {
        crate::domain::agreement::in_force(notice_days, DateTime::<Utc>::MIN_UTC)
    }

    #[test]
    fn planned_from_must_wait_for_the_longest_window() {
        let now = noon();
        let agreements = [agreement(7), agreement(30)];
        // 30 calendar days from 23 November 2026 end 23 December 24:00 CET.
        let end = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 23, 23, 0, 0).unwrap();
        let day = Duration::days(1);
        assert_eq!(
            plan(ChangeKind::Addition, None, now, &agreements, day),
            Ok(end + day)
        );
        let early = end + day - Duration::seconds(1);
        assert_eq!(
            plan(ChangeKind::Addition, Some(early), now, &agreements, day),
            Err(ChangeError::PlannedTooEarly {
                planned_from: early,
                earliest: end + day
            })
        );
        assert_eq!(
            plan(
                ChangeKind::Removal,
                Some(now - Duration::days(1)),
                now,
                &agreements,
                day
            ),
            Ok(now)
        );
        assert_eq!(plan(ChangeKind::Addition, None, now, &[], day), Ok(now));
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
        let sccs = Some(TransferBasis::StandardContractualClauses);
        assert_eq!(
            conflicts(
                Location::ThirdCountry,
                sccs,
                ThirdCountryTransfers::Forbidden,
                later,
                later
            ),
            [Conflict::ThirdCountryForbidden]
        );
        assert_eq!(
            conflicts(
                Location::Eea,
                None,
                ThirdCountryTransfers::Forbidden,
                now,
                later
            ),
            [Conflict::PlannedBeforeWindowCloses]
        );
        assert!(conflicts(
            Location::ThirdCountry,
            sccs,
            ThirdCountryTransfers::AllowedWithBasis,
            later,
            later
        )
        .is_empty());
    }

    #[test]
    fn a_derogation_basis_is_a_conflict_silence_cannot_cure() {
        let later = noon() + Duration::days(7);
        let found = conflicts(
            Location::ThirdCountry,
            Some(TransferBasis::Derogation),
            ThirdCountryTransfers::AllowedWithBasis,
            later,
            later,
        );
        assert_eq!(found, [Conflict::DerogationForOngoingTransfer]);
        assert!(Conflict::DerogationForOngoingTransfer.blocks_silence());
        assert!(!Conflict::PlannedBeforeWindowCloses.blocks_silence());
    }

    #[test]
    fn every_place_counts_towards_allowed_locations() {
        let allowed = ["DK".to_string(), "IE".to_string()];
        assert_eq!(location_conflict(&["DK", "IE"], Some(&allowed)), None);
        assert_eq!(
            location_conflict(&["DK", "IN"], Some(&allowed)),
            Some(Conflict::LocationNotAllowed)
        );
        assert_eq!(location_conflict(&["IN"], None), None);
    }
}

/// A processor's proposal to change its list. `windows` is present only for the processor
/// itself and admins (in events and embedded in a window it is left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60",
    "processor_id": "timengo-dpg",
    "kind": "addition",
    "subprocessor": {
        "id": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        "processor_id": "timengo-dpg",
        "name": "Qbox ApS",
        "registration": {"scheme": "cvr", "number": "27720102"},
        "address": "Vesterbrogade 1, 1620 København V",
        "country": "DK",
        "processing_locations": ["DK"],
        "access_locations": [],
        "sub_subprocessors": [],
        "location": "eea",
        "transfer_basis": null,
        "transfer_basis_note": null,
        "purpose": "Logning af kundehenvendelser",
        "purpose_en": "Customer logging",
        "responsibilities": null,
        "responsibilities_en": null,
        "contact": null,
        "status": "proposed",
        "active_from": null,
        "active_until": null,
        "version": 1
    },
    "replaces": null,
    "modifies": null,
    "summary": "Qbox ApS tilføjes til logning af kundehenvendelser",
    "summary_en": "Adding Qbox for customer logging",
    "planned_from": "2027-01-15T00:00:00Z",
    "state": "announced",
    "announced_at": "2026-11-23T12:00:00Z",
    "earliest_use": "2026-12-23T12:00:00Z",
    "effective_at": null,
    "withdrawn_at": null,
    "blocked_by": [],
    "live_over_unresolved": []
}))]
pub struct Change {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    pub kind: ChangeKind,
    /// The new entry (addition, replacement; status `proposed` until the change is effective,
    /// `withdrawn` if the change is withdrawn), the entry removed (removal), or the proposed
    /// version (modification: its own id, `inactive` once the modified entry has taken it).
    #[schema(required = true)]
    pub subprocessor: Option<super::subprocessor::Subprocessor>,
    /// The id of the entry replaced (replacement) or removed (removal); null otherwise.
    #[schema(required = true)]
    pub replaces: Option<String>,
    /// The id of the entry a modification changes; null otherwise. The entry keeps its id and
    /// takes the new version (`subprocessor`, the proposal) when the change is effective.
    #[schema(required = true)]
    pub modifies: Option<String>,
    /// What changes and why, for controllers (the main text).
    pub summary: String,
    /// `summary` in English, or null.
    #[schema(required = true)]
    #[serde(default)]
    pub summary_en: Option<String>,
    /// When the processor intends to start (the new entry's `active_from`). Null only for a
    /// draft created without one; set at announcement.
    #[schema(required = true)]
    pub planned_from: Option<DateTime<Utc>>,
    pub state: ChangeState,
    /// When the change was announced; null for a draft.
    #[schema(required = true)]
    pub announced_at: Option<DateTime<Utc>>,
    /// Set at announcement: when the last of the processor's windows closes (additions and
    /// replacements), or the announcement itself (removals).
    #[schema(required = true)]
    pub earliest_use: Option<DateTime<Utc>>,
    /// When the change took effect; null until then.
    #[schema(required = true)]
    pub effective_at: Option<DateTime<Utc>>,
    /// When the change was withdrawn; null unless it was.
    #[schema(required = true)]
    pub withdrawn_at: Option<DateTime<Utc>>,
    /// While `blocked`: the ids of the windows that ended `objected` or `not_approved` and have
    /// no resolution yet; empty otherwise.
    pub blocked_by: Vec<String>,
    /// The windows that were unresolved when the processor took the change live explicitly
    /// (go-live); empty if it became effective with every window authorised or resolved.
    pub live_over_unresolved: Vec<String>,
    /// The change's objection windows (without `change`), in id order, at most the first
    /// [`EMBEDDED_WINDOWS`] (100); processor and admins only. The rest: `windows_next_cursor`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub windows: Option<Vec<super::window::ObjectionWindow>>,
    /// How many windows the change has, where `windows` is shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub windows_total: Option<u64>,
    /// Where `windows` does not hold them all: the cursor of the next page of windows at
    /// `GET /v1/processors/{pid}/changes/{chid}/windows?cursor=...` (listChangeWindows).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub windows_next_cursor: Option<String>,
}

/// Windows a change embeds: a change announced to a hundred thousand agreements answers in
/// kilobytes, and its windows are read a page at a time.
pub const EMBEDDED_WINDOWS: i64 = 100;

/// A change as a processor submits it. `subprocessor` is required for an addition or
/// replacement and refused for a removal; `replaces` (the id of an active entry on the list)
/// is required for a replacement or removal and refused for an addition.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct ChangeInput {
    /// Missing: 422 (field `kind`).
    #[schema(required = true, nullable = false)]
    pub kind: Option<ChangeKind>,
    /// The new entry (addition, replacement) or the entry as it will be (modification); its
    /// field errors are prefixed `subprocessor.`.
    pub subprocessor: Option<super::subprocessor::SubprocessorInput>,
    /// The id of the entry replaced (replacement) or removed (removal); trimmed, blank counts
    /// as absent. It must name an active entry on the processor's list (else 422, field
    /// `replaces`).
    pub replaces: Option<String>,
    /// The id of the active entry a modification changes (required for a modification,
    /// refused otherwise; else 422, field `modifies`).
    pub modifies: Option<String>,
    /// What changes and why, for controllers; trimmed, then 1 to 1000 characters (else 422,
    /// field `summary`).
    #[schema(required = true, nullable = false, min_length = 1, max_length = 1000)]
    pub summary: Option<String>,
    /// `summary` in English, for English readers (default: they read `summary`).
    #[schema(max_length = 1000)]
    #[serde(default)]
    pub summary_en: Option<String>,
    /// When the processor intends to start (years 1 to 9999). Checked at announcement against
    /// the latest window close; left out (or null), it becomes the earliest allowed instant.
    pub planned_from: Option<DateTime<Utc>>,
    /// Announce at once instead of creating a draft.
    #[serde(default)]
    #[schema(default = false)]
    pub announce: bool,
}

/// A validated change, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSpec {
    pub kind: ChangeKind,
    pub subprocessor: Option<super::subprocessor::SubprocessorSpec>,
    pub replaces: Option<String>,
    pub modifies: Option<String>,
    pub summary: String,
    pub summary_en: Option<String>,
    pub planned_from: Option<DateTime<Utc>>,
    pub announce: bool,
}

pub fn validate(input: &ChangeInput) -> Result<ChangeSpec, super::DomainError> {
    let mut problems = super::error::Problems::default();
    let summary =
        super::subprocessor::required_text(&mut problems, "summary", input.summary.as_deref());
    let summary_en = super::subprocessor::optional_text(
        &mut problems,
        "summary_en",
        input.summary_en.as_deref(),
    );
    let kind = input.kind.unwrap_or_else(|| {
        problems.push(
            "kind",
            "`kind` is required: addition, replacement, removal or modification",
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
    let present = |value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(String::from)
    };
    let replaces = present(&input.replaces);
    let modifies = present(&input.modifies);
    match (kind, &modifies) {
        (ChangeKind::Modification, None) => problems.push(
            "modifies",
            "a modification needs `modifies`: the id of the entry on your list it changes",
        ),
        (ChangeKind::Modification, Some(_)) | (_, None) => {}
        (_, Some(_)) => problems.push(
            "modifies",
            format!(
                "a {} modifies no entry: use kind modification, or leave out `modifies`",
                kind.as_str()
            ),
        ),
    }
    match (kind, &replaces) {
        (ChangeKind::Addition, Some(_)) => problems.push(
            "replaces",
            "an addition replaces nothing: use kind replacement, or leave out `replaces`",
        ),
        (ChangeKind::Modification, Some(_)) => problems.push(
            "replaces",
            "a modification keeps its entry: name it in `modifies`, and leave out `replaces`",
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
        modifies,
        summary,
        summary_en,
        planned_from: input.planned_from,
        announce: input.announce,
    })
}
