//! The annex's own wording in Danish and English (the reviewed Danish of DANISH.md, Bilag B's
//! column names and Annex IV's contact person) and its dates: a date alone where the time of
//! day means nothing, a deadline as the end of its last day.

use super::i18n::Lang;
use crate::domain::change::Conflict;
use crate::domain::registration::{Registration, RegistrationScheme};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Europe::Copenhagen;

pub struct AnnexLabels {
    /// After the agreement's `annex_name`: "Bilag B – Liste over godkendte underdatabehandlere".
    pub subject: &'static str,
    /// The heading when the annex covers several agreements.
    pub generic_title: &'static str,
    /// The legal reference under Datatilsynet's standard clauses (an annex named "Bilag B").
    pub reference_datatilsynet: &'static str,
    /// The legal reference under the Commission's clauses (an annex named "Annex IV").
    pub reference_commission: &'static str,
    /// The legal reference under any other agreement, before its annex's name.
    pub reference_other: &'static str,
    pub controller: &'static str,
    pub processor: &'static str,
    pub as_of: &'static str,
    pub agreements: &'static str,
    pub agreement: &'static str,
    pub concluded: &'static str,
    pub general: &'static str,
    pub specific: &'static str,
    pub notice_days: &'static str,
    pub terminated: &'static str,
    pub columns: [&'static str; 7],
    pub in_use: &'static str,
    pub not_yet_in_use: &'static str,
    pub not_yet_in_use_help: &'static str,
    pub pending: &'static str,
    pub pending_help: &'static str,
    pub excluded: &'static str,
    pub excluded_help: &'static str,
    pub conflicts: &'static str,
    pub conflicts_help: &'static str,
    pub alarm: &'static str,
    pub alarm_help: &'static str,
    pub none: &'static str,
    pub no_subprocessors: &'static str,
    pub eea: &'static str,
    pub outside_eea: &'static str,
    pub vat: &'static str,
    pub other_register: &'static str,
    pub at_conclusion: &'static str,
    pub approval_of: &'static str,
    pub late: &'static str,
    pub tacit: &'static str,
    pub notified: &'static str,
    pub deadline_ended: &'static str,
    pub deadline_ends: &'static str,
    pub requested: &'static str,
    pub needs_specific: &'static str,
    pub planned: &'static str,
    pub objected_on: &'static str,
    pub refused_not_in_use: &'static str,
    pub instruction: &'static str,
    pub removal: &'static str,
    pub modification: &'static str,
    pub replaces: &'static str,
    pub objected: &'static str,
    pub not_approved: &'static str,
    pub in_use_early: &'static str,
    pub in_use_over_refusal: &'static str,
    pub conflict_third_country: &'static str,
    pub conflict_planned_early: &'static str,
    pub conflict_location: &'static str,
    pub conflict_derogation: &'static str,
    pub evidence: &'static str,
    pub evidence_help: &'static str,
    pub no_events: &'static str,
    pub event_at: &'static str,
}

pub static DA: AnnexLabels = AnnexLabels {
    subject: "Liste over godkendte underdatabehandlere",
    generic_title: "Liste over godkendte underdatabehandlere",
    reference_datatilsynet: "Underdatabehandlere godkendt i henhold til databehandleraftalen (Datatilsynets standardkontraktbestemmelser, bilag B), jf. databeskyttelsesforordningens artikel 28, stk. 2 og 4.",
    reference_commission: "Underdatabehandlere godkendt i henhold til databehandleraftalen (bilag IV til Kommissionens standardkontraktbestemmelser, gennemførelsesafgørelse (EU) 2021/915), jf. databeskyttelsesforordningens artikel 28, stk. 2 og 4.",
    reference_other: "Underdatabehandlere godkendt i henhold til databehandleraftalen, jf. databeskyttelsesforordningens artikel 28, stk. 2 og 4; aftalens bilag:",
    controller: "Dataansvarlig",
    processor: "Databehandler",
    as_of: "Opgjort pr.",
    agreements: "Databehandleraftale",
    agreement: "Databehandleraftale",
    concluded: "indgået",
    general: "generel skriftlig godkendelse",
    specific: "specifik skriftlig godkendelse",
    notice_days: "dages varsel",
    terminated: "ophører",
    columns: [
        "Navn",
        "CVR-nr.",
        "Adresse",
        "Beskrivelse af behandlingen",
        "Kontaktperson (navn, stilling, kontaktoplysninger)",
        "Lokalitet(er) for behandling og overførselsgrundlag",
        "Godkendelse / status",
    ],
    in_use: "Godkendte underdatabehandlere i brug",
    not_yet_in_use: "Godkendt, endnu ikke taget i brug",
    not_yet_in_use_help: "Den dataansvarlige har godkendt disse underdatabehandlere; databehandleren har endnu ikke taget dem i brug.",
    pending: "Varslede underdatabehandlere, der endnu ikke er godkendt",
    pending_help: "Databehandleren har varslet disse underdatabehandlere; de må ikke tages i brug, før de er godkendt.",
    excluded: "Udelukket for den dataansvarlige",
    excluded_help: "Databehandleren anvender ikke disse underdatabehandlere ved behandling af den dataansvarliges personoplysninger.",
    conflicts: "Konflikter med aftalens vilkår",
    conflicts_help: "Forhold ved de varslede underdatabehandlere, som aftalens vilkår ikke tillader uden den dataansvarliges godkendelse.",
    alarm: "I brug, men IKKE godkendt",
    alarm_help: "Databehandleren anvender disse underdatabehandlere, men den dataansvarlige har ikke godkendt dem.",
    none: "Ingen.",
    no_subprocessors: "Databehandleren anvender ingen underdatabehandlere.",
    eea: "inden for EØS",
    outside_eea: "uden for EØS",
    vat: "Momsnr.",
    other_register: "Registreringsnr.",
    at_conclusion: "ved aftalens indgåelse den",
    approval_of: "specifik skriftlig godkendelse af",
    late: "efter fristen",
    tacit: "stiltiende samtykke – ingen indsigelse inden for fristen",
    notified: "varslet",
    deadline_ended: "fristen udløb",
    deadline_ends: "fristen udløber ved udgangen af",
    requested: "anmodning modtaget",
    needs_specific: "Kræver forudgående specifik skriftlig godkendelse",
    planned: "planlagt ibrugtagning",
    objected_on: "den dataansvarlige har gjort indsigelse den",
    refused_not_in_use: "ikke taget i brug",
    instruction: "Dokumenteret instruks",
    removal: "Varslet ophør",
    modification: "Varslet ændring",
    replaces: "erstatter",
    objected: "den dataansvarlige har gjort indsigelse",
    not_approved: "ikke godkendt – forudgående specifik skriftlig godkendelse mangler",
    in_use_early: "taget i brug før indsigelsesfristens udløb",
    in_use_over_refusal: "taget i brug af databehandleren trods den dataansvarliges afvisning, uden en løsning",
    conflict_third_country: "behandling uden for EØS, som aftalen ikke tillader",
    conflict_planned_early: "planlagt taget i brug før indsigelsesfristens udløb",
    conflict_location: "behandling i et land uden for aftalens tilladte lokaliteter",
    conflict_derogation: "overførsel på grundlag af en undtagelse (artikel 49), som ikke kan bære en løbende overførsel",
    evidence: "Dokumentation",
    evidence_help: "Dette bilag afspejler databehandlerens hændelseslog til og med hændelsen nedenfor; hændelsesloggen kan efterprøves på",
    no_events: "Hændelsesloggen havde ingen hændelser på dette tidspunkt.",
    event_at: "Seneste hændelse",
};

pub static EN: AnnexLabels = AnnexLabels {
    subject: "List of authorised sub-processors",
    generic_title: "List of authorised sub-processors",
    reference_datatilsynet: "Sub-processors authorised under the data processing agreement (the Danish Data Protection Agency's standard contractual clauses, Appendix B), cf. GDPR Article 28(2) and (4).",
    reference_commission: "Sub-processors authorised under the data processing agreement (Annex IV of the Commission's standard contractual clauses, Implementing Decision (EU) 2021/915), cf. GDPR Article 28(2) and (4).",
    reference_other: "Sub-processors authorised under the data processing agreement, cf. GDPR Article 28(2) and (4); the agreement's annex:",
    controller: "Controller",
    processor: "Processor",
    as_of: "As of",
    agreements: "Data processing agreement",
    agreement: "Data processing agreement",
    concluded: "concluded",
    general: "general written authorisation",
    specific: "specific written authorisation",
    notice_days: "days' notice",
    terminated: "ends",
    columns: [
        "Name",
        "Registration no.",
        "Address",
        "Description of processing",
        "Contact person (name, position, contact details)",
        "Processing locations and transfer basis",
        "Authorisation / status",
    ],
    in_use: "Authorised sub-processors in use",
    not_yet_in_use: "Authorised, not yet in use",
    not_yet_in_use_help: "The controller has authorised these sub-processors; the processor has not taken them into use yet.",
    pending: "Announced sub-processors not yet authorised",
    pending_help: "The processor has announced these sub-processors; they may not be used before they are authorised.",
    excluded: "Excluded for the controller",
    excluded_help: "The processor does not use these sub-processors for the controller's personal data.",
    conflicts: "Conflicts with the agreement's terms",
    conflicts_help: "Facts about the announced sub-processors that the agreement's terms do not allow without the controller's approval.",
    alarm: "In use but NOT authorised",
    alarm_help: "The processor uses these sub-processors, but the controller has not authorised them.",
    none: "None.",
    no_subprocessors: "The processor uses no sub-processors.",
    eea: "within the EEA",
    outside_eea: "outside the EEA",
    vat: "VAT no.",
    other_register: "Registration no.",
    at_conclusion: "on the conclusion of the agreement on",
    approval_of: "specific written approval of",
    late: "after the deadline",
    tacit: "tacit consent – no objection within the deadline",
    notified: "notified",
    deadline_ended: "the deadline ended",
    deadline_ends: "the deadline ends at the end of",
    requested: "request received",
    needs_specific: "Requires prior specific written approval",
    planned: "planned start of use",
    objected_on: "the controller objected on",
    refused_not_in_use: "not taken into use",
    instruction: "Documented instruction",
    removal: "Announced end of use",
    modification: "Announced change",
    replaces: "replaces",
    objected: "the controller objected",
    not_approved: "not approved – prior specific written approval is missing",
    in_use_early: "taken into use before the objection deadline ended",
    in_use_over_refusal: "taken into use by the processor over the controller's refusal, without a resolution",
    conflict_third_country: "processing outside the EEA, which the agreement does not allow",
    conflict_planned_early: "planned to be used before the objection deadline ends",
    conflict_location: "processing in a country outside the agreement's allowed locations",
    conflict_derogation: "a transfer based on a derogation (Article 49), which cannot carry an ongoing transfer",
    evidence: "Evidence",
    evidence_help: "This annex reflects the processor's evidence log up to the event below; the log can be verified at",
    no_events: "The evidence log had no events at this time.",
    event_at: "Last event",
};

pub fn labels(lang: Lang) -> &'static AnnexLabels {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
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

/// "24. november 2026" / "24 November 2026".
pub fn day(lang: Lang, date: NaiveDate) -> String {
    let month = date.month0() as usize;
    match lang {
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

/// The Danish calendar date of an instant.
pub fn date(lang: Lang, at: DateTime<Utc>) -> String {
    day(lang, at.with_timezone(&Copenhagen).date_naive())
}

/// The last day a deadline at 24:00 local time still includes: the day before the local date
/// of its instant.
pub fn last_day(closes_at: DateTime<Utc>) -> NaiveDate {
    let local = (closes_at - chrono::Duration::seconds(1)).with_timezone(&Copenhagen);
    local.date_naive()
}

/// "24. november 2026 kl. 13.05 (dansk tid)" / "24 November 2026, 13:05 (Danish time)".
pub fn moment(lang: Lang, at: DateTime<Utc>) -> String {
    let local = at.with_timezone(&Copenhagen);
    let d = day(lang, local.date_naive());
    match lang {
        Lang::Da => format!("{d} kl. {} (dansk tid)", local.format("%H.%M")),
        Lang::En => format!("{d}, {} (Danish time)", local.format("%H:%M")),
    }
}

/// The registration as the CVR-nr. column shows it: a CVR number alone, another register
/// named.
pub fn registration(lang: Lang, registration: Option<&Registration>) -> String {
    let t = labels(lang);
    match registration {
        None => "—".to_string(),
        Some(r) => match r.scheme {
            RegistrationScheme::Cvr => r.number.clone(),
            RegistrationScheme::Vat => format!("{} {}", t.vat, r.number),
            RegistrationScheme::Other => format!("{} {}", t.other_register, r.number),
        },
    }
}

pub fn conflict(lang: Lang, conflict: Conflict) -> &'static str {
    let t = labels(lang);
    match conflict {
        Conflict::ThirdCountryForbidden => t.conflict_third_country,
        Conflict::PlannedBeforeWindowCloses => t.conflict_planned_early,
        Conflict::LocationNotAllowed => t.conflict_location,
        Conflict::DerogationForOngoingTransfer => t.conflict_derogation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_deadline_is_the_last_day_it_includes() {
        // 24:00 on 1 December in Copenhagen is 23:00 UTC that day.
        let closes = Utc.with_ymd_and_hms(2026, 12, 1, 23, 0, 0).unwrap();
        assert_eq!(day(Lang::Da, last_day(closes)), "1. december 2026");
        assert_eq!(date(Lang::En, closes), "2 December 2026");
        let noon = Utc.with_ymd_and_hms(2026, 11, 24, 6, 2, 0).unwrap();
        assert_eq!(
            moment(Lang::Da, noon),
            "24. november 2026 kl. 07.02 (dansk tid)"
        );
    }
}
