//! An adequacy decision cited as the Official Journal titles it, in the reader's language:
//! "Kommissionens gennemførelsesafgørelse (EU) 2023/1795 af 10. juli 2023".

use super::i18n::Lang;
use crate::domain::geography::{AdequacyDecision, Instrument};
use chrono::NaiveDate;

/// The act's title, number and date; a sunset clause is named with its last day.
pub fn citation(lang: Lang, decision: &AdequacyDecision) -> String {
    let date = |iso: &str| {
        NaiveDate::parse_from_str(iso, "%Y-%m-%d")
            .map(|d| lang.day(d))
            .unwrap_or_else(|_| iso.to_string())
    };
    // Numbers from 2015 on carry no suffix and are written "(EU) 2023/1795"; older ones end in
    // /EC (Danish /EF) or /EU.
    let number = match decision.number.rsplit_once('/') {
        Some((rest, "EC")) if lang == Lang::Da => format!("{rest}/EF"),
        Some((_, "EC" | "EU")) => decision.number.to_string(),
        _ => format!("(EU) {}", decision.number),
    };
    let title = match (lang, decision.instrument) {
        (Lang::Da, Instrument::ImplementingDecision) => "Kommissionens gennemførelsesafgørelse",
        // Danish called a Commission decision "beslutning" before the Lisbon Treaty (the /EF
        // numbers) and "afgørelse" after it.
        (Lang::Da, Instrument::Decision) if decision.number.ends_with("/EC") => {
            "Kommissionens beslutning"
        }
        (Lang::Da, Instrument::Decision) => "Kommissionens afgørelse",
        (Lang::En, Instrument::ImplementingDecision) => "Commission Implementing Decision",
        (Lang::En, Instrument::Decision) => "Commission Decision",
    };
    let of = match lang {
        Lang::Da => "af",
        Lang::En => "of",
    };
    let mut text = format!("{title} {number} {of} {}", date(decision.adopted));
    if let Some(until) = decision.valid_until {
        let label = match lang {
            Lang::Da => "gyldig til og med",
            Lang::En => "valid until",
        };
        text.push_str(&format!(", {label} {}", date(until)));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geography::adequacy_decision;

    fn cite(lang: Lang, code: &str) -> String {
        adequacy_decision(code)
            .map(|d| citation(lang, d))
            .unwrap_or_default()
    }

    #[test]
    fn decisions_are_cited_as_the_official_journal_titles_them() {
        assert_eq!(
            cite(Lang::Da, "US"),
            "Kommissionens gennemførelsesafgørelse (EU) 2023/1795 af 10. juli 2023"
        );
        assert_eq!(
            cite(Lang::En, "US"),
            "Commission Implementing Decision (EU) 2023/1795 of 10 July 2023"
        );
        assert_eq!(
            cite(Lang::Da, "CH"),
            "Kommissionens beslutning 2000/518/EF af 26. juli 2000"
        );
        assert_eq!(
            cite(Lang::En, "CH"),
            "Commission Decision 2000/518/EC of 26 July 2000"
        );
        assert_eq!(
            cite(Lang::Da, "AD"),
            "Kommissionens afgørelse 2010/625/EU af 19. oktober 2010"
        );
        assert_eq!(
            cite(Lang::Da, "UY"),
            "Kommissionens gennemførelsesafgørelse 2012/484/EU af 21. august 2012"
        );
        assert_eq!(
            cite(Lang::Da, "GB"),
            "Kommissionens gennemførelsesafgørelse (EU) 2021/1772 af 28. juni 2021, \
             gyldig til og med 27. december 2031"
        );
        assert_eq!(
            cite(Lang::En, "EPO"),
            "Commission Implementing Decision (EU) 2025/1382 of 15 July 2025"
        );
    }
}
