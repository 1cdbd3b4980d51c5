use super::error::FieldError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationScheme {
    Cvr,
    Vat,
    Other,
}

impl RegistrationScheme {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationScheme::Cvr => "cvr",
            RegistrationScheme::Vat => "vat",
            RegistrationScheme::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "cvr" => Some(RegistrationScheme::Cvr),
            "vat" => Some(RegistrationScheme::Vat),
            "other" => Some(RegistrationScheme::Other),
            _ => None,
        }
    }
}

/// A company registration. `cvr`: a Danish CVR number, 8 digits, no leading 0, passing the
/// modulus-11 check (weights 2,7,6,5,4,3,2,1). `vat`: an EU VAT number with its country
/// prefix in capitals (e.g. `DK13612870`). `other`: any non-blank number of another register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Registration {
    pub scheme: RegistrationScheme,
    #[schema(examples("35833684"))]
    pub number: String,
}

const CVR_WEIGHTS: [u32; 8] = [2, 7, 6, 5, 4, 3, 2, 1];

/// Checks a Danish CVR number: 8 digits, no leading zero, weighted sum divisible by 11.
pub fn check_cvr(number: &str) -> Result<(), String> {
    if number.len() != 8 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "a CVR number is exactly 8 digits; `{number}` is not"
        ));
    }
    if number.starts_with('0') {
        return Err("a CVR number never starts with 0".into());
    }
    let sum: u32 = number
        .bytes()
        .zip(CVR_WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    if !sum.is_multiple_of(11) {
        return Err(format!(
            "`{number}` fails the CVR modulus-11 check: check the digits against the CVR register"
        ));
    }
    Ok(())
}

/// Checks the shape of an EU VAT number: a two-letter country prefix and 2 to 13 letters or
/// digits; a Danish one (DK) carries a CVR number.
///
/// Works on characters, never byte offsets: any Unicode input gets an answer, never a panic.
pub fn check_vat(number: &str) -> Result<(), String> {
    let mut chars = number.chars();
    let prefix: String = chars.by_ref().take(2).collect();
    let rest = chars.as_str();
    let prefix_ok = prefix.len() == 2 && prefix.bytes().all(|b| b.is_ascii_uppercase());
    let rest_ok = (2..=13).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    if !(prefix_ok && rest_ok) {
        return Err(format!(
            "a VAT number starts with its country prefix in capitals, e.g. DK13612870; `{number}` does not"
        ));
    }
    if prefix == "DK" {
        check_cvr(rest)
            .map_err(|message| format!("a Danish VAT number is DK and a CVR number: {message}"))?;
    }
    Ok(())
}

impl Registration {
    /// Validates the number for its scheme; errors name the sub-field (`number`).
    pub fn validate(&self) -> Result<(), FieldError> {
        let checked = match self.scheme {
            RegistrationScheme::Cvr => check_cvr(&self.number),
            RegistrationScheme::Vat => check_vat(&self.number),
            RegistrationScheme::Other if self.number.trim().is_empty() => {
                Err("give the registration number, or leave out `registration`".into())
            }
            RegistrationScheme::Other => Ok(()),
        };
        checked.map_err(|message| FieldError::new("number", message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_cvr_numbers_pass() {
        for cvr in ["13612870", "35833684", "27720102", "29188386"] {
            assert_eq!(check_cvr(cvr), Ok(()), "{cvr}");
        }
    }

    #[test]
    fn bad_cvr_numbers_fail() {
        assert!(check_cvr("13612871").is_err(), "checksum");
        assert!(check_cvr("1361287").is_err(), "7 digits");
        assert!(check_cvr("136128700").is_err(), "9 digits");
        assert!(check_cvr("1361287a").is_err(), "letter");
        assert!(check_cvr("01234567").is_err(), "leading zero");
    }

    #[test]
    fn vat_numbers_need_a_prefix() {
        assert_eq!(check_vat("DK13612870"), Ok(()));
        assert_eq!(check_vat("IE9825613N"), Ok(()));
        assert!(check_vat("13612870").is_err());
        assert!(check_vat("dk13612870").is_err());
        assert!(check_vat("D").is_err());
        assert!(check_vat("DK13612871").is_err(), "DK carries a CVR number");
    }

    #[test]
    fn vat_numbers_with_non_ascii_characters_are_refused_not_panicked_on() {
        for number in [
            "aé123",
            "€1234",
            "D\u{301}K1234",
            "é",
            "DKé1234",
            "𝔇𝔎12345678",
            "",
        ] {
            assert!(check_vat(number).is_err(), "{number}");
        }
    }

    #[test]
    fn error_names_the_number_field() {
        let registration = Registration {
            scheme: RegistrationScheme::Cvr,
            number: "12345678".into(),
        };
        assert_eq!(
            registration.validate().map_err(|e| e.field),
            Err("number".into())
        );
    }
}
