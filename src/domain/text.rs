//! Rules for text and instants that every field shares: no control characters, dates a person
//! could mean. Applied to every request before a handler sees it (see `http::guard`).

use super::FieldError;
use chrono::{DateTime, Datelike, Utc};

/// Fields whose text may span lines: tab and newline are allowed there (CR is not: a form
/// that sends CRLF normalises it first).
pub const MULTI_LINE_FIELDS: &[&str] = &[
    "address",
    "purpose",
    "purpose_en",
    "summary",
    "summary_en",
    "responsibilities",
    "responsibilities_en",
    "reason",
    "note",
    "transfer_basis_note",
    "instruction",
    "description",
];

/// A character no text field accepts: C0 controls (tab, LF and CR only where the field is
/// multi-line), DEL, C1 controls and the non-characters U+FFFE and U+FFFF. They make XML
/// (the Atom feeds) invalid and are never typed by a person.
pub fn is_forbidden(c: char, multi_line: bool) -> bool {
    match c {
        '\t' | '\n' => !multi_line,
        '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => true,
        _ => false,
    }
}

/// The first forbidden character of `text` as `U+XXXX`, if any.
pub fn first_forbidden(text: &str, multi_line: bool) -> Option<String> {
    text.chars()
        .find(|c| is_forbidden(*c, multi_line))
        .map(|c| format!("U+{:04X}", u32::from(c)))
}

/// Refuses a control character in a field, saying which one and where it may appear.
pub fn check_text(field: &str, text: &str) -> Result<(), FieldError> {
    let multi_line = is_multi_line(field);
    match first_forbidden(text, multi_line) {
        None => Ok(()),
        Some(code) => Err(FieldError::new(
            field,
            if multi_line {
                format!("contains the control character {code}; only tab and newline are allowed")
            } else {
                format!(
                    "contains the control character {code}; this field is one line of plain text"
                )
            },
        )),
    }
}

/// Whether a field path (`subprocessor.purpose`, `notice_contacts[0].name`) ends in a
/// multi-line field.
pub fn is_multi_line(field: &str) -> bool {
    let last = field.rsplit('.').next().unwrap_or(field);
    let name = last.split('[').next().unwrap_or(last);
    MULTI_LINE_FIELDS.contains(&name)
}

/// Keeps only what XML 1.0 allows (Char production): for writers of stored text into XML.
pub fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || !(c < ' ' || c == '\u{fffe}' || c == '\u{ffff}')
    };
    if text.chars().all(allowed) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.chars().filter(|c| allowed(*c)).collect())
    }
}

/// Instants must fall in the years 1 to 9999: what both databases, RFC 3339 and people share.
pub fn check_instant(field: &str, at: DateTime<Utc>) -> Result<(), FieldError> {
    if (1..=9999).contains(&at.year()) {
        Ok(())
    } else {
        Err(FieldError::new(
            field,
            format!(
                "the year {} is out of range: give a date between the years 1 and 9999",
                at.year()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_with_the_field() {
        for text in [
            "a\u{0}b", "\u{1f}", "\u{7f}", "x\u{85}", "\u{9f}", "\u{fffe}", "\u{ffff}",
        ] {
            assert!(check_text("name", text).is_err(), "{text:?}");
            assert!(check_text("purpose", text).is_err(), "{text:?}");
        }
        assert_eq!(
            check_text("name", "a\nb").map_err(|e| e.field),
            Err("name".to_string())
        );
        assert_eq!(
            check_text("subprocessor.purpose", "line 1\nline 2\tx"),
            Ok(())
        );
        assert_eq!(
            check_text("name", "Ørsted A/S — 𝔘nicode ✓ e\u{301}"),
            Ok(())
        );
    }

    #[test]
    fn multi_line_fields_are_found_at_any_depth() {
        assert!(is_multi_line("purpose"));
        assert!(is_multi_line("subprocessor.address"));
        assert!(is_multi_line("items[3].note"));
        assert!(!is_multi_line("subprocessor.name"));
        assert!(!is_multi_line("notes"));
    }

    #[test]
    fn xml_safe_drops_what_xml_forbids_only() {
        assert_eq!(xml_safe("a\u{0}b\u{1}c\u{fffe}"), "abc");
        assert_eq!(xml_safe("tab\there\nÆ\u{85}"), "tab\there\nÆ\u{85}");
    }

    #[test]
    fn instants_outside_years_1_to_9999_are_refused() {
        let at = |text: &str| text.parse::<DateTime<Utc>>().ok();
        let ok = at("2026-11-24T10:00:00Z");
        assert!(ok.is_some_and(|t| check_instant("planned_from", t).is_ok()));
        let before_christ = DateTime::<Utc>::MIN_UTC;
        assert!(check_instant("planned_from", before_christ).is_err());
        assert!(check_instant("planned_from", DateTime::<Utc>::MAX_UTC).is_err());
    }
}
