use super::authorised::AuthorisedBy;
use super::deadline::{parse_zone, DEFAULT_TIME_ZONE};
use super::error::{DomainError, Problems};
use super::window::Decider;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// How the controller authorises sub-processors (Datatilsynet's standard clauses, clause 7).
/// `general`: a change is announced, a window opens and silence is tacit consent.
/// `specific`: explicit prior written approval is needed; silence is not approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Authorisation {
    /// Announce, open a window; silence is tacit consent.
    General,
    /// Explicit prior written approval; silence is not approval.
    Specific,
}

impl Authorisation {
    pub fn as_str(self) -> &'static str {
        match self {
            Authorisation::General => "general",
            Authorisation::Specific => "specific",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "general" => Some(Authorisation::General),
            "specific" => Some(Authorisation::Specific),
            _ => None,
        }
    }
}

/// When a controller's objection window starts running (DESIGN §1): at the change's
/// announcement, or at the first recorded dispatch of the notice to that controller (an e-mail
/// accepted by its SMTP server or a webhook answered 2xx), for agreements whose notice counts
/// only once it was sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeStarts {
    /// The window runs from the announcement.
    #[default]
    Announcement,
    /// The window runs from the first dispatch of the notice; until then it has no deadline.
    Dispatch,
}

impl NoticeStarts {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeStarts::Announcement => "announcement",
            NoticeStarts::Dispatch => "dispatch",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "announcement" => Some(NoticeStarts::Announcement),
            "dispatch" => Some(NoticeStarts::Dispatch),
            _ => None,
        }
    }
}

/// Whether the agreement allows the processor's sub-processors to process outside the EEA:
/// `allowed_with_basis` (with a transfer basis) or `forbidden`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ThirdCountryTransfers {
    AllowedWithBasis,
    Forbidden,
}

impl ThirdCountryTransfers {
    pub fn as_str(self) -> &'static str {
        match self {
            ThirdCountryTransfers::AllowedWithBasis => "allowed_with_basis",
            ThirdCountryTransfers::Forbidden => "forbidden",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "allowed_with_basis" => Some(ThirdCountryTransfers::AllowedWithBasis),
            "forbidden" => Some(ThirdCountryTransfers::Forbidden),
            _ => None,
        }
    }
}

/// Where an agreement stands: `proposed` (recorded by the processor, not yet confirmed by the
/// controller: it authorises nothing and opens no window), `active` (confirmed by the
/// controller, or created by an admin importing an existing contract), `terminated` (from
/// `terminated_at`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgreementState {
    Proposed,
    Active,
    Terminated,
}

impl AgreementState {
    pub fn as_str(self) -> &'static str {
        match self {
            AgreementState::Proposed => "proposed",
            AgreementState::Active => "active",
            AgreementState::Terminated => "terminated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "proposed" => Some(AgreementState::Proposed),
            "active" => Some(AgreementState::Active),
            "terminated" => Some(AgreementState::Terminated),
            _ => None,
        }
    }
}

/// Who proposed a version of an agreement's terms; the other party confirms it, an admin's
/// takes effect at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Proposer {
    Processor,
    Controller,
    Admin,
}

impl Proposer {
    pub fn as_str(self) -> &'static str {
        match self {
            Proposer::Processor => "processor",
            Proposer::Controller => "controller",
            Proposer::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "processor" => Some(Proposer::Processor),
            "controller" => Some(Proposer::Controller),
            "admin" => Some(Proposer::Admin),
            _ => None,
        }
    }
}

/// `proposed`: waiting for the other party's confirmation; `confirmed`: it took effect (the
/// agreement's `version` says which confirmed version is in force).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    Proposed,
    Confirmed,
}

impl VersionState {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Proposed => "proposed",
            VersionState::Confirmed => "confirmed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "proposed" => Some(VersionState::Proposed),
            "confirmed" => Some(VersionState::Confirmed),
            _ => None,
        }
    }
}

/// One version of an agreement's terms: version 1 as recorded, then each amendment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgreementVersion {
    #[schema(minimum = 1)]
    pub version: u32,
    pub state: VersionState,
    pub authorisation: Authorisation,
    #[schema(minimum = 1, maximum = 365)]
    pub notice_days: u16,
    pub objection_requires_reason: bool,
    pub third_country_transfers: ThirdCountryTransfers,
    #[schema(value_type = String, example = "Europe/Copenhagen")]
    pub time_zone: Tz,
    pub notice_starts: NoticeStarts,
    #[schema(required = true)]
    pub allowed_locations: Option<Vec<String>>,
    pub annex_name: String,
    pub proposed_at: DateTime<Utc>,
    pub proposed_by_party: Proposer,
    #[schema(required = true)]
    pub proposed_by: Option<Decider>,
    #[schema(required = true)]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub confirmed_by: Option<Decider>,
}

/// An agreement with every version of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgreementDetail {
    #[serde(flatten)]
    pub agreement: Agreement,
    /// The entries the agreement itself authorises (its Bilag B).
    pub authorised_at_signing: Vec<AnnexEntry>,
    /// Oldest first; `version` above is the one in force.
    pub versions: Vec<AgreementVersion>,
    /// Who receives this agreement's notices by e-mail (set by the controller).
    pub notice_contacts: Vec<super::contact::NoticeContact>,
}

/// The terms an amendment changes; what it leaves out stays as in the version in force.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct AmendmentTerms {
    pub authorisation: Option<Authorisation>,
    #[schema(minimum = 1, maximum = 365)]
    pub notice_days: Option<i64>,
    pub objection_requires_reason: Option<bool>,
    pub third_country_transfers: Option<ThirdCountryTransfers>,
    #[schema(example = "Europe/Copenhagen", max_length = 64)]
    pub time_zone: Option<String>,
    pub notice_starts: Option<NoticeStarts>,
    /// A list restricts the countries; null lifts the restriction; left out keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>)]
    pub allowed_locations: Option<Option<Vec<String>>>,
    #[schema(max_length = 200)]
    pub annex_name: Option<String>,
}

/// A field that is present (even as null) is `Some`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Validates an amendment of `current` (the agreement with the version in force): the
/// amended terms, checked like new ones. An amendment that changes nothing is refused.
pub fn amend(
    current: &Agreement,
    change: &AmendmentTerms,
    now: DateTime<Utc>,
) -> Result<AgreementSpec, DomainError> {
    // An amendment changes the terms, not what the agreement authorised when concluded.
    let merged = AgreementInput {
        authorised_at_signing: None,
        controller_id: Some(current.controller_id.clone()),
        processor_id: Some(current.processor_id.clone()),
        authorisation: change.authorisation.or(Some(current.authorisation)),
        notice_days: change.notice_days.or(Some(i64::from(current.notice_days))),
        objection_requires_reason: change
            .objection_requires_reason
            .or(Some(current.objection_requires_reason)),
        third_country_transfers: change
            .third_country_transfers
            .or(Some(current.third_country_transfers)),
        signed_at: Some(current.signed_at.min(now)),
        reference: current.reference.clone(),
        time_zone: Some(
            change
                .time_zone
                .clone()
                .unwrap_or_else(|| current.time_zone.name().to_string()),
        ),
        notice_starts: change.notice_starts.or(Some(current.notice_starts)),
        allowed_locations: change
            .allowed_locations
            .clone()
            .unwrap_or_else(|| current.allowed_locations.clone()),
        annex_name: Some(
            change
                .annex_name
                .clone()
                .unwrap_or_else(|| current.annex_name.clone()),
        ),
    };
    let spec = validate(&merged, now)?;
    if spec.terms == current.terms()
        && spec.allowed_locations == current.allowed_locations
        && spec.annex_name == current.annex_name
    {
        return Err(DomainError::Invalid(vec![super::FieldError::new(
            "body",
            "the amendment changes no term: give the terms that change, e.g. {\"notice_days\": 14}",
        )]));
    }
    Ok(spec)
}

/// The annex's title where an agreement names none (Datatilsynet's standard clauses).
pub const DEFAULT_ANNEX_NAME: &str = "Bilag B";
/// Longest `annex_name`.
pub const MAX_ANNEX_NAME: usize = 200;

/// The terms of one data-processing agreement that decide what a change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreementTerms {
    pub authorisation: Authorisation,
    pub notice_days: u16,
    pub objection_requires_reason: bool,
    pub third_country_transfers: ThirdCountryTransfers,
    /// The calendar deadlines are counted on (`super::deadline`).
    pub time_zone: Tz,
    pub notice_starts: NoticeStarts,
}

/// Notice periods longer than a year are almost certainly a typo (e.g. 300 for 30).
pub const MAX_NOTICE_DAYS: i64 = 365;

/// A signed data-processing agreement as the caller records it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AgreementInput {
    /// An existing controller's id.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub controller_id: Option<String>,
    /// An existing processor's id.
    #[schema(value_type = String, required = true, min_length = 1)]
    pub processor_id: Option<String>,
    #[schema(value_type = Authorisation, required = true)]
    pub authorisation: Option<Authorisation>,
    /// Calendar days between announcement and the end of the objection window.
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 365)]
    pub notice_days: Option<i64>,
    /// An objection without a reason is refused; null or left out means false.
    #[schema(default = false)]
    pub objection_requires_reason: Option<bool>,
    #[schema(value_type = ThirdCountryTransfers, required = true)]
    pub third_country_transfers: Option<ThirdCountryTransfers>,
    /// When it was signed; defaults to now and must not lie in the future.
    pub signed_at: Option<DateTime<Utc>>,
    #[schema(max_length = 1000)]
    pub reference: Option<String>,
    /// The IANA time zone whose calendar counts the notice days (the day of the notice does not
    /// count; the window closes at the end of the last day there); default `Europe/Copenhagen`.
    #[schema(example = "Europe/Copenhagen", max_length = 64)]
    pub time_zone: Option<String>,
    /// When a window starts running: `announcement` (default), or `dispatch`: at the first
    /// recorded dispatch of the notice to this controller (e-mail accepted by the SMTP server,
    /// or a webhook answered 2xx); until then the window has no deadline.
    pub notice_starts: Option<NoticeStarts>,
    /// The only countries (ISO 3166-1 alpha-2) where sub-processors may process the data; a
    /// window for an entry processing elsewhere shows the blocking conflict
    /// `location_not_allowed`. Null or left out: no restriction.
    #[schema(example = json!(["DK", "SE"]))]
    pub allowed_locations: Option<Vec<String>>,
    /// What the annex of authorised sub-processors is called in this agreement; default
    /// "Bilag B".
    #[schema(example = "Bilag B", max_length = 200)]
    pub annex_name: Option<String>,
    /// The agreement's own annex (Bilag B): the processor's entries it authorises. Left out:
    /// the processor's list at `signed_at`. Given: exactly these entries, each in use by the
    /// processor now, with the decision that authorised it where that came before subreg
    /// (an existing customer's earlier approvals), so onboarding raises no false alarm.
    #[schema(max_items = 1000)]
    pub authorised_at_signing: Option<Vec<AnnexEntryInput>>,
}

/// One entry of an agreement's annex as the caller gives it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(as = AuthorisedAtSigningInput)]
pub struct AnnexEntryInput {
    /// The id of one of the processor's entries in use.
    #[schema(value_type = String, format = "uuid", required = true)]
    pub subprocessor_id: Option<String>,
    /// `agreement` (default: listed when the agreement was signed), or the earlier decision that
    /// authorised it: `approved` or `tacit_consent`.
    pub authorised_by: Option<AuthorisedBy>,
    /// When that decision was made; required for `approved` and `tacit_consent`, refused for
    /// `agreement` (which is authorised from `signed_at`).
    pub decided_at: Option<DateTime<Utc>>,
}

/// An entry on an agreement's annex, with the decision that authorised it and from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = AuthorisedAtSigning)]
pub struct AnnexEntry {
    #[schema(format = "uuid")]
    pub subprocessor_id: String,
    pub authorised_by: AuthorisedBy,
    /// From when it is authorised: `signed_at` for `agreement`, else the decision's date.
    pub decided_at: DateTime<Utc>,
}

/// Annexes longer than this are almost certainly a mistake in an import.
pub const MAX_ANNEX_ENTRIES: usize = 1000;

/// An agreement with its annex, as the lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgreementWithAnnex {
    #[serde(flatten)]
    pub agreement: Agreement,
    /// The entries the agreement itself authorises (its Bilag B).
    pub authorised_at_signing: Vec<AnnexEntry>,
}

/// A validated agreement, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementSpec {
    pub controller_id: String,
    pub processor_id: String,
    pub terms: AgreementTerms,
    pub signed_at: DateTime<Utc>,
    pub reference: Option<String>,
    pub allowed_locations: Option<Vec<String>>,
    pub annex_name: String,
    /// `None`: the processor's list at `signed_at`.
    pub authorised_at_signing: Option<Vec<AnnexEntrySpec>>,
}

/// A validated annex entry; the store checks that the entry is the processor's and in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnexEntrySpec {
    pub subprocessor_id: String,
    pub authorised_by: AuthorisedBy,
    /// `None` for `agreement`: authorised from `signed_at`.
    pub decided_at: Option<DateTime<Utc>>,
}

fn validate_annex(
    problems: &mut Problems,
    entries: &[AnnexEntryInput],
    now: DateTime<Utc>,
) -> Vec<AnnexEntrySpec> {
    if entries.len() > MAX_ANNEX_ENTRIES {
        problems.push(
            "authorised_at_signing",
            format!(
                "an annex of {} entries is more than the {MAX_ANNEX_ENTRIES} allowed: check the import",
                entries.len()
            ),
        );
        return Vec::new();
    }
    let mut seen = std::collections::HashSet::new();
    let mut specs = Vec::new();
    for (i, input) in entries.iter().enumerate() {
        let at = |field: &str| format!("authorised_at_signing[{i}].{field}");
        let id = super::subprocessor::required_text(
            problems,
            &at("subprocessor_id"),
            input.subprocessor_id.as_deref(),
        );
        if !id.is_empty() && !seen.insert(id.clone()) {
            problems.push(
                at("subprocessor_id"),
                format!("entry `{id}` is listed twice: list each entry once"),
            );
        }
        let authorised_by = input.authorised_by.unwrap_or(AuthorisedBy::Agreement);
        let decided_at = match (authorised_by, input.decided_at) {
            (AuthorisedBy::Agreement, None) => None,
            (AuthorisedBy::Agreement, Some(_)) => {
                problems.push(
                    at("decided_at"),
                    "an entry authorised by the agreement itself is authorised from `signed_at`: \
                     leave `decided_at` out, or give `authorised_by` approved or tacit_consent",
                );
                None
            }
            (_, None) => {
                problems.push(
                    at("decided_at"),
                    format!(
                        "`decided_at` is required for `{}`: when the controller decided",
                        authorised_by.as_str()
                    ),
                );
                None
            }
            (_, Some(decided)) => {
                if let Err(error) = super::text::check_instant(&at("decided_at"), decided) {
                    problems.push(error.field, error.message);
                } else if decided > now {
                    problems.push(
                        at("decided_at"),
                        "`decided_at` lies in the future: record decisions once they are made",
                    );
                }
                Some(decided)
            }
        };
        specs.push(AnnexEntrySpec {
            subprocessor_id: id,
            authorised_by,
            decided_at,
        });
    }
    specs
}

/// Validates an agreement; `now` is the default signing time and the latest allowed one.
pub fn validate(input: &AgreementInput, now: DateTime<Utc>) -> Result<AgreementSpec, DomainError> {
    let mut problems = Problems::default();
    let controller_id = super::subprocessor::required_text(
        &mut problems,
        "controller_id",
        input.controller_id.as_deref(),
    );
    let processor_id = super::subprocessor::required_text(
        &mut problems,
        "processor_id",
        input.processor_id.as_deref(),
    );
    let authorisation = input.authorisation.unwrap_or_else(|| {
        problems.push(
            "authorisation",
            "`authorisation` is required: general or specific",
        );
        Authorisation::Specific
    });
    let notice_days = match input.notice_days {
        None => {
            problems.push("notice_days", "`notice_days` is required, e.g. 30 or 7");
            0
        }
        Some(days) if !(1..=MAX_NOTICE_DAYS).contains(&days) => {
            problems.push(
                "notice_days",
                format!("`notice_days` must be between 1 and {MAX_NOTICE_DAYS} calendar days, got {days}"),
            );
            0
        }
        Some(days) => days as u16,
    };
    let third_country_transfers = input.third_country_transfers.unwrap_or_else(|| {
        problems.push(
            "third_country_transfers",
            "`third_country_transfers` is required: allowed_with_basis or forbidden",
        );
        ThirdCountryTransfers::Forbidden
    });
    let signed_at = input.signed_at.unwrap_or(now);
    if let Err(error) = super::text::check_instant("signed_at", signed_at) {
        problems.push(error.field, error.message);
    } else if signed_at > now {
        problems.push(
            "signed_at",
            "`signed_at` lies in the future: record an agreement once it is signed",
        );
    }
    let reference =
        super::subprocessor::optional_text(&mut problems, "reference", input.reference.as_deref());
    let time_zone = match input.time_zone.as_deref() {
        None => DEFAULT_TIME_ZONE,
        Some(name) => parse_zone(name).unwrap_or_else(|| {
            problems.push(
                "time_zone",
                format!("`{name}` is not an IANA time zone such as Europe/Copenhagen"),
            );
            DEFAULT_TIME_ZONE
        }),
    };
    let allowed_locations = allowed_locations(&mut problems, input.allowed_locations.as_deref());
    let annex_name = annex_name(&mut problems, input.annex_name.as_deref());
    let authorised_at_signing = input
        .authorised_at_signing
        .as_deref()
        .map(|entries| validate_annex(&mut problems, entries, now));
    problems.finish(AgreementSpec {
        authorised_at_signing,
        controller_id,
        processor_id,
        terms: AgreementTerms {
            authorisation,
            notice_days,
            objection_requires_reason: input.objection_requires_reason.unwrap_or(false),
            third_country_transfers,
            time_zone,
            notice_starts: input.notice_starts.unwrap_or_default(),
        },
        signed_at,
        reference,
        allowed_locations,
        annex_name,
    })
}

fn allowed_locations(problems: &mut Problems, codes: Option<&[String]>) -> Option<Vec<String>> {
    let codes = codes?;
    if codes.is_empty() {
        problems.push(
            "allowed_locations",
            "`allowed_locations` is empty: list the countries allowed, e.g. [\"DK\"], or leave it \
             out (null) for no restriction",
        );
    }
    for (i, code) in codes.iter().enumerate() {
        if let Err(message) = super::geography::check_country(code) {
            problems.push(format!("allowed_locations[{i}]"), message);
        } else if codes.iter().take(i).any(|c| c == code) {
            problems.push(
                format!("allowed_locations[{i}]"),
                format!("{code} is listed twice"),
            );
        }
    }
    Some(codes.to_vec())
}

fn annex_name(problems: &mut Problems, name: Option<&str>) -> String {
    match super::subprocessor::optional_text(problems, "annex_name", name) {
        None => DEFAULT_ANNEX_NAME.to_string(),
        Some(name) if name.chars().count() > MAX_ANNEX_NAME => {
            problems.push(
                "annex_name",
                format!("`annex_name` is longer than {MAX_ANNEX_NAME} characters"),
            );
            DEFAULT_ANNEX_NAME.to_string()
        }
        Some(name) => name,
    }
}

/// Why a termination is refused: the effective date lies in the past.
pub fn check_termination(
    effective_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, DomainError> {
    let mut problems = Problems::default();
    let at = effective_at.unwrap_or(now);
    if let Err(error) = super::text::check_instant("effective_at", at) {
        problems.push(error.field, error.message);
    } else if at < now {
        problems.push(
            "effective_at",
            format!(
                "`effective_at` ({}) lies in the past: give now or a later instant, or leave it \
                 out to terminate at once",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        );
    }
    problems.finish(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noon() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 12, 0, 0).unwrap()
    }

    fn seed_004() -> AgreementInput {
        AgreementInput {
            controller_id: Some("roskilde-kommune".into()),
            processor_id: Some("roskilde-hosting".into()),
            authorisation: Some(Authorisation::General),
            notice_days: Some(7),
            objection_requires_reason: Some(true),
            third_country_transfers: Some(ThirdCountryTransfers::Forbidden),
            signed_at: None,
            reference: Some("Hostingaftale".into()),
            time_zone: None,
            notice_starts: None,
            allowed_locations: None,
            annex_name: None,
            authorised_at_signing: None,
        }
    }

    #[test]
    fn seed_terms_are_kept() {
        let now = noon();
        let spec = validate(&seed_004(), now).expect("valid");
        assert_eq!(spec.terms.notice_days, 7);
        assert!(spec.terms.objection_requires_reason);
        assert_eq!(spec.signed_at, now);
    }

    #[test]
    fn notice_days_are_bounded_and_signing_is_not_in_the_future() {
        let now = noon();
        let mut input = seed_004();
        input.notice_days = Some(0);
        input.signed_at = Some(now + chrono::Duration::days(1));
        let Err(DomainError::Invalid(errors)) = validate(&input, now) else {
            panic!("expected errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["notice_days", "signed_at"]);
    }

    #[test]
    fn an_annex_names_each_entry_once_with_its_decision() {
        let now = noon();
        let mut input = seed_004();
        let entry =
            |id: &str, by: Option<AuthorisedBy>, at: Option<DateTime<Utc>>| AnnexEntryInput {
                subprocessor_id: Some(id.into()),
                authorised_by: by,
                decided_at: at,
            };
        input.authorised_at_signing = Some(vec![
            entry("a", None, None),
            entry("b", Some(AuthorisedBy::Approved), Some(now)),
            entry("a", None, None),
            entry("c", Some(AuthorisedBy::TacitConsent), None),
            entry("d", None, Some(now)),
        ]);
        let Err(DomainError::Invalid(errors)) = validate(&input, now) else {
            panic!("expected errors");
        };
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "authorised_at_signing[2].subprocessor_id",
                "authorised_at_signing[3].decided_at",
                "authorised_at_signing[4].decided_at"
            ]
        );
    }
}

/// A data-processing agreement between one controller and one processor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10",
    "controller_id": "roskilde-kommune",
    "processor_id": "timengo-dpg",
    "authorisation": "specific",
    "notice_days": 30,
    "objection_requires_reason": false,
    "third_country_transfers": "forbidden",
    "signed_at": "2026-11-23T12:00:00Z",
    "reference": "DPA 2024-03",
    "time_zone": "Europe/Copenhagen",
    "state": "active",
    "version": 1,
    "in_force_from": "2026-11-23T12:00:00Z",
    "proposed_by": {"decided_by": null, "sub": "timengo-dpg-admin"},
    "confirmed_at": "2026-11-24T09:00:00Z",
    "confirmed_by": {"decided_by": {"name": "Mette Hansen", "role": "DPO"}, "sub": "roskilde-dpo"},
    "terminated_at": null,
    "termination_reason": null,
    "terminated_by": null,
    "allowed_locations": null,
    "annex_name": "Bilag B",
    "notice_starts": "announcement"
}))]
pub struct Agreement {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub controller_id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    pub authorisation: Authorisation,
    /// Calendar days between announcement and the end of the objection window.
    #[schema(minimum = 1, maximum = 365)]
    pub notice_days: u16,
    /// An objection without a reason is refused.
    pub objection_requires_reason: bool,
    pub third_country_transfers: ThirdCountryTransfers,
    pub signed_at: DateTime<Utc>,
    #[schema(required = true)]
    pub reference: Option<String>,
    /// The IANA time zone whose calendar counts the notice days.
    #[schema(value_type = String, example = "Europe/Copenhagen")]
    pub time_zone: Tz,
    pub state: AgreementState,
    /// The version of the terms in force (1 until an amendment is confirmed).
    #[schema(minimum = 1)]
    pub version: u32,
    /// From when the agreement authorises and opens windows: its signing for one an admin
    /// recorded, the controller's confirmation for one the processor proposed; null while
    /// proposed.
    #[schema(required = true)]
    pub in_force_from: Option<DateTime<Utc>>,
    /// Who proposed it (a processor's token); null for one an admin recorded.
    #[schema(required = true)]
    pub proposed_by: Option<Decider>,
    /// When it was confirmed (or recorded active by an admin); null while proposed.
    #[schema(required = true)]
    pub confirmed_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub confirmed_by: Option<Decider>,
    /// When the termination takes (or took) effect; null if not terminated.
    #[schema(required = true)]
    pub terminated_at: Option<DateTime<Utc>>,
    #[schema(required = true)]
    pub termination_reason: Option<String>,
    #[schema(required = true)]
    pub terminated_by: Option<Decider>,
    /// The only countries where sub-processors may process the data; null: no restriction.
    #[schema(required = true)]
    pub allowed_locations: Option<Vec<String>>,
    /// The title of its annex of authorised sub-processors.
    pub annex_name: String,
    /// When a window starts running: at the announcement, or at the first dispatch of the
    /// notice to this controller.
    pub notice_starts: NoticeStarts,
}

impl Agreement {
    pub fn terms(&self) -> AgreementTerms {
        AgreementTerms {
            authorisation: self.authorisation,
            notice_days: self.notice_days,
            objection_requires_reason: self.objection_requires_reason,
            third_country_transfers: self.third_country_transfers,
            time_zone: self.time_zone,
            notice_starts: self.notice_starts,
        }
    }

    /// Whether it authorises and opens windows at `at`: confirmed (in force) and not yet
    /// terminated.
    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.in_force_from.is_some_and(|from| from <= at)
            && self.terminated_at.is_none_or(|end| end > at)
    }
}

/// An agreement in force since `signed_at`, for the rules' unit tests.
#[cfg(test)]
pub(crate) fn in_force(notice_days: u16, signed_at: DateTime<Utc>) -> Agreement {
    Agreement {
        id: format!("a{notice_days}"),
        controller_id: "c".into(),
        processor_id: "p".into(),
        authorisation: Authorisation::General,
        notice_days,
        objection_requires_reason: false,
        third_country_transfers: ThirdCountryTransfers::AllowedWithBasis,
        signed_at,
        reference: None,
        time_zone: crate::domain::deadline::DEFAULT_TIME_ZONE,
        state: AgreementState::Active,
        version: 1,
        in_force_from: Some(signed_at),
        proposed_by: None,
        confirmed_at: Some(signed_at),
        confirmed_by: None,
        terminated_at: None,
        termination_reason: None,
        terminated_by: None,
        allowed_locations: None,
        notice_starts: NoticeStarts::Announcement,
        annex_name: DEFAULT_ANNEX_NAME.into(),
    }
}
