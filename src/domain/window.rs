//! The objection window of one controller for one announced change, and its state machine.
//!
//! A window is live until it closes. While live it is `open` or `objected` (an objection can
//! be withdrawn, back to `open`); an explicit approval closes it at once. At `closes_at` a live
//! window ends in exactly one terminal state: `objected` stays objected, `open` becomes
//! `tacit_consent` under general authorisation or `not_approved` under specific authorisation
//! or where a conflict blocks silence (`Conflict::blocks_silence`: a contractual ban is not
//! amended by silence). Approving a window with such a conflict needs the controller's
//! documented instruction.
//!
//! After the deadline a window that ended `objected` or `not_approved` may still be approved
//! while its change is not withdrawn (silence is not approval, but a late approval is one): it
//! becomes `approved`, marked `late`, and authorises the entry from that moment. Nothing turns
//! an authorisation into an objection after the deadline.

use super::agreement::Authorisation;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `open`, or `objected` while live (an objection can be withdrawn, back to `open`); then
/// exactly one terminal state: `approved` (explicit approval, closes at once), `objected`
/// (objection stood at the deadline), `tacit_consent` (general authorisation, no objection by
/// the deadline), `not_approved` (specific authorisation, no approval by the deadline),
/// `withdrawn` (the change was withdrawn).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    Open,
    Approved,
    Objected,
    TacitConsent,
    NotApproved,
    Withdrawn,
}

impl WindowState {
    pub const ALL: [WindowState; 6] = [
        WindowState::Open,
        WindowState::Approved,
        WindowState::Objected,
        WindowState::TacitConsent,
        WindowState::NotApproved,
        WindowState::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WindowState::Open => "open",
            WindowState::Approved => "approved",
            WindowState::Objected => "objected",
            WindowState::TacitConsent => "tacit_consent",
            WindowState::NotApproved => "not_approved",
            WindowState::Withdrawn => "withdrawn",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        WindowState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the controller has authorised the entry through this window.
    pub fn authorises(self) -> bool {
        matches!(self, WindowState::Approved | WindowState::TacitConsent)
    }
}

/// What the state machine needs to know about a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowFacts {
    pub state: WindowState,
    pub closed: bool,
    pub closes_at: DateTime<Utc>,
    pub authorisation: Authorisation,
    pub objection_requires_reason: bool,
    /// A conflict on the window that silence cannot cure.
    pub blocking: bool,
    /// The window's change was withdrawn: nothing is left to decide.
    pub change_withdrawn: bool,
}

/// A controller's decision on a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Object {
        reason: Option<String>,
    },
    WithdrawObjection,
    Approve {
        note: Option<String>,
        instruction: Option<String>,
    },
}

/// The transition a decision or the expiry causes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// `open` → `objected`, window stays live.
    Object { reason: Option<String> },
    /// `objected` → `open`, window stays live.
    WithdrawObjection,
    /// `open` → `approved`, window closes; or, `late`, a closed `objected` / `not_approved`
    /// window → `approved` after its deadline.
    Approve {
        note: Option<String>,
        instruction: Option<String>,
        late: bool,
    },
    /// The window closes in this terminal state.
    Close { outcome: WindowState },
    /// After the deadline, a closed `objected` window whose objection is withdrawn → `approved`,
    /// late, like a late approval.
    WithdrawObjectionLate,
}

impl Transition {
    pub fn next_state(&self) -> WindowState {
        match self {
            Transition::Object { .. } => WindowState::Objected,
            Transition::WithdrawObjection => WindowState::Open,
            Transition::Approve { .. } => WindowState::Approved,
            Transition::Close { outcome } => *outcome,
            Transition::WithdrawObjectionLate => WindowState::Approved,
        }
    }

    /// Whether the window is closed after this transition.
    pub fn closes(&self) -> bool {
        matches!(
            self,
            Transition::Approve { .. }
                | Transition::Close { .. }
                | Transition::WithdrawObjectionLate
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the window is closed: it ended {}", .0.as_str())]
    Closed(WindowState),
    /// The deadline passed and the window awaits closing; close it, then report `Closed`.
    #[error("the window's deadline has passed")]
    Expired,
    #[error(
        "this agreement requires a concrete, objective reason for an objection: give `reason`"
    )]
    ReasonRequired,
    #[error("there is no objection to withdraw")]
    NoObjection,
    #[error("an objection is already recorded; withdraw it first to change it")]
    AlreadyObjected,
    #[error("an objection is recorded: withdraw it before approving")]
    ObjectedCannotApprove,
    #[error(
        "the agreement does not allow this entry (see `conflicts`): approving it needs your \
         documented instruction to the processor (GDPR Art. 28(3)(a)): give `instruction`"
    )]
    InstructionRequired,
    #[error(
        "the agreement does not allow this entry (see `conflicts`): withdrawing the objection \
         after the deadline would authorise it without your documented instruction; approve the \
         window with `instruction` instead"
    )]
    WithdrawalNeedsInstruction,
}

/// The terminal state of a live window whose deadline has passed.
pub fn outcome_at_expiry(facts: &WindowFacts) -> WindowState {
    match (facts.state, facts.authorisation) {
        (WindowState::Open, _) if facts.blocking => WindowState::NotApproved,
        (WindowState::Open, Authorisation::General) => WindowState::TacitConsent,
        (WindowState::Open, Authorisation::Specific) => WindowState::NotApproved,
        (other, _) => other,
    }
}

/// Closing because the deadline passed; `None` if the window is closed or not yet due.
pub fn expire(facts: &WindowFacts, now: DateTime<Utc>) -> Option<Transition> {
    (!facts.closed && now >= facts.closes_at).then(|| Transition::Close {
        outcome: outcome_at_expiry(facts),
    })
}

/// Closing because the change was withdrawn.
pub fn withdraw(facts: &WindowFacts) -> Option<Transition> {
    (!facts.closed).then_some(Transition::Close {
        outcome: WindowState::Withdrawn,
    })
}

/// Applies a controller's decision. A decision arriving at or after the deadline loses to
/// the expiry, even before the sweeper has closed the window.
pub fn decide(
    facts: &WindowFacts,
    now: DateTime<Utc>,
    decision: Decision,
) -> Result<Transition, WindowError> {
    if facts.closed {
        return decide_late(facts, decision);
    }
    if now >= facts.closes_at {
        return Err(WindowError::Expired);
    }
    match (decision, facts.state) {
        (Decision::Object { reason }, WindowState::Open) => {
            let reason = reason
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty());
            if facts.objection_requires_reason && reason.is_none() {
                return Err(WindowError::ReasonRequired);
            }
            Ok(Transition::Object { reason })
        }
        (Decision::Object { .. }, _) => Err(WindowError::AlreadyObjected),
        (Decision::WithdrawObjection, WindowState::Objected) => Ok(Transition::WithdrawObjection),
        (Decision::WithdrawObjection, _) => Err(WindowError::NoObjection),
        (Decision::Approve { note, instruction }, WindowState::Open) => {
            let instruction = non_blank(instruction);
            if facts.blocking && instruction.is_none() {
                return Err(WindowError::InstructionRequired);
            }
            Ok(Transition::Approve {
                note: non_blank(note),
                instruction,
                late: false,
            })
        }
        (Decision::Approve { .. }, _) => Err(WindowError::ObjectedCannotApprove),
    }
}

/// A decision on a closed window, while the change stands: only a late approval of a refusal,
/// or the late withdrawal of a standing objection (which approves, late).
fn decide_late(facts: &WindowFacts, decision: Decision) -> Result<Transition, WindowError> {
    let refused = matches!(
        facts.state,
        WindowState::Objected | WindowState::NotApproved
    );
    match decision {
        Decision::Approve { note, instruction } if refused && !facts.change_withdrawn => {
            let instruction = non_blank(instruction);
            if facts.blocking && instruction.is_none() {
                return Err(WindowError::InstructionRequired);
            }
            Ok(Transition::Approve {
                note: non_blank(note),
                instruction,
                late: true,
            })
        }
        Decision::WithdrawObjection
            if facts.state == WindowState::Objected && !facts.change_withdrawn =>
        {
            if facts.blocking {
                return Err(WindowError::WithdrawalNeedsInstruction);
            }
            Ok(Transition::WithdrawObjectionLate)
        }
        _ => Err(WindowError::Closed(facts.state)),
    }
}

fn non_blank(text: Option<String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed instant: the rules are tested on dates, not on the machine's clock.
    fn noon() -> DateTime<Utc> {
        chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 23, 12, 0, 0).unwrap()
    }
    use chrono::Duration;

    fn live(authorisation: Authorisation, requires_reason: bool) -> WindowFacts {
        WindowFacts {
            state: WindowState::Open,
            closed: false,
            closes_at: noon() + Duration::days(7),
            authorisation,
            objection_requires_reason: requires_reason,
            blocking: false,
            change_withdrawn: false,
        }
    }

    #[test]
    fn a_refused_window_may_still_be_approved_late_while_the_change_stands() {
        let after = noon() + Duration::days(40);
        for refused in [WindowState::NotApproved, WindowState::Objected] {
            let closed = WindowFacts {
                state: refused,
                closed: true,
                ..live(Authorisation::Specific, false)
            };
            assert_eq!(
                decide(
                    &closed,
                    after,
                    Decision::Approve {
                        note: Some(" late ".into()),
                        instruction: None
                    }
                ),
                Ok(Transition::Approve {
                    note: Some("late".into()),
                    instruction: None,
                    late: true
                })
            );
            // Withdrawing a standing objection late approves it; there is nothing to withdraw
            // on a silent refusal.
            let withdrawal = decide(&closed, after, Decision::WithdrawObjection);
            if refused == WindowState::Objected {
                assert_eq!(withdrawal, Ok(Transition::WithdrawObjectionLate));
                let banned = WindowFacts {
                    blocking: true,
                    ..closed
                };
                assert_eq!(
                    decide(&banned, after, Decision::WithdrawObjection),
                    Err(WindowError::WithdrawalNeedsInstruction)
                );
            } else {
                assert_eq!(withdrawal, Err(WindowError::Closed(refused)));
            }
            // Nothing turns it into an objection, and a withdrawn change is not approved.
            assert_eq!(
                decide(&closed, after, Decision::Object { reason: None }),
                Err(WindowError::Closed(refused))
            );
            let withdrawn = WindowFacts {
                change_withdrawn: true,
                ..closed
            };
            assert_eq!(
                decide(
                    &withdrawn,
                    after,
                    Decision::Approve {
                        note: None,
                        instruction: None
                    }
                ),
                Err(WindowError::Closed(refused))
            );
            // A blocking conflict needs the instruction late too.
            let banned = WindowFacts {
                blocking: true,
                ..closed
            };
            assert_eq!(
                decide(
                    &banned,
                    after,
                    Decision::Approve {
                        note: None,
                        instruction: None
                    }
                ),
                Err(WindowError::InstructionRequired)
            );
        }
        for authorised in [WindowState::Approved, WindowState::TacitConsent] {
            let closed = WindowFacts {
                state: authorised,
                closed: true,
                ..live(Authorisation::General, false)
            };
            assert_eq!(
                decide(
                    &closed,
                    after,
                    Decision::Approve {
                        note: None,
                        instruction: None
                    }
                ),
                Err(WindowError::Closed(authorised))
            );
        }
    }

    #[test]
    fn silence_does_not_cure_a_blocking_conflict_and_approval_needs_an_instruction() {
        let after = noon() + Duration::days(8);
        let banned = WindowFacts {
            blocking: true,
            ..live(Authorisation::General, false)
        };
        assert_eq!(
            expire(&banned, after),
            Some(Transition::Close {
                outcome: WindowState::NotApproved
            })
        );
        assert_eq!(
            decide(
                &banned,
                noon(),
                Decision::Approve {
                    note: Some("fine".into()),
                    instruction: Some("  ".into())
                }
            ),
            Err(WindowError::InstructionRequired)
        );
        assert_eq!(
            decide(
                &banned,
                noon(),
                Decision::Approve {
                    note: None,
                    instruction: Some("Use Backblaze US for backups only.".into())
                }
            ),
            Ok(Transition::Approve {
                note: None,
                instruction: Some("Use Backblaze US for backups only.".into()),
                late: false
            })
        );
    }

    #[test]
    fn silence_is_consent_only_under_general_authorisation() {
        let after = noon() + Duration::days(8);
        let general = live(Authorisation::General, false);
        assert_eq!(
            expire(&general, after),
            Some(Transition::Close {
                outcome: WindowState::TacitConsent
            })
        );
        let specific = live(Authorisation::Specific, false);
        assert_eq!(
            expire(&specific, after),
            Some(Transition::Close {
                outcome: WindowState::NotApproved
            })
        );
        assert_eq!(expire(&general, noon()), None, "not yet due");
        let objected = WindowFacts {
            state: WindowState::Objected,
            ..general
        };
        assert_eq!(
            expire(&objected, after),
            Some(Transition::Close {
                outcome: WindowState::Objected
            })
        );
    }

    #[test]
    fn objection_needs_a_reason_where_the_agreement_says_so() {
        let now = noon();
        let strict = live(Authorisation::General, true);
        assert_eq!(
            decide(&strict, now, Decision::Object { reason: None }),
            Err(WindowError::ReasonRequired)
        );
        assert_eq!(
            decide(
                &strict,
                now,
                Decision::Object {
                    reason: Some("   ".into())
                }
            ),
            Err(WindowError::ReasonRequired)
        );
        assert_eq!(
            decide(
                &strict,
                now,
                Decision::Object {
                    reason: Some("Data leaves the EEA".into())
                }
            ),
            Ok(Transition::Object {
                reason: Some("Data leaves the EEA".into())
            })
        );
        let lenient = live(Authorisation::General, false);
        assert!(decide(&lenient, now, Decision::Object { reason: None }).is_ok());
    }

    #[test]
    fn objection_can_be_withdrawn_while_live_and_blocks_approval() {
        let now = noon();
        let objected = WindowFacts {
            state: WindowState::Objected,
            ..live(Authorisation::General, false)
        };
        assert_eq!(
            decide(&objected, now, Decision::WithdrawObjection),
            Ok(Transition::WithdrawObjection)
        );
        assert_eq!(
            decide(
                &objected,
                now,
                Decision::Approve {
                    note: None,
                    instruction: None
                }
            ),
            Err(WindowError::ObjectedCannotApprove)
        );
        assert_eq!(
            decide(&objected, now, Decision::Object { reason: None }),
            Err(WindowError::AlreadyObjected)
        );
        let open = live(Authorisation::General, false);
        assert_eq!(
            decide(&open, now, Decision::WithdrawObjection),
            Err(WindowError::NoObjection)
        );
    }

    #[test]
    fn decisions_on_closed_or_expired_windows_are_refused() {
        let now = noon();
        let closed = WindowFacts {
            state: WindowState::TacitConsent,
            closed: true,
            ..live(Authorisation::General, false)
        };
        assert_eq!(
            decide(
                &closed,
                now,
                Decision::Approve {
                    note: None,
                    instruction: None
                }
            ),
            Err(WindowError::Closed(WindowState::TacitConsent))
        );
        let due = WindowFacts {
            closes_at: now,
            ..live(Authorisation::General, false)
        };
        assert_eq!(
            decide(&due, now, Decision::Object { reason: None }),
            Err(WindowError::Expired)
        );
    }

    #[test]
    fn approval_closes_and_withdrawal_closes_live_windows_only() {
        let open = live(Authorisation::Specific, false);
        let approve = decide(
            &open,
            noon(),
            Decision::Approve {
                note: Some("ok".into()),
                instruction: None,
            },
        );
        assert!(approve.as_ref().map(Transition::closes).unwrap_or(false));
        assert_eq!(
            withdraw(&open),
            Some(Transition::Close {
                outcome: WindowState::Withdrawn
            })
        );
        let closed = WindowFacts {
            closed: true,
            ..open
        };
        assert_eq!(withdraw(&closed), None);
    }
}

/// The person who decided for the controller, as they named themselves (`decided_by` in the
/// request body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    /// 1 to 200 characters, e.g. "Mette Hansen".
    #[schema(example = "Mette Hansen", min_length = 1, max_length = 200)]
    pub name: String,
    /// Their role, e.g. "DPO"; null if not given.
    #[schema(required = true, example = "DPO", max_length = 200)]
    pub role: Option<String>,
}

/// Who decided: the person named in the request (optional) and the token's subject (always).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decider {
    /// The person named in the request's `decided_by`; null if none was named.
    #[schema(required = true)]
    pub decided_by: Option<Person>,
    /// The `sub` claim of the token that made the request (`mailto:<mailbox>` for a decision
    /// made through a notice's link).
    pub sub: String,
    /// How the decision was made: `email_link` when through a notice's decision link (the
    /// API's own decisions leave it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<DecisionChannel>,
    /// The mailbox the decision link was sent to (with `via: email_link`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(format = "email")]
    pub mailbox: Option<String>,
}

/// How a notice reached the controller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoticeChannel {
    /// An e-mail accepted by the SMTP server.
    Email,
    /// A webhook delivery answered 2xx.
    Webhook,
}

impl NoticeChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeChannel::Email => "email",
            NoticeChannel::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "email" => Some(NoticeChannel::Email),
            "webhook" => Some(NoticeChannel::Webhook),
            _ => None,
        }
    }
}

/// The channel a decision came through, besides the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionChannel {
    /// A signed link in a notice e-mail (`/decide/{token}`).
    EmailLink,
}

/// The controller's objection, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Objection {
    /// The reason given (trimmed); null if none was given.
    #[schema(required = true)]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// Who objected; null on objections recorded before subreg kept it.
    #[schema(required = true)]
    pub by: Option<Decider>,
}

/// The controller's explicit approval, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Approval {
    /// The note given (trimmed); null if none was given.
    #[schema(required = true)]
    pub note: Option<String>,
    /// The controller's documented instruction (GDPR Art. 28(3)(a)) that lets the processor use
    /// an entry the agreement does not allow by itself; required to approve a window with a
    /// blocking conflict, null otherwise unless given.
    #[schema(required = true)]
    pub instruction: Option<String>,
    /// Who approved; null on approvals recorded before subreg kept it.
    #[schema(required = true)]
    pub by: Option<Decider>,
    pub at: DateTime<Utc>,
}

/// One controller's objection window for one announced change under one agreement. Opens at
/// announcement (or when an agreement is signed while the change is announced) and closes at
/// `closes_at` = opened + `notice_days`, or earlier by approval or withdrawal of the change.
/// `change` is embedded for controllers and in events, not inside a change's `windows`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(example = json!({
    "id": "9c4d1e2f-7a8b-4c5d-8e9f-0a1b2c3d4e5f",
    "change_id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60",
    "agreement_id": "3f0b6a52-9c4e-4f3a-8a59-2a3a1d2f5b10",
    "agreement_version": 1,
    "controller_id": "roskilde-kommune",
    "processor_id": "timengo-dpg",
    "opened_at": "2026-11-23T12:00:00Z",
    "notified_at": "2026-11-23T12:00:04Z",
    "notified_via": "email",
    "closes_at": "2026-12-23T23:00:00Z",
    "closes_on_local_date": "2026-12-23",
    "state": "objected",
    "conflicts": ["third_country_forbidden"],
    "decided_at": "2026-11-25T09:30:00Z",
    "closed_at": null,
    "objection": {
        "reason": "Data leaves the EEA",
        "at": "2026-11-25T09:30:00Z",
        "by": {"decided_by": {"name": "Mette Hansen", "role": "DPO"}, "sub": "mette.hansen@roskilde.dk"}
    },
    "approval": null,
    "late": false,
    "ended_as": null,
    "resolution": null
}))]
pub struct ObjectionWindow {
    #[schema(format = "uuid")]
    pub id: String,
    #[schema(format = "uuid")]
    pub change_id: String,
    #[schema(format = "uuid")]
    pub agreement_id: String,
    /// The version of the agreement's terms the window opened under; it keeps them (deadline,
    /// authorisation, reason rule, conflicts) when the agreement is amended later.
    #[schema(minimum = 1)]
    pub agreement_version: u32,
    #[schema(value_type = crate::domain::party::Slug)]
    pub controller_id: String,
    #[schema(value_type = crate::domain::party::Slug)]
    pub processor_id: String,
    pub opened_at: DateTime<Utc>,
    /// When the notice of this window first reached the controller: an e-mail accepted by the
    /// SMTP server or a webhook answered 2xx; null until then.
    #[schema(required = true)]
    pub notified_at: Option<DateTime<Utc>>,
    /// The channel of that first dispatch; null until then.
    #[schema(required = true)]
    pub notified_via: Option<NoticeChannel>,
    /// The deadline for a decision: the end (24:00) of `closes_on_local_date` in the agreement's
    /// time zone, in UTC. Null while the window has not started: under `notice_starts:
    /// dispatch` it runs from `notified_at`, and no notice has been dispatched yet.
    #[schema(required = true)]
    pub closes_at: Option<DateTime<Utc>>,
    /// The last day of the notice period on the agreement's calendar: the day the notice is
    /// given does not count, and decisions are accepted until that day ends (Reg. 1182/71
    /// art. 3). Null on windows opened before deadlines were counted in calendar days.
    #[schema(required = true, value_type = Option<String>, format = Date, example = "2026-12-23")]
    pub closes_on_local_date: Option<chrono::NaiveDate>,
    pub state: WindowState,
    pub conflicts: Vec<super::change::Conflict>,
    /// When the controller decided (objection, approval) or, failing that, when the window
    /// closed.
    #[schema(required = true)]
    pub decided_at: Option<DateTime<Utc>>,
    /// When the window closed; null while it is live.
    #[schema(required = true)]
    pub closed_at: Option<DateTime<Utc>>,
    /// The standing objection, if any.
    #[schema(required = true)]
    pub objection: Option<Objection>,
    /// The approval that closed the window, if any.
    #[schema(required = true)]
    pub approval: Option<Approval>,
    /// The approval came after the deadline, on a window that had ended `objected` or
    /// `not_approved`: the entry is authorised from `approval.at`, not before.
    pub late: bool,
    /// With `late`: the state the window ended in at its deadline; null otherwise.
    #[schema(required = true)]
    pub ended_as: Option<WindowState>,
    /// The processor's resolution of a window that ended `objected` or `not_approved`; null
    /// if none was recorded.
    #[schema(required = true)]
    pub resolution: Option<super::resolution::Resolution>,
    /// The change, for controllers and in events; left out inside a change's `windows`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, no_recursion)]
    pub change: Option<Box<super::change::Change>>,
}

impl ObjectionWindow {
    /// Whether the window had closed by `at`.
    pub fn closed_by(&self, at: DateTime<Utc>) -> bool {
        self.closed_at.is_some_and(|closed| closed <= at)
    }

    /// The window's state as it stood at `at` (after it closed): a late approval counts only
    /// from the moment it was given.
    pub fn state_at(&self, at: DateTime<Utc>) -> WindowState {
        match (&self.approval, self.ended_as) {
            (Some(approval), Some(ended_as)) if self.late && approval.at > at => ended_as,
            _ => self.state,
        }
    }
}
