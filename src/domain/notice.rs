//! Human-readable titles and summaries of events, for feed readers and people.
//!
//! Works on the event JSON (as stored and served), not on typed structs, because the event
//! data shapes grow with the lifecycle: whatever is present is rendered, absent fields are
//! skipped, and an unknown event type still gets a sensible title.

use super::geography::country_name;
use serde_json::Value;

/// What a feed entry says to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub summary: String,
}

/// Describes one event (the JSON of `StoredEvent::to_json`).
pub fn describe(event: &Value) -> Notice {
    let event_type = text(event, "type").unwrap_or("event");
    let data = &event["data"];
    // Window events carry the change inside; change events are the change; seeding is an entry.
    let change = if data.get("change").is_some_and(Value::is_object) {
        &data["change"]
    } else if event_type.starts_with("change.") {
        data
    } else {
        &Value::Null
    };
    let entry = if event_type == "subprocessor.added" {
        data
    } else {
        &change["subprocessor"]
    };
    let subject = subject(change, entry);
    let title = match event_type {
        "subprocessor.added" => format!("Added: {subject}"),
        "change.announced" => format!("Announced: {subject}"),
        "change.effective" => format!("Effective: {subject}"),
        "change.withdrawn" => format!("Withdrawn: {subject}"),
        "change.blocked" => {
            format!("Blocked until the processor resolves a customer's refusal: {subject}")
        }
        "change.postponed" => match text(data, "planned_from") {
            Some(planned) => format!("Postponed to {planned}: {subject}"),
            None => format!("Postponed: {subject}"),
        },
        "window.resolved" => format!("Refusal resolved by the processor (excluded): {subject}"),
        "window.opened" => match text(data, "closes_at") {
            Some(closes) => format!("Objection window opened until {closes}: {subject}"),
            None => format!("Objection window opened: {subject}"),
        },
        "agreement.proposed"
        | "agreement.confirmed"
        | "agreement.amended"
        | "agreement.terminated" => format!(
            "Agreement {}: {} / {}",
            event_type.trim_start_matches("agreement."),
            text(data, "controller_id").unwrap_or("?"),
            text(data, "processor_id").unwrap_or("?")
        ),
        "objection.raised" => format!("Objection raised: {subject}"),
        "objection.withdrawn" => format!("Objection withdrawn: {subject}"),
        "approval.given" => format!("Approved: {subject}"),
        "window.closed" => match text(data, "outcome").or_else(|| text(data, "state")) {
            Some(outcome) => format!("Window closed ({}): {subject}", words(outcome)),
            None => format!("Window closed: {subject}"),
        },
        other => format!("{other}: {subject}"),
    };

    let mut lines = Vec::new();
    if let Some(processor) = text(event, "processor_id") {
        lines.push(format!("Processor: {processor}"));
    }
    if let Some(controller) = text(event, "controller_id") {
        lines.push(format!("Controller: {controller}"));
    }
    change_lines(change, &mut lines);
    entry_lines(entry, &mut lines);
    window_lines(event_type, data, &mut lines);
    if let Some(at) = text(event, "occurred_at") {
        lines.push(format!("Occurred at: {at}"));
    }
    Notice {
        title,
        summary: lines.join("\n"),
    }
}

/// The change an event concerns, for the entry's `alternate` link.
pub fn change_id(event: &Value) -> Option<&str> {
    let event_type = text(event, "type")?;
    let data = &event["data"];
    if event_type.starts_with("change.") {
        text(data, "id")
    } else {
        text(data, "change_id").or_else(|| text(&data["change"], "id"))
    }
}

fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// `standard_contractual_clauses` → `standard contractual clauses`.
fn words(code: &str) -> String {
    code.replace('_', " ")
}

/// "addition of Zendesk, Inc. (third country, SCCs)".
fn subject(change: &Value, entry: &Value) -> String {
    let name = text(entry, "name").unwrap_or("a sub-processor");
    let mut qualifiers = Vec::new();
    match text(entry, "location") {
        Some("eea") => qualifiers.push("EEA".to_string()),
        Some("third_country") => qualifiers.push("third country".to_string()),
        _ => {}
    }
    if let Some(basis) = text(entry, "transfer_basis") {
        qualifiers.push(short_basis(basis));
    }
    let who = if qualifiers.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", qualifiers.join(", "))
    };
    match text(change, "kind") {
        Some(kind) => format!("{} of {who}", words(kind)),
        None => who,
    }
}

fn short_basis(basis: &str) -> String {
    match basis {
        "standard_contractual_clauses" => "SCCs".into(),
        "binding_corporate_rules" => "BCRs".into(),
        other => words(other),
    }
}

fn change_lines(change: &Value, lines: &mut Vec<String>) {
    if let Some(kind) = text(change, "kind") {
        lines.push(format!("Change: {}", words(kind)));
    }
    if let Some(summary) = text(change, "summary") {
        lines.push(format!("Summary: {summary}"));
    }
    if let Some(replaces) = text(change, "replaces") {
        lines.push(format!("Replaces entry: {replaces}"));
    }
    if let Some(state) = text(change, "state") {
        lines.push(format!("Change state: {}", words(state)));
    }
    if let Some(at) = text(change, "announced_at") {
        lines.push(format!("Announced at: {at}"));
    }
    if let Some(at) = text(change, "planned_from") {
        lines.push(format!("Planned from: {at}"));
    }
    if let Some(at) = text(change, "earliest_use") {
        lines.push(format!("Earliest use: {at}"));
    }
}

fn entry_lines(entry: &Value, lines: &mut Vec<String>) {
    let Some(name) = text(entry, "name") else {
        return;
    };
    let registration = &entry["registration"];
    match (text(registration, "scheme"), text(registration, "number")) {
        (Some(scheme), Some(number)) => lines.push(format!(
            "Sub-processor: {name} ({} {number})",
            scheme.to_uppercase()
        )),
        _ => lines.push(format!("Sub-processor: {name} (no registration number)")),
    }
    match (text(entry, "address"), text(entry, "country")) {
        (Some(address), Some(country)) => {
            lines.push(format!("Address: {address}, {}", country_name(country)))
        }
        (Some(address), None) => lines.push(format!("Address: {address}")),
        (None, Some(country)) => lines.push(format!("Country: {}", country_name(country))),
        (None, None) => {}
    }
    let locations = names(&entry["processing_locations"]);
    let where_ = match text(entry, "location") {
        Some("eea") => Some("within the EEA"),
        Some("third_country") => Some("third country, outside the EEA"),
        _ => None,
    };
    match (locations.is_empty(), where_) {
        (false, Some(w)) => lines.push(format!(
            "Processing locations: {} ({w})",
            locations.join(", ")
        )),
        (false, None) => lines.push(format!("Processing locations: {}", locations.join(", "))),
        (true, Some(w)) => lines.push(format!("Processing: {w}")),
        (true, None) => {}
    }
    match (
        text(entry, "transfer_basis"),
        text(entry, "transfer_basis_note"),
    ) {
        (Some(basis), Some(note)) => {
            lines.push(format!("Transfer basis: {} ({note})", words(basis)))
        }
        (Some(basis), None) => lines.push(format!("Transfer basis: {}", words(basis))),
        (None, Some(note)) => lines.push(format!("Transfer note: {note}")),
        (None, None) if where_ == Some("within the EEA") => {
            lines.push("Transfer basis: none needed (EEA)".into())
        }
        (None, None) => {}
    }
    let access = names(&entry["access_locations"]);
    if !access.is_empty() {
        lines.push(format!("Accessed from: {}", access.join(", ")));
    }
    if let Some(purpose) = text(entry, "purpose") {
        lines.push(format!("Purpose: {purpose}"));
    }
    // The chain: a controller is told of its sub-processors' sub-processors too.
    for sub in entry["sub_subprocessors"].as_array().into_iter().flatten() {
        let Some(name) = text(sub, "name") else {
            continue;
        };
        let mut line = format!("Its sub-processor: {name}");
        if let Some(country) = text(sub, "country") {
            line.push_str(&format!(", {}", country_name(country)));
        }
        let processing = names(&sub["processing_locations"]);
        if !processing.is_empty() {
            line.push_str(&format!("; processing in {}", processing.join(", ")));
        }
        let access = names(&sub["access_locations"]);
        if !access.is_empty() {
            line.push_str(&format!("; accessed from {}", access.join(", ")));
        }
        if let Some(purpose) = text(sub, "purpose") {
            line.push_str(&format!(" — {purpose}"));
        }
        lines.push(line);
    }
}

/// The names of a JSON array of location codes.
fn names(codes: &Value) -> Vec<&str> {
    codes
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(Value::as_str)
                .map(country_name)
                .collect()
        })
        .unwrap_or_default()
}

fn window_lines(event_type: &str, data: &Value, lines: &mut Vec<String>) {
    if !event_type.starts_with("window.")
        && !event_type.starts_with("objection.")
        && !event_type.starts_with("approval.")
    {
        return;
    }
    if let Some(at) = text(data, "opened_at") {
        lines.push(format!("Window opened at: {at}"));
    }
    if let Some(at) = text(data, "closes_at") {
        lines.push(format!("Objection deadline (window closes): {at}"));
    }
    if let Some(state) = text(data, "state") {
        lines.push(format!("Window state: {}", words(state)));
    }
    let conflicts: Vec<String> = data["conflicts"]
        .as_array()
        .map(|c| c.iter().filter_map(Value::as_str).map(words).collect())
        .unwrap_or_default();
    if !conflicts.is_empty() {
        lines.push(format!("Conflicts: {}", conflicts.join(", ")));
    }
    let objection = &data["objection"];
    if objection.is_object() {
        let reason = text(objection, "reason").unwrap_or("(no reason given)");
        match text(objection, "at") {
            Some(at) => lines.push(format!("Objection: {reason} (at {at})")),
            None => lines.push(format!("Objection: {reason}")),
        }
    }
    let approval = &data["approval"];
    if approval.is_object() {
        let note = text(approval, "note").unwrap_or("(no note)");
        match text(approval, "at") {
            Some(at) => lines.push(format!("Approval: {note} (at {at})")),
            None => lines.push(format!("Approval: {note}")),
        }
    }
    if let Some(outcome) = text(data, "outcome") {
        lines.push(format!("Outcome: {}", words(outcome)));
    }
    if let Some(at) = text(data, "decided_at") {
        lines.push(format!("Decided at: {at}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn zendesk() -> Value {
        json!({
            "id": "e1", "name": "Zendesk, Inc.", "address": "989 Market Street, San Francisco",
            "country": "US", "processing_locations": ["US", "IE"], "location": "third_country",
            "access_locations": ["PH"],
            "sub_subprocessors": [{"name": "Infosys Ltd", "country": "IN",
                "processing_locations": ["IN"], "access_locations": ["IN"],
                "purpose": "Second-line support"}],
            "transfer_basis": "standard_contractual_clauses",
            "transfer_basis_note": "SCCs 2021/914 module 3", "purpose": "Support tickets"
        })
    }

    fn change() -> Value {
        json!({
            "id": "c1", "processor_id": "eg-netblanket", "kind": "addition",
            "subprocessor": zendesk(), "replaces": null, "summary": "Support desk",
            "planned_from": "2027-01-01T00:00:00Z", "state": "announced",
            "announced_at": "2026-11-23T12:00:00Z"
        })
    }

    #[test]
    fn announced_change_says_who_where_and_basis() {
        let event = json!({"id": "ev", "type": "change.announced", "processor_id": "eg-netblanket",
                           "controller_id": null, "occurred_at": "2026-11-23T12:00:00Z",
                           "data": change()});
        let notice = describe(&event);
        assert_eq!(
            notice.title,
            "Announced: addition of Zendesk, Inc. (third country, SCCs)"
        );
        for expected in [
            "Sub-processor: Zendesk, Inc. (no registration number)",
            "Address: 989 Market Street, San Francisco, United States of America",
            "Processing locations: United States of America, Ireland (third country, outside the EEA)",
            "Transfer basis: standard contractual clauses (SCCs 2021/914 module 3)",
            "Accessed from: Philippines",
            "Its sub-processor: Infosys Ltd, India; processing in India; accessed from India — Second-line support",
            "Planned from: 2027-01-01T00:00:00Z",
            "Summary: Support desk",
        ] {
            assert!(
                notice.summary.lines().any(|l| l == expected),
                "missing {expected:?} in\n{}",
                notice.summary
            );
        }
        assert_eq!(change_id(&event), Some("c1"));
    }

    #[test]
    fn window_closed_shows_deadline_and_outcome() {
        let event = json!({"id": "ev", "type": "window.closed", "processor_id": "p",
            "controller_id": "roskilde-kommune", "data": {
                "id": "w1", "change_id": "c1", "closes_at": "2026-12-23T12:00:00Z",
                "state": "objected", "conflicts": ["third_country_forbidden"],
                "objection": {"reason": "No US transfers", "at": "2026-12-01T00:00:00Z"},
                "approval": null, "outcome": "objected", "change": change()}});
        let notice = describe(&event);
        assert_eq!(
            notice.title,
            "Window closed (objected): addition of Zendesk, Inc. (third country, SCCs)"
        );
        let summary = notice.summary;
        assert!(summary.contains("Objection deadline (window closes): 2026-12-23T12:00:00Z"));
        assert!(summary.contains("Conflicts: third country forbidden"));
        assert!(summary.contains("Objection: No US transfers (at 2026-12-01T00:00:00Z)"));
        assert!(summary.contains("Outcome: objected"));
        assert!(summary.contains("Controller: roskilde-kommune"));
        assert_eq!(change_id(&event), Some("c1"));
    }

    #[test]
    fn seeded_eea_entry_and_sparse_or_unknown_events() {
        let event = json!({"type": "subprocessor.added", "data": {
            "name": "Microsoft Azure", "registration": {"scheme": "cvr", "number": "13612870"},
            "country": "DK", "processing_locations": ["IE"], "location": "eea"}});
        let notice = describe(&event);
        assert_eq!(notice.title, "Added: Microsoft Azure (EEA)");
        assert!(notice
            .summary
            .contains("Sub-processor: Microsoft Azure (CVR 13612870)"));
        assert!(notice.summary.contains("Transfer basis: none needed (EEA)"));
        assert_eq!(change_id(&event), None);

        let bare = describe(&json!({"type": "endpoint.disabled", "data": {}}));
        assert_eq!(bare.title, "endpoint.disabled: a sub-processor");
        assert_eq!(describe(&Value::Null).title, "event: a sub-processor");
    }
}
