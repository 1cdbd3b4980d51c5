//! Property tests of every validator and parser a request can reach, fed with arbitrary
//! Unicode: astral characters, combining marks, controls, noncharacters, near-valid values.
//!
//! The one property every input must keep: no panic, and either `Ok` or an error that names
//! a field the caller sent.
//!
//! Validators live in `domain`, parsers of request details in `http`, `notify` and `store`:
//! this module sits at the crate root so the domain keeps no path to those layers.

use crate::domain::agreement::{self, AgreementInput, Authorisation, ThirdCountryTransfers};
use crate::domain::authorised::AuthorisedBy;
use crate::domain::change::{self, ChangeInput, ChangeKind};
use crate::domain::error::DomainError;
use crate::domain::event::EventType;
use crate::domain::geography;
use crate::domain::language::Lang;
use crate::domain::party::{self, OrganisationInput};
use crate::domain::registration::{self, Registration, RegistrationScheme};
use crate::domain::subprocessor::{
    self, Contact, SubSubprocessorInput, SubprocessorInput, TransferBasis,
};
use crate::domain::webhook;
use crate::domain::window::{self, Decision, WindowFacts, WindowState};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;

/// Characters a fuzzer reaches for: ASCII, C0/C1 controls, DEL, noncharacters, combining
/// marks, multi-byte letters, astral code points (emoji and the supplementary planes).
fn nasty_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range('a', 'z'),
        2 => proptest::char::range('A', 'Z'),
        2 => proptest::char::range('0', '9'),
        2 => select(vec![' ', '-', '.', '@', '/', '%', '"', '\'', '<', '&', ';', '=', '_', ':', '+']),
        2 => proptest::char::range('\u{0}', '\u{1f}'),
        1 => proptest::char::range('\u{7f}', '\u{9f}'),
        1 => select(vec!['\u{fffe}', '\u{ffff}', '\u{feff}', '\u{200b}', '\u{2028}', '\u{a0}']),
        2 => proptest::char::range('\u{300}', '\u{36f}'),
        2 => select(vec!['é', 'ø', 'Æ', 'ß', '€', 'ı', 'İ', 'ﬃ', 'Ω', '中']),
        2 => proptest::char::range('\u{1f300}', '\u{1f64f}'),
        1 => proptest::char::range('\u{10000}', '\u{10ffff}'),
        1 => any::<char>(),
    ]
}

/// Up to 40 nasty characters.
fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(nasty_char(), 0..40).prop_map(|chars| chars.into_iter().collect())
}

/// A value that is valid except for what `text()` appends or inserts: reaches the checks
/// behind a validator's first gate.
fn near(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    (select(valid), text(), any::<prop::sample::Index>()).prop_map(|(valid, noise, at)| {
        let chars: Vec<char> = valid.chars().collect();
        let split = at.index(chars.len() + 1);
        let head: String = chars.iter().take(split).collect();
        let tail: String = chars.iter().skip(split).collect();
        format!("{head}{noise}{tail}")
    })
}

fn some_text() -> impl Strategy<Value = Option<String>> {
    prop::option::weighted(0.8, text())
}

/// Forbidden in every text field (issue 8, item 2): C0 controls but tab and newline, DEL, C1
/// controls, U+FFFE and U+FFFF.
fn forbidden_control() -> impl Strategy<Value = char> {
    prop_oneof![
        proptest::char::range('\u{0}', '\u{8}'),
        proptest::char::range('\u{b}', '\u{1f}'),
        proptest::char::range('\u{7f}', '\u{9f}'),
        select(vec!['\u{fffe}', '\u{ffff}']),
    ]
}

fn registration() -> impl Strategy<Value = Registration> {
    (
        select(vec![
            RegistrationScheme::Cvr,
            RegistrationScheme::Vat,
            RegistrationScheme::Other,
        ]),
        prop_oneof![
            text(),
            near(&["13612870", "35833684", "DK13612870", "IE9825613N"]),
        ],
    )
        .prop_map(|(scheme, number)| Registration { scheme, number })
}

fn country() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        near(&["DK", "US", "IE", "CH", "GB", "EPO", "AX", "IN"])
    ]
}

fn places() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::of(proptest::collection::vec(country(), 0..4))
}

/// Sub-sub-processor lists, sometimes past the bound.
fn sub_subprocessors() -> impl Strategy<Value = Option<Vec<SubSubprocessorInput>>> {
    let one = (
        some_text(),
        prop::option::of(country()),
        places(),
        places(),
        some_text(),
    )
        .prop_map(
            |(name, country, processing_locations, access_locations, purpose)| {
                SubSubprocessorInput {
                    purpose_en: name.clone(),
                    name,
                    country,
                    processing_locations,
                    access_locations,
                    purpose,
                }
            },
        )
        .boxed();
    prop::option::of(prop_oneof![
        4 => proptest::collection::vec(one.clone(), 0..3),
        1 => proptest::collection::vec(one, 49..52),
    ])
}

fn email() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        near(&["dpo@example.com", "a.b+c@sub.example.dk"]),
        (text(), text()).prop_map(|(local, domain)| format!("{local}@{domain}")),
    ]
}

fn transfer_basis() -> impl Strategy<Value = Option<TransferBasis>> {
    prop::option::of(select(TransferBasis::ALL.to_vec()))
}

/// Instants across the years a request may carry (1..=9999), as RFC 3339 allows them.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let first = Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap().timestamp();
    let last = Utc
        .with_ymd_and_hms(9999, 12, 31, 23, 59, 59)
        .unwrap()
        .timestamp();
    (first..=last).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap()
}

fn subprocessor_input() -> impl Strategy<Value = SubprocessorInput> {
    subprocessor_input_with(registration().boxed())
}

fn subprocessor_input_with(
    registration: BoxedStrategy<Registration>,
) -> impl Strategy<Value = SubprocessorInput> {
    (
        some_text(),
        prop::option::of(registration),
        some_text(),
        prop::option::of(country()),
        places(),
        transfer_basis(),
        some_text(),
        some_text(),
        prop::option::of((some_text(), some_text(), prop::option::of(email()))),
        places(),
        sub_subprocessors(),
    )
        .prop_map(
            |(
                name,
                registration,
                address,
                country,
                locations,
                basis,
                note,
                purpose,
                contact,
                access,
                subs,
            )| {
                SubprocessorInput {
                    responsibilities_en: address.clone(),
                    name,
                    registration,
                    address,
                    country,
                    processing_locations: locations,
                    access_locations: access,
                    sub_subprocessors: subs,
                    transfer_basis: basis,
                    responsibilities: note.clone(),
                    purpose_en: purpose.clone().map(|p| format!("{p} (en)")),
                    transfer_basis_note: note,
                    purpose,
                    contact: contact.map(|(name, position, email)| Contact {
                        name,
                        position,
                        email,
                    }),
                }
            },
        )
}

fn organisation_input(
    registration: BoxedStrategy<Registration>,
) -> impl Strategy<Value = OrganisationInput> {
    (
        prop::option::of(prop_oneof![text(), near(&["timengo-dpg", "ab"])]),
        some_text(),
        prop::option::of(registration),
        some_text(),
        prop::option::of(country()),
        prop::option::of(email()),
    )
        .prop_map(
            |(id, name, registration, address, country, contact_email)| OrganisationInput {
                id,
                name,
                registration,
                address,
                country,
                contact_email,
            },
        )
}

/// Checks the shape every validation error must have: at least one field error, each naming
/// a field the caller can find in its request.
fn assert_names_fields(error: &DomainError, known: &[&str]) -> Result<(), TestCaseError> {
    let DomainError::Invalid(errors) = error;
    prop_assert!(!errors.is_empty(), "an error without a field");
    for error in errors {
        // `processing_locations[2]`, `event_types[0]`: the name before the index is known.
        let base = error.field.split('[').next().unwrap_or_default();
        prop_assert!(
            known.contains(&error.field.as_str()) || known.contains(&base),
            "unexpected field `{}` ({})",
            error.field,
            error.message
        );
        prop_assert!(!error.message.trim().is_empty(), "empty message");
    }
    Ok(())
}

const SUBPROCESSOR_FIELDS: &[&str] = &[
    "name",
    "registration.number",
    "address",
    "country",
    "purpose",
    "purpose_en",
    "responsibilities",
    "responsibilities_en",
    "transfer_basis",
    "transfer_basis_note",
    "processing_locations",
    "access_locations",
    "sub_subprocessors",
    "contact.name",
    "contact.position",
    "contact.email",
];

const ORGANISATION_FIELDS: &[&str] = &[
    "id",
    "name",
    "registration.number",
    "address",
    "country",
    "contact_email",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn cvr_check_never_panics_and_passes_only_eight_digits(number in prop_oneof![
        text(),
        near(&["13612870", "35833684"]),
        "[0-9]{8}",
    ]) {
        if registration::check_cvr(&number).is_ok() {
            prop_assert!(number.len() == 8 && number.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(!number.starts_with('0'));
        }
    }

    #[test]
    fn vat_check_on_ascii_never_panics(number in "[ -~]{0,20}") {
        if registration::check_vat(&number).is_ok() {
            prop_assert!(number.is_ascii() && (4..=15).contains(&number.len()));
        }
    }

    /// `check_vat("aé123")` slices inside `é` (issue 8, item 1).
    #[test]
    fn vat_check_never_panics(number in prop_oneof![
        text(),
        near(&["DK13612870", "IE9825613N"]),
        select(vec!["aé123".to_string(), "€1234".into(), "D\u{301}K1234".into()]),
    ]) {
        if registration::check_vat(&number).is_ok() {
            prop_assert!(number.is_ascii());
        }
    }

    #[test]
    fn registration_errors_name_the_number(registration in registration()) {
        if let Err(error) = registration.validate() {
            prop_assert_eq!(error.field, "number");
        }
    }

    #[test]
    fn registration_errors_name_the_number_for_every_scheme(registration in registration()) {
        if let Err(error) = registration.validate() {
            prop_assert_eq!(error.field, "number");
        }
    }

    #[test]
    fn slug_check_passes_only_slugs(id in prop_oneof![text(), near(&["timengo-dpg", "ab"])]) {
        if party::check_slug(&id).is_ok() {
            prop_assert!((2..=64).contains(&id.len()));
            prop_assert!(id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        }
    }

    #[test]
    fn country_check_passes_only_assigned_codes(code in country()) {
        if geography::check_country(&code).is_ok() {
            prop_assert!(code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()));
            // CLDR names every assigned code in both languages.
            prop_assert!(Lang::Da.country(&code) != code);
            prop_assert!(Lang::En.country(&code) != code);
        }
        if geography::check_location(&code).is_ok() {
            prop_assert!(Lang::Da.country(&code) != code);
        }
        let _ = geography::is_eea(&code);
        let _ = geography::adequacy_decision(&code).map(|d| d.citation());
    }

    #[test]
    fn processor_validation_names_fields(input in organisation_input(registration().boxed())) {
        if let Err(error) = party::validate_processor(&input) {
            assert_names_fields(&error, ORGANISATION_FIELDS)?;
        }
    }

    #[test]
    fn controller_validation_names_fields(input in organisation_input(registration().boxed())) {
        if let Err(error) = party::validate_controller(&input) {
            assert_names_fields(&error, ORGANISATION_FIELDS)?;
        }
    }

    /// Every route taking a `registration` panics on a non-ASCII VAT number today.
    #[test]
    fn organisation_validation_names_fields_for_every_registration(
        input in organisation_input(registration().boxed())
    ) {
        if let Err(error) = party::validate_processor(&input) {
            assert_names_fields(&error, ORGANISATION_FIELDS)?;
        }
        if let Err(error) = party::validate_controller(&input) {
            assert_names_fields(&error, ORGANISATION_FIELDS)?;
        }
    }

    #[test]
    fn subprocessor_validation_names_fields(input in subprocessor_input()) {
        match subprocessor::validate(&input) {
            Ok(spec) => {
                prop_assert!(!spec.processing_locations.is_empty());
                prop_assert!(spec.name.chars().count() <= subprocessor::MAX_TEXT);
            }
            Err(error) => assert_names_fields(&error, SUBPROCESSOR_FIELDS)?,
        }
    }

    #[test]
    fn subprocessor_validation_names_fields_for_every_registration(
        input in subprocessor_input_with(registration().boxed())
    ) {
        if let Err(error) = subprocessor::validate(&input) {
            assert_names_fields(&error, SUBPROCESSOR_FIELDS)?;
        }
    }

    #[test]
    fn change_validation_names_fields(
        kind in prop::option::of(select(vec![ChangeKind::Addition, ChangeKind::Replacement, ChangeKind::Removal, ChangeKind::Modification])),
        entry in prop::option::of(subprocessor_input()),
        replaces in some_text(),
        modifies in some_text(),
        summary in some_text(),
        planned_from in prop::option::of(instant()),
        announce in any::<bool>(),
    ) {
        let input = ChangeInput { kind, subprocessor: entry, replaces, modifies, summary_en: summary.clone(), summary, planned_from, announce };
        if let Err(error) = change::validate(&input) {
            let mut known = vec!["summary", "summary_en", "kind", "subprocessor", "replaces", "modifies"];
            let prefixed: Vec<String> =
                SUBPROCESSOR_FIELDS.iter().map(|f| format!("subprocessor.{f}")).collect();
            known.extend(prefixed.iter().map(String::as_str));
            assert_names_fields(&error, &known)?;
        }
    }

    #[test]
    fn agreement_validation_names_fields(
        controller_id in some_text(),
        processor_id in some_text(),
        authorisation in prop::option::of(select(vec![Authorisation::General, Authorisation::Specific])),
        notice_days in prop::option::of(prop_oneof![any::<i64>(), -2i64..400]),
        requires_reason in prop::option::of(any::<bool>()),
        transfers in prop::option::of(select(vec![ThirdCountryTransfers::AllowedWithBasis, ThirdCountryTransfers::Forbidden])),
        signed_at in prop::option::of(instant()),
        reference in some_text(),
        time_zone in prop_oneof![Just(None), Just(Some("Europe/Copenhagen".to_string())), some_text()],
        annex in prop::option::of(prop::collection::vec(
            (
                some_text(),
                prop::option::of(select(vec![AuthorisedBy::Agreement, AuthorisedBy::Approved, AuthorisedBy::TacitConsent])),
                prop::option::of(instant()),
            ),
            0..4,
        )),
        allowed_locations in prop::option::of(proptest::collection::vec(prop_oneof![Just("DK".to_string()), Just("US".to_string()), text()], 0..4)),
        annex_name in some_text(),
        effective_at in prop::option::of(instant()),
    ) {
        let input = AgreementInput {
            authorised_at_signing: annex.map(|entries| {
                entries
                    .into_iter()
                    .map(|(subprocessor_id, authorised_by, decided_at)| agreement::AnnexEntryInput {
                        subprocessor_id,
                        authorised_by,
                        decided_at,
                    })
                    .collect()
            }),
            controller_id,
            processor_id,
            authorisation,
            notice_days,
            objection_requires_reason: requires_reason,
            third_country_transfers: transfers,
            signed_at,
            reference,
            time_zone,
            notice_starts: None,
            allowed_locations,
            annex_name,
        };
        if let Err(error) = agreement::check_termination(effective_at, noon()) {
            assert_names_fields(&error, &["effective_at"])?;
        }
        match agreement::validate(&input, noon()) {
            Ok(spec) => {
                prop_assert!((1..=agreement::MAX_NOTICE_DAYS).contains(&i64::from(spec.terms.notice_days)));
                prop_assert!(spec.signed_at <= noon());
                for entry in spec.authorised_at_signing.iter().flatten() {
                    prop_assert!(!entry.subprocessor_id.is_empty());
                    prop_assert!(entry.decided_at.is_none_or(|at| at <= noon()));
                    prop_assert_eq!(entry.decided_at.is_none(), entry.authorised_by == AuthorisedBy::Agreement);
                }
                // The window and planning arithmetic on the agreed terms never overflows.
                let _ = change::window_closes_at(noon(), spec.terms.notice_days, spec.terms.time_zone);
            }
            Err(error) => assert_names_fields(&error, &[
                "controller_id", "processor_id", "authorisation", "notice_days",
                "third_country_transfers", "signed_at", "reference", "time_zone",
                "authorised_at_signing",
                "allowed_locations", "annex_name",
            ])?,
        }
    }

    /// Whatever JSON a client sends, decoding then validating never panics.
    #[test]
    fn request_bodies_decode_and_validate_without_panic(
        body in prop_oneof![
            text(),
            (select(vec!["name", "id", "country", "registration", "processing_locations", "notice_days", "planned_from", "signed_at", "kind", "allowed_locations", "annex_name", "time_zone"]), text())
                .prop_map(|(key, value)| serde_json::json!({ key: value }).to_string()),
            (text(), select(vec!["cvr", "vat", "other", "x"]))
                .prop_map(|(number, scheme)| serde_json::json!({"registration": {"scheme": scheme, "number": number}}).to_string()),
            "[-0-9:TZ+.]{0,30}".prop_map(|t| serde_json::json!({"planned_from": t, "signed_at": t}).to_string()),
        ]
    ) {
        if let Ok(input) = serde_json::from_str::<OrganisationInput>(&body) {
            if input.registration.as_ref().is_none_or(|r| r.number.is_ascii()) {
                let _ = party::validate_processor(&input);
                let _ = party::validate_controller(&input);
            }
        }
        if let Ok(input) = serde_json::from_str::<SubprocessorInput>(&body) {
            if input.registration.as_ref().is_none_or(|r| r.number.is_ascii()) {
                let _ = subprocessor::validate(&input);
            }
        }
        if let Ok(input) = serde_json::from_str::<ChangeInput>(&body) {
            let _ = change::validate(&input);
        }
        if let Ok(input) = serde_json::from_str::<AgreementInput>(&body) {
            let _ = agreement::validate(&input, noon());
        }
        if let Ok(input) = serde_json::from_str::<agreement::AmendmentTerms>(&body) {
            let _ = agreement::amend(&agreement::in_force(30, noon()), &input, noon());
        }
    }

    /// Issue 8, item 2: a control character in a text field is refused, naming the field.
    #[test]
    fn control_characters_are_refused_in_text_fields(
        head in "[a-zA-Z ]{1,10}",
        control in forbidden_control(),
        tail in "[a-zA-Z ]{1,10}",
        field in select(vec!["name", "address", "purpose", "transfer_basis_note", "contact.name"]),
    ) {
        let dirty = format!("{head}{control}{tail}");
        let mut input = SubprocessorInput {
            name: Some("Microsoft Azure".into()),
            address: Some("Kanalvej 7, 2800 Kgs. Lyngby".into()),
            country: Some("DK".into()),
            processing_locations: Some(vec!["IE".into()]),
            purpose: Some("Cloud platform".into()),
            contact: Some(Contact { name: Some("Jane Doe".into()), position: None, email: None }),
            ..Default::default()
        };
        match field {
            "name" => input.name = Some(dirty),
            "address" => input.address = Some(dirty),
            "purpose" => input.purpose = Some(dirty),
            "transfer_basis_note" => input.transfer_basis_note = Some(dirty),
            _ => input.contact = Some(Contact { name: Some(dirty), position: None, email: None }),
        }
        let Err(DomainError::Invalid(errors)) = subprocessor::validate(&input) else {
            return Err(TestCaseError::fail(format!("{control:?} in `{field}` was accepted")));
        };
        prop_assert!(errors.iter().any(|e| e.field == field), "{:?}", errors);
    }

    /// Issue 8, item 8: `x@@example.com` passes as an e-mail today.
    #[test]
    fn addresses_with_two_at_signs_are_refused(local in "[a-z]{1,8}", domain in "[a-z]{1,8}\\.[a-z]{2,3}", at in "@{2,3}") {
        let mut problems = crate::domain::error::Problems::default();
        let address = format!("{local}{at}{domain}");
        subprocessor::check_email(&mut problems, "contact.email", Some(&address));
        let Err(DomainError::Invalid(errors)) = problems.finish(()) else {
            return Err(TestCaseError::fail(format!("`{address}` passed as an e-mail")));
        };
        prop_assert_eq!(errors.len(), 1);
        prop_assert_eq!(&errors[0].field, "contact.email");
    }

    #[test]
    fn email_check_never_panics(value in prop::option::of(email())) {
        let mut problems = crate::domain::error::Problems::default();
        let _ = subprocessor::check_email(&mut problems, "contact_email", value.as_deref());
        if let Err(error) = problems.finish(()) {
            assert_names_fields(&error, &["contact_email"])?;
        }
    }

    #[test]
    fn enum_parsers_round_trip(value in prop_oneof![
        text(),
        select(vec!["cvr", "vat", "other", "general", "specific", "forbidden", "addition", "removal",
                    "draft", "announced", "open", "objected", "eea", "third_country", "processor",
                    "change.announced", "endpoint.disabled", "proposed", "active"]).prop_map(String::from),
    ]) {
        let checks: [Option<&str>; 11] = [
            RegistrationScheme::parse(&value).map(RegistrationScheme::as_str),
            Authorisation::parse(&value).map(Authorisation::as_str),
            ThirdCountryTransfers::parse(&value).map(ThirdCountryTransfers::as_str),
            ChangeKind::parse(&value).map(ChangeKind::as_str),
            change::ChangeState::parse(&value).map(change::ChangeState::as_str),
            WindowState::parse(&value).map(WindowState::as_str),
            geography::Location::parse(&value).map(geography::Location::as_str),
            TransferBasis::parse(&value).map(TransferBasis::as_str),
            subprocessor::EntryStatus::parse(&value).map(subprocessor::EntryStatus::as_str),
            EventType::parse(&value).map(EventType::as_str),
            webhook::OwnerKind::parse(&value).map(webhook::OwnerKind::as_str),
        ];
        for parsed in checks.into_iter().flatten() {
            prop_assert_eq!(parsed, value.as_str());
        }
    }

    #[test]
    fn event_type_filters_name_the_element(names in proptest::collection::vec(
        prop_oneof![text(), select(EventType::ALL.map(EventType::as_str).to_vec()).prop_map(String::from)],
        0..6,
    )) {
        match webhook::parse_event_types(&names) {
            Ok(types) => prop_assert!(types.len() <= names.len()),
            Err(error) => assert_names_fields(&error, &["event_types"])?,
        }
        let filter = serde_json::to_string(&names).unwrap();
        let _ = webhook::wants(&filter, "change.announced");
        let _ = webhook::wants(names.first().map(String::as_str).unwrap_or(""), "window.opened");
    }

    #[test]
    fn retry_after_and_schedule_never_panic(
        value in prop_oneof![text(), "[0-9]{1,25}", "[A-Za-z]{3}, [0-9]{1,2} [A-Za-z]{3} [0-9]{1,6} [0-9:]{8} GMT"],
        attempts in any::<u32>(),
        jitter in 0.0f64..1.0,
    ) {
        let schedule: Vec<std::time::Duration> = crate::config::DEFAULT_RETRY_SCHEDULE_MS
            .iter()
            .map(|ms| std::time::Duration::from_millis(*ms))
            .collect();
        let retry_after = webhook::parse_retry_after(&value, noon());
        if let Some(delay) = webhook::retry_delay(attempts, &schedule, retry_after, jitter) {
            prop_assert!(delay <= std::time::Duration::from_millis(36_000_000 * 12 / 10 + 1));
        }
    }

    #[test]
    fn window_decisions_never_panic(
        reason in some_text(),
        state in select(vec![WindowState::Open, WindowState::Objected, WindowState::Approved, WindowState::TacitConsent, WindowState::NotApproved, WindowState::Withdrawn]),
        closed in any::<bool>(),
        requires_reason in any::<bool>(),
        closes_at in instant(),
        now in instant(),
        which in 0u8..3,
        blocking in any::<bool>(),
        change_withdrawn in any::<bool>(),
        instruction in some_text(),
    ) {
        let facts = WindowFacts {
            state,
            closed,
            closes_at,
            authorisation: Authorisation::General,
            objection_requires_reason: requires_reason,
            blocking,
            change_withdrawn,
        };
        let decision = match which {
            0 => Decision::Object { reason: reason.clone() },
            1 => Decision::Approve { note: reason.clone(), instruction: instruction.clone() },
            _ => Decision::WithdrawObjection,
        };
        let decided = window::decide(&facts, now, decision);
        if let Ok(window::Transition::Approve { late: true, .. }) = &decided {
            // Late approvals only of a refusal, while the change stands.
            prop_assert!(closed && !change_withdrawn);
            prop_assert!(matches!(state, WindowState::Objected | WindowState::NotApproved));
        }
        if closed {
            let reopened = matches!(decided, Ok(window::Transition::Object { .. }) | Ok(window::Transition::WithdrawObjection));
            prop_assert!(!reopened, "a closed window turned into an objection");
        }
        match decided {
            Ok(window::Transition::Object { reason: Some(kept) })
            | Ok(window::Transition::Approve { note: Some(kept), .. }) => {
                prop_assert_eq!(kept.trim(), kept.as_str());
                prop_assert!(!kept.is_empty());
            }
            Ok(window::Transition::Approve { instruction: None, .. }) => {
                // Silence cannot cure a blocking conflict, and neither can a bare approval.
                prop_assert!(!blocking);
            }
            _ => {}
        }
        let _ = window::expire(&facts, now);
    }

    #[test]
    fn change_planning_never_panics(
        planned_from in prop::option::of(instant()),
        announced_at in instant(),
        notice_days in proptest::collection::vec(1u16..=365, 0..4),
        reaction_secs in 0i64..=31_536_000,
    ) {
        let agreements: Vec<agreement::Agreement> = notice_days
            .iter()
            .map(|days| agreement::in_force(*days, announced_at))
            .collect();
        for kind in [ChangeKind::Addition, ChangeKind::Replacement, ChangeKind::Removal, ChangeKind::Modification] {
            let reaction = chrono::Duration::seconds(reaction_secs);
            if let Ok(at) = change::plan(kind, planned_from, announced_at, &agreements, reaction) {
                prop_assert!(at >= announced_at);
            }
            // A postponement's bounds on any instants: no panic, and what passes is later.
            let earliest = change::earliest_planned_from(
                change::earliest_use(announced_at, &agreements),
                reaction,
            );
            let requested = planned_from.unwrap_or(announced_at);
            if change::check_postpone(
                change::ChangeState::Blocked,
                Some(announced_at),
                requested,
                earliest,
                announced_at,
            )
            .is_ok()
            {
                prop_assert!(requested > announced_at && requested >= earliest);
            }
        }
    }

    #[test]
    fn notices_describe_any_event_json(
        event_type in prop_oneof![text(), select(EventType::ALL.map(EventType::as_str).to_vec()).prop_map(String::from)],
        name in text(),
        value in text(),
        nested in any::<bool>(),
    ) {
        let data = serde_json::json!({
            "name": name, "location": value, "closes_at": value, "outcome": value,
            "subprocessor": {"name": name, "processing_locations": [value]},
            "change": if nested { serde_json::json!({"id": value, "subprocessor": {"name": name}}) } else { serde_json::json!(value) },
        });
        let event = serde_json::json!({"type": event_type, "processor_id": name, "data": data, "occurred_at": value});
        for lang in [Lang::Da, Lang::En] {
            let notice = crate::domain::notice::describe(&event, lang);
            prop_assert!(!notice.title.is_empty());
            let _ = crate::domain::notice::describe(&serde_json::json!(value), lang);
        }
        let _ = crate::domain::notice::change_id(&event);
    }

    #[test]
    fn evidence_leaf_never_panics(id in text(), event_type in text(), hash in text()) {
        let data = serde_json::json!({"x": id});
        let leaf = crate::domain::log::LeafEvent {
            id: &id,
            index: 0,
            event_type: &event_type,
            occurred_at: chrono::DateTime::UNIX_EPOCH,
            processor_id: "p",
            controller_id: Some(&id),
            visibility: "controller",
            data: &data,
        }
        .canonical();
        prop_assert!(leaf.is_ok());
        let parsed = crate::domain::log::from_hex(&hash);
        prop_assert_eq!(parsed.is_some(), hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn clock_advance_parses_without_panic(text in prop_oneof![
        text(),
        "P[0-9]{1,20}[YMWD]",
        "PT[0-9]{1,20}[HMS]",
        "P[0-9]{1,6}Y[0-9]{1,6}M[0-9]{1,6}DT[0-9]{1,6}H[0-9]{1,6}M[0-9]{1,6}(\\.[0-9]{1,9})?S",
    ]) {
        if let Ok(advance) = crate::clock::parse_advance(&text) {
            prop_assert!(advance > Duration::zero());
        }
    }

    /// Issue 8, item 1: `P300000Y` is accepted and makes every later `Clock::now()` panic.
    #[test]
    fn clock_advance_is_bounded_to_a_century(text in prop_oneof![
        "P[0-9]{1,20}[YMWD]",
        "PT[0-9]{1,20}[HMS]",
    ]) {
        if let Ok(advance) = crate::clock::parse_advance(&text) {
            prop_assert!(advance <= Duration::days(366 * 100), "{} accepted", text);
            let _ = crate::clock::Clock::test(advance.num_milliseconds()).now();
        }
    }

    #[test]
    fn page_requests_parse_or_name_the_parameter(
        limit in prop::option::of(prop_oneof![any::<i64>(), -2i64..600]),
        cursor in prop::option::of(prop_oneof![text(), "[A-Za-z0-9_-]{0,40}"]),
    ) {
        match crate::store::page::PageRequest::parse(limit, cursor.as_deref()) {
            Ok(request) => {
                prop_assert!((1..=crate::store::page::MAX_LIMIT).contains(&request.limit));
                prop_assert!(request.fetch() > request.limit);
            }
            Err(crate::store::StoreError::Domain(error)) => assert_names_fields(&error, &["limit", "cursor"])?,
            Err(other) => return Err(TestCaseError::fail(format!("not a field error: {other:?}"))),
        }
    }

    #[test]
    /// Keys are ids (slugs, UUIDs), never empty: an empty key would encode as the empty
    /// cursor, which means "first page".
    fn page_cursors_round_trip_any_key(
        keys in proptest::collection::vec(text().prop_filter("ids are never empty and hold no control character", |k| {
            !k.is_empty() && crate::domain::text::first_forbidden(k, false).is_none()
        }), 2..6),
        limit in 1i64..4,
    ) {
        let request = crate::store::page::PageRequest::first(limit);
        let page = request.page(keys.clone(), |k| k.clone());
        prop_assert!(page.items.len() as i64 <= limit);
        if let Some(cursor) = page.next_cursor.as_deref() {
            let next = crate::store::page::PageRequest::parse(Some(limit), Some(cursor)).unwrap();
            prop_assert_eq!(next.after.as_ref(), page.items.last());
        }
    }

    #[test]
    fn instants_parse_or_name_the_field(value in prop_oneof![
        text(),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
    ]) {
        match crate::http::parse_instant("as_of", &value) {
            Ok(_) => {}
            Err(crate::http::error::ApiError::Invalid(errors)) => {
                prop_assert_eq!(errors.len(), 1);
                prop_assert_eq!(&errors[0].field, "as_of");
            }
            Err(other) => return Err(TestCaseError::fail(format!("not a field error: {other:?}"))),
        }
    }

    /// Issue 8, item 3: dates outside years 1-9999 are 422 (PostgreSQL answers 500 for them).
    #[test]
    fn instants_outside_years_1_to_9999_are_refused(
        year in prop_oneof![0u32..=2, 9998u32..=9999],
        offset in "[+-](0[0-9]|1[0-9]|2[0-3]):[0-5][0-9]",
    ) {
        let value = if year == 0 || year >= 9999 {
            format!("{year:04}-{}T{}{offset}", if year == 0 { "01-01" } else { "12-31" }, if year == 0 { "00:00:00" } else { "23:59:59" })
        } else {
            format!("{year:04}-06-15T12:00:00{offset}")
        };
        if let Ok(at) = crate::http::parse_instant("as_of", &value) {
            prop_assert!((1..=9999).contains(&at.year()), "{} accepted as year {}", value, at.year());
        }
    }

    #[test]
    fn webhook_urls_parse_without_panic(url in prop_oneof![
        text(),
        (select(vec!["http://", "https://", "ftp://", "https://user:pw@", "http://[", "https://xn--"]), text())
            .prop_map(|(scheme, rest)| format!("{scheme}{rest}")),
    ]) {
        let policy = crate::notify::ssrf::Policy { allow_http: true, allow_private: false };
        let _ = crate::notify::ssrf::parse(&url, policy);
    }

    #[test]
    fn accept_language_negotiation_never_panics(
        header in "[ -~]{0,60}",
        explicit in prop::option::of(any::<bool>()),
    ) {
        let explicit = explicit.map(|da| {
            if da {
                crate::http::i18n::Lang::Da
            } else {
                crate::http::i18n::Lang::En
            }
        });
        let request = actix_web::test::TestRequest::default()
            .insert_header((actix_web::http::header::ACCEPT_LANGUAGE, header.as_str()))
            .to_http_request();
        let _ = crate::http::i18n::Lang::negotiate(&request, explicit);
    }

    #[test]
    fn dates_render_in_both_languages(at in instant()) {
        for lang in [crate::http::i18n::Lang::Da, crate::http::i18n::Lang::En] {
            prop_assert!(!lang.datetime(at).is_empty());
        }
    }
}
