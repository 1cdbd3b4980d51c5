//! Danish and English for the HTML pages: the reader's language from `?lang=` or
//! `Accept-Language`, and the labels (country names and dates: `domain::language`).

use crate::domain::geography::Location;
pub use crate::domain::language::Lang;
use crate::domain::registration::{Registration, RegistrationScheme};
use crate::domain::subprocessor::TransferBasis;
use actix_web::http::header;
use actix_web::HttpRequest;

impl Lang {
    /// `?lang=` wins; otherwise the most preferred language of `Accept-Language`: Danish when
    /// that is Danish, English for everything else (the only two the pages speak).
    pub fn negotiate(req: &HttpRequest, explicit: Option<Lang>) -> Lang {
        if let Some(lang) = explicit {
            return lang;
        }
        let Some(accept) = req
            .headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Lang::En;
        };
        let mut best: Option<(f32, &str)> = None;
        for part in accept.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if tag.is_empty() || q <= 0.0 {
                continue;
            }
            // Ties keep the first: the order of the header breaks them.
            if best.is_none_or(|(best_q, _)| q > best_q) {
                best = Some((q, tag));
            }
        }
        match best {
            Some((_, tag)) if tag.to_ascii_lowercase().split('-').next() == Some("da") => Lang::Da,
            _ => Lang::En,
        }
    }

    pub fn labels(self) -> &'static Labels {
        match self {
            Lang::Da => &DA,
            Lang::En => &EN,
        }
    }

    pub fn registration(self, registration: Option<&Registration>) -> String {
        let l = self.labels();
        match registration {
            None => l.no_registration.to_string(),
            Some(r) => match r.scheme {
                RegistrationScheme::Cvr => format!("CVR {}", r.number),
                RegistrationScheme::Vat => format!("{} {}", l.vat, r.number),
                RegistrationScheme::Other => format!("{} {}", l.other_register, r.number),
            },
        }
    }

    pub fn location(self, location: Location) -> &'static str {
        let l = self.labels();
        match location {
            Location::Eea => l.eea,
            Location::ThirdCountry => l.outside_eea,
        }
    }

    pub fn transfer_basis(self, basis: Option<TransferBasis>) -> &'static str {
        let da = self == Lang::Da;
        match basis {
            None if da => "Ikke relevant (behandling inden for EØS)",
            None => "Not applicable (processing within the EEA)",
            Some(TransferBasis::AdequacyDecision) if da => "Tilstrækkelighedsafgørelse (art. 45)",
            Some(TransferBasis::AdequacyDecision) => "Adequacy decision (Art. 45)",
            Some(TransferBasis::StandardContractualClauses) if da => {
                "Standardkontraktbestemmelser (art. 46)"
            }
            Some(TransferBasis::StandardContractualClauses) => {
                "Standard contractual clauses (Art. 46)"
            }
            Some(TransferBasis::BindingCorporateRules) if da => {
                "Bindende virksomhedsregler (art. 47)"
            }
            Some(TransferBasis::BindingCorporateRules) => "Binding corporate rules (Art. 47)",
            Some(TransferBasis::CodeOfConduct) if da => "Godkendt adfærdskodeks (art. 46)",
            Some(TransferBasis::CodeOfConduct) => "Approved code of conduct (Art. 46)",
            Some(TransferBasis::Certification) if da => "Godkendt certificering (art. 46)",
            Some(TransferBasis::Certification) => "Approved certification (Art. 46)",
            Some(TransferBasis::Derogation) if da => "Undtagelser i særlige situationer (art. 49)",
            Some(TransferBasis::Derogation) => "Derogation for a specific situation (Art. 49)",
        }
    }
}

/// Every text the pages show, in one language.
pub struct Labels {
    pub subprocessors_of: &'static str,
    pub intro: &'static str,
    pub current_list: &'static str,
    pub no_entries: &'static str,
    /// Before the countries an entry's data is accessed from.
    pub accessed_from: &'static str,
    /// Before an entry's own sub-processors.
    pub own_subprocessors: &'static str,
    pub name: &'static str,
    pub registration: &'static str,
    pub address: &'static str,
    pub locations: &'static str,
    pub eea_status: &'static str,
    pub transfer_basis: &'static str,
    pub purpose: &'static str,
    pub contact: &'static str,
    pub eea: &'static str,
    pub outside_eea: &'static str,
    pub vat: &'static str,
    pub other_register: &'static str,
    pub no_registration: &'static str,
    pub announced: &'static str,
    pub no_announced: &'static str,
    pub change: &'static str,
    pub planned_from: &'static str,
    pub object_until: &'static str,
    pub prior_approval: &'static str,
    pub prior_approval_also: &'static str,
    pub not_planned: &'static str,
    pub kind_addition: &'static str,
    pub kind_replacement: &'static str,
    pub kind_modification: &'static str,
    pub kind_removal: &'static str,
    pub replaces: &'static str,
    pub history: &'static str,
    pub no_history: &'static str,
    pub effective: &'static str,
    pub blocked: &'static str,
    pub newer: &'static str,
    pub older: &'static str,
    pub follow: &'static str,
    pub atom_feed: &'static str,
    pub json: &'static str,
    pub csv: &'static str,
    pub language: &'static str,
    pub processors: &'static str,
    pub search: &'static str,
    pub search_label: &'static str,
    pub no_processors: &'static str,
    pub not_found: &'static str,
    pub not_found_help: &'static str,
    pub updated: &'static str,
    /// Before the processor's e-mail address at the top of its page.
    pub processor_contact: &'static str,
    /// The column with the day an entry came into use.
    pub in_use_since: &'static str,
    /// Between several adequacy decisions' places and their citations.
    pub decision_for: &'static str,
    pub follow_intro: &'static str,
    pub feed_title: &'static str,
    pub feed_what: &'static str,
    pub feed_how: &'static str,
    pub feed_outlook: &'static str,
    pub email_title: &'static str,
    pub email_what: &'static str,
    pub email_address: &'static str,
    pub email_frequency: &'static str,
    pub email_immediate: &'static str,
    pub email_daily: &'static str,
    pub email_subscribe: &'static str,
    pub email_controllers: &'static str,
    pub systems_title: &'static str,
    pub webhook_what: &'static str,
    pub webhook_docs: &'static str,
    pub webhook_docs_link: &'static str,
    pub data_exports: &'static str,
}

pub static EN: Labels = Labels {
    subprocessors_of: "Sub-processors of",
    intro: "The sub-processors this processor uses when processing personal data on behalf of its customers (the controllers), GDPR Article 28. The list is updated as changes take effect.",
    current_list: "Current sub-processors",
    no_entries: "The processor uses no sub-processors.",
    accessed_from: "Accessed from",
    own_subprocessors: "Its sub-processors",
    name: "Name",
    registration: "Registration",
    address: "Address",
    locations: "Processing locations",
    eea_status: "EEA",
    transfer_basis: "Transfer basis",
    purpose: "Description of the processing",
    contact: "Contact person (name, position, contact details)",
    eea: "Within the EEA",
    outside_eea: "Outside the EEA",
    vat: "VAT",
    other_register: "Reg. no.",
    no_registration: "No registration number",
    announced: "Announced changes",
    no_announced: "No changes are announced.",
    change: "Change",
    planned_from: "Planned from",
    object_until: "Latest objection deadline (each controller's follows from its agreement)",
    prior_approval: "Each controller's prior specific written approval is required",
    prior_approval_also: "controllers under specific authorisation: their prior specific written approval is required",
    not_planned: "not set",
    kind_addition: "Addition",
    kind_replacement: "Replacement",
    kind_modification: "Modification",
    kind_removal: "Removal",
    replaces: "replaces",
    history: "History of changes",
    no_history: "No changes have taken effect yet.",
    effective: "Effective",
    blocked: "Not in use yet: a customer has refused the change and the processor has not yet resolved it",
    newer: "Newer changes",
    older: "Older changes",
    follow: "Follow changes",
    atom_feed: "Atom feed",
    json: "JSON",
    csv: "CSV",
    language: "Dansk",
    processors: "Processors",
    search: "Search",
    search_label: "Name or CVR number",
    no_processors: "No processors match.",
    not_found: "Not found",
    not_found_help: "There is no processor at this address.",
    updated: "Last change",
    processor_contact: "Questions about this list: contact the processor at",
    in_use_since: "In use since",
    decision_for: "for",
    follow_intro: "You can follow this list without an account. Choose what suits you:",
    feed_title: "A news feed in your feed reader or Outlook",
    feed_what: "A feed is an address that a feed reader checks for you: every change to this list (announced, taken into use, withdrawn) appears as a new item, with the deadline for objections where there is one. No account, no login, and nobody learns who reads it.",
    feed_how: "Copy the feed's address below and add it in your feed reader (for example Feedly, Inoreader or Thunderbird). Most feed readers also find the feed when you give them this page's address.",
    feed_outlook: "In Outlook for Windows (classic Outlook): right-click the folder RSS Subscriptions, choose Add a New RSS Feed, and paste the feed's address.",
    email_title: "Follow changes by e-mail",
    email_what: "Get an e-mail when this list changes: for every change, or as one daily digest of the day's changes. You confirm the address with a link we send to it, and every e-mail has a link that unsubscribes at once; the address is deleted when you unsubscribe.",
    email_address: "Your e-mail address",
    email_frequency: "How often",
    email_immediate: "An e-mail for every change",
    email_daily: "A daily digest (only on days with changes)",
    email_subscribe: "Subscribe",
    email_controllers: "These e-mails are not notices under a data processing agreement. If your organisation is the processor's customer (a controller), the processor must notify the contacts your data processing agreement names of changes, in writing. If someone else should receive these notices, ask the processor",
    systems_title: "For your IT systems",
    webhook_what: "A controller with an agreement can have every change delivered to its own system, as a signed message (a webhook) to a receiving address (endpoint) it registers with its access token.",
    webhook_docs: "How to set it up is described for developers in subreg's API description, section \"webhooks\":",
    webhook_docs_link: "the API description (OpenAPI)",
    data_exports: "The whole list as data:",
};

pub static DA: Labels = Labels {
    subprocessors_of: "Underdatabehandlere anvendt af",
    intro: "De underdatabehandlere, som databehandleren anvender ved behandling af personoplysninger på vegne af sine kunder (de dataansvarlige), jf. databeskyttelsesforordningens artikel 28. Listen ajourføres løbende.",
    current_list: "Nuværende underdatabehandlere",
    no_entries: "Databehandleren anvender ingen underdatabehandlere.",
    accessed_from: "Tilgås fra",
    own_subprocessors: "Egne underdatabehandlere",
    name: "Navn",
    registration: "CVR-nr.",
    address: "Adresse",
    locations: "Lokalitet(er) for behandling",
    eea_status: "Inden for / uden for EØS",
    transfer_basis: "Overførselsgrundlag",
    purpose: "Beskrivelse af behandlingen",
    contact: "Kontaktperson (navn, stilling, kontaktoplysninger)",
    eea: "Inden for EØS",
    outside_eea: "Uden for EØS",
    vat: "Momsnr.",
    other_register: "Registreringsnr.",
    no_registration: "Intet CVR-nr.",
    announced: "Varslede ændringer",
    no_announced: "Der er ingen varslede ændringer.",
    change: "Ændring",
    planned_from: "Planlagt ibrugtagning",
    object_until: "Seneste indsigelsesfrist (den enkelte dataansvarliges frist følger af dennes aftale)",
    prior_approval: "Kræver forudgående specifik skriftlig godkendelse fra hver dataansvarlig",
    prior_approval_also: "dataansvarlige med specifik skriftlig godkendelse: kræver forudgående specifik skriftlig godkendelse",
    not_planned: "ikke fastsat",
    kind_addition: "Tilføjelse",
    kind_replacement: "Udskiftning",
    kind_modification: "Ændring",
    kind_removal: "Ophør",
    replaces: "erstatter",
    history: "Ændringshistorik",
    no_history: "Ingen ændringer er gennemført endnu.",
    effective: "Gennemført",
    blocked: "Endnu ikke taget i brug: en dataansvarlig har afvist ændringen, og databehandleren har endnu ikke afklaret det",
    newer: "Nyere ændringer",
    older: "Ældre ændringer",
    follow: "Følg ændringer",
    atom_feed: "Atom-feed",
    json: "JSON",
    csv: "CSV",
    language: "English",
    processors: "Databehandlere",
    search: "Søg",
    search_label: "Navn eller CVR-nummer",
    no_processors: "Søgningen gav intet resultat.",
    not_found: "Ikke fundet",
    not_found_help: "Der er ingen databehandler på denne adresse.",
    updated: "Seneste ændring",
    processor_contact: "Spørgsmål om listen: kontakt databehandleren på",
    in_use_since: "Taget i brug",
    decision_for: "for",
    follow_intro: "Du kan følge listen uden at oprette en konto. Vælg det, der passer dig:",
    feed_title: "Et nyhedsfeed i din feedlæser eller Outlook",
    feed_what: "Et feed er en adresse, som en feedlæser holder øje med for dig: hver ændring på listen (varslet, taget i brug, trukket tilbage) kommer som et nyt punkt, med indsigelsesfristen, hvor der er en. Det kræver ingen konto og intet login, og ingen får at vide, hvem der læser med.",
    feed_how: "Kopiér feedets adresse herunder, og tilføj den i din feedlæser (fx Feedly, Inoreader eller Thunderbird). De fleste feedlæsere finder også feedet, når du giver dem denne sides adresse.",
    feed_outlook: "I Outlook til Windows (klassisk Outlook): højreklik på mappen RSS-abonnementer, vælg Tilføj et nyt RSS-feed, og indsæt feedets adresse.",
    email_title: "Følg ændringer på e-mail",
    email_what: "Få en e-mail, når listen ændres: ved hver ændring eller som en daglig oversigt over dagens ændringer. Du bekræfter adressen med et link, som vi sender til den, og hver e-mail har et link, der afmelder med det samme; adressen slettes, når du afmelder dig.",
    email_address: "Din e-mailadresse",
    email_frequency: "Hvor ofte",
    email_immediate: "En e-mail ved hver ændring",
    email_daily: "En daglig oversigt (kun på dage med ændringer)",
    email_subscribe: "Tilmeld",
    email_controllers: "Disse e-mails er ikke underretninger efter en databehandleraftale. Er jeres organisation kunde hos databehandleren (dataansvarlig), skal databehandleren underrette de kontaktpersoner, som jeres databehandleraftale nævner, skriftligt om ændringer. Skal en anden hos jer have underretningerne, så spørg databehandleren",
    systems_title: "Til jeres it-systemer",
    webhook_what: "En dataansvarlig med en aftale kan få hver ændring leveret til sit eget system som en signeret besked (webhook) på en modtageadresse (endpoint), som den registrerer med sit adgangstoken.",
    webhook_docs: "Hvordan det sættes op, er beskrevet for udviklere i subregs API-beskrivelse, afsnittet »webhooks«:",
    webhook_docs_link: "API-beskrivelsen (OpenAPI)",
    data_exports: "Hele listen som data:",
};

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn with_accept(value: &str) -> Lang {
        Lang::negotiate(
            &TestRequest::default()
                .insert_header(("accept-language", value))
                .to_http_request(),
            None,
        )
    }

    #[test]
    fn language_follows_the_most_preferred_tag_and_the_override() {
        assert_eq!(with_accept("da"), Lang::Da);
        assert_eq!(with_accept("da-DK,en;q=0.8"), Lang::Da);
        assert_eq!(with_accept("en-US,da;q=0.9"), Lang::En);
        assert_eq!(with_accept("en;q=0.5, da;q=0.9"), Lang::Da);
        assert_eq!(with_accept("de"), Lang::En);
        assert_eq!(with_accept("da;q=0"), Lang::En);
        let req = TestRequest::default()
            .insert_header(("accept-language", "da"))
            .to_http_request();
        assert_eq!(Lang::negotiate(&req, Some(Lang::En)), Lang::En);
        assert_eq!(Lang::negotiate(&req, None), Lang::Da);
    }

    #[test]
    fn registrations_read_as_people_write_them() {
        let cvr = Registration {
            scheme: RegistrationScheme::Cvr,
            number: "13612870".into(),
        };
        assert_eq!(Lang::En.registration(Some(&cvr)), "CVR 13612870");
        assert_eq!(Lang::Da.registration(None), "Intet CVR-nr.");
        assert_eq!(
            Lang::Da.countries(&["IE".into(), "NL".into()]),
            "Irland, Nederlandene"
        );
        assert_eq!(Lang::En.countries(&["IE".into()]), "Ireland");
    }
}
