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
}

/// A validated agreement, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementSpec {
    pub controller_id: String,
    pub processor_id: String,
    pub terms: AgreementTerms,
    pub signed_at: DateTime<Utc>,
    pub reference: Option<String>,
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
    problems.finish(AgreementSpec {
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
