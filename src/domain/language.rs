//! The two languages subreg speaks to people, and how each writes places, dates and times:
//! country names from CLDR, "24. november 2026 kl. 07.02" in Danish.

use super::geography::INTERNATIONAL_ORGANISATIONS;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Copenhagen;
use icu_experimental::displaynames::{multi::RegionDisplayNames, DisplayNamesOptions};
use icu_locale_core::{locale, subtags::Region};
use std::sync::OnceLock;

/// The language of a text for people: `da` (Danish) or `en` (English). `?lang=` takes exactly
/// these; anything else is refused with 400 (by the query extractor).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Da,
    En,
}

const DA_MONTHS: [&str; 12] = [
    "januar",
    "februar",
    "marts",
    "april",
    "maj",
    "juni",
    "juli",
    "august",
    "september",
    "oktober",
    "november",
    "december",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Danish names of the international organisations that may be a location (CLDR has none).
const DA_ORGANISATIONS: [(&str, &str); 1] = [("EPO", "Den Europæiske Patentorganisation")];

fn region_names(lang: Lang) -> Option<&'static RegionDisplayNames> {
    static DA: OnceLock<Option<RegionDisplayNames>> = OnceLock::new();
    static EN: OnceLock<Option<RegionDisplayNames>> = OnceLock::new();
    let (cell, locale) = match lang {
        Lang::Da => (&DA, locale!("da")),
        Lang::En => (&EN, locale!("en-GB")),
    };
    cell.get_or_init(|| {
        RegionDisplayNames::try_new(locale.into(), DisplayNamesOptions::default()).ok()
    })
    .as_ref()
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Da => "da",
            Lang::En => "en",
        }
    }

    /// The name of a country (ISO 3166-1 alpha-2) or international organisation in this
    /// language, as CLDR has it: "Færøerne", "Sydkorea". An unknown code is shown as itself.
    pub fn country(self, code: &str) -> String {
        let organisations = match self {
            Lang::Da => &DA_ORGANISATIONS,
            Lang::En => &INTERNATIONAL_ORGANISATIONS,
        };
        if let Some((_, name)) = organisations.iter().find(|(c, _)| *c == code) {
            return (*name).to_string();
        }
        Region::try_from_str(code)
            .ok()
            .and_then(|region| region_names(self)?.of(region))
            .unwrap_or(code)
            .to_string()
    }

    /// The name legal text uses: as [`Lang::country`], but Danish legal text names GB "Det
    /// Forenede Kongerige" (as the GDPR's Danish adequacy decisions do), not the everyday
    /// "Storbritannien" CLDR gives.
    pub fn country_in_legal_text(self, code: &str) -> String {
        match (self, code) {
            (Lang::Da, "GB") => "Det Forenede Kongerige".to_string(),
            _ => self.country(code),
        }
    }

    /// Country names in legal text, joined by commas.
    pub fn countries_in_legal_text(self, codes: &[String]) -> String {
        codes
            .iter()
            .map(|c| self.country_in_legal_text(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Country names joined by commas.
    pub fn countries(self, codes: &[String]) -> String {
        codes
            .iter()
            .map(|c| self.country(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// "24. november 2026" / "24 November 2026".
    pub fn day(self, date: NaiveDate) -> String {
        let month = date.month0() as usize;
        match self {
            Lang::Da => format!(
                "{}. {} {}",
                date.day(),
                DA_MONTHS.get(month).unwrap_or(&""),
                date.year()
            ),
            Lang::En => format!(
                "{} {} {}",
                date.day(),
                EN_MONTHS.get(month).unwrap_or(&""),
                date.year()
            ),
        }
    }

    /// The Danish calendar date of an instant, for dates whose time of day means nothing.
    pub fn date(self, at: DateTime<Utc>) -> String {
        self.day(at.with_timezone(&Copenhagen).date_naive())
    }

    /// An instant in Danish time as people write it: "24. november 2026 kl. 07.02 (dansk tid)"
    /// / "24 November 2026, 07:02 CET".
    pub fn datetime(self, at: DateTime<Utc>) -> String {
        let local = at.with_timezone(&Copenhagen);
        let day = self.day(local.date_naive());
        match self {
            Lang::Da => format!("{day} kl. {} (dansk tid)", local.format("%H.%M")),
            Lang::En => format!("{day}, {}", local.format("%H:%M %Z")),
        }
    }
}

/// A text the processor wrote, in the reader's language: the English version for English
/// readers when there is one, else the main text (which is every Danish reader's).
pub fn pick<'a>(lang: Lang, main: &'a str, english: Option<&'a str>) -> &'a str {
    match (lang, english) {
        (Lang::En, Some(english)) if !english.is_empty() => english,
        _ => main,
    }
}

/// The last day a deadline at 24:00 local time still includes: the day before the local date
/// of its instant.
pub fn last_day(closes_at: DateTime<Utc>) -> NaiveDate {
    let local = (closes_at - chrono::Duration::seconds(1)).with_timezone(&Copenhagen);
    local.date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn countries_are_named_as_cldr_names_them() {
        for (code, da, en) in [
            ("FO", "Færøerne", "Faroe Islands"),
            ("KR", "Sydkorea", "South Korea"),
            ("BR", "Brasilien", "Brazil"),
            ("CZ", "Tjekkiet", "Czechia"),
            ("US", "USA", "United States"),
            (
                "EPO",
                "Den Europæiske Patentorganisation",
                "European Patent Organisation",
            ),
        ] {
            assert_eq!(Lang::Da.country(code), da, "{code}");
            assert_eq!(Lang::En.country(code), en, "{code}");
        }
        assert_eq!(Lang::Da.country("GB"), "Storbritannien");
        assert_eq!(
            Lang::Da.country_in_legal_text("GB"),
            "Det Forenede Kongerige"
        );
        assert_eq!(Lang::En.country_in_legal_text("GB"), "United Kingdom");
        assert_eq!(Lang::Da.country("XX"), "XX");
        assert_eq!(Lang::Da.country("ÆØ"), "ÆØ");
    }

    #[test]
    fn times_are_written_as_danes_write_them() {
        let winter = Utc.with_ymd_and_hms(2026, 11, 24, 6, 2, 0).unwrap();
        assert_eq!(
            Lang::Da.datetime(winter),
            "24. november 2026 kl. 07.02 (dansk tid)"
        );
        assert_eq!(Lang::En.datetime(winter), "24 November 2026, 07:02 CET");
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap();
        assert_eq!(
            Lang::Da.datetime(summer),
            "1. juli 2026 kl. 12.00 (dansk tid)"
        );
        assert_eq!(Lang::En.datetime(summer), "1 July 2026, 12:00 CEST");
    }

    #[test]
    fn a_deadline_is_the_last_day_it_includes() {
        // 24:00 on 1 December in Copenhagen is 23:00 UTC that day.
        let closes = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
        assert_eq!(Lang::Da.day(last_day(closes)), "1. december 2026");
        assert_eq!(Lang::En.date(closes), "2 December 2026");
    }
}
