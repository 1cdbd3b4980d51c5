//! Human-readable titles and summaries of events, for feed readers and people, in Danish or
//! English (wording as ../shared/DANISH.md has it).
//!
//! Works on the event JSON (as stored and served), not on typed structs, because the event
//! data shapes grow with the lifecycle: whatever is present is rendered, absent fields are
//! skipped, and an unknown event type still gets a sensible title.

use super::language::{last_day, Lang};
use chrono::{DateTime, Timelike, Utc};
use chrono_tz::Europe::Copenhagen;
use serde_json::Value;

/// What a feed entry says to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub summary: String,
}

/// Describes one event (the JSON of `StoredEvent::to_json`) in the reader's language.
pub fn describe(event: &Value, lang: Lang) -> Notice {
    describe_named(event, lang, &Names::new())
}

/// The names of the organisations events name by id: processor and controller ids to names.
pub type Names = std::collections::HashMap<String, String>;

/// [`describe`], naming the processor and the controller by their names (from `names`; an
/// id missing there is shown as it is).
pub fn describe_named(event: &Value, lang: Lang, names: &Names) -> Notice {
    let name_of = |id: &'static str, value: &Value| -> Option<String> {
        text(value, id).map(|id| names.get(id).cloned().unwrap_or_else(|| id.to_string()))
    };
    let w = words(lang);
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
    let subject = subject(lang, change, entry);
    let title = match event_type {
        "subprocessor.added" => format!("{}: {subject}", w.added),
        "change.announced" => format!("{}: {subject}", w.announced),
        "change.effective" => format!("{}: {subject}", w.effective),
        "change.withdrawn" => format!("{}: {subject}", w.withdrawn),
        "change.blocked" => format!("{}: {subject}", w.blocked),
        "change.postponed" => match instant(lang, data, "planned_from") {
            Some(planned) => format!("{} {planned}: {subject}", w.postponed_to),
            None => format!("{}: {subject}", w.postponed),
        },
        "window.resolved" => format!("{}: {subject}", w.resolved),
        "window.notified" => match (deadline(lang, data), lang) {
            (Some(closes), Lang::Da) => {
                format!("Underretning afsendt; fristen udløber {closes}: {subject}")
            }
            (Some(closes), Lang::En) => format!("Notice sent; the deadline is {closes}: {subject}"),
            (None, Lang::Da) => format!("Underretning afsendt: {subject}"),
            (None, Lang::En) => format!("Notice sent: {subject}"),
        },
        "window.opened" => match deadline(lang, data) {
            Some(closes) => format!("{} {closes}: {subject}", w.window_opened_until),
            None => format!("{}: {subject}", w.window_opened),
        },
        "agreement.proposed"
        | "agreement.confirmed"
        | "agreement.amended"
        | "agreement.terminated" => format!(
            "{}: {} / {}",
            agreement_event(lang, event_type),
            name_of("controller_id", data)
                .or_else(|| name_of("controller_id", event))
                .unwrap_or_else(|| "?".into()),
            name_of("processor_id", data)
                .or_else(|| name_of("processor_id", event))
                .unwrap_or_else(|| "?".into())
        ),
        "objection.raised" => format!("{}: {subject}", w.objection_raised),
        "objection.withdrawn" => format!("{}: {subject}", w.objection_withdrawn),
        "approval.given" => format!("{}: {subject}", w.approved),
        "window.closed" => match text(data, "outcome").or_else(|| text(data, "state")) {
            Some(outcome) => format!(
                "{} ({}): {subject}",
                w.window_closed,
                window_state(lang, outcome)
            ),
            None => format!("{}: {subject}", w.window_closed),
        },
        "notice.dispatched" | "notice.failed" => {
            let to = text(data, "recipient").unwrap_or("?");
            match (lang, event_type == "notice.dispatched") {
                (Lang::Da, true) => format!("Varsel modtaget til afsendelse af mailserveren: {to}"),
                (Lang::Da, false) => format!("Varsel afvist af mailserveren: {to}"),
                (Lang::En, true) => {
                    format!("Notice accepted for delivery by the mail server: {to}")
                }
                (Lang::En, false) => format!("Notice refused by the mail server: {to}"),
            }
        }
        other => format!("{other}: {subject}"),
    };

    let mut lines = Vec::new();
    if let Some(processor) = name_of("processor_id", event) {
        lines.push(format!("{}: {processor}", w.processor));
    }
    if let Some(controller) = name_of("controller_id", event) {
        lines.push(format!("{}: {controller}", w.controller));
    }
    change_lines(lang, change, names, &mut lines);
    entry_lines(lang, entry, &mut lines);
    window_lines(lang, event_type, data, &mut lines);
    if let Some(at) = instant(lang, event, "occurred_at") {
        lines.push(format!("{}: {at}", w.occurred_at));
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

/// Every phrase of a notice, in one language.
struct Words {
    added: &'static str,
    announced: &'static str,
    effective: &'static str,
    withdrawn: &'static str,
    blocked: &'static str,
    postponed: &'static str,
    postponed_to: &'static str,
    resolved: &'static str,
    window_opened: &'static str,
    window_opened_until: &'static str,
    objection_raised: &'static str,
    objection_withdrawn: &'static str,
    approved: &'static str,
    window_closed: &'static str,
    processor: &'static str,
    controller: &'static str,
    occurred_at: &'static str,
    a_subprocessor: &'static str,
    of: &'static str,
    eea: &'static str,
    third_country: &'static str,
    within_eea: &'static str,
    outside_eea: &'static str,
    change: &'static str,
    summary: &'static str,
    replaces: &'static str,
    change_state: &'static str,
    announced_at: &'static str,
    planned_from: &'static str,
    earliest_use: &'static str,
    subprocessor: &'static str,
    no_registration: &'static str,
    address: &'static str,
    country: &'static str,
    locations: &'static str,
    processing: &'static str,
    transfer_basis: &'static str,
    transfer_note: &'static str,
    no_basis_needed: &'static str,
    accessed_from: &'static str,
    purpose: &'static str,
    its_subprocessor: &'static str,
    processing_in: &'static str,
    accessed_from_lower: &'static str,
    window_opened_at: &'static str,
    deadline: &'static str,
    window_state: &'static str,
    conflicts: &'static str,
    objection: &'static str,
    no_reason: &'static str,
    approval: &'static str,
    no_note: &'static str,
    at: &'static str,
    outcome: &'static str,
    decided_at: &'static str,
    end_of: &'static str,
}

static DA: Words = Words {
    added: "Optaget på listen",
    announced: "Varslet",
    effective: "Gennemført",
    withdrawn: "Trukket tilbage",
    blocked: "Ikke taget i brug: en dataansvarlig har afvist ændringen, og databehandleren har endnu ikke løst det",
    postponed: "Udskudt",
    postponed_to: "Udskudt til",
    resolved: "Afvisning løst af databehandleren (undtaget)",
    window_opened: "Indsigelsesfrist åbnet",
    window_opened_until: "Indsigelsesfristen udløber",
    objection_raised: "Indsigelse gjort",
    objection_withdrawn: "Indsigelse trukket tilbage",
    approved: "Godkendt",
    window_closed: "Indsigelsesfristen er afsluttet",
    processor: "Databehandler",
    controller: "Dataansvarlig",
    occurred_at: "Registreret",
    a_subprocessor: "en underdatabehandler",
    of: "af",
    eea: "inden for EØS",
    third_country: "uden for EØS",
    within_eea: "inden for EØS",
    outside_eea: "uden for EØS, tredjeland",
    change: "Ændring",
    summary: "Beskrivelse",
    replaces: "Erstatter",
    change_state: "Ændringens status",
    announced_at: "Varslet",
    planned_from: "Planlagt ibrugtagning",
    earliest_use: "Tidligst ibrugtagning",
    subprocessor: "Underdatabehandler",
    no_registration: "intet CVR-nr.",
    address: "Adresse",
    country: "Land",
    locations: "Lokalitet(er) for behandling",
    processing: "Behandling",
    transfer_basis: "Overførselsgrundlag",
    transfer_note: "Bemærkning om overførsel",
    no_basis_needed: "Overførselsgrundlag: ikke relevant (behandling inden for EØS)",
    accessed_from: "Tilgås fra",
    purpose: "Beskrivelse af behandlingen",
    its_subprocessor: "Dennes underdatabehandler",
    processing_in: "behandling i",
    accessed_from_lower: "tilgås fra",
    window_opened_at: "Varslet",
    deadline: "Seneste indsigelsesfrist",
    window_state: "Status",
    conflicts: "Konflikter",
    objection: "Indsigelse",
    no_reason: "(ingen begrundelse angivet)",
    approval: "Godkendelse",
    no_note: "(ingen bemærkning)",
    at: "den",
    outcome: "Udfald",
    decided_at: "Besluttet",
    end_of: "ved udgangen af",
};

static EN: Words = Words {
    added: "Added",
    announced: "Announced",
    effective: "Effective",
    withdrawn: "Withdrawn",
    blocked: "Blocked until the processor resolves a customer's refusal",
    postponed: "Postponed",
    postponed_to: "Postponed to",
    resolved: "Refusal resolved by the processor (excluded)",
    window_opened: "Objection window opened",
    window_opened_until: "Objection window open until",
    objection_raised: "Objection raised",
    objection_withdrawn: "Objection withdrawn",
    approved: "Approved",
    window_closed: "Window closed",
    processor: "Processor",
    controller: "Controller",
    occurred_at: "Occurred at",
    a_subprocessor: "a sub-processor",
    of: "of",
    eea: "EEA",
    third_country: "third country",
    within_eea: "within the EEA",
    outside_eea: "third country, outside the EEA",
    change: "Change",
    summary: "Summary",
    replaces: "Replaces",
    change_state: "Change state",
    announced_at: "Announced at",
    planned_from: "Planned from",
    earliest_use: "Earliest use",
    subprocessor: "Sub-processor",
    no_registration: "no registration number",
    address: "Address",
    country: "Country",
    locations: "Processing locations",
    processing: "Processing",
    transfer_basis: "Transfer basis",
    transfer_note: "Transfer note",
    no_basis_needed: "Transfer basis: none needed (EEA)",
    accessed_from: "Accessed from",
    purpose: "Purpose",
    its_subprocessor: "Its sub-processor",
    processing_in: "processing in",
    accessed_from_lower: "accessed from",
    window_opened_at: "Window opened at",
    deadline: "Objection deadline (window closes)",
    window_state: "Window state",
    conflicts: "Conflicts",
    objection: "Objection",
    no_reason: "(no reason given)",
    approval: "Approval",
    no_note: "(no note)",
    at: "at",
    outcome: "Outcome",
    decided_at: "Decided at",
    end_of: "the end of",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
}

pub(crate) fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key)?.as_str().filter(|s| !s.is_empty())
}

/// A text the processor wrote, in the reader's language: `<key>_en` for English readers when
/// given, otherwise `<key>` (which is also every Danish reader's).
fn localised<'a>(lang: Lang, value: &'a Value, key: &str) -> Option<&'a str> {
    match lang {
        Lang::En => value
            .get(format!("{key}_en"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .or_else(|| text(value, key)),
        Lang::Da => text(value, key),
    }
}

/// An RFC 3339 instant of the event JSON as people write it; an unparsable one as it is.
fn instant(lang: Lang, value: &Value, key: &str) -> Option<String> {
    let raw = text(value, key)?;
    Some(match DateTime::parse_from_rfc3339(raw) {
        Ok(at) => lang.datetime(at.with_timezone(&Utc)),
        Err(_) => raw.to_string(),
    })
}

/// A window's deadline: "ved udgangen af 1. december 2026" when it ends at midnight Danish
/// time (as deadlines do), else the instant.
pub(crate) fn deadline(lang: Lang, data: &Value) -> Option<String> {
    let raw = text(data, "closes_at")?;
    let Ok(at) = DateTime::parse_from_rfc3339(raw) else {
        return Some(raw.to_string());
    };
    let at = at.with_timezone(&Utc);
    let local = at.with_timezone(&Copenhagen);
    if local.hour() == 0 && local.minute() == 0 && local.second() == 0 {
        Some(format!("{} {}", words(lang).end_of, lang.day(last_day(at))))
    } else {
        Some(lang.datetime(at))
    }
}

fn kind(lang: Lang, kind: &str) -> String {
    let da = lang == Lang::Da;
    match kind {
        "addition" if da => "tilføjelse".into(),
        "replacement" if da => "udskiftning".into(),
        "modification" if da => "ændring".into(),
        "removal" if da => "ophør".into(),
        other => other.replace('_', " "),
    }
}

fn window_state(lang: Lang, state: &str) -> String {
    let da = lang == Lang::Da;
    match state {
        "open" if da => "åben".into(),
        "approved" if da => "godkendt".into(),
        "objected" if da => "den dataansvarlige har gjort indsigelse".into(),
        "tacit_consent" if da => "stiltiende samtykke – ingen indsigelse inden for fristen".into(),
        "not_approved" if da => {
            "ikke godkendt – forudgående specifik skriftlig godkendelse mangler".into()
        }
        "withdrawn" if da => "trukket tilbage".into(),
        other => other.replace('_', " "),
    }
}

fn change_state(lang: Lang, state: &str) -> String {
    let da = lang == Lang::Da;
    match state {
        "draft" if da => "kladde".into(),
        "announced" if da => "varslet".into(),
        "effective" if da => "gennemført".into(),
        "withdrawn" if da => "trukket tilbage".into(),
        "blocked" if da => "blokeret af en afvisning".into(),
        other => other.replace('_', " "),
    }
}

fn conflict(lang: Lang, code: &str) -> String {
    let da = lang == Lang::Da;
    match code {
        "third_country_forbidden" if da => "behandling uden for EØS, som aftalen ikke tillader".into(),
        "planned_before_window_closes" if da => {
            "planlagt taget i brug før indsigelsesfristens udløb".into()
        }
        "location_not_allowed" if da => {
            "behandling i et land uden for aftalens tilladte lokaliteter".into()
        }
        "derogation_for_ongoing_transfer" if da => {
            "overførsel på grundlag af en undtagelse (art. 49), som ikke kan bære en løbende overførsel"
                .into()
        }
        other => other.replace('_', " "),
    }
}

fn agreement_event(lang: Lang, event_type: &str) -> String {
    let da = lang == Lang::Da;
    match event_type {
        "agreement.proposed" if da => "Databehandleraftale foreslået".into(),
        "agreement.confirmed" if da => "Databehandleraftale bekræftet".into(),
        "agreement.amended" if da => "Databehandleraftale ændret".into(),
        "agreement.terminated" if da => "Databehandleraftale opsagt".into(),
        other => format!("Agreement {}", other.trim_start_matches("agreement.")),
    }
}

fn basis(lang: Lang, basis: &str) -> String {
    let da = lang == Lang::Da;
    match basis {
        "adequacy_decision" if da => "tilstrækkelighedsafgørelse (art. 45)".into(),
        "standard_contractual_clauses" if da => "standardkontraktbestemmelser (art. 46)".into(),
        "binding_corporate_rules" if da => "bindende virksomhedsregler (art. 47)".into(),
        "code_of_conduct" if da => "godkendt adfærdskodeks (art. 46)".into(),
        "certification" if da => "godkendt certificering (art. 46)".into(),
        "derogation" if da => "undtagelser i særlige situationer (art. 49)".into(),
        other => other.replace('_', " "),
    }
}

fn short_basis(lang: Lang, code: &str) -> String {
    match (lang, code) {
        (Lang::En, "standard_contractual_clauses") => "SCCs".into(),
        (Lang::En, "binding_corporate_rules") => "BCRs".into(),
        (Lang::Da, "standard_contractual_clauses") => "standardkontraktbestemmelser".into(),
        (Lang::Da, "binding_corporate_rules") => "bindende virksomhedsregler".into(),
        (Lang::Da, "adequacy_decision") => "tilstrækkelighedsafgørelse".into(),
        (lang, other) => basis(lang, other),
    }
}

/// "addition of Zendesk, Inc. (third country, SCCs)" / "tilføjelse af Zendesk, Inc. (uden
/// for EØS, standardkontraktbestemmelser)".
fn subject(lang: Lang, change: &Value, entry: &Value) -> String {
    let w = words(lang);
    let name = text(entry, "name").unwrap_or(w.a_subprocessor);
    let mut qualifiers = Vec::new();
    match text(entry, "location") {
        Some("eea") => qualifiers.push(w.eea.to_string()),
        Some("third_country") => qualifiers.push(w.third_country.to_string()),
        _ => {}
    }
    if let Some(code) = text(entry, "transfer_basis") {
        qualifiers.push(short_basis(lang, code));
    }
    let who = if qualifiers.is_empty() {
        name.to_string()
    } else {
        format!("{name} ({})", qualifiers.join(", "))
    };
    match text(change, "kind") {
        Some(code) => format!("{} {} {who}", kind(lang, code), w.of),
        None => who,
    }
}

fn change_lines(lang: Lang, change: &Value, names: &Names, lines: &mut Vec<String>) {
    let w = words(lang);
    if let Some(code) = text(change, "kind") {
        lines.push(format!("{}: {}", w.change, kind(lang, code)));
    }
    if let Some(summary) = localised(lang, change, "summary") {
        lines.push(format!("{}: {summary}", w.summary));
    }
    if let Some(replaces) = text(change, "replaces") {
        let replaces = names.get(replaces).map_or(replaces, String::as_str);
        lines.push(format!("{}: {replaces}", w.replaces));
    }
    if let Some(state) = text(change, "state") {
        lines.push(format!("{}: {}", w.change_state, change_state(lang, state)));
    }
    if let Some(at) = instant(lang, change, "announced_at") {
        lines.push(format!("{}: {at}", w.announced_at));
    }
    if let Some(at) = instant(lang, change, "planned_from") {
        lines.push(format!("{}: {at}", w.planned_from));
    }
    if let Some(at) = instant(lang, change, "earliest_use") {
        lines.push(format!("{}: {at}", w.earliest_use));
    }
}

fn entry_lines(lang: Lang, entry: &Value, lines: &mut Vec<String>) {
    let w = words(lang);
    let Some(name) = text(entry, "name") else {
        return;
    };
    let registration = &entry["registration"];
    match (text(registration, "scheme"), text(registration, "number")) {
        (Some(scheme), Some(number)) => lines.push(format!(
            "{}: {name} ({} {number})",
            w.subprocessor,
            scheme.to_uppercase()
        )),
        _ => lines.push(format!(
            "{}: {name} ({})",
            w.subprocessor, w.no_registration
        )),
    }
    match (text(entry, "address"), text(entry, "country")) {
        (Some(address), Some(country)) => lines.push(format!(
            "{}: {address}, {}",
            w.address,
            lang.country(country)
        )),
        (Some(address), None) => lines.push(format!("{}: {address}", w.address)),
        (None, Some(country)) => lines.push(format!("{}: {}", w.country, lang.country(country))),
        (None, None) => {}
    }
    let locations = names(lang, &entry["processing_locations"]);
    let where_ = match text(entry, "location") {
        Some("eea") => Some(w.within_eea),
        Some("third_country") => Some(w.outside_eea),
        _ => None,
    };
    match (locations.is_empty(), where_) {
        (false, Some(place)) => lines.push(format!(
            "{}: {} ({place})",
            w.locations,
            locations.join(", ")
        )),
        (false, None) => lines.push(format!("{}: {}", w.locations, locations.join(", "))),
        (true, Some(place)) => lines.push(format!("{}: {place}", w.processing)),
        (true, None) => {}
    }
    match (
        text(entry, "transfer_basis"),
        text(entry, "transfer_basis_note"),
    ) {
        (Some(code), Some(note)) => lines.push(format!(
            "{}: {} ({note})",
            w.transfer_basis,
            basis(lang, code)
        )),
        (Some(code), None) => lines.push(format!("{}: {}", w.transfer_basis, basis(lang, code))),
        (None, Some(note)) => lines.push(format!("{}: {note}", w.transfer_note)),
        (None, None) if text(entry, "location") == Some("eea") => {
            lines.push(w.no_basis_needed.into())
        }
        (None, None) => {}
    }
    let access = names(lang, &entry["access_locations"]);
    if !access.is_empty() {
        lines.push(format!("{}: {}", w.accessed_from, access.join(", ")));
    }
    if let Some(purpose) = localised(lang, entry, "purpose") {
        lines.push(format!("{}: {purpose}", w.purpose));
    }
    // The chain: a controller is told of its sub-processors' sub-processors too.
    for sub in entry["sub_subprocessors"].as_array().into_iter().flatten() {
        let Some(name) = text(sub, "name") else {
            continue;
        };
        let mut line = format!("{}: {name}", w.its_subprocessor);
        if let Some(country) = text(sub, "country") {
            line.push_str(&format!(", {}", lang.country(country)));
        }
        let processing = names(lang, &sub["processing_locations"]);
        if !processing.is_empty() {
            line.push_str(&format!("; {} {}", w.processing_in, processing.join(", ")));
        }
        let access = names(lang, &sub["access_locations"]);
        if !access.is_empty() {
            line.push_str(&format!(
                "; {} {}",
                w.accessed_from_lower,
                access.join(", ")
            ));
        }
        if let Some(purpose) = localised(lang, sub, "purpose") {
            line.push_str(&format!(" — {purpose}"));
        }
        lines.push(line);
    }
}

/// The names of a JSON array of location codes.
fn names(lang: Lang, codes: &Value) -> Vec<String> {
    codes
        .as_array()
        .map(|codes| {
            codes
                .iter()
                .filter_map(Value::as_str)
                .map(|code| lang.country(code))
                .collect()
        })
        .unwrap_or_default()
}

fn window_lines(lang: Lang, event_type: &str, data: &Value, lines: &mut Vec<String>) {
    let w = words(lang);
    if !event_type.starts_with("window.")
        && !event_type.starts_with("objection.")
        && !event_type.starts_with("approval.")
    {
        return;
    }
    if let Some(at) =
        instant(lang, data, "notified_at").or_else(|| instant(lang, data, "opened_at"))
    {
        lines.push(format!("{}: {at}", w.window_opened_at));
    }
    if let Some(closes) = deadline(lang, data) {
        lines.push(format!("{}: {closes}", w.deadline));
    }
    if let Some(state) = text(data, "state") {
        lines.push(format!("{}: {}", w.window_state, window_state(lang, state)));
    }
    let conflicts: Vec<String> = data["conflicts"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(Value::as_str)
                .map(|code| conflict(lang, code))
                .collect()
        })
        .unwrap_or_default();
    if !conflicts.is_empty() {
        lines.push(format!("{}: {}", w.conflicts, conflicts.join(", ")));
    }
    let objection = &data["objection"];
    if objection.is_object() {
        let reason = text(objection, "reason").unwrap_or(w.no_reason);
        match instant(lang, objection, "at") {
            Some(at) => lines.push(format!("{}: {reason} ({} {at})", w.objection, w.at)),
            None => lines.push(format!("{}: {reason}", w.objection)),
        }
    }
    let approval = &data["approval"];
    if approval.is_object() {
        let note = text(approval, "note").unwrap_or(w.no_note);
        match instant(lang, approval, "at") {
            Some(at) => lines.push(format!("{}: {note} ({} {at})", w.approval, w.at)),
            None => lines.push(format!("{}: {note}", w.approval)),
        }
    }
    if let Some(outcome) = text(data, "outcome") {
        lines.push(format!("{}: {}", w.outcome, window_state(lang, outcome)));
    }
    if let Some(at) = instant(lang, data, "decided_at") {
        lines.push(format!("{}: {at}", w.decided_at));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn proof_of_dispatch_is_told_in_words() {
        let event = json!({"type": "notice.dispatched", "processor_id": "timengo-dpg",
            "data": {"recipient": "dpo@roskilde.dk", "smtp_reply": {"code": 250}}});
        assert_eq!(
            describe(&event, Lang::Da).title,
            "Varsel modtaget til afsendelse af mailserveren: dpo@roskilde.dk"
        );
        assert_eq!(
            describe(&event, Lang::En).title,
            "Notice accepted for delivery by the mail server: dpo@roskilde.dk"
        );
    }

    fn zendesk() -> Value {
        json!({
            "id": "e1", "name": "Zendesk, Inc.", "address": "989 Market Street, San Francisco",
            "country": "US", "processing_locations": ["US", "IE"], "location": "third_country",
            "access_locations": ["PH"],
            "sub_subprocessors": [{"name": "Infosys Ltd", "country": "IN",
                "processing_locations": ["IN"], "access_locations": ["IN"],
                "purpose": "Andenlinjesupport", "purpose_en": "Second-line support"}],
            "transfer_basis": "standard_contractual_clauses",
            "transfer_basis_note": "SCCs 2021/914 module 3", "purpose": "Supportsager",
            "purpose_en": "Support tickets"
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
        let notice = describe(&event, Lang::En);
        assert_eq!(
            notice.title,
            "Announced: addition of Zendesk, Inc. (third country, SCCs)"
        );
        for expected in [
            "Sub-processor: Zendesk, Inc. (no registration number)",
            "Address: 989 Market Street, San Francisco, United States",
            "Processing locations: United States, Ireland (third country, outside the EEA)",
            "Transfer basis: standard contractual clauses (SCCs 2021/914 module 3)",
            "Accessed from: Philippines",
            "Its sub-processor: Infosys Ltd, India; processing in India; accessed from India — Second-line support",
            "Planned from: 1 January 2027, 01:00 CET",
            "Summary: Support desk",
        ] {
            assert!(
                notice.summary.lines().any(|l| l == expected),
                "missing {expected:?} in\n{}",
                notice.summary
            );
        }
        assert_eq!(change_id(&event), Some("c1"));

        let danish = describe(&event, Lang::Da);
        assert_eq!(
            danish.title,
            "Varslet: tilføjelse af Zendesk, Inc. (uden for EØS, standardkontraktbestemmelser)"
        );
        for expected in [
            "Underdatabehandler: Zendesk, Inc. (intet CVR-nr.)",
            "Adresse: 989 Market Street, San Francisco, USA",
            "Lokalitet(er) for behandling: USA, Irland (uden for EØS, tredjeland)",
            "Overførselsgrundlag: standardkontraktbestemmelser (art. 46) (SCCs 2021/914 module 3)",
            "Tilgås fra: Filippinerne",
            "Dennes underdatabehandler: Infosys Ltd, Indien; behandling i Indien; tilgås fra Indien — Andenlinjesupport",
            "Planlagt ibrugtagning: 1. januar 2027 kl. 01.00 (dansk tid)",
            "Beskrivelse af behandlingen: Supportsager",
        ] {
            assert!(
                danish.summary.lines().any(|l| l == expected),
                "missing {expected:?} in\n{}",
                danish.summary
            );
        }
    }

    #[test]
    fn window_closed_shows_deadline_and_outcome() {
        let event = json!({"id": "ev", "type": "window.closed", "processor_id": "p",
            "controller_id": "roskilde-kommune", "data": {
                "id": "w1", "change_id": "c1", "closes_at": "2026-12-23T23:00:00Z",
                "state": "objected", "conflicts": ["third_country_forbidden"],
                "objection": {"reason": "No US transfers", "at": "2026-12-01T00:00:00Z"},
                "approval": null, "outcome": "objected", "change": change()}});
        let notice = describe(&event, Lang::En);
        assert_eq!(
            notice.title,
            "Window closed (objected): addition of Zendesk, Inc. (third country, SCCs)"
        );
        let summary = notice.summary;
        assert!(summary.contains("Objection deadline (window closes): the end of 23 December 2026"));
        assert!(summary.contains("Conflicts: third country forbidden"));
        assert!(summary.contains("Objection: No US transfers (at 1 December 2026, 01:00 CET)"));
        assert!(summary.contains("Outcome: objected"));
        assert!(summary.contains("Controller: roskilde-kommune"));
        assert_eq!(change_id(&event), Some("c1"));

        let danish = describe(&event, Lang::Da);
        assert_eq!(
            danish.title,
            "Indsigelsesfristen er afsluttet (den dataansvarlige har gjort indsigelse): tilføjelse af Zendesk, Inc. (uden for EØS, standardkontraktbestemmelser)"
        );
        assert!(danish
            .summary
            .contains("Seneste indsigelsesfrist: ved udgangen af 23. december 2026"));
        assert!(danish
            .summary
            .contains("Konflikter: behandling uden for EØS, som aftalen ikke tillader"));
    }

    #[test]
    fn seeded_eea_entry_and_sparse_or_unknown_events() {
        let event = json!({"type": "subprocessor.added", "data": {
            "name": "Microsoft Azure", "registration": {"scheme": "cvr", "number": "13612870"},
            "country": "DK", "processing_locations": ["IE"], "location": "eea"}});
        let notice = describe(&event, Lang::En);
        assert_eq!(notice.title, "Added: Microsoft Azure (EEA)");
        assert!(notice
            .summary
            .contains("Sub-processor: Microsoft Azure (CVR 13612870)"));
        assert!(notice.summary.contains("Transfer basis: none needed (EEA)"));
        assert_eq!(change_id(&event), None);

        let bare = describe(&json!({"type": "endpoint.disabled", "data": {}}), Lang::En);
        assert_eq!(bare.title, "endpoint.disabled: a sub-processor");
        assert_eq!(
            describe(&Value::Null, Lang::Da).title,
            "event: en underdatabehandler"
        );
    }
}
