//! Processors and controllers: the two kinds of organisation subreg knows.

use super::error::{DomainError, Problems};
use super::geography::CountryCode;
use super::registration::Registration;
use super::subprocessor::{
    check_country_field, check_email, check_registration, required_text, Email,
};
use serde::Deserialize;
use utoipa::openapi::{schema::Schema, RefOr};

// The body of both creations; its schema is the processor's, and `ControllerInput` leaves out
// what a controller does not keep.
/// A processor as the caller creates it. Text fields are trimmed; blank counts as absent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = ProcessorInput)]
pub struct OrganisationInput {
    #[schema(value_type = Slug, required = true)]
    pub id: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub name: Option<String>,
    /// Leave out (or null) for an organisation without a registration.
    pub registration: Option<Registration>,
    #[schema(value_type = String, required = true, min_length = 1, max_length = 1000)]
    pub address: Option<String>,
    #[schema(value_type = CountryCode, required = true)]
    pub country: Option<String>,
    #[schema(value_type = Option<Email>)]
    pub contact_email: Option<String>,
}

/// The schema of a controller as the caller creates it: the body is read as an
/// [`OrganisationInput`], whose `address` and `country` a controller does not keep.
pub struct ControllerInput;

/// The members of [`OrganisationInput`] only a processor has.
const PROCESSOR_ONLY: [&str; 2] = ["address", "country"];

impl utoipa::PartialSchema for ControllerInput {
    fn schema() -> RefOr<Schema> {
        let mut schema = <OrganisationInput as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            object
                .properties
                .retain(|name, _| !PROCESSOR_ONLY.contains(&name.as_str()));
            object
                .required
                .retain(|name| !PROCESSOR_ONLY.contains(&name.as_str()));
            object.description = Some(
                "A controller as the caller creates it. Text fields are trimmed; blank counts as \
                 absent. An `address` or `country` sent along is not kept."
                    .into(),
            );
        }
        schema
    }
}

impl utoipa::ToSchema for ControllerInput {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        <OrganisationInput as utoipa::ToSchema>::schemas(schemas);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessorSpec {
    pub id: String,
    pub name: String,
    pub registration: Option<Registration>,
    pub address: String,
    pub country: String,
    pub contact_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerSpec {
    pub id: String,
    pub name: String,
    pub registration: Option<Registration>,
    pub contact_email: Option<String>,
}

/// The schema of an id chosen by the caller (processors, controllers): a slug, as
/// `check_slug` accepts it.
pub struct Slug;

impl utoipa::PartialSchema for Slug {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("2 to 64 lowercase letters, digits and inner hyphens."))
            .min_length(Some(2))
            .max_length(Some(64))
            .pattern(Some("^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$"))
            .examples(["timengo-dpg"])
            .into()
    }
}

impl utoipa::ToSchema for Slug {}

/// Checks an organisation id: a slug of 2 to 64 lowercase letters, digits and inner hyphens.
pub fn check_slug(id: &str) -> Result<(), String> {
    let charset = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if (2..=64).contains(&id.len()) && charset && !id.starts_with('-') && !id.ends_with('-') {
        Ok(())
    } else {
        Err(format!(
            "`{id}` is not a valid id: use 2-64 lowercase letters, digits and hyphens, e.g. timengo-dpg"
        ))
    }
}

fn slug(problems: &mut Problems, value: Option<&str>) -> String {
    match value {
        None => {
            problems.push("id", "`id` is required: a slug such as timengo-dpg");
            String::new()
        }
        Some(id) => {
            if let Err(message) = check_slug(id) {
                problems.push("id", message);
            }
            id.to_string()
        }
    }
}

pub fn validate_processor(input: &OrganisationInput) -> Result<ProcessorSpec, DomainError> {
    let mut problems = Problems::default();
    let id = slug(&mut problems, input.id.as_deref());
    let name = required_text(&mut problems, "name", input.name.as_deref());
    check_registration(&mut problems, input.registration.as_ref());
    let address = required_text(&mut problems, "address", input.address.as_deref());
    let country = check_country_field(&mut problems, "country", input.country.as_deref());
    let contact_email = check_email(
        &mut problems,
        "contact_email",
        input.contact_email.as_deref(),
    );
    problems.finish(ProcessorSpec {
        id,
        name,
        registration: input.registration.clone(),
        address,
        country,
        contact_email,
    })
}

pub fn validate_controller(input: &OrganisationInput) -> Result<ControllerSpec, DomainError> {
    let mut problems = Problems::default();
    let id = slug(&mut problems, input.id.as_deref());
    let name = required_text(&mut problems, "name", input.name.as_deref());
    check_registration(&mut problems, input.registration.as_ref());
    let contact_email = check_email(
        &mut problems,
        "contact_email",
        input.contact_email.as_deref(),
    );
    problems.finish(ControllerSpec {
        id,
        name,
        registration: input.registration.clone(),
        contact_email,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert!(check_slug("timengo-dpg").is_ok());
        assert!(check_slug("Timengo").is_err());
        assert!(check_slug("-x").is_err());
        assert!(check_slug("a").is_err());
        assert!(check_slug("a/b").is_err());
    }

    #[test]
    fn processor_needs_a_valid_cvr() {
        let input = OrganisationInput {
            id: Some("timengo-dpg".into()),
            name: Some("Timengo DPG A/S".into()),
            registration: Some(Registration {
                scheme: super::super::registration::RegistrationScheme::Cvr,
                number: "35833685".into(),
            }),
            address: Some("Lautrupvang 1, 2750 Ballerup".into()),
            country: Some("DK".into()),
            contact_email: Some("dpo@example.com".into()),
        };
        let Err(DomainError::Invalid(errors)) = validate_processor(&input) else {
            panic!("expected an error");
        };
        assert_eq!(errors[0].field, "registration.number");
    }
}

/// A data processor: it keeps a public list of its sub-processors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "timengo-dpg",
    "name": "Timengo DPG A/S",
    "registration": {"scheme": "cvr", "number": "35833684"},
    "address": "Lautrupvang 1, 2750 Ballerup",
    "country": "DK",
    "contact_email": "dpo@example.com"
}))]
pub struct Processor {
    #[schema(value_type = Slug)]
    pub id: String,
    pub name: String,
    #[schema(required = true)]
    pub registration: Option<Registration>,
    pub address: String,
    #[schema(value_type = CountryCode)]
    pub country: String,
    #[schema(required = true, format = Email)]
    pub contact_email: Option<String>,
}

/// A controller: a customer of processors, bound to them by agreements.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "roskilde-kommune",
    "name": "Roskilde Kommune",
    "registration": {"scheme": "cvr", "number": "29188386"},
    "contact_email": "dpo@example.dk"
}))]
pub struct Controller {
    #[schema(value_type = Slug)]
    pub id: String,
    pub name: String,
    #[schema(required = true)]
    pub registration: Option<Registration>,
    #[schema(required = true, format = Email)]
    pub contact_email: Option<String>,
}
