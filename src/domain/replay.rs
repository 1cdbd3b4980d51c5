//! State is evidence too: the windows, changes and agreements the authorised list is computed
//! from must be what the log says they are. Every state change appends an event whose data is
//! the object as the API showed it then, so the newest event of each object is its state now;
//! a row edited behind the log's back disagrees with it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

/// The kinds of rows the log vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    Window,
    Change,
    Agreement,
}

impl Subject {
    /// Which object an event of this type records, if any.
    fn of_event(event_type: &str) -> Option<Subject> {
        match event_type {
            "window.opened"
            | "window.notified"
            | "objection.raised"
            | "objection.withdrawn"
            | "approval.given"
            | "window.closed"
            | "window.resolved" => Some(Subject::Window),
            "change.announced" | "change.withdrawn" | "change.effective" | "change.blocked"
            | "change.postponed" => Some(Subject::Change),
            "agreement.proposed"
            | "agreement.confirmed"
            | "agreement.amended"
            | "agreement.terminated" => Some(Subject::Agreement),
            _ => None,
        }
    }

    /// The members that carry a decision or a term: they must match the newest event.
    fn members(self) -> &'static [&'static str] {
        match self {
            Subject::Window => &[
                "state",
                "objection",
                "approval",
                "late",
                "ended_as",
                "closed_at",
                "closes_at",
                "resolution",
                "agreement_id",
                "agreement_version",
                "change_id",
                "controller_id",
            ],
            Subject::Change => &[
                "state",
                "kind",
                "planned_from",
                "announced_at",
                "effective_at",
                "withdrawn_at",
                "replaces",
                "modifies",
            ],
            Subject::Agreement => &[
                "controller_id",
                "version",
                "authorisation",
                "notice_days",
                "objection_requires_reason",
                "third_country_transfers",
                "allowed_locations",
                "time_zone",
                "notice_starts",
                "signed_at",
                "in_force_from",
                "terminated_at",
            ],
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Subject::Window => "window",
            Subject::Change => "change",
            Subject::Agreement => "agreement",
        }
    }
}

/// A row that is not what the log says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Disagreement {
    pub subject: Subject,
    pub id: String,
    /// The member that differs (null when the log never recorded the row at all).
    #[schema(required = true)]
    pub member: Option<String>,
    /// The value in the database.
    #[schema(required = true, value_type = Object)]
    pub stored: Value,
    /// The value the newest event of the row gives (null when there is none).
    #[schema(required = true, value_type = Object)]
    pub logged: Value,
}

impl std::fmt::Display for Disagreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.member {
            Some(member) => write!(
                f,
                "{} {}: `{member}` is {} in the database, the log says {}",
                self.subject.as_str(),
                self.id,
                self.stored,
                self.logged
            ),
            None => write!(
                f,
                "{} {} is in the database but on no event of the log",
                self.subject.as_str(),
                self.id
            ),
        }
    }
}

/// The newest recorded state of every object, from events in log order.
#[derive(Debug, Default)]
pub struct Logged {
    latest: HashMap<(Subject, String), Value>,
}

impl Logged {
    /// Takes the next event of the log (in order): a newer event of an object replaces the
    /// state an older one recorded.
    pub fn record(&mut self, event_type: &str, data: &Value) {
        let (Some(subject), Some(id)) = (
            Subject::of_event(event_type),
            data.get("id").and_then(Value::as_str),
        ) else {
            return;
        };
        self.latest.insert((subject, id.to_string()), data.clone());
    }

    /// How the stored objects (as the API shows them) differ from the log. A draft change has
    /// no event yet; every other row must have one. A member an old event lacks is not
    /// compared. An agreement whose logged termination date has passed may read `terminated`
    /// before or after the sweeper moved it.
    pub fn disagreements(
        &self,
        subject: Subject,
        stored: &[Value],
        now: DateTime<Utc>,
    ) -> Vec<Disagreement> {
        let mut found = Vec::new();
        for row in stored {
            let id = row.get("id").and_then(Value::as_str).unwrap_or_default();
            let Some(logged) = self.latest.get(&(subject, id.to_string())) else {
                let draft = subject == Subject::Change
                    && row.get("state").and_then(Value::as_str) == Some("draft");
                if !draft {
                    found.push(Disagreement {
                        subject,
                        id: id.to_string(),
                        member: None,
                        stored: row.get("state").cloned().unwrap_or(Value::Null),
                        logged: Value::Null,
                    });
                }
                continue;
            };
            let members = subject
                .members()
                .iter()
                .copied()
                .chain((subject == Subject::Agreement).then_some("state"));
            for member in members {
                let (Some(logged_value), stored_value) =
                    (logged.get(member), row.get(member).unwrap_or(&Value::Null))
                else {
                    continue;
                };
                let agrees = logged_value == stored_value
                    || (member == "state"
                        && subject == Subject::Agreement
                        && stored_value == "terminated"
                        && termination_has_come(logged, now));
                if !agrees {
                    found.push(Disagreement {
                        subject,
                        id: id.to_string(),
                        member: Some(member.to_string()),
                        stored: stored_value.clone(),
                        logged: logged_value.clone(),
                    });
                }
            }
        }
        found
    }
}

fn termination_has_come(agreement: &Value, now: DateTime<Utc>) -> bool {
    agreement
        .get("terminated_at")
        .and_then(Value::as_str)
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_some_and(|at| at <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_newest_event_of_a_window_is_its_state() {
        let mut log = Logged::default();
        log.record("window.opened", &json!({"id": "w", "state": "open"}));
        log.record(
            "objection.raised",
            &json!({"id": "w", "state": "objected", "objection": {"reason": "no"}}),
        );
        let honest = [json!({"id": "w", "state": "objected", "objection": {"reason": "no"}})];
        assert!(log
            .disagreements(Subject::Window, &honest, now())
            .is_empty());
        let flipped = [json!({"id": "w", "state": "approved", "objection": {"reason": "no"}})];
        let found = log.disagreements(Subject::Window, &flipped, now());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].member.as_deref(), Some("state"));
        assert_eq!(
            found[0].to_string(),
            "window w: `state` is \"approved\" in the database, the log says \"objected\""
        );
    }

    #[test]
    fn a_row_no_event_recorded_is_reported_except_a_draft() {
        let log = Logged::default();
        let rows = [
            json!({"id": "c1", "state": "draft"}),
            json!({"id": "c2", "state": "announced"}),
        ];
        let found = log.disagreements(Subject::Change, &rows, now());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].id, "c2");
        assert_eq!(found[0].member, None);
    }

    #[test]
    fn a_termination_whose_date_has_come_may_read_terminated() {
        let mut log = Logged::default();
        log.record(
            "agreement.terminated",
            &json!({"id": "a", "state": "active", "terminated_at": "2026-11-20T00:00:00Z"}),
        );
        let swept =
            [json!({"id": "a", "state": "terminated", "terminated_at": "2026-11-20T00:00:00Z"})];
        assert!(log
            .disagreements(Subject::Agreement, &swept, now())
            .is_empty());
        let early: DateTime<Utc> = "2026-11-19T00:00:00Z".parse().unwrap();
        assert_eq!(
            log.disagreements(Subject::Agreement, &swept, early).len(),
            1
        );
    }

    #[test]
    fn members_an_old_event_lacks_are_not_compared() {
        let mut log = Logged::default();
        log.record("window.opened", &json!({"id": "w", "state": "open"}));
        let row = [json!({"id": "w", "state": "open", "late": false})];
        assert!(log.disagreements(Subject::Window, &row, now()).is_empty());
    }
}
