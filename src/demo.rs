//! Demo data: the three agreements subreg was designed from (../shared/seeds), their
//! processors' sub-processors as the seeds list them, a few controllers, one agreement and one
//! announced change per seed. Texts the seeds write are copied word for word; every company
//! has a registration number no other demo company has. Loading twice changes nothing.

use crate::domain::agreement::{
    AgreementSpec, AgreementTerms, Authorisation, NoticeStarts, ThirdCountryTransfers,
};
use crate::domain::change::{ChangeKind, ChangeSpec};
use crate::domain::party::{ControllerSpec, ProcessorSpec};
use crate::domain::registration::{Registration, RegistrationScheme};
use crate::domain::subprocessor::{self, SubprocessorInput, TransferBasis};
use crate::store::{
    agreements, lifecycle, organisations, subprocessors, DbConnection, PageRequest, StoreError,
};
use chrono::{DateTime, Utc};

fn cvr(number: &str) -> Option<Registration> {
    Some(Registration {
        scheme: RegistrationScheme::Cvr,
        number: number.into(),
    })
}

fn entry(
    name: &str,
    registration: Option<Registration>,
    address: &str,
    country: &str,
    locations: &[&str],
    basis: Option<(TransferBasis, &str)>,
    purpose: &str,
) -> SubprocessorInput {
    SubprocessorInput {
        name: Some(name.into()),
        registration,
        address: Some(address.into()),
        country: Some(country.into()),
        processing_locations: Some(locations.iter().map(|c| c.to_string()).collect()),
        access_locations: None,
        sub_subprocessors: None,
        transfer_basis: basis.map(|b| b.0),
        transfer_basis_note: basis.map(|b| b.1.to_string()),
        purpose: Some(purpose.into()),
        contact: None,
        ..SubprocessorInput::default()
    }
}

struct DemoProcessor {
    processor: ProcessorSpec,
    entries: Vec<SubprocessorInput>,
}

/// Microsoft's Danish company, as seed 000 B.1 writes it for both of its services.
const MICROSOFT_CVR: &str = "13612870";
const MICROSOFT_ADDRESS: &str = "Kanalvej 7, 2800 Kgs. Lyngby";

fn processors() -> Vec<DemoProcessor> {
    vec![
        // Seed 000, Bilag B.1, word for word; both process in Ireland, Azure's North Europe
        // region, the one place besides the customer's own data centre that C.5 allows.
        DemoProcessor {
            processor: ProcessorSpec {
                id: "timengo-dpg".into(),
                name: "Timengo DPG A/S".into(),
                registration: cvr("35833684"),
                address: "Lautrupvang 1, 2750 Ballerup".into(),
                country: "DK".into(),
                contact_email: Some("dpo@timengo.example".into()),
            },
            entries: vec![
                entry(
                    "Microsoft Azure",
                    cvr(MICROSOFT_CVR),
                    MICROSOFT_ADDRESS,
                    "DK",
                    &["IE"],
                    None,
                    "Cloud platform der hoster DPG løsningen (inden for EU)",
                ),
                entry(
                    "Office 365",
                    cvr(MICROSOFT_CVR),
                    MICROSOFT_ADDRESS,
                    "DK",
                    &["IE"],
                    None,
                    "Microsoft cloud baseret Office platform. DPG kan benytte OME/AIP \
                     krypteringsfunktionen",
                ),
            ],
        },
        // Seed 003 keeps its list in a separate document ("NetBlanket- Sub-processors", B.1)
        // that the seed does not reproduce: these two entries only illustrate what its C.6
        // allows, a third country with standard contractual clauses.
        DemoProcessor {
            processor: ProcessorSpec {
                id: "eg-netblanket".into(),
                name: "EG Digital Welfare ApS".into(),
                registration: cvr("27720102"),
                address: "Østerbro 5B, st. tv., 5000 Odense C".into(),
                country: "DK".into(),
                contact_email: Some("privacy@eg.example".into()),
            },
            entries: vec![
                entry(
                    "Microsoft Azure",
                    cvr(MICROSOFT_CVR),
                    MICROSOFT_ADDRESS,
                    "DK",
                    &["IE", "NL"],
                    None,
                    "Drift (hosting) af NetBlanket",
                ),
                entry(
                    "Zendesk, Inc.",
                    None,
                    "989 Market Street, San Francisco, CA 94103",
                    "US",
                    &["US", "IE"],
                    Some((
                        TransferBasis::StandardContractualClauses,
                        "EU-Kommissionens standardkontraktbestemmelser 2021/914, modul 3 \
                         (databehandler til databehandler)",
                    )),
                    "Supportsager fra kunder",
                ),
            ],
        },
        // Seed 004 names neither the hosting company nor its address, only where it processes
        // (Underbilag A), used here as its address; its Underbilag C lists no sub-processors at
        // the agreement's conclusion, so the list starts empty.
        DemoProcessor {
            processor: ProcessorSpec {
                id: "roskilde-hosting".into(),
                name: "Roskilde Hosting ApS".into(),
                registration: cvr("39218771"),
                address: "Enghaven 59, Svogerslev, 4000 Roskilde".into(),
                country: "DK".into(),
                contact_email: Some("dpo@roskilde-hosting.example".into()),
            },
            entries: Vec::new(),
        },
    ]
}

fn controllers() -> Vec<ControllerSpec> {
    [
        ("roskilde-kommune", "Roskilde Kommune", "29188386"),
        ("lejre-kommune", "Lejre Kommune", "29189668"),
        ("greve-kommune", "Greve Kommune", "29189382"),
    ]
    .into_iter()
    .map(|(id, name, number)| ControllerSpec {
        id: id.into(),
        name: name.into(),
        registration: cvr(number),
        contact_email: Some(format!("dpo@{id}.example")),
    })
    .collect()
}

/// (controller, processor, terms, reference): one agreement per seed (000, 003, 004 in order),
/// with that seed's terms; the reference is what the annex shows, so it names no seed.
fn agreement_specs() -> Vec<(&'static str, &'static str, AgreementTerms, &'static str)> {
    vec![
        (
            "roskilde-kommune",
            "timengo-dpg",
            AgreementTerms {
                authorisation: Authorisation::Specific,
                notice_days: 30,
                objection_requires_reason: false,
                third_country_transfers: ThirdCountryTransfers::Forbidden,
                time_zone: crate::domain::deadline::DEFAULT_TIME_ZONE,
                notice_starts: NoticeStarts::Announcement,
            },
            "Databehandleraftale Timengo DPG",
        ),
        (
            "lejre-kommune",
            "eg-netblanket",
            AgreementTerms {
                authorisation: Authorisation::General,
                notice_days: 30,
                objection_requires_reason: false,
                third_country_transfers: ThirdCountryTransfers::AllowedWithBasis,
                time_zone: crate::domain::deadline::DEFAULT_TIME_ZONE,
                notice_starts: NoticeStarts::Announcement,
            },
            "Standardkontraktbestemmelser NetBlanket",
        ),
        (
            "roskilde-kommune",
            "roskilde-hosting",
            AgreementTerms {
                authorisation: Authorisation::General,
                notice_days: 7,
                objection_requires_reason: true,
                third_country_transfers: ThirdCountryTransfers::Forbidden,
                time_zone: crate::domain::deadline::DEFAULT_TIME_ZONE,
                notice_starts: NoticeStarts::Announcement,
            },
            "Databehandleraftale til Hosting-aftale",
        ),
    ]
}

/// One announced addition per seed, each showing what its agreement's terms do.
fn announced_changes() -> Vec<(&'static str, SubprocessorInput, &'static str)> {
    vec![
        // Seed 000 C.1 names Qbox ("Databehandler gemmer kunde logningsoplysninger i Qbox"),
        // which its Bilag B does not list: it needs each customer's specific written approval.
        (
            "timengo-dpg",
            entry(
                "Qbox ApS",
                cvr("25890140"),
                "Nørregade 10, 1165 København K",
                "DK",
                &["DK"],
                None,
                "Databehandler gemmer kunde logningsoplysninger i Qbox",
            ),
            "Qbox tilføjes til opbevaring af kundelogningsoplysninger (kræver hver kundes \
             forudgående specifikke skriftlige godkendelse)",
        ),
        (
            "eg-netblanket",
            entry(
                "Twilio Inc.",
                None,
                "101 Spear Street, San Francisco, CA 94105",
                "US",
                &["US"],
                Some((
                    TransferBasis::StandardContractualClauses,
                    "EU-Kommissionens standardkontraktbestemmelser 2021/914, modul 3",
                )),
                "Sms-beskeder til borgere",
            ),
            "Twilio tilføjes til udsendelse af sms-beskeder",
        ),
        // Seed 004 forbids transfers to third countries: this one is a blocking conflict.
        (
            "roskilde-hosting",
            entry(
                "Backblaze, Inc.",
                None,
                "201 Baldwin Avenue, San Mateo, CA 94401",
                "US",
                &["US"],
                Some((
                    TransferBasis::StandardContractualClauses,
                    "EU-Kommissionens standardkontraktbestemmelser 2021/914, modul 3",
                )),
                "Sekundær ekstern backup",
            ),
            "Backblaze tilføjes som sekundær backup (uden for EØS)",
        ),
    ]
}

fn exists<T>(found: Result<T, StoreError>) -> Result<bool, StoreError> {
    match found {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound { .. }) => Ok(false),
        Err(other) => Err(other),
    }
}

/// Loads what is missing of the demo data and says what it added.
pub fn load(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<String, StoreError> {
    let mut added = Vec::new();
    for demo in processors() {
        if exists(organisations::get_processor(conn, &demo.processor.id))? {
            continue;
        }
        organisations::create_processor(conn, &demo.processor, now)?;
        let specs = demo
            .entries
            .iter()
            .map(subprocessor::validate)
            .collect::<Result<Vec<_>, _>>()?;
        subprocessors::seed(conn, &demo.processor.id, &specs, now)?;
        added.push(format!(
            "processor {} with {} sub-processors",
            demo.processor.id,
            specs.len()
        ));
    }
    for controller in controllers() {
        if !exists(organisations::get_controller(conn, &controller.id))? {
            organisations::create_controller(conn, &controller, now)?;
            added.push(format!("controller {}", controller.id));
        }
    }
    for (controller_id, processor_id, terms, reference) in agreement_specs() {
        let signed = agreements::all_for_controller(conn, controller_id)?
            .iter()
            .any(|a| a.processor_id == processor_id);
        if !signed {
            let spec = AgreementSpec {
                controller_id: controller_id.into(),
                processor_id: processor_id.into(),
                terms,
                signed_at: now,
                reference: Some(reference.into()),
                authorised_at_signing: None,
                allowed_locations: None,
                annex_name: crate::domain::agreement::DEFAULT_ANNEX_NAME.into(),
            };
            agreements::create(conn, &spec, agreements::Recorded::Active { by: None }, now)?;
            added.push(format!("agreement {controller_id} / {processor_id}"));
        }
    }
    for (processor_id, entry, summary) in announced_changes() {
        let existing =
            lifecycle::list_changes(conn, processor_id, None, false, &PageRequest::first(1))?;
        if existing.items.is_empty() {
            let spec = ChangeSpec {
                modifies: None,
                kind: ChangeKind::Addition,
                subprocessor: Some(subprocessor::validate(&entry)?),
                replaces: None,
                summary: summary.into(),
                summary_en: None,
                planned_from: None,
                announce: true,
            };
            lifecycle::create_change(
                conn,
                processor_id,
                &spec,
                now,
                chrono::Duration::seconds(crate::config::DEFAULT_REACTION_TIME_SECS as i64),
            )?;
            added.push(format!("announced change for {processor_id}"));
        }
    }
    Ok(if added.is_empty() {
        "already loaded, nothing added".into()
    } else {
        format!("added {}", added.join("; "))
    })
}
