use serde::{Deserialize, Serialize};

/// EU 27 plus Iceland, Liechtenstein and Norway.
pub const EEA: [&str; 30] = [
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE", "IT", "LV",
    "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE", "IS", "LI", "NO",
];

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

/// The schema of a country code: exactly the codes [`check_country`] accepts, as an enum.
pub struct CountryCode;

impl utoipa::PartialSchema for CountryCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let letters = || 'A'..='Z';
        let codes: Vec<String> = letters()
            .flat_map(|a| letters().map(move |b| format!("{a}{b}")))
            .filter(|code| check_country(code).is_ok())
            .collect();
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

/// The English short name of a country code, or the code itself if unknown.
pub fn country_name(code: &str) -> &str {
    isocountry::CountryCode::for_alpha2(code)
        .map(|c| c.name())
        .unwrap_or(code)
}

pub fn is_eea(code: &str) -> bool {
    EEA.contains(&code)
}

/// Derived: `eea` when every processing location is in the EEA (EU 27 + IS, LI, NO), else
/// `third_country`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Eea,
    ThirdCountry,
}

impl Location {
    pub fn of(processing_locations: &[String]) -> Location {
        if processing_locations.iter().all(|c| is_eea(c)) {
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

/// One EU adequacy decision under Art. 45 GDPR.
#[derive(Debug, Clone, Copy)]
pub struct AdequacyDecision {
    pub country: &'static str,
    /// Set when the decision covers only some recipients; the entry's note must state the scope.
    pub scope: Option<&'static str>,
    pub note: &'static str,
}

/// The date the adequacy table below was last checked against the Commission's list.
pub const ADEQUACY_TABLE_AS_OF: &str = "2026-11-01";

pub const ADEQUACY_DECISIONS: [AdequacyDecision; 16] = [
    AdequacyDecision {
        country: "AD",
        scope: None,
        note: "Andorra, decision 2010/625/EU",
    },
    AdequacyDecision {
        country: "AR",
        scope: None,
        note: "Argentina, decision 2003/490/EC",
    },
    AdequacyDecision {
        country: "CA",
        scope: Some("commercial organisations under PIPEDA"),
        note: "Canada, decision 2002/2/EC",
    },
    AdequacyDecision {
        country: "CH",
        scope: None,
        note: "Switzerland, decision 2000/518/EC",
    },
    AdequacyDecision {
        country: "FO",
        scope: None,
        note: "Faroe Islands, decision 2010/146/EU",
    },
    AdequacyDecision {
        country: "GB",
        scope: None,
        note: "United Kingdom, decision 2021/1772, renewed to 2031-12-27",
    },
    AdequacyDecision {
        country: "GG",
        scope: None,
        note: "Guernsey, decision 2003/821/EC",
    },
    AdequacyDecision {
        country: "IL",
        scope: None,
        note: "Israel, decision 2011/61/EU",
    },
    AdequacyDecision {
        country: "IM",
        scope: None,
        note: "Isle of Man, decision 2004/411/EC",
    },
    AdequacyDecision {
        country: "JE",
        scope: None,
        note: "Jersey, decision 2008/393/EC",
    },
    AdequacyDecision {
        country: "JP",
        scope: Some("business operators under the APPI"),
        note: "Japan, decision 2019/419",
    },
    AdequacyDecision {
        country: "KR",
        scope: Some("not credit information under the FSC"),
        note: "Republic of Korea, decision 2022/254",
    },
    AdequacyDecision {
        country: "NZ",
        scope: None,
        note: "New Zealand, decision 2013/65/EU",
    },
    AdequacyDecision {
        country: "UY",
        scope: None,
        note: "Uruguay, decision 2012/484/EU",
    },
    AdequacyDecision {
        country: "US",
        scope: Some("organisations certified under the EU-US Data Privacy Framework"),
        note: "United States, decision 2023/1795",
    },
    AdequacyDecision {
        country: "BR",
        scope: None,
        note: "Brazil, decision 2026/179",
    },
];

pub fn adequacy_decision(country: &str) -> Option<&'static AdequacyDecision> {
    ADEQUACY_DECISIONS.iter().find(|d| d.country == country)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eea_has_thirty_members_and_excludes_greenland() {
        assert_eq!(EEA.len(), 30);
        assert!(is_eea("DK") && is_eea("NO") && is_eea("LI") && is_eea("IS"));
        assert!(!is_eea("GL") && !is_eea("GB") && !is_eea("CH"));
        assert!(adequacy_decision("GL").is_none());
    }

    #[test]
    fn countries_must_be_assigned_capital_codes() {
        assert!(check_country("DK").is_ok());
        assert!(check_country("dk").is_err());
        assert!(check_country("XX").is_err());
        assert!(check_country("DNK").is_err());
        assert_eq!(country_name("IE"), "Ireland");
    }

    #[test]
    fn location_is_third_country_when_any_location_is_outside() {
        assert_eq!(Location::of(&["IE".into(), "NL".into()]), Location::Eea);
        assert_eq!(
            Location::of(&["IE".into(), "US".into()]),
            Location::ThirdCountry
        );
    }

    #[test]
    fn adequacy_table_scopes_the_partial_decisions() {
        for scoped in ["CA", "JP", "KR", "US"] {
            assert!(
                adequacy_decision(scoped).and_then(|d| d.scope).is_some(),
                "{scoped}"
            );
        }
        assert!(adequacy_decision("CH").and_then(|d| d.scope).is_none());
        assert!(adequacy_decision("CN").is_none());
    }
}
