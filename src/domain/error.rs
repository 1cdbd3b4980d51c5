use serde::Serialize;

/// One thing wrong with one field of a request, in words the caller can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The path of the field: a name, `.` for nested members and `[i]` for array elements,
    /// e.g. `registration.number`, `processing_locations[0]`, `[2].contact.email`, `body` for
    /// the body as a whole, or a query parameter such as `limit`.
    #[schema(examples("registration.number"))]
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DomainError {
    #[error("the request has {} invalid field(s)", .0.len())]
    Invalid(Vec<FieldError>),
}

/// Collects field errors so a caller learns everything wrong with a request at once.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    pub fn extend_prefixed(&mut self, prefix: &str, errors: Vec<FieldError>) {
        self.0.extend(errors.into_iter().map(|e| FieldError {
            field: format!("{prefix}.{}", e.field),
            message: e.message,
        }));
    }

    /// Returns `value` when no problem was recorded.
    pub fn finish<T>(self, value: T) -> Result<T, DomainError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}
