//! Notice contacts: the people an agreement's notices go to, and those a processor's
//! objections and approvals go to, each with the language they read.

use super::error::Problems;
use super::language::Lang;
use super::DomainError;
use serde::{Deserialize, Serialize};

/// Most contacts in one list.
pub const MAX_CONTACTS: usize = 20;
/// Longest name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest address, in characters (RFC 5321's limit on a path).
pub const MAX_EMAIL: usize = 254;

/// One person who receives notices by e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct NoticeContact {
    #[schema(example = "Mette Hansen", min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(example = "dpo@roskilde.dk", format = "email", max_length = 254)]
    pub email: String,
    /// The language of the e-mails this person receives.
    pub language: Lang,
}

/// A contact as a request gives it; checked by [`validate`].
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactInput {
    /// 1 to 200 characters.
    #[schema(value_type = String, required = true, example = "Mette Hansen", min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// An RFC 5322 address (`local@domain`), at most 254 characters.
    #[schema(value_type = String, required = true, example = "dpo@roskilde.dk", format = "email", max_length = 254)]
    pub email: Option<String>,
    /// `da` or `en`.
    #[schema(value_type = Lang, required = true)]
    pub language: Option<Lang>,
}

/// Checks a whole list: every problem comes back at once, as `[i].field`.
pub fn validate(input: &[ContactInput]) -> Result<Vec<NoticeContact>, DomainError> {
    let mut problems = Problems::default();
    if input.len() > MAX_CONTACTS {
        problems.push(
            "body",
            format!(
                "at most {MAX_CONTACTS} contacts; {} were given",
                input.len()
            ),
        );
        return problems.finish(Vec::new());
    }
    let mut contacts = Vec::with_capacity(input.len());
    let mut seen = std::collections::HashSet::new();
    for (i, contact) in input.iter().enumerate() {
        let name = contact.name.as_deref().map(str::trim).unwrap_or_default();
        if name.is_empty() {
            problems.push(format!("[{i}].name"), "a name is required");
        } else if name.chars().count() > MAX_NAME {
            problems.push(
                format!("[{i}].name"),
                format!("at most {MAX_NAME} characters"),
            );
        } else if name.chars().any(char::is_control) {
            problems.push(format!("[{i}].name"), "no control characters");
        }
        let email = contact.email.as_deref().map(str::trim).unwrap_or_default();
        if email.is_empty() {
            problems.push(format!("[{i}].email"), "an e-mail address is required");
        } else if email.chars().count() > MAX_EMAIL {
            problems.push(
                format!("[{i}].email"),
                format!("at most {MAX_EMAIL} characters"),
            );
        } else if email.parse::<lettre::Address>().is_err() {
            problems.push(
                format!("[{i}].email"),
                format!("`{email}` is not an e-mail address (local@domain)"),
            );
        } else if !seen.insert(email.to_ascii_lowercase()) {
            problems.push(format!("[{i}].email"), "listed twice");
        }
        let Some(language) = contact.language else {
            problems.push(format!("[{i}].language"), "`da` or `en` is required");
            continue;
        };
        contacts.push(NoticeContact {
            name: name.to_string(),
            email: email.to_string(),
            language,
        });
    }
    problems.finish(contacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, email: &str) -> ContactInput {
        ContactInput {
            name: Some(name.into()),
            email: Some(email.into()),
            language: Some(Lang::Da),
        }
    }

    #[test]
    fn addresses_are_checked() {
        assert!(validate(&[input("Mette", "dpo@roskilde.dk")]).is_ok());
        let Err(DomainError::Invalid(errors)) = validate(&[
            input("Mette", "x@@example.com"),
            input("", "a@example.com"),
            input("B", "a@example.com"),
        ]) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["[0].email", "[1].name", "[2].email"]);
    }
}
