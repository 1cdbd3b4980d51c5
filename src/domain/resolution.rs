//! A processor's resolution of a window that ended `objected` or `not_approved`, and what keeps a
//! change from becoming effective by itself.
//!
//! A refused window without a resolution blocks its change at `planned_from`. `excluded` means
//! the sub-processor will not process this controller's data: the entry shows as excluded on that
//! controller's authorised list, not as an alarm. A late approval of an excluded window is still
//! accepted (the controller changed its mind): the entry is authorised from the approval on.

use super::change::ChangeState;
use super::window::{Decider, WindowState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `excluded`: the sub-processor will not process this controller's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResolutionKind {
    Excluded,
}

impl ResolutionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionKind::Excluded => "excluded",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        (text == "excluded").then_some(ResolutionKind::Excluded)
    }
}

/// The processor's recorded answer to a refusal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Resolution {
    pub resolution: ResolutionKind,
    /// The note given (trimmed); null if none was given.
    #[schema(required = true)]
    pub note: Option<String>,
    pub at: DateTime<Utc>,
    /// Who resolved it: the person named (`decided_by`, or null) and the token's `sub`.
    #[serde(flatten)]
    pub by: Decider,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolutionError {
    #[error("the window is {}: only a window that ended objected or not_approved needs a resolution", .0.as_str())]
    NotRefused(WindowState),
    #[error("the window is already resolved ({})", .0.as_str())]
    AlreadyResolved(ResolutionKind),
    #[error("the change is {}: only an announced, blocked or effective change has windows to resolve", .0.as_str())]
    ChangeNotResolvable(ChangeState),
}

/// What a resolution is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolutionFacts {
    pub window_state: WindowState,
    pub closed: bool,
    pub resolved: Option<ResolutionKind>,
    pub change_state: ChangeState,
}

/// Whether the window keeps its change from becoming effective by itself.
pub fn unresolved(facts: &ResolutionFacts) -> bool {
    facts.closed
        && matches!(
            facts.window_state,
            WindowState::Objected | WindowState::NotApproved
        )
        && facts.resolved.is_none()
}

pub fn check_resolve(facts: &ResolutionFacts) -> Result<(), ResolutionError> {
    if !matches!(
        facts.change_state,
        ChangeState::Announced | ChangeState::Blocked | ChangeState::Effective
    ) {
        return Err(ResolutionError::ChangeNotResolvable(facts.change_state));
    }
    if let Some(kind) = facts.resolved {
        return Err(ResolutionError::AlreadyResolved(kind));
    }
    if !unresolved(facts) {
        return Err(ResolutionError::NotRefused(facts.window_state));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(state: WindowState) -> ResolutionFacts {
        ResolutionFacts {
            window_state: state,
            closed: true,
            resolved: None,
            change_state: ChangeState::Blocked,
        }
    }

    #[test]
    fn only_an_unresolved_refusal_of_a_standing_change_is_resolved() {
        assert_eq!(check_resolve(&refused(WindowState::Objected)), Ok(()));
        assert_eq!(check_resolve(&refused(WindowState::NotApproved)), Ok(()));
        let live = ResolutionFacts {
            closed: false,
            ..refused(WindowState::Objected)
        };
        assert_eq!(
            check_resolve(&live),
            Err(ResolutionError::NotRefused(WindowState::Objected))
        );
        assert_eq!(
            check_resolve(&refused(WindowState::TacitConsent)),
            Err(ResolutionError::NotRefused(WindowState::TacitConsent))
        );
        let twice = ResolutionFacts {
            resolved: Some(ResolutionKind::Excluded),
            ..refused(WindowState::Objected)
        };
        assert!(!unresolved(&twice));
        assert_eq!(
            check_resolve(&twice),
            Err(ResolutionError::AlreadyResolved(ResolutionKind::Excluded))
        );
        let gone = ResolutionFacts {
            change_state: ChangeState::Withdrawn,
            ..refused(WindowState::Objected)
        };
        assert_eq!(
            check_resolve(&gone),
            Err(ResolutionError::ChangeNotResolvable(ChangeState::Withdrawn))
        );
    }
}
