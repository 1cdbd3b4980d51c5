//! The printable annex: the facts of `store::pages::annex` as the sections a DPO files, each
//! entry in one row, with the stylesheet inlined so a saved copy prints styled.

use super::annex::authorisation_of;
use super::annex_text::{self as text, AnnexLabels};
use super::i18n::Lang;
use crate::domain::agreement::{Agreement, AgreementWithAnnex, Authorisation};
use crate::domain::authorised::{AuthorisedBy, AuthorisedEntry, NotAuthorisedReason};
use crate::domain::change::{ChangeKind, Conflict};
use crate::domain::geography::Location;
use crate::domain::language::pick;
use crate::domain::registration::{Registration, RegistrationScheme};
use crate::domain::subprocessor::{Contact, Subprocessor};
use crate::domain::window::{ObjectionWindow, WindowState};
use crate::store::pages::AnnexFacts;
use askama::Template;
use base64::Engine;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The annex's print stylesheet, inlined in the page.
pub const ANNEX_CSS: &str = include_str!("../../static/annex.css");

/// The page's Content-Security-Policy: no scripts, and only the inlined stylesheet, by its hash.
pub static ANNEX_CSP: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(ANNEX_CSS));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
});

pub struct Row {
    pub name: String,
    pub registration: String,
    pub address: String,
    pub purpose: String,
    /// Annex IV's delimitation of responsibilities, where several sub-processors share a task.
    pub responsibilities: String,
    pub contact: String,
    pub locations: String,
    pub status: String,
    pub instruction: String,
    pub notes: Vec<String>,
}

pub struct Section {
    pub id: &'static str,
    pub class: &'static str,
    pub title: &'static str,
    pub help: &'static str,
    pub rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "annex.html")]
pub struct AnnexView {
    pub lang: &'static str,
    pub t: &'static AnnexLabels,
    pub css: &'static str,
    pub title: String,
    pub heading: String,
    pub reference: String,
    pub controller: String,
    pub processor: String,
    pub as_of: String,
    pub agreements: Vec<String>,
    pub sections: Vec<Section>,
    pub conflicts: Vec<String>,
    pub event_hash: String,
    pub event_at: String,
    pub verify_url: String,
    /// The signed checkpoint (C2SP signed note) of the log as it stood at `as_of`.
    pub checkpoint_note: String,
    pub checkpoint_size: String,
    /// The controller's evidence bundle for this processor.
    pub evidence_url: String,
}

/// Whether a window of `upcoming` had authorised its entry by `as_of` (the entry is then
/// authorised but not yet in use); otherwise it is still pending or was refused.
pub fn authorised_by(window: &ObjectionWindow, as_of: DateTime<Utc>) -> bool {
    matches!(
        window.state,
        WindowState::Approved | WindowState::TacitConsent
    ) && window.closed_by(as_of)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The one agreement the annex shows: the one in force at `as_of`, or the pair's only one.
fn one_agreement(agreements: &[AgreementWithAnnex], as_of: DateTime<Utc>) -> Option<&Agreement> {
    let all: Vec<&Agreement> = agreements.iter().map(|a| &a.agreement).collect();
    let in_force: Vec<&Agreement> = all
        .iter()
        .copied()
        .filter(|a| a.in_force_at(as_of))
        .collect();
    match (in_force.as_slice(), all.as_slice()) {
        ([only], _) | ([], [only]) => Some(*only),
        _ => None,
    }
}

/// The heading and the legal reference, from the agreement's own name for its annex.
fn heading(t: &AnnexLabels, agreement: Option<&Agreement>) -> (String, String) {
    let Some(agreement) = agreement else {
        return (t.generic_title.to_string(), t.reference_other.to_string());
    };
    let name = agreement.annex_name.trim();
    let lower = name.to_lowercase();
    let reference = if lower.starts_with("bilag b") || lower.starts_with("appendix b") {
        t.reference_datatilsynet.to_string()
    } else if lower.contains("annex iv") || lower.contains("bilag iv") {
        t.reference_commission.to_string()
    } else {
        format!("{} {name}.", t.reference_other)
    };
    (format!("{} – {}", capitalised(name), t.subject), reference)
}

fn contact_text(contact: Option<&Contact>) -> String {
    let Some(contact) = contact else {
        return "—".to_string();
    };
    let parts: Vec<String> = [&contact.name, &contact.position, &contact.email]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if parts.is_empty() {
        "—".to_string()
    } else {
        parts.join(", ")
    }
}

/// Every place the entry's data goes: processing and access locations, with the basis for a
/// transfer, and the entry's own sub-processors.
fn locations_text(lang: Lang, e: &Subprocessor) -> String {
    let t = text::labels(lang);
    let mut where_ = lang.countries_in_legal_text(&e.processing_locations);
    if !e.access_locations.is_empty() {
        where_ = format!(
            "{where_}; {} {}",
            lang.labels().accessed_from.to_lowercase(),
            lang.countries_in_legal_text(&e.access_locations)
        );
    }
    let places = format!(
        "{where_} ({})",
        match e.location {
            Location::Eea => t.eea,
            Location::ThirdCountry => t.outside_eea,
        }
    );
    let placed = match (e.transfer_basis, &e.transfer_basis_note) {
        (None, _) => places,
        (Some(basis), Some(note)) => {
            format!("{places}; {}: {note}", lang.transfer_basis(Some(basis)))
        }
        (Some(basis), None) => format!("{places}; {}", lang.transfer_basis(Some(basis))),
    };
    match super::pages::chain_line(lang, e) {
        chain if chain.is_empty() => placed,
        chain => format!("{placed}. {chain}"),
    }
}

fn row(lang: Lang, e: &Subprocessor, status: String) -> Row {
    Row {
        name: e.name.clone(),
        registration: text::registration(lang, e.registration.as_ref()),
        address: format!("{}, {}", e.address, lang.country_in_legal_text(&e.country)),
        purpose: pick(lang, &e.purpose, e.purpose_en.as_deref()).to_string(),
        responsibilities: e
            .responsibilities
            .as_deref()
            .map(|main| pick(lang, main, e.responsibilities_en.as_deref()).to_string())
            .unwrap_or_default(),
        contact: contact_text(e.contact.as_ref()),
        locations: locations_text(lang, e),
        status,
        instruction: String::new(),
        notes: Vec::new(),
    }
}

/// The window's last day, as people write it; a window still waiting for its notice's dispatch
/// has none yet.
fn deadline_day(lang: Lang, window: &ObjectionWindow) -> String {
    window
        .closes_on_local_date
        .or_else(|| window.closes_at.map(crate::domain::language::last_day))
        .map(|day| lang.day(day))
        .unwrap_or_else(|| super::change_page::window_deadline_text(lang, None))
}

/// When the controller was notified: the notice's first dispatch, else the announcement.
fn notified_on(lang: Lang, window: &ObjectionWindow) -> String {
    lang.date(window.notified_at.unwrap_or(window.opened_at))
}

/// "stiltiende samtykke – ingen indsigelse inden for fristen (varslet A; fristen udløb B)".
fn tacit_text(lang: Lang, window: &ObjectionWindow) -> String {
    let t = text::labels(lang);
    format!(
        "{} ({} {}; {} {})",
        t.tacit,
        t.notified,
        notified_on(lang, window),
        t.deadline_ended,
        deadline_day(lang, window)
    )
}

fn approval_text(lang: Lang, at: Option<DateTime<Utc>>, late: bool) -> String {
    let t = text::labels(lang);
    let mut approved = format!(
        "{} {}",
        t.approval_of,
        at.map(|at| lang.date(at)).unwrap_or_default()
    );
    if late {
        approved = format!("{approved} ({})", t.late);
    }
    capitalised(&approved)
}

fn authorised_row(lang: Lang, facts: &AnnexFacts, item: &AuthorisedEntry) -> Row {
    let t = text::labels(lang);
    let authorisation = authorisation_of(facts, item);
    let window = item.window_id.as_ref().and_then(|w| facts.windows.get(w));
    let status = match (item.authorised_by, window) {
        (AuthorisedBy::TacitConsent, Some(w)) => capitalised(&tacit_text(lang, w)),
        (AuthorisedBy::Approved, _) => approval_text(lang, authorisation.authorised_at, item.late),
        _ => {
            let annex_name = facts
                .agreements
                .iter()
                .find(|a| a.agreement.id == item.agreement_id)
                .map(|a| a.agreement.annex_name.clone())
                .unwrap_or_default();
            let at = authorisation
                .authorised_at
                .map(|at| lang.date(at))
                .unwrap_or_default();
            capitalised(&format!("{annex_name} {} {at}", t.at_conclusion))
        }
    };
    let mut row = row(lang, &item.entry, status);
    if let Some(instruction) = &item.instruction {
        row.instruction = format!("{}: {instruction}", t.instruction);
    }
    row
}

/// The deadline and planned start of a window not yet decided, or why it was refused.
fn window_status(lang: Lang, facts: &AnnexFacts, window: &ObjectionWindow) -> String {
    let t = text::labels(lang);
    let as_of = facts.list.as_of;
    let specific = facts
        .agreements
        .iter()
        .find(|a| a.agreement.id == window.agreement_id)
        .is_some_and(|a| a.agreement.authorisation == Authorisation::Specific);
    let mut parts = Vec::new();
    if authorised_by(window, as_of) {
        parts.push(match window.state {
            WindowState::TacitConsent => capitalised(&tacit_text(lang, window)),
            _ => approval_text(
                lang,
                window.approval.as_ref().map(|a| a.at).or(window.decided_at),
                window.late,
            ),
        });
    } else if !window.closed_by(as_of) {
        let opened = notified_on(lang, window);
        if specific {
            parts.push(format!("{}; {} {opened}", t.needs_specific, t.requested));
        } else {
            parts.push(capitalised(&format!("{} {opened}", t.notified)));
        }
        parts.push(format!(
            "{} {}",
            t.deadline_ends,
            deadline_day(lang, window)
        ));
        if let Some(objection) = &window.objection {
            parts.push(format!("{} {}", t.objected_on, lang.date(objection.at)));
        }
    } else {
        let why = match window.state {
            WindowState::Objected => t.objected,
            _ => t.not_approved,
        };
        parts.push(capitalised(&format!("{why} – {}", t.refused_not_in_use)));
    }
    if let Some(planned) = window.change.as_ref().and_then(|c| c.planned_from) {
        parts.push(format!("{} {}", t.planned, lang.date(planned)));
    }
    parts.join("; ")
}

/// A removal or modification of an entry in use, noted on that entry's row.
fn change_note(
    lang: Lang,
    facts: &AnnexFacts,
    window: &ObjectionWindow,
) -> Option<(String, String)> {
    let t = text::labels(lang);
    let change = window.change.as_ref()?;
    let (target, what) = match change.kind {
        ChangeKind::Removal => (change.replaces.clone()?, t.removal),
        ChangeKind::Modification => (change.modifies.clone()?, t.modification),
        ChangeKind::Addition | ChangeKind::Replacement => return None,
    };
    Some((
        target,
        format!(
            "{what}: {} ({})",
            pick(lang, &change.summary, change.summary_en.as_deref()),
            window_status(lang, facts, window)
        ),
    ))
}

fn alarm_reason(t: &AnnexLabels, reason: NotAuthorisedReason) -> &'static str {
    match reason {
        NotAuthorisedReason::Objected => t.objected,
        NotAuthorisedReason::NotApproved => t.not_approved,
        NotAuthorisedReason::InUseBeforeWindowClosed => t.in_use_early,
        NotAuthorisedReason::InUseWithoutAuthorisation => t.in_use_over_refusal,
    }
}

fn agreement_line(lang: Lang, agreement: &Agreement) -> String {
    let t = text::labels(lang);
    let terms = match agreement.authorisation {
        Authorisation::General => t.general,
        Authorisation::Specific => t.specific,
    };
    let mut line = format!(
        "{}, {} {}; {terms}, {} {}",
        agreement.reference.as_deref().unwrap_or(t.agreement),
        t.concluded,
        lang.date(agreement.signed_at),
        agreement.notice_days,
        t.notice_days
    );
    if let Some(end) = agreement.terminated_at {
        line = format!("{line}; {} {}", t.terminated, lang.date(end));
    }
    line
}

pub fn view(lang: Lang, facts: &AnnexFacts, verify_url: String, evidence_url: String) -> AnnexView {
    let t = text::labels(lang);
    let as_of = facts.list.as_of;
    let mut in_use: Vec<Row> = facts
        .list
        .items
        .iter()
        .map(|item| authorised_row(lang, facts, item))
        .collect();
    let mut not_yet = Vec::new();
    let mut pending = Vec::new();
    let mut conflicts = Vec::new();
    for window in &facts.upcoming {
        if let Some((target, note)) = change_note(lang, facts, window) {
            let shown = facts
                .list
                .items
                .iter()
                .position(|item| item.entry.id == target)
                .and_then(|i| in_use.get_mut(i));
            if let Some(row) = shown {
                row.notes.push(note);
                continue;
            }
        }
        let Some(change) = window.change.as_ref() else {
            continue;
        };
        let Some(entry) = change.subprocessor.as_ref() else {
            continue;
        };
        let mut row = row(lang, entry, window_status(lang, facts, window));
        if let Some(replaced) = change
            .replaces
            .as_ref()
            .and_then(|id| facts.list.items.iter().find(|item| &item.entry.id == id))
        {
            row.notes.push(format!(
                "{} {}",
                capitalised(t.replaces),
                replaced.entry.name
            ));
        }
        if let Some(instruction) = window
            .approval
            .as_ref()
            .and_then(|a| a.instruction.as_ref())
        {
            row.instruction = format!("{}: {instruction}", t.instruction);
        }
        for conflict in &window.conflicts {
            conflicts.push(conflict_line(lang, &entry.name, *conflict));
        }
        if authorised_by(window, as_of) {
            not_yet.push(row);
        } else {
            pending.push(row);
        }
    }
    let excluded = facts
        .list
        .excluded
        .iter()
        .map(|item| {
            let note = item.resolution_note.clone();
            row(lang, &item.entry, note.unwrap_or_else(|| "—".to_string()))
        })
        .collect();
    let alarms = facts
        .list
        .not_authorised
        .iter()
        .map(|item| {
            let reason = capitalised(alarm_reason(t, item.reason));
            if let Some(w) = item.window_id.as_ref().and_then(|w| facts.windows.get(w)) {
                for conflict in &w.conflicts {
                    conflicts.push(conflict_line(lang, &item.entry.name, *conflict));
                }
            }
            row(lang, &item.entry, reason)
        })
        .collect();
    let agreement = one_agreement(&facts.agreements, as_of);
    let (heading, reference) = heading(t, agreement);
    let event = facts.last_event.as_ref();
    let processor = &facts.processor;
    let controller = &facts.controller;
    let party = |name: &str, registration: String, extra: &[Option<&str>]| {
        let mut parts = vec![name.to_string()];
        if registration != "—" {
            parts.push(registration);
        }
        parts.extend(
            extra
                .iter()
                .flatten()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string()),
        );
        parts.join(" · ")
    };
    let cvr = |r: Option<&Registration>| match r {
        Some(r) if r.scheme == RegistrationScheme::Cvr => format!("CVR-nr. {}", r.number),
        other => text::registration(lang, other),
    };
    AnnexView {
        lang: lang.code(),
        t,
        css: ANNEX_CSS,
        title: format!("{heading} — {} / {}", controller.name, processor.name),
        heading,
        reference,
        controller: party(
            &controller.name,
            cvr(controller.registration.as_ref()),
            &[controller.contact_email.as_deref()],
        ),
        processor: party(
            &processor.name,
            cvr(processor.registration.as_ref()),
            &[
                Some(processor.address.as_str()),
                processor.contact_email.as_deref(),
            ],
        ),
        as_of: lang.datetime(as_of),
        agreements: facts
            .agreements
            .iter()
            .map(|a| agreement_line(lang, &a.agreement))
            .collect(),
        sections: vec![
            Section {
                id: "in-use",
                class: "in-use",
                title: t.in_use,
                help: "",
                rows: in_use,
            },
            Section {
                id: "not-yet-in-use",
                class: "not-yet-in-use",
                title: t.not_yet_in_use,
                help: t.not_yet_in_use_help,
                rows: not_yet,
            },
            Section {
                id: "pending",
                class: "pending",
                title: t.pending,
                help: t.pending_help,
                rows: pending,
            },
            Section {
                id: "excluded",
                class: "excluded",
                title: t.excluded,
                help: t.excluded_help,
                rows: excluded,
            },
            Section {
                id: "alarm",
                class: "alarm",
                title: t.alarm,
                help: t.alarm_help,
                rows: alarms,
            },
        ],
        conflicts,
        event_hash: event.map(|e| e.hash.clone()).unwrap_or_default(),
        event_at: event
            .map(|e| lang.datetime(e.occurred_at))
            .unwrap_or_default(),
        verify_url,
        checkpoint_note: facts
            .checkpoint
            .as_ref()
            .map(|c| c.note.clone())
            .unwrap_or_default(),
        checkpoint_size: facts
            .checkpoint
            .as_ref()
            .map(|c| c.size.to_string())
            .unwrap_or_default(),
        evidence_url,
    }
}

fn conflict_line(lang: Lang, name: &str, conflict: Conflict) -> String {
    format!("{name}: {}", text::conflict(lang, conflict))
}
