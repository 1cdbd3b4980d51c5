use serde::{Deserialize, Serialize};

/// EU 27 plus Iceland, Liechtenstein and Norway, with the parts of member states that have
/// their own ISO codes: Åland (AX) and the outermost regions French Guiana (GF), Guadeloupe
/// (GP), Martinique (MQ), Réunion (RE), Mayotte (YT) and Saint-Martin (MF). Greenland (GL) is
/// not in the EEA.
pub const EEA: [&str; 37] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO", "AX", "GF",
    "GP", "MQ", "RE", "YT", "MF",
];

/// International organisations that may be named as a processing or access location. Their
/// codes have three capitals so they can never clash with an ISO 3166-1 alpha-2 code.
pub const INTERNATIONAL_ORGANISATIONS: [(&str, &str); 1] =
    [("EPO", "European Patent Organisation")];

/// Checks an ISO 3166-1 alpha-2 code, which must be given in capitals.
pub fn check_country(code: &str) -> Result<(), String> {
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(format!(
            "`{code}` is not an ISO 3166-1 alpha-2 code: use two capital letters such as DK or US"
        ));
    }
    isocountry::CountryCode::for_alpha2(code)
        .map(|_| ())
        .map_err(|_| format!("`{code}` is not an assigned ISO 3166-1 alpha-2 country code"))
}

/// Checks a place data may be processed at or accessed from: an ISO country code or an
/// international organisation's code such as `EPO`.
pub fn check_location(code: &str) -> Result<(), String> {
    if INTERNATIONAL_ORGANISATIONS.iter().any(|(c, _)| *c == code) {
        return Ok(());
    }
    check_country(code).map_err(|message| {
        format!(
            "{message} (or an international organisation: {})",
            INTERNATIONAL_ORGANISATIONS.map(|(c, _)| c).join(", ")
        )
    })
}

fn assigned_countries() -> Vec<String> {
    let letters = || 'A'..='Z';
    letters()
        .flat_map(|a| letters().map(move |b| format!("{a}{b}")))
        .filter(|code| check_country(code).is_ok())
        .collect()
}

/// The schema of a country code: exactly the codes [`check_country`] accepts, as an enum.
pub struct CountryCode;

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let codes = assigned_countries();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(format!(
                "ISO 3166-1 alpha-2, in capitals: one of the {} assigned codes (another two \
                 capitals, e.g. `XX`, is a field error, 422).",
                codes.len()
            )))
            .pattern(Some("^[A-Z]{2}$"))
            .enum_values(Some(codes))
            .examples(["DK"])
            .into()
    }
}

impl utoipa::ToSchema for CountryCode {}

/// The schema of a location: the codes [`check_location`] accepts.
pub struct LocationCode;

impl utoipa::PartialSchema for LocationCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut codes = assigned_countries();
        codes.extend(INTERNATIONAL_ORGANISATIONS.map(|(c, _)| c.to_string()));
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "An ISO 3166-1 alpha-2 country code in capitals, or an international \
                 organisation with an EU adequacy decision: `EPO` (European Patent \
                 Organisation). Anything else is a field error, 422.",
            ))
            .pattern(Some("^([A-Z]{2}|EPO)$"))
            .enum_values(Some(codes))
            .examples(["IE"])
            .into()
    }
}

impl utoipa::ToSchema for LocationCode {}

pub fn is_eea(code: &str) -> bool {
    EEA.contains(&code)
}

/// Derived: `eea` when every place the data goes is in the EEA: the entity's own country,
/// every processing and access location, and the same for each of its sub-processors; else
/// `third_country`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Eea,
    ThirdCountry,
}

impl Location {
    /// The location of a set of places (countries, international organisations).
    pub fn of<'a>(places: impl IntoIterator<Item = &'a str>) -> Location {
        if places.into_iter().all(is_eea) {
            Location::Eea
        } else {
            Location::ThirdCountry
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Location::Eea => "eea",
            Location::ThirdCountry => "third_country",
        }
    }

    pub fn parse(text: &str) -> Option<Location> {
        match text {
            "eea" => Some(Location::Eea),
            "third_country" => Some(Location::ThirdCountry),
            _ => None,
        }
    }
}

/// The kind of act an adequacy decision is: its official title starts "Commission Decision"
/// or "Commission Implementing Decision" (every one under the GDPR, and a few before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instrument {
    Decision,
    ImplementingDecision,
}

/// One EU adequacy decision under Art. 45 GDPR, as listed by the Commission
/// (commission.europa.eu, "Adequacy decisions"); numbers and dates from the Official Journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdequacyDecision {
    /// An ISO 3166-1 alpha-2 code, or an international organisation's code (see
    /// [`INTERNATIONAL_ORGANISATIONS`]).
    pub code: &'static str,
    pub name: &'static str,
    /// The decision's number in the Official Journal, e.g. `2023/1795`.
    pub number: &'static str,
    /// What kind of act it is, which its title names.
    pub instrument: Instrument,
    /// The day the Commission adopted it (ISO 8601).
    pub adopted: &'static str,
    /// Set when the decision covers only some recipients or transfers; an entry relying on it
    /// must state in its note that it is within this scope.
    pub scope: Option<&'static str>,
    /// The last day the decision applies, where it has a sunset clause (ISO 8601).
    pub valid_until: Option<&'static str>,
}

impl AdequacyDecision {
    /// How the decision is cited on pages and in notices, e.g. "decision 2023/1795 of
    /// 2023-07-10".
    pub fn citation(&self) -> String {
        let mut text = format!("decision {} of {}", self.number, self.adopted);
        if let Some(until) = self.valid_until {
            text.push_str(&format!(", valid until {until}"));
        }
        text
    }
}

/// The date the adequacy table below was last checked against the Commission's list.
pub const ADEQUACY_TABLE_AS_OF: &str = "2026-11-24";

pub const ADEQUACY_DECISIONS: [AdequacyDecision; 17] = [
    AdequacyDecision {
        code: "AD",
        name: "Andorra",
        number: "2010/625/EU",
        instrument: Instrument::Decision,
        adopted: "2010-10-19",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "AR",
        name: "Argentina",
        number: "2003/490/EC",
        instrument: Instrument::Decision,
        adopted: "2003-06-30",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "CA",
        name: "Canada",
        number: "2002/2/EC",
        instrument: Instrument::Decision,
        adopted: "2001-12-20",
        scope: Some("commercial organisations subject to PIPEDA"),
        valid_until: None,
    },
    AdequacyDecision {
        code: "CH",
        name: "Switzerland",
        number: "2000/518/EC",
        instrument: Instrument::Decision,
        adopted: "2000-07-26",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "FO",
        name: "Faroe Islands",
        number: "2010/146/EU",
        instrument: Instrument::Decision,
        adopted: "2010-03-05",
        scope: None,
        valid_until: None,
    },
    // Decision 2021/1772 was extended to 2025-12-27 in June 2025 and renewed on 2025-12-19
    // for six years (Commission press release of that day).
    AdequacyDecision {
        code: "GB",
        name: "United Kingdom",
        number: "2021/1772",
        instrument: Instrument::ImplementingDecision,
        adopted: "2021-06-28",
        scope: None,
        valid_until: Some("2031-12-27"),
    },
    AdequacyDecision {
        code: "GG",
        name: "Guernsey",
        number: "2003/821/EC",
        instrument: Instrument::Decision,
        adopted: "2003-11-21",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "IL",
        name: "Israel",
        number: "2011/61/EU",
        instrument: Instrument::Decision,
        adopted: "2011-01-31",
        scope: Some("automated international transfers of personal data"),
        valid_until: None,
    },
    AdequacyDecision {
        code: "IM",
        name: "Isle of Man",
        number: "2004/411/EC",
        instrument: Instrument::Decision,
        adopted: "2004-04-28",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "JE",
        name: "Jersey",
        number: "2008/393/EC",
        instrument: Instrument::Decision,
        adopted: "2008-05-08",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "JP",
        name: "Japan",
        number: "2019/419",
        instrument: Instrument::ImplementingDecision,
        adopted: "2019-01-23",
        scope: Some("business operators handling personal information under the APPI"),
        valid_until: None,
    },
    AdequacyDecision {
        code: "KR",
        name: "Republic of Korea",
        number: "2022/254",
        instrument: Instrument::ImplementingDecision,
        adopted: "2021-12-17",
        scope: Some(
            "recipients under PIPA, not credit information processed under the Credit \
             Information Act by entities supervised by the Financial Services Commission, not \
             religious organisations' missionary activities, not political parties' nomination \
             of candidates",
        ),
        valid_until: None,
    },
    AdequacyDecision {
        code: "NZ",
        name: "New Zealand",
        number: "2013/65/EU",
        instrument: Instrument::ImplementingDecision,
        adopted: "2012-12-19",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "UY",
        name: "Uruguay",
        number: "2012/484/EU",
        instrument: Instrument::ImplementingDecision,
        adopted: "2012-08-21",
        scope: None,
        valid_until: None,
    },
    AdequacyDecision {
        code: "US",
        name: "United States",
        number: "2023/1795",
        instrument: Instrument::ImplementingDecision,
        adopted: "2023-07-10",
        scope: Some("organisations certified under the EU-US Data Privacy Framework"),
        valid_until: None,
    },
    // OJ L, 2026/179, published 2026-01-28.
    AdequacyDecision {
        code: "BR",
        name: "Brazil",
        number: "2026/179",
        instrument: Instrument::ImplementingDecision,
        adopted: "2026-01-26",
        scope: None,
        valid_until: None,
    },
    // The first decision for an international organisation (OJ L, 2025/1382, 2025-07-18).
    AdequacyDecision {
        code: "EPO",
        name: "European Patent Organisation",
        number: "2025/1382",
        instrument: Instrument::ImplementingDecision,
        adopted: "2025-07-15",
        scope: None,
        valid_until: None,
    },
];

pub fn adequacy_decision(code: &str) -> Option<&'static AdequacyDecision> {
    ADEQUACY_DECISIONS.iter().find(|d| d.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eea_is_the_thirty_states_with_aland_and_the_outermost_regions() {
        assert_eq!(EEA.len(), 37);
        assert!(is_eea("DK") && is_eea("NO") && is_eea("LI") && is_eea("IS"));
        for region in ["AX", "GF", "GP", "MQ", "RE", "YT", "MF"] {
            assert!(is_eea(region), "{region}");
            assert!(check_country(region).is_ok(), "{region}");
        }
        assert!(!is_eea("GL") && !is_eea("GB") && !is_eea("CH") && !is_eea("EPO"));
        assert!(adequacy_decision("GL").is_none());
    }

    #[test]
    fn countries_must_be_assigned_capital_codes() {
        assert!(check_country("DK").is_ok());
        assert!(check_country("dk").is_err());
        assert!(check_country("XX").is_err());
        assert!(check_country("DNK").is_err());
    }

    #[test]
    fn a_location_may_be_an_international_organisation_but_a_country_may_not() {
        assert!(check_location("EPO").is_ok());
        assert!(check_location("IE").is_ok());
        assert!(check_location("epo").is_err());
        assert!(check_location("XX").is_err());
        assert!(check_country("EPO").is_err());
        // Three capitals never clash with an ISO alpha-2 code.
        for (code, _) in INTERNATIONAL_ORGANISATIONS {
            assert_eq!(code.len(), 3);
        }
    }

    #[test]
    fn location_is_third_country_when_any_place_is_outside() {
        assert_eq!(Location::of(["IE", "NL", "AX"]), Location::Eea);
        assert_eq!(Location::of(["IE", "US"]), Location::ThirdCountry);
        assert_eq!(Location::of(["EPO"]), Location::ThirdCountry);
        assert_eq!(Location::of(["GL"]), Location::ThirdCountry);
    }

    #[test]
    fn decisions_under_the_gdpr_are_implementing_decisions() {
        for decision in ADEQUACY_DECISIONS {
            // Art. 45(3) GDPR: the Commission decides "by means of an implementing act".
            if decision.adopted >= "2018-05-25" {
                assert_eq!(decision.instrument, Instrument::ImplementingDecision);
            }
        }
        let implementing: Vec<&str> = ADEQUACY_DECISIONS
            .iter()
            .filter(|d| {
                d.adopted < "2018-05-25" && d.instrument == Instrument::ImplementingDecision
            })
            .map(|d| d.code)
            .collect();
        assert_eq!(implementing, ["NZ", "UY"]);
    }

    #[test]
    fn every_table_row_is_dated_numbered_and_scoped_where_partial() {
        let expected: [(&str, &str, &str, bool); 17] = [
            ("AD", "2010/625/EU", "2010-10-19", false),
            ("AR", "2003/490/EC", "2003-06-30", false),
            ("CA", "2002/2/EC", "2001-12-20", true),
            ("CH", "2000/518/EC", "2000-07-26", false),
            ("FO", "2010/146/EU", "2010-03-05", false),
            ("GB", "2021/1772", "2021-06-28", false),
            ("GG", "2003/821/EC", "2003-11-21", false),
            ("IL", "2011/61/EU", "2011-01-31", true),
            ("IM", "2004/411/EC", "2004-04-28", false),
            ("JE", "2008/393/EC", "2008-05-08", false),
            ("JP", "2019/419", "2019-01-23", true),
            ("KR", "2022/254", "2021-12-17", true),
            ("NZ", "2013/65/EU", "2012-12-19", false),
            ("UY", "2012/484/EU", "2012-08-21", false),
            ("US", "2023/1795", "2023-07-10", true),
            ("BR", "2026/179", "2026-01-26", false),
            ("EPO", "2025/1382", "2025-07-15", false),
        ];
        for (code, number, adopted, scoped) in expected {
            let decision = adequacy_decision(code).expect(code);
            assert_eq!(
                (decision.number, decision.adopted),
                (number, adopted),
                "{code}"
            );
            assert_eq!(decision.scope.is_some(), scoped, "{code}");
            assert!(chrono::NaiveDate::parse_from_str(adopted, "%Y-%m-%d").is_ok());
            assert!(!is_eea(code), "{code}");
            assert!(check_location(code).is_ok(), "{code}");
        }
        assert_eq!(ADEQUACY_DECISIONS.len(), expected.len());
        assert_eq!(
            adequacy_decision("GB").and_then(|d| d.valid_until),
            Some("2031-12-27")
        );
        let korea = adequacy_decision("KR")
            .and_then(|d| d.scope)
            .unwrap_or_default();
        assert!(korea.contains("credit") && korea.contains("religious"));
        assert!(korea.contains("political parties"));
        assert_eq!(
            adequacy_decision("US").map(|d| d.citation()),
            Some("decision 2023/1795 of 2023-07-10".to_string())
        );
        assert!(adequacy_decision("CN").is_none());
    }
}
