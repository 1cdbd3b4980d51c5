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
    /// The connection to the database went away (a restart, a failover, a killed backend);
    /// the pool replaces it, so the same request a moment later succeeds.
    #[error("lost the database connection: {0}")]
    ConnectionLost(String),
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
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                info,
            ) => {
                super::db::note_connection_lost();
                StoreError::ConnectionLost(info.message().to_string())
            }
            Error::DatabaseError(_, ref info) if connection_lost(info.message()) => {
                super::db::note_connection_lost();
                StoreError::ConnectionLost(info.message().to_string())
            }
            other => StoreError::Database(other),
        }
    }
}

/// What libpq and PostgreSQL say when the connection, not the statement, failed: the server
/// shut down or restarted, or an administrator ended the session.
fn connection_lost(message: &str) -> bool {
    const SIGNS: [&str; 6] = [
        "terminating connection",
        "server closed the connection",
        "no connection to the server",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    SIGNS.iter().any(|sign| message.contains(sign))
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorKind, Error};

    #[test]
    fn a_lost_connection_is_told_apart_from_a_failed_statement() {
        let closed = Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection,
            Box::new("server closed the connection unexpectedly".to_string()),
        );
        assert!(matches!(
            StoreError::from(closed),
            StoreError::ConnectionLost(_)
        ));
        let admin = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("terminating connection due to administrator command".to_string()),
        );
        assert!(matches!(
            StoreError::from(admin),
            StoreError::ConnectionLost(_)
        ));
        let syntax = Error::DatabaseError(
            DatabaseErrorKind::Unknown,
            Box::new("syntax error at or near".to_string()),
        );
        assert!(matches!(StoreError::from(syntax), StoreError::Database(_)));
    }
}
