use super::error::{DomainError, Problems};
use super::geography::{adequacy_decision, check_country, is_eea, CountryCode, Location};
use super::registration::Registration;
use serde::{Deserialize, Serialize};

/// The legal ground on which personal data leaves the EEA (GDPR chapter V).
/// `adequacy_decision` is valid only if every non-EEA processing location has an EU adequacy
/// decision; for the scoped decisions (CA, JP, KR, US) `transfer_basis_note` must state the
/// scope (e.g. "DPF certified").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferBasis {
    AdequacyDecision,
    StandardContractualClauses,
    BindingCorporateRules,
    CodeOfConduct,
    Certification,
    Derogation,
}

impl TransferBasis {
    pub const ALL: [TransferBasis; 6] = [
        TransferBasis::AdequacyDecision,
        TransferBasis::StandardContractualClauses,
        TransferBasis::BindingCorporateRules,
        TransferBasis::CodeOfConduct,
        TransferBasis::Certification,
        TransferBasis::Derogation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferBasis::AdequacyDecision => "adequacy_decision",
            TransferBasis::StandardContractualClauses => "standard_contractual_clauses",
            TransferBasis::BindingCorporateRules => "binding_corporate_rules",
            TransferBasis::CodeOfConduct => "code_of_conduct",
            TransferBasis::Certification => "certification",
            TransferBasis::Derogation => "derogation",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        TransferBasis::ALL.into_iter().find(|b| b.as_str() == text)
    }
}

/// A contact person at the sub-processor (Annex IV of decision 2021/915). An answer has all
/// three members (null when unknown); in a request every member is optional, at most 1000
/// characters, and blank counts as absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contact {
    #[schema(max_length = 1000)]
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub position: Option<String>,
    #[schema(format = Email, max_length = 1000)]
    pub email: Option<String>,
}

/// The schema of an e-mail address in a request, as [`check_email`] accepts it (blank counts
/// as absent).
pub struct Email;

impl utoipa::PartialSchema for Email {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .max_length(Some(MAX_TEXT))
            .into()
    }
}

impl utoipa::ToSchema for Email {}

/// An entry as a processor submits it. `location` is derived from `processing_locations`;
/// `transfer_basis` is required when a location is outside the EEA and refused when all are
/// inside. Text fields are trimmed and at most 1000 characters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SubprocessorInput {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub name: Option<String>,
    /// Leave out (or null) for a company without a registration.
    pub registration: Option<Registration>,
    /// The legal address.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub address: Option<String>,
    #[schema(value_type = CountryCode, required = true)]
    pub country: Option<String>,
    /// The countries where the data is processed: at least one, each once.
    #[schema(value_type = std::collections::BTreeSet<CountryCode>, required = true, min_items = 1)]
    pub processing_locations: Option<Vec<String>>,
    pub transfer_basis: Option<TransferBasis>,
    #[schema(max_length = 1000)]
    pub transfer_basis_note: Option<String>,
    /// The processing the sub-processor does.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub purpose: Option<String>,
    pub contact: Option<Contact>,
}

/// A validated sub-processor entry, ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubprocessorSpec {
    pub name: String,
    pub registration: Option<Registration>,
    pub address: String,
    pub country: String,
    pub processing_locations: Vec<String>,
    pub location: Location,
    pub transfer_basis: Option<TransferBasis>,
    pub transfer_basis_note: Option<String>,
    pub purpose: String,
    pub contact: Option<Contact>,
}

pub const MAX_TEXT: usize = 1_000;

/// Control characters are refused wherever they stand, also where trimming would drop them:
/// the request guard judges the raw text the same way.
fn refuse_controls(problems: &mut Problems, field: &str, value: Option<&str>) {
    if let Some(Err(error)) = value.map(|text| super::text::check_text(field, text)) {
        problems.push(error.field, error.message);
    }
}

/// A required, trimmed, bounded text field.
pub fn required_text(problems: &mut Problems, field: &str, value: Option<&str>) -> String {
    refuse_controls(problems, field, value);
    match value.map(str::trim) {
        None | Some("") => {
            problems.push(field, format!("`{field}` is required"));
            String::new()
        }
        Some(text) if text.chars().count() > MAX_TEXT => {
            problems.push(
                field,
                format!("`{field}` is longer than {MAX_TEXT} characters"),
            );
            String::new()
        }
        Some(text) => text.to_string(),
    }
}

/// An optional, trimmed, bounded text field; blank counts as absent.
pub fn optional_text(problems: &mut Problems, field: &str, value: Option<&str>) -> Option<String> {
    refuse_controls(problems, field, value);
    match value.map(str::trim) {
        None | Some("") => None,
        Some(text) if text.chars().count() > MAX_TEXT => {
            problems.push(
                field,
                format!("`{field}` is longer than {MAX_TEXT} characters"),
            );
            None
        }
        Some(text) => Some(text.to_string()),
    }
}

pub fn check_email(problems: &mut Problems, field: &str, value: Option<&str>) -> Option<String> {
    let email = optional_text(problems, field, value)?;
    // An address people receive mail at: RFC 5322 syntax, a domain name with at least two
    // labels, no display name and no IP literal.
    let options = email_address::Options::default()
        .with_required_tld()
        .without_display_text()
        .without_domain_literal();
    if email_address::EmailAddress::parse_with_options(&email, options).is_err() {
        problems.push(field, format!("`{email}` is not an e-mail address"));
    }
    Some(email)
}

pub fn check_registration(problems: &mut Problems, registration: Option<&Registration>) {
    if let Some(registration) = registration {
        if let Err(error) = registration.validate() {
            problems.extend_prefixed("registration", vec![error]);
        }
    }
}

pub fn check_country_field(problems: &mut Problems, field: &str, value: Option<&str>) -> String {
    match value {
        None => {
            problems.push(
                field,
                format!("`{field}` is required (ISO 3166-1 alpha-2, e.g. DK)"),
            );
            String::new()
        }
        Some(code) => {
            if let Err(message) = check_country(code) {
                problems.push(field, message);
            }
            code.to_string()
        }
    }
}

/// Validates an entry: registration, countries, and the transfer-basis rules of GDPR chapter V.
pub fn validate(input: &SubprocessorInput) -> Result<SubprocessorSpec, DomainError> {
    let mut problems = Problems::default();
    let name = required_text(&mut problems, "name", input.name.as_deref());
    check_registration(&mut problems, input.registration.as_ref());
    let address = required_text(&mut problems, "address", input.address.as_deref());
    let country = check_country_field(&mut problems, "country", input.country.as_deref());
    let purpose = required_text(&mut problems, "purpose", input.purpose.as_deref());
    let transfer_basis_note = optional_text(
        &mut problems,
        "transfer_basis_note",
        input.transfer_basis_note.as_deref(),
    );

    let processing_locations = input.processing_locations.clone().unwrap_or_default();
    if processing_locations.is_empty() {
        problems.push(
            "processing_locations",
            "give at least one country where the data is processed, e.g. [\"IE\"]",
        );
    }
    let mut locations_valid = !processing_locations.is_empty();
    for (i, code) in processing_locations.iter().enumerate() {
        if let Err(message) = check_country(code) {
            locations_valid = false;
            problems.push(format!("processing_locations[{i}]"), message);
        } else if processing_locations.iter().take(i).any(|c| c == code) {
            problems.push(
                format!("processing_locations[{i}]"),
                format!("{code} is listed twice"),
            );
        }
    }
    let location = Location::of(&processing_locations);

    // The transfer rules only make sense once every location is a real country.
    let rule_input = if locations_valid {
        Some((location, input.transfer_basis))
    } else {
        None
    };
    match rule_input.unwrap_or((Location::Eea, None)) {
        (Location::Eea, Some(basis)) => problems.push(
            "transfer_basis",
            format!(
                "every processing location is in the EEA, so there is no transfer to justify: \
                 leave out transfer_basis (got {})",
                basis.as_str()
            ),
        ),
        (Location::ThirdCountry, None) => problems.push(
            "transfer_basis",
            format!(
                "processing in {} is outside the EEA: give a transfer_basis ({})",
                outside_eea(&processing_locations).join(", "),
                TransferBasis::ALL.map(TransferBasis::as_str).join(", ")
            ),
        ),
        (Location::ThirdCountry, Some(TransferBasis::AdequacyDecision)) => {
            for code in outside_eea(&processing_locations) {
                match adequacy_decision(code) {
                    None => problems.push(
                        "transfer_basis",
                        format!(
                            "the EU has no adequacy decision for {code}: use another basis such as \
                             standard_contractual_clauses"
                        ),
                    ),
                    Some(decision) => {
                        if let (Some(scope), None) = (decision.scope, &transfer_basis_note) {
                            problems.push(
                                "transfer_basis_note",
                                format!(
                                    "the adequacy decision for {code} covers only {scope}: \
                                     state in transfer_basis_note that the recipient is covered \
                                     (e.g. \"DPF certified\")"
                                ),
                            );
                        }
                    }
                }
            }
        }
        _ => {}
    }

    let contact = input.contact.as_ref().map(|contact| Contact {
        name: optional_text(&mut problems, "contact.name", contact.name.as_deref()),
        position: optional_text(
            &mut problems,
            "contact.position",
            contact.position.as_deref(),
        ),
        email: check_email(&mut problems, "contact.email", contact.email.as_deref()),
    });

    problems.finish(SubprocessorSpec {
        name,
        registration: input.registration.clone(),
        address,
        country,
        processing_locations,
        location,
        transfer_basis: input.transfer_basis,
        transfer_basis_note,
        purpose,
        contact,
    })
}

fn outside_eea(locations: &[String]) -> Vec<&str> {
    locations
        .iter()
        .map(String::as_str)
        .filter(|code| !is_eea(code))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::registration::RegistrationScheme;
    use crate::domain::FieldError;

    fn azure() -> SubprocessorInput {
        SubprocessorInput {
            name: Some("Microsoft Azure".into()),
            registration: Some(Registration {
                scheme: RegistrationScheme::Cvr,
                number: "13612870".into(),
            }),
            address: Some("Kanalvej 7, 2800 Kgs. Lyngby".into()),
            country: Some("DK".into()),
            processing_locations: Some(vec!["IE".into(), "NL".into()]),
            purpose: Some("Cloud platform".into()),
            ..Default::default()
        }
    }

    fn fields(result: Result<SubprocessorSpec, DomainError>) -> Vec<String> {
        match result {
            Err(DomainError::Invalid(errors)) => {
                errors.into_iter().map(|e: FieldError| e.field).collect()
            }
            Ok(_) => vec![],
        }
    }

    #[test]
    fn eea_entry_is_valid_without_basis() {
        let spec = validate(&azure()).expect("valid");
        assert_eq!(spec.location, Location::Eea);
    }

    #[test]
    fn eea_entry_with_basis_is_refused() {
        let mut input = azure();
        input.transfer_basis = Some(TransferBasis::StandardContractualClauses);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
    }

    #[test]
    fn third_country_needs_a_basis() {
        let mut input = azure();
        input.processing_locations = Some(vec!["IE".into(), "US".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.transfer_basis = Some(TransferBasis::StandardContractualClauses);
        assert_eq!(
            validate(&input).map(|s| s.location),
            Ok(Location::ThirdCountry)
        );
    }

    #[test]
    fn adequacy_needs_a_decision_and_a_scope_note() {
        let mut input = azure();
        input.transfer_basis = Some(TransferBasis::AdequacyDecision);
        input.processing_locations = Some(vec!["CN".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.processing_locations = Some(vec!["CH".into()]);
        assert!(validate(&input).is_ok());
        input.processing_locations = Some(vec!["US".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis_note"]);
        input.transfer_basis_note = Some("EU-US Data Privacy Framework, certified".into());
        assert!(validate(&input).is_ok());
        input.processing_locations = Some(vec!["GL".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let input = SubprocessorInput {
            country: Some("dk".into()),
            processing_locations: Some(vec!["XX".into(), "IE".into(), "IE".into()]),
            ..Default::default()
        };
        assert_eq!(
            fields(validate(&input)),
            [
                "name",
                "address",
                "country",
                "purpose",
                "processing_locations[0]",
                "processing_locations[2]"
            ]
        );
    }
}

/// Where an entry stands on its processor's list: `proposed` (part of a change not yet
/// effective), `active`, `inactive` (removed or replaced), `withdrawn` (its change was
/// withdrawn before it became effective).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Part of a change that is not effective yet.
    Proposed,
    Active,
    /// Replaced or removed.
    Inactive,
    /// Its change was withdrawn before it became effective.
    Withdrawn,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Proposed => "proposed",
            EntryStatus::Active => "active",
            EntryStatus::Inactive => "inactive",
            EntryStatus::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            EntryStatus::Proposed,
            EntryStatus::Active,
            EntryStatus::Inactive,
            EntryStatus::Withdrawn,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// An entry on one processor's list (the fields of Annex IV of decision 2021/915).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "8d0e6c1c-1f4b-4a3e-9f39-0a4f1c2b7d11",
    "processor_id": "timengo-dpg",
    "name": "Microsoft Azure",
    "registration": {"scheme": "cvr", "number": "13612870"},
    "address": "Kanalvej 7, 2800 Kgs. Lyngby",
    "country": "DK",
    "processing_locations": ["IE", "NL"],
    "location": "eea",
    "transfer_basis": null,
    "transfer_basis_note": null,
    "purpose": "Cloud platform hosting the DPG service",
    "contact": null,
    "status": "active",
    "active_from": "2026-11-23T12:00:00Z",
    "active_until": null,
    "version": 1
}))]
pub struct Subprocessor {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    pub name: String,
    /// Null for a company without a registration.
    #[schema(required = true)]
    pub registration: Option<Registration>,
    /// The legal address.
    pub address: String,
    #[schema(value_type = CountryCode)]
    pub country: String,
    #[schema(value_type = Vec<CountryCode>, min_items = 1)]
    pub processing_locations: Vec<String>,
    pub location: Location,
    /// Set exactly when `location` is `third_country`.
    #[schema(required = true)]
    pub transfer_basis: Option<TransferBasis>,
    #[schema(required = true, examples("EU-US Data Privacy Framework"))]
    pub transfer_basis_note: Option<String>,
    /// The processing the sub-processor does.
    pub purpose: String,
    #[schema(required = true)]
    pub contact: Option<Contact>,
    pub status: EntryStatus,
    #[schema(required = true)]
    pub active_from: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(required = true)]
    pub active_until: Option<chrono::DateTime<chrono::Utc>>,
    /// 1 when the entry is added; one more with each modification that takes effect. Earlier
    /// versions are kept: `as_of` shows the one in force.
    #[schema(minimum = 1)]
    pub version: u32,
}

/// The entries created by one seeding request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubprocessorItems {
    pub items: Vec<Subprocessor>,
}
