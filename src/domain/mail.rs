//! E-mail notices: what each event says to a person, in Danish or English, as a text part and
//! an HTML part. Pure: the event JSON (as the log holds it) and what the store knows about the
//! parties go in, a [`Notice`] comes out; sending is notify's job.

use super::agreement::Authorisation;
use super::language::Lang;
use super::notice::{self, deadline, text};
use askama::Template;
use serde_json::Value;

/// One e-mail's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// What a link in a notice does. Decision links (view, object, approve) are added by whoever
/// mints them; the change page is always there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    ChangePage,
    View,
    Object,
    Approve,
    /// Confirm a proposed agreement or amendment (`/confirm/{token}`).
    Confirm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub kind: LinkKind,
    pub url: String,
}

/// What the store knows beyond the event.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub processor_name: String,
    pub controller_name: Option<String>,
    /// The authorisation a window opened under (window events): what silence means.
    pub authorisation: Option<Authorisation>,
    /// A reminder this many days before the deadline (of a `window.opened` notice).
    pub reminder_days: Option<u32>,
    /// For an agreement's proposal or amendment: the version of its terms that awaits the
    /// controller's confirmation, which the message's confirmation link confirms.
    pub awaiting_confirmation: Option<u32>,
}

/// The events that are mailed, and to whom (see `store::mail`).
pub const MAILED: [&str; 8] = [
    "window.opened",
    "window.closed",
    "change.effective",
    "change.blocked",
    "objection.raised",
    "approval.given",
    "agreement.proposed",
    "agreement.amended",
];

/// The HTML page of a change, which every notice about a change links to.
pub fn change_page(public_url: &str, processor_id: &str, change_id: &str) -> String {
    format!(
        "{}/processors/{processor_id}/changes/{change_id}",
        public_url.trim_end_matches('/')
    )
}

#[derive(Template)]
#[template(path = "mail/notice.html")]
struct Html<'a> {
    lang: &'a str,
    subject: &'a str,
    paragraphs: &'a [String],
    facts: &'a [(String, String)],
    links: &'a [LabelledLink],
    footer: &'a str,
}

struct LabelledLink {
    label: String,
    url: String,
}

fn label(lang: Lang, kind: LinkKind) -> &'static str {
    match (lang, kind) {
        (Lang::Da, LinkKind::ChangePage) => "Se ændringen",
        (Lang::En, LinkKind::ChangePage) => "View the change",
        (Lang::Da, LinkKind::View) => "Se ændringen og aftalens vilkår",
        (Lang::En, LinkKind::View) => "View the change and the agreement's terms",
        (Lang::Da, LinkKind::Object) => "Gør indsigelse",
        (Lang::En, LinkKind::Object) => "Object",
        (Lang::Da, LinkKind::Approve) => "Godkend",
        (Lang::En, LinkKind::Approve) => "Approve",
        (Lang::Da, LinkKind::Confirm) => "Se og bekræft aftalen",
        (Lang::En, LinkKind::Confirm) => "Review and confirm the agreement",
    }
}

/// A member of a JSON object, or null.
fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value.get(key).unwrap_or(&Value::Null)
}

/// The name of the person who decided, from an Objection's or an Approval's JSON.
fn decided_by(value: &Value) -> Option<&str> {
    // An Objection's or Approval's `by` is a Decider: `{decided_by: {name, role}, sub, ...}`.
    text(field(field(value, "by"), "decided_by"), "name")
}

/// Composes the e-mail for one event to one reader.
pub fn compose(event: &Value, context: &Context, lang: Lang, links: &[Link]) -> Notice {
    let da = lang == Lang::Da;
    let event_type = text(event, "type").unwrap_or("event");
    let data = &event["data"];
    let described = notice::describe(event, lang);
    let processor = context.processor_name.as_str();
    let controller = context
        .controller_name
        .as_deref()
        .or_else(|| text(event, "controller_id"))
        .unwrap_or(if da {
            "den dataansvarlige"
        } else {
            "the controller"
        });
    let mut paragraphs = Vec::new();
    let subject = match event_type {
        "window.opened" => {
            let entry = field(field(data, "change"), "subprocessor");
            let name = text(entry, "name").unwrap_or(if da {
                "en underdatabehandler"
            } else {
                "a sub-processor"
            });
            let closes = deadline(lang, data).unwrap_or_default();
            if context.reminder_days.is_some() {
                paragraphs.push(if da {
                    "Påmindelse: fristen for at gøre indsigelse nærmer sig.".to_string()
                } else {
                    "Reminder: the deadline for objections is near.".to_string()
                });
            }
            paragraphs.push(if da {
                format!(
                    "{processor} har varslet en ændring af sine underdatabehandlere, som {controller} \
                     kan gøre indsigelse imod i henhold til databehandleraftalen."
                )
            } else {
                format!(
                    "{processor} has announced a change of its sub-processors; {controller} may \
                     object to it under the data processing agreement."
                )
            });
            paragraphs.push(if da {
                format!("Indsigelsesfristen udløber {closes}.")
            } else {
                format!("The deadline for objections is {closes}.")
            });
            match context.authorisation {
                Some(Authorisation::General) => paragraphs.push(if da {
                    "Gør I ikke indsigelse inden for fristen, anses ændringen for godkendt \
                     (stiltiende samtykke)."
                        .to_string()
                } else {
                    "If you do not object by the deadline, the change counts as approved \
                     (tacit consent)."
                        .to_string()
                }),
                Some(Authorisation::Specific) => paragraphs.push(if da {
                    "Ændringen kræver forudgående specifik skriftlig godkendelse fra jer. \
                     Godkender I ikke inden for fristen, er ændringen ikke godkendt – \
                     tavshed er ikke godkendelse."
                        .to_string()
                } else {
                    "The change needs your prior specific written approval. If you do not \
                     approve it by the deadline it is not approved: silence is not approval."
                        .to_string()
                }),
                None => {}
            }
            match (da, context.reminder_days.is_some()) {
                (true, false) => format!("Varsel: ny underdatabehandler {name} – frist {closes}"),
                (true, true) => format!("Påmindelse: {name} – fristen udløber {closes}"),
                (false, false) => {
                    format!("Notice: sub-processor change ({name}), deadline {closes}")
                }
                (false, true) => format!("Reminder: {name}, the deadline is {closes}"),
            }
        }
        "objection.raised" | "approval.given" => {
            let decision = if event_type == "objection.raised" {
                &data["objection"]
            } else {
                &data["approval"]
            };
            let who = decided_by(decision);
            paragraphs.push(match (da, event_type == "objection.raised", who) {
                (true, true, Some(who)) => {
                    format!("{controller} har gjort indsigelse mod ændringen ({who}).")
                }
                (true, true, None) => format!("{controller} har gjort indsigelse mod ændringen."),
                (true, false, Some(who)) => format!("{controller} har godkendt ændringen ({who})."),
                (true, false, None) => format!("{controller} har godkendt ændringen."),
                (false, true, Some(who)) => {
                    format!("{controller} has objected to the change ({who}).")
                }
                (false, true, None) => format!("{controller} has objected to the change."),
                (false, false, Some(who)) => {
                    format!("{controller} has approved the change ({who}).")
                }
                (false, false, None) => format!("{controller} has approved the change."),
            });
            format!("{} – {controller}", described.title)
        }
        _ => described.title.clone(),
    };
    let facts: Vec<(String, String)> = described
        .summary
        .lines()
        .map(|line| match line.split_once(": ") {
            Some((key, value)) => (key.to_string(), value.to_string()),
            None => (String::new(), line.to_string()),
        })
        .collect();
    let labelled: Vec<LabelledLink> = links
        .iter()
        .map(|l| LabelledLink {
            label: label(lang, l.kind).to_string(),
            url: l.url.clone(),
        })
        .collect();
    let footer = if da {
        format!(
            "Denne e-mail er sendt automatisk af subreg på vegne af {processor}. \
             Afsendelsen registreres i hændelsesloggen."
        )
    } else {
        format!(
            "This e-mail was sent automatically by subreg for {processor}. Its dispatch is \
             recorded on the evidence log."
        )
    };
    let mut body = String::new();
    for paragraph in &paragraphs {
        body.push_str(paragraph);
        body.push_str("\n\n");
    }
    for (key, value) in &facts {
        if key.is_empty() {
            body.push_str(value);
        } else {
            body.push_str(&format!("{key}: {value}"));
        }
        body.push('\n');
    }
    if !labelled.is_empty() {
        body.push('\n');
        for link in &labelled {
            body.push_str(&format!("{}: {}\n", link.label, link.url));
        }
    }
    body.push_str("\n-- \n");
    body.push_str(&footer);
    body.push('\n');
    let html = Html {
        lang: lang.code(),
        subject: &subject,
        paragraphs: &paragraphs,
        facts: &facts,
        links: &labelled,
        footer: &footer,
    }
    .render()
    .unwrap_or_else(|_| String::new());
    Notice {
        subject,
        text: body,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn opened() -> Value {
        json!({
            "type": "window.opened",
            "processor_id": "timengo-dpg",
            "controller_id": "roskilde-kommune",
            "occurred_at": "2026-11-24T06:02:00Z",
            "data": {
                "closes_at": "2026-12-01T23:00:00Z",
                "conflicts": [],
                "change": {"kind": "addition", "subprocessor": {
                    "name": "Zendesk <Inc.>", "country": "US", "location": "third_country",
                    "transfer_basis": "standard_contractual_clauses", "purpose": "Support"}}
            }
        })
    }

    #[test]
    fn a_window_notice_says_the_deadline_and_what_silence_means() {
        let context = Context {
            processor_name: "Timengo DPG A/S".into(),
            controller_name: Some("Roskilde Kommune".into()),
            authorisation: Some(Authorisation::General),
            reminder_days: None,
            awaiting_confirmation: None,
        };
        let links = [Link {
            kind: LinkKind::ChangePage,
            url: "https://subreg.example/processors/timengo-dpg/changes/c1".into(),
        }];
        let da = compose(&opened(), &context, Lang::Da, &links);
        assert!(da.subject.contains("1. december 2026"), "{}", da.subject);
        assert!(da.text.contains("stiltiende samtykke"), "{}", da.text);
        assert!(da.text.contains("Se ændringen: https://subreg.example/"));
        assert!(
            da.html.contains("Zendesk &lt;Inc.&gt;") || da.html.contains("Zendesk &#60;Inc.&#62;"),
            "{}",
            da.html
        );
        assert!(!da.html.contains("Zendesk <Inc.>"));
        let en = compose(&opened(), &context, Lang::En, &links);
        assert!(en.text.contains("tacit consent"), "{}", en.text);
        assert!(en.subject.contains("1 December 2026"), "{}", en.subject);
    }
}
