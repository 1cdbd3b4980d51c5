use super::error::{DomainError, Problems};
use super::geography::{
    adequacy_decision, check_country, check_location, is_eea, CountryCode, Location, LocationCode,
};
use super::registration::Registration;
use serde::{Deserialize, Serialize};

/// The legal ground on which personal data leaves the EEA (GDPR chapter V).
/// `adequacy_decision` is valid only if every place outside the EEA has an EU adequacy
/// decision; for the scoped decisions (CA, IL, JP, KR, US) `transfer_basis_note` must state
/// the scope (e.g. "DPF certified, listed on dataprivacyframework.gov"). `derogation` (Art. 49)
/// is accepted but is a blocking conflict on every window: it is not for a standing
/// sub-processor.
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

/// A sub-processor's own sub-processor, as a processor submits it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SubSubprocessorInput {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub name: Option<String>,
    /// The entity's own country.
    #[schema(value_type = CountryCode, required = true)]
    pub country: Option<String>,
    /// Where it processes the data: at least one, each once.
    #[schema(value_type = std::collections::BTreeSet<LocationCode>, required = true, min_items = 1)]
    pub processing_locations: Option<Vec<String>>,
    /// Where it or its staff access the data from, each once (default none).
    #[schema(value_type = std::collections::BTreeSet<LocationCode>, required = false)]
    pub access_locations: Option<Vec<String>>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub purpose: Option<String>,
    /// `purpose` in English, for English readers (default: they read `purpose`).
    #[schema(max_length = 1000)]
    pub purpose_en: Option<String>,
}

/// A sub-processor's own sub-processor (the next link of the chain, EDPB Opinion 22/2024).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SubSubprocessor {
    pub name: String,
    #[schema(value_type = CountryCode)]
    pub country: String,
    #[schema(value_type = Vec<LocationCode>, min_items = 1)]
    pub processing_locations: Vec<String>,
    #[schema(value_type = Vec<LocationCode>)]
    pub access_locations: Vec<String>,
    pub purpose: String,
    /// `purpose` in English, if given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose_en: Option<String>,
}

impl SubSubprocessor {
    fn places(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.country.as_str())
            .chain(self.processing_locations.iter().map(String::as_str))
            .chain(self.access_locations.iter().map(String::as_str))
    }
}

/// At most this many sub-sub-processors on one entry.
pub const MAX_SUB_SUBPROCESSORS: usize = 50;

/// An entry as a processor submits it. `location` is derived from where the data goes: the
/// entity's country, `processing_locations`, `access_locations` and the same of each
/// sub-sub-processor; `transfer_basis` is required when any of them is outside the EEA and
/// refused when all are inside. Text fields are trimmed and at most 1000 characters.
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
    /// The countries (or international organisations) where the data is processed: at least
    /// one, each once.
    #[schema(value_type = std::collections::BTreeSet<LocationCode>, required = true, min_items = 1)]
    pub processing_locations: Option<Vec<String>>,
    /// The countries from which the sub-processor or its staff access the data (e.g.
    /// follow-the-sun support), each once; default none. Access from outside the EEA is a
    /// transfer even with EEA servers.
    #[schema(value_type = std::collections::BTreeSet<LocationCode>, required = false)]
    pub access_locations: Option<Vec<String>>,
    /// The sub-processor's own sub-processors (at most 50); default none.
    #[schema(max_items = 50)]
    pub sub_subprocessors: Option<Vec<SubSubprocessorInput>>,
    pub transfer_basis: Option<TransferBasis>,
    #[schema(max_length = 1000)]
    pub transfer_basis_note: Option<String>,
    /// The processing the sub-processor does, in the processor's main language (Danish for
    /// Danish agreements): every reader without an English text reads it.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub purpose: Option<String>,
    /// `purpose` in English, for English readers.
    #[schema(max_length = 1000)]
    pub purpose_en: Option<String>,
    /// Where several sub-processors share a task: who does what (Annex IV of decision
    /// 2021/915, "delimitation of responsibilities"). Shown in the annex.
    #[schema(max_length = 1000)]
    pub responsibilities: Option<String>,
    /// `responsibilities` in English.
    #[schema(max_length = 1000)]
    pub responsibilities_en: Option<String>,
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
    pub access_locations: Vec<String>,
    pub sub_subprocessors: Vec<SubSubprocessor>,
    pub location: Location,
    pub transfer_basis: Option<TransferBasis>,
    pub transfer_basis_note: Option<String>,
    pub purpose: String,
    pub purpose_en: Option<String>,
    pub responsibilities: Option<String>,
    pub responsibilities_en: Option<String>,
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

/// Checks a list of places under `field`; `required` asks for at least one. Returns the list
/// and whether every code is valid.
fn check_places(
    problems: &mut Problems,
    field: &str,
    value: Option<&Vec<String>>,
    required: bool,
) -> (Vec<String>, bool) {
    let places = value.cloned().unwrap_or_default();
    if required && places.is_empty() {
        problems.push(
            field,
            "give at least one country where the data is processed, e.g. [\"IE\"]",
        );
        return (places, false);
    }
    let mut valid = true;
    for (i, code) in places.iter().enumerate() {
        if let Err(message) = check_location(code) {
            valid = false;
            problems.push(format!("{field}[{i}]"), message);
        } else if places.iter().take(i).any(|c| c == code) {
            problems.push(format!("{field}[{i}]"), format!("{code} is listed twice"));
        }
    }
    (places, valid)
}

/// Validates the sub-sub-processors; the flag says whether all their places are valid codes.
fn check_sub_subprocessors(
    problems: &mut Problems,
    value: Option<&Vec<SubSubprocessorInput>>,
) -> (Vec<SubSubprocessor>, bool) {
    let inputs = value.map(Vec::as_slice).unwrap_or_default();
    if inputs.len() > MAX_SUB_SUBPROCESSORS {
        problems.push(
            "sub_subprocessors",
            format!(
                "at most {MAX_SUB_SUBPROCESSORS} sub-sub-processors per entry (got {})",
                inputs.len()
            ),
        );
        return (Vec::new(), false);
    }
    let mut all_valid = true;
    let mut found = Vec::with_capacity(inputs.len());
    for (i, input) in inputs.iter().enumerate() {
        let field = |name: &str| format!("sub_subprocessors[{i}].{name}");
        let name = required_text(problems, &field("name"), input.name.as_deref());
        let country = check_country_field(problems, &field("country"), input.country.as_deref());
        let country_valid = check_country(&country).is_ok();
        let (processing_locations, processing_valid) = check_places(
            problems,
            &field("processing_locations"),
            input.processing_locations.as_ref(),
            true,
        );
        let (access_locations, access_valid) = check_places(
            problems,
            &field("access_locations"),
            input.access_locations.as_ref(),
            false,
        );
        let purpose = required_text(problems, &field("purpose"), input.purpose.as_deref());
        let purpose_en = optional_text(problems, &field("purpose_en"), input.purpose_en.as_deref());
        all_valid &= country_valid && processing_valid && access_valid;
        found.push(SubSubprocessor {
            name,
            country,
            processing_locations,
            access_locations,
            purpose,
            purpose_en,
        });
    }
    (found, all_valid)
}

/// Whether a note states something: enough letters or digits, not a mark or a word.
fn is_meaningful_note(note: &str) -> bool {
    note.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_SCOPE_NOTE
}

/// The letters or digits a note must have to state an adequacy decision's scope.
pub const MIN_SCOPE_NOTE: usize = 10;

/// Validates an entry: registration, countries, and the transfer-basis rules of GDPR chapter V.
pub fn validate(input: &SubprocessorInput) -> Result<SubprocessorSpec, DomainError> {
    let mut problems = Problems::default();
    let name = required_text(&mut problems, "name", input.name.as_deref());
    check_registration(&mut problems, input.registration.as_ref());
    let address = required_text(&mut problems, "address", input.address.as_deref());
    let country = check_country_field(&mut problems, "country", input.country.as_deref());
    let purpose = required_text(&mut problems, "purpose", input.purpose.as_deref());
    let purpose_en = optional_text(&mut problems, "purpose_en", input.purpose_en.as_deref());
    let responsibilities = optional_text(
        &mut problems,
        "responsibilities",
        input.responsibilities.as_deref(),
    );
    let responsibilities_en = optional_text(
        &mut problems,
        "responsibilities_en",
        input.responsibilities_en.as_deref(),
    );
    let transfer_basis_note = optional_text(
        &mut problems,
        "transfer_basis_note",
        input.transfer_basis_note.as_deref(),
    );

    let (processing_locations, processing_valid) = check_places(
        &mut problems,
        "processing_locations",
        input.processing_locations.as_ref(),
        true,
    );
    let (access_locations, access_valid) = check_places(
        &mut problems,
        "access_locations",
        input.access_locations.as_ref(),
        false,
    );
    let (sub_subprocessors, subs_valid) =
        check_sub_subprocessors(&mut problems, input.sub_subprocessors.as_ref());
    let places = places(
        &country,
        &processing_locations,
        &access_locations,
        &sub_subprocessors,
    );
    let location = Location::of(places.iter().copied());
    let outside = outside_eea(&places);

    // The transfer rules only make sense once every place is a real country or organisation.
    let places_valid =
        check_country(&country).is_ok() && processing_valid && access_valid && subs_valid;
    let rule_input = if places_valid {
        Some((location, input.transfer_basis))
    } else {
        None
    };
    match rule_input.unwrap_or((Location::Eea, None)) {
        (Location::Eea, Some(basis)) => problems.push(
            "transfer_basis",
            format!(
                "the entity, every processing and access location and every sub-sub-processor \
                 are in the EEA, so there is no transfer to justify: leave out transfer_basis \
                 (got {})",
                basis.as_str()
            ),
        ),
        (Location::ThirdCountry, None) => problems.push(
            "transfer_basis",
            format!(
                "the data goes outside the EEA to {} (the entity's country, a processing or \
                 access location, or a sub-sub-processor's): give a transfer_basis ({})",
                outside.join(", "),
                TransferBasis::ALL.map(TransferBasis::as_str).join(", ")
            ),
        ),
        (Location::ThirdCountry, Some(TransferBasis::AdequacyDecision)) => {
            for code in &outside {
                match adequacy_decision(code) {
                    None => problems.push(
                        "transfer_basis",
                        format!(
                            "the EU has no adequacy decision for {code}: use another basis such as \
                             standard_contractual_clauses"
                        ),
                    ),
                    Some(decision) => {
                        let stated = transfer_basis_note
                            .as_deref()
                            .is_some_and(is_meaningful_note);
                        if let (Some(scope), false) = (decision.scope, stated) {
                            problems.push(
                                "transfer_basis_note",
                                format!(
                                    "the adequacy decision for {code} ({}) covers only {scope}: \
                                     state in transfer_basis_note, in at least {MIN_SCOPE_NOTE} \
                                     letters, that the recipient is within that scope (e.g. \
                                     \"certified under the EU-US Data Privacy Framework\")",
                                    decision.citation()
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
        access_locations,
        sub_subprocessors,
        location,
        transfer_basis: input.transfer_basis,
        transfer_basis_note,
        purpose,
        purpose_en,
        responsibilities,
        responsibilities_en,
        contact,
    })
}

/// Every place the data of an entry goes, each once, in order of mention.
fn places<'a>(
    country: &'a str,
    processing_locations: &'a [String],
    access_locations: &'a [String],
    sub_subprocessors: &'a [SubSubprocessor],
) -> Vec<&'a str> {
    let mut found: Vec<&str> = Vec::new();
    let all = std::iter::once(country)
        .chain(processing_locations.iter().map(String::as_str))
        .chain(access_locations.iter().map(String::as_str))
        .chain(sub_subprocessors.iter().flat_map(SubSubprocessor::places));
    for place in all {
        if !found.contains(&place) {
            found.push(place);
        }
    }
    found
}

fn outside_eea<'a>(places: &[&'a str]) -> Vec<&'a str> {
    places
        .iter()
        .copied()
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
    fn a_us_entity_with_eu_servers_needs_a_basis() {
        let mut input = azure();
        input.country = Some("US".into());
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.transfer_basis = Some(TransferBasis::StandardContractualClauses);
        assert_eq!(
            validate(&input).map(|s| s.location),
            Ok(Location::ThirdCountry)
        );
    }

    #[test]
    fn access_from_outside_the_eea_is_a_transfer() {
        let mut input = azure();
        input.access_locations = Some(vec!["IN".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.access_locations = Some(vec!["AX".into(), "RE".into()]);
        let spec = validate(&input).expect("valid");
        assert_eq!(spec.location, Location::Eea);
        assert_eq!(spec.access_locations, ["AX", "RE"]);
        input.access_locations = Some(vec!["XX".into(), "IE".into(), "IE".into()]);
        assert_eq!(
            fields(validate(&input)),
            ["access_locations[0]", "access_locations[2]"]
        );
    }

    fn sub(country: &str, processing: &[&str]) -> SubSubprocessorInput {
        SubSubprocessorInput {
            name: Some("Infosys".into()),
            country: Some(country.into()),
            processing_locations: Some(processing.iter().map(|c| c.to_string()).collect()),
            access_locations: None,
            purpose: Some("Second-line support".into()),
            purpose_en: None,
        }
    }

    #[test]
    fn a_sub_subprocessor_outside_the_eea_makes_its_parent_third_country() {
        let mut input = azure();
        input.sub_subprocessors = Some(vec![sub("IE", &["IN"])]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.sub_subprocessors = Some(vec![sub("IN", &["IE"])]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        let mut accessed = sub("IE", &["IE"]);
        accessed.access_locations = Some(vec!["IN".into()]);
        input.sub_subprocessors = Some(vec![accessed]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.transfer_basis = Some(TransferBasis::StandardContractualClauses);
        let spec = validate(&input).expect("valid");
        assert_eq!(spec.location, Location::ThirdCountry);
        assert_eq!(spec.sub_subprocessors.len(), 1);
    }

    #[test]
    fn sub_subprocessors_are_validated_field_by_field_and_bounded() {
        let mut input = azure();
        input.sub_subprocessors = Some(vec![
            sub("DK", &["DK"]),
            SubSubprocessorInput {
                country: Some("dk".into()),
                processing_locations: Some(vec![]),
                ..Default::default()
            },
        ]);
        assert_eq!(
            fields(validate(&input)),
            [
                "sub_subprocessors[1].name",
                "sub_subprocessors[1].country",
                "sub_subprocessors[1].processing_locations",
                "sub_subprocessors[1].purpose"
            ]
        );
        input.sub_subprocessors = Some(vec![sub("DK", &["DK"]); MAX_SUB_SUBPROCESSORS]);
        assert!(validate(&input).is_ok());
        input.sub_subprocessors = Some(vec![sub("DK", &["DK"]); MAX_SUB_SUBPROCESSORS + 1]);
        assert_eq!(fields(validate(&input)), ["sub_subprocessors"]);
    }

    #[test]
    fn the_european_patent_organisation_is_an_adequate_location() {
        let mut input = azure();
        input.processing_locations = Some(vec!["EPO".into()]);
        assert_eq!(fields(validate(&input)), ["transfer_basis"]);
        input.transfer_basis = Some(TransferBasis::AdequacyDecision);
        assert_eq!(
            validate(&input).map(|s| s.location),
            Ok(Location::ThirdCountry)
        );
        input.country = Some("EPO".into());
        assert_eq!(fields(validate(&input)), ["country"]);
    }

    #[test]
    fn a_scoped_adequacy_note_must_state_the_scope() {
        for (code, scope_word) in [
            ("US", "Privacy Framework"),
            ("CA", "PIPEDA"),
            ("JP", "APPI"),
            ("KR", "religious"),
            ("IL", "automated"),
        ] {
            let mut input = azure();
            input.processing_locations = Some(vec![code.into()]);
            input.transfer_basis = Some(TransferBasis::AdequacyDecision);
            for note in [
                None,
                Some("x"),
                Some("......... ..........."),
                Some("DPF ok"),
            ] {
                input.transfer_basis_note = note.map(String::from);
                match validate(&input) {
                    Err(DomainError::Invalid(errors)) => {
                        assert_eq!(errors.len(), 1, "{code} {note:?}");
                        assert_eq!(errors[0].field, "transfer_basis_note");
                        assert!(errors[0].message.contains(scope_word), "{code}");
                    }
                    Ok(_) => panic!("{code} {note:?} accepted"),
                }
            }
            input.transfer_basis_note = Some("Recipient is within the decision's scope".into());
            assert!(validate(&input).is_ok(), "{code}");
        }
        // Unscoped decisions need no note.
        for code in [
            "AD", "AR", "CH", "FO", "GB", "GG", "IM", "JE", "NZ", "UY", "BR", "EPO",
        ] {
            let mut input = azure();
            input.processing_locations = Some(vec![code.into()]);
            input.transfer_basis = Some(TransferBasis::AdequacyDecision);
            assert!(validate(&input).is_ok(), "{code}");
        }
    }

    #[test]
    fn a_derogation_is_accepted_as_input_and_left_to_the_windows() {
        let mut input = azure();
        input.processing_locations = Some(vec!["CN".into()]);
        input.transfer_basis = Some(TransferBasis::Derogation);
        assert!(validate(&input).is_ok());
    }

    #[test]
    fn data_locations_cover_access_and_the_chain_once_each() {
        let mut input = azure();
        input.access_locations = Some(vec!["IE".into(), "SE".into()]);
        input.sub_subprocessors = Some(vec![sub("US", &["NL", "FI"])]);
        input.transfer_basis = Some(TransferBasis::StandardContractualClauses);
        let spec = validate(&input).expect("valid");
        let entry = Subprocessor {
            id: "e".into(),
            processor_id: "p".into(),
            name: spec.name,
            registration: None,
            address: spec.address,
            country: spec.country,
            processing_locations: spec.processing_locations,
            access_locations: spec.access_locations,
            sub_subprocessors: spec.sub_subprocessors,
            location: spec.location,
            transfer_basis: spec.transfer_basis,
            transfer_basis_note: None,
            purpose: spec.purpose,
            purpose_en: spec.purpose_en,
            responsibilities: spec.responsibilities,
            responsibilities_en: spec.responsibilities_en,
            contact: None,
            status: EntryStatus::Active,
            active_from: None,
            active_until: None,
            version: 1,
        };
        assert_eq!(entry.data_locations(), ["IE", "NL", "SE", "FI"]);
        assert_eq!(entry.places_outside_eea(), ["US"]);
        assert!(entry.adequacy_decisions().is_empty());
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
    "access_locations": [],
    "sub_subprocessors": [],
    "location": "eea",
    "transfer_basis": null,
    "transfer_basis_note": null,
    "purpose": "Cloud-platform til drift af DPG-løsningen",
    "purpose_en": "Cloud platform hosting the DPG service",
    "responsibilities": null,
    "responsibilities_en": null,
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
    #[schema(value_type = Vec<LocationCode>, min_items = 1)]
    pub processing_locations: Vec<String>,
    /// Where the sub-processor or its staff access the data from.
    #[schema(value_type = Vec<LocationCode>)]
    #[serde(default)]
    pub access_locations: Vec<String>,
    /// Its own sub-processors.
    #[serde(default)]
    pub sub_subprocessors: Vec<SubSubprocessor>,
    /// `third_country` when the entity's country, a processing or access location, or a
    /// sub-sub-processor's country or location is outside the EEA.
    pub location: Location,
    /// Set exactly when `location` is `third_country`.
    #[schema(required = true)]
    pub transfer_basis: Option<TransferBasis>,
    #[schema(required = true, examples("EU-US Data Privacy Framework"))]
    pub transfer_basis_note: Option<String>,
    /// The processing the sub-processor does (the main text).
    pub purpose: String,
    /// `purpose` in English, or null.
    #[schema(required = true)]
    #[serde(default)]
    pub purpose_en: Option<String>,
    /// Who does what where several sub-processors share a task (Annex IV), or null.
    #[schema(required = true)]
    #[serde(default)]
    pub responsibilities: Option<String>,
    #[schema(required = true)]
    #[serde(default)]
    pub responsibilities_en: Option<String>,
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

impl Subprocessor {
    /// Every place the data is processed at or accessed from, the sub-sub-processors'
    /// included: what an agreement's `allowed_locations` is checked against.
    pub fn data_locations(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        let subs = self.sub_subprocessors.iter().flat_map(|s| {
            s.processing_locations
                .iter()
                .chain(&s.access_locations)
                .map(String::as_str)
        });
        let all = self
            .processing_locations
            .iter()
            .chain(&self.access_locations)
            .map(String::as_str)
            .chain(subs);
        for place in all {
            if !found.contains(&place) {
                found.push(place);
            }
        }
        found
    }

    /// The places outside the EEA the data goes to (the entity's country, the sub-sub-
    /// processors' countries and every location), each once: the transfers the basis justifies.
    pub fn places_outside_eea(&self) -> Vec<&str> {
        let countries = std::iter::once(self.country.as_str())
            .chain(self.sub_subprocessors.iter().map(|s| s.country.as_str()));
        let mut found: Vec<&str> = Vec::new();
        for place in countries.chain(self.data_locations()) {
            if !is_eea(place) && !found.contains(&place) {
                found.push(place);
            }
        }
        found
    }

    /// The adequacy decisions an `adequacy_decision` basis rests on, one per place outside
    /// the EEA (none for another basis).
    pub fn adequacy_decisions(&self) -> Vec<&'static super::geography::AdequacyDecision> {
        if self.transfer_basis != Some(TransferBasis::AdequacyDecision) {
            return Vec::new();
        }
        self.places_outside_eea()
            .into_iter()
            .filter_map(adequacy_decision)
            .collect()
    }
}

/// The entries created by one seeding request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SubprocessorItems {
    pub items: Vec<Subprocessor>,
}
