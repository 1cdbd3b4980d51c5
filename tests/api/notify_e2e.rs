//! Both notification channels through the seed 003 scenario: a controller subscribed with a
//! webhook (receiver on 127.0.0.1 started here) and with its private Atom feed gets every step,
//! signed, in the order of the processor's evidence log, and the same events in its feed.

use crate::helpers::*;
use crate::on_both_backends;
use crate::webhooks::{Received, Receiver};
use serde_json::{json, Value};
use standardwebhooks::Webhook;
use std::collections::{BTreeSet, HashMap};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// Event ids of a feed page, newest first.
fn feed_event_ids(xml: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    doc.root_element()
        .children()
        .filter(|c| c.has_tag_name((ATOM_NS, "entry")))
        .map(|entry| {
            let id = entry
                .children()
                .find(|c| c.has_tag_name((ATOM_NS, "id")))
                .and_then(|c| c.text())
                .expect("entry id");
            id.strip_prefix("urn:uuid:")
                .expect("urn:uuid entry id")
                .to_string()
        })
        .collect()
}

async fn seed_003_steps_arrive_by_webhook_and_feed(app: TestApp) {
    let receiver = Receiver::start().await;
    app.processor("eg-netblanket").await;
    app.seed("eg-netblanket", &azure()).await;
    for cid in ["lejre", "greve"] {
        app.controller(cid).await;
        app.agreement(cid, "eg-netblanket", general_terms(30)).await;
    }
    // Lejre subscribes to everything, by webhook and by its private feed.
    let hook = app
        .post(
            "/v1/controllers/lejre/webhooks",
            Some(&controller("lejre")),
            &json!({"url": receiver.url("/lejre"), "event_types": []}),
        )
        .await;
    assert_eq!(hook.status, 201, "{}", hook.text);
    let secret = hook.json()["secret"].as_str().expect("secret").to_string();
    let issued = app
        .post(
            "/v1/controllers/lejre/feed-token",
            Some(&controller("lejre")),
            &json!({}),
        )
        .await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let feed_url = issued.json()["feed_url"]
        .as_str()
        .expect("feed_url")
        .to_string();
    let subscribed_after = app
        .get(
            "/v1/processors/eg-netblanket/events?limit=500",
            Some(&processor("eg-netblanket")),
        )
        .await
        .json()["items"]
        .as_array()
        .expect("items")
        .len();

    // The seed 003 walk: a US entry with SCCs; Lejre objects on day 29; by day 32 the windows
    // have closed (Lejre's objected, Greve's by tacit consent) and Lejre's unresolved objection
    // blocks the change.
    app.announce_addition("eg-netblanket", &us_with_sccs("Zendesk, Inc."))
        .await;
    app.advance("P29D").await;
    let window = app.windows("lejre").await[0]["id"]
        .as_str()
        .expect("window")
        .to_string();
    let objection = app
        .object("lejre", &window, Some("US transfer not acceptable"))
        .await;
    assert_eq!(objection.status, 200, "{}", objection.text);
    app.advance("P3D").await;
    assert_eq!(app.window("lejre", &window).await["state"], "objected");

    // What Lejre is owed: the processor's events since it subscribed that are processor-wide
    // or name Lejre, in evidence-log order.
    let log: Vec<Value> = app
        .get(
            "/v1/processors/eg-netblanket/events?limit=500",
            Some(&processor("eg-netblanket")),
        )
        .await
        .json()["items"]
        .as_array()
        .expect("items")
        .clone();
    let owed: Vec<&Value> = log[subscribed_after..]
        .iter()
        .filter(|e| e["controller_id"].is_null() || e["controller_id"] == "lejre")
        .collect();
    let owed_types: Vec<&str> = owed.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        owed_types,
        [
            "change.announced",
            "window.opened",
            "objection.raised",
            "window.closed",
            "change.blocked"
        ],
        "{owed:#?}"
    );
    let closed = owed.iter().find(|e| e["type"] == "window.closed").unwrap();
    assert_eq!(closed["data"]["outcome"], "objected", "{closed}");

    let owed_ids: BTreeSet<String> = owed
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let all = receiver
        .wait_for("every step by webhook", |all| {
            all.iter()
                .map(Received::id)
                .collect::<BTreeSet<_>>()
                .is_superset(&owed_ids)
        })
        .await;

    // Signed, and exactly what is owed: nothing of Greve's, nothing else.
    let verifier = Webhook::new(&secret).expect("secret decodes");
    let mut by_id: HashMap<String, Value> = HashMap::new();
    for received in &all {
        verifier
            .verify(&received.body, &received.headers)
            .expect("signature verifies");
        let body = received.json();
        assert_eq!(body["id"].as_str(), Some(received.id().as_str()));
        by_id.insert(received.id(), body);
    }
    assert_eq!(
        by_id.keys().cloned().collect::<BTreeSet<_>>(),
        owed_ids,
        "webhooks carry exactly Lejre's events"
    );
    // In order of occurrence the webhooks replay the evidence log, field for field.
    let index: HashMap<&str, usize> = log
        .iter()
        .enumerate()
        .map(|(i, e)| (e["id"].as_str().unwrap(), i))
        .collect();
    let mut delivered: Vec<&Value> = by_id.values().collect();
    delivered.sort_by_key(|e| {
        (
            chrono::DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap()).unwrap(),
            index[e["id"].as_str().unwrap()],
        )
    });
    assert_eq!(delivered.len(), owed.len());
    for (body, logged) in delivered.iter().zip(&owed) {
        assert_eq!(body["id"], logged["id"], "evidence-log order");
        for field in [
            "type",
            "occurred_at",
            "processor_id",
            "controller_id",
            "data",
        ] {
            assert_eq!(body[field], logged[field], "{field} of {}", logged["id"]);
        }
    }

    // The private feed has the same events, newest first.
    let path = feed_url
        .strip_prefix(&app.address)
        .expect("feed on this app")
        .to_string();
    let reply = app.get(&path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let in_feed: Vec<String> = feed_event_ids(&reply.text)
        .into_iter()
        .filter(|id| owed_ids.contains(id))
        .collect();
    let expected: Vec<String> = owed
        .iter()
        .rev()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(in_feed, expected, "the feed lists every step, newest first");
}

on_both_backends!(seed_003_steps_arrive_by_webhook_and_feed);
