//! Processors and controllers: the two kinds of organisation subreg knows.

use super::error::{DomainError, Problems};
use super::registration::Registration;
use super::subprocessor::{check_country_field, check_email, check_registration, required_text};
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct OrganisationInput {
    pub id: Option<String>,
    pub name: Option<String>,
    pub registration: Option<Registration>,
    pub address: Option<String>,
    pub country: Option<String>,
    pub contact_email: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Processor {
    pub id: String,
    pub name: String,
    pub registration: Option<Registration>,
    pub address: String,
    pub country: String,
    pub contact_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Controller {
    pub id: String,
    pub name: String,
    pub registration: Option<Registration>,
    pub contact_email: Option<String>,
}
