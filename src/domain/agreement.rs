use super::authorised::AuthorisedBy;
use super::deadline::{parse_zone, DEFAULT_TIME_ZONE};
use super::error::{DomainError, Problems};
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

/// The terms of one data-processing agreement that decide what a change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgreementTerms {
    pub authorisation: Authorisation,
    pub notice_days: u16,
    pub objection_requires_reason: bool,
    pub third_country_transfers: ThirdCountryTransfers,
    /// The calendar deadlines are counted on (`super::deadline`).
    pub time_zone: Tz,
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

/// An agreement with its annex, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10",
    "controller_id": "roskilde-kommune",
    "processor_id": "timengo-dpg",
    "authorisation": "specific",
    "notice_days": 30,
    "objection_requires_reason": false,
    "third_country_transfers": "forbidden",
    "signed_at": "2025-03-01T09:00:00Z",
    "reference": "DPA 2024-03",
    "time_zone": "Europe/Copenhagen",
    "authorised_at_signing": [{
        "subprocessor_id": "0193a3c4-5b6d-7e8f-9a0b-1c2d3e4f5a6b",
        "authorised_by": "agreement",
        "decided_at": "2025-03-01T09:00:00Z"
    }]
}))]
#[schema(as = Agreement)]
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
        },
        signed_at,
        reference,
    })
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
#[schema(as = AgreementCore, example = json!({
    "id": "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10",
    "controller_id": "roskilde-kommune",
    "processor_id": "timengo-dpg",
    "authorisation": "specific",
    "notice_days": 30,
    "objection_requires_reason": false,
    "third_country_transfers": "forbidden",
    "signed_at": "2026-11-23T12:00:00Z",
    "reference": "DPA 2024-03",
    "time_zone": "Europe/Copenhagen"
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
}

impl Agreement {
    pub fn terms(&self) -> AgreementTerms {
        AgreementTerms {
            authorisation: self.authorisation,
            notice_days: self.notice_days,
            objection_requires_reason: self.objection_requires_reason,
            third_country_transfers: self.third_country_transfers,
            time_zone: self.time_zone,
        }
    }
}
