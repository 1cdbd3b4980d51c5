use crate::domain::DomainError;

/// Errors of the store layer. Handlers map them to HTTP once, in `http::error`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} `{id}` does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("the database is busy; try again")]
    Busy,
    #[error("database error: {0}")]
    Database(diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error(transparent)]
    Change(#[from] crate::domain::change::ChangeError),
    /// The window's state machine refused a decision; `window` is its state now.
    #[error("{error}")]
    Window {
        error: crate::domain::window::WindowError,
        window: Box<crate::domain::window::ObjectionWindow>,
    },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }
}

impl From<diesel::result::Error> for StoreError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(format!("already exists ({})", info.message()))
            }
            Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => StoreError::Busy,
            Error::DatabaseError(DatabaseErrorKind::Unknown, ref info)
                if info.message().contains("database is locked") =>
            {
                StoreError::Busy
            }
            other => StoreError::Database(other),
        }
    }
}
