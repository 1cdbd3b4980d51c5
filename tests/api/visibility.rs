//! Who sees what of a processor's evidence log and changes (issue 8, item 4): a controller sees
//! the public events and its own, never another customer's; drafts are the processor's own; the
//! public page's ETag does not betray what one controller did.

use crate::helpers::*;
use crate::on_both_backends;
use diesel::prelude::*;
use serde_json::{json, Value};
use subreg::store::schema::events;

const SECRET_REASON: &str = "Roskilde's confidential objection reason";
const SECRET_NOTE: &str = "Approved by the DPO";

/// acme with two customers, roskilde and lejre, and one announced addition; lejre approves,
/// then roskilde objects (so the log's newest event is roskilde's). Returns the change.
async fn two_customers(app: &TestApp) -> Value {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    app.agreement("lejre", "acme", general_terms(30)).await;
    let change = app.announce_addition("acme", &eea_entry("Logly ApS")).await;
    let lejre = app.windows("lejre").await;
    let approved = app.approve("lejre", lejre[0]["id"].as_str().unwrap()).await;
    assert_eq!(approved.status, 200, "{}", approved.text);
    let roskilde = app.windows("roskilde").await;
    let objected = app
        .object(
            "roskilde",
            roskilde[0]["id"].as_str().unwrap(),
            Some(SECRET_REASON),
        )
        .await;
    assert_eq!(objected.status, 200, "{}", objected.text);
    change
}

/// Every event of a list, following next_cursor with `limit`.
async fn all_events(app: &TestApp, token: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/processors/acme/events?limit={limit}");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let reply = app.get(&path, Some(token)).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let page = reply.json();
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return items,
        }
    }
}

fn ids(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_controller_sees_public_events_and_its_own_only(app: TestApp) {
    two_customers(&app).await;
    let everything = all_events(&app, &processor("acme"), 500).await;
    let roskildes: Vec<&Value> = everything
        .iter()
        .filter(|e| e["controller_id"] == "roskilde")
        .collect();
    assert!(
        roskildes.iter().any(|e| e["type"] == "objection.raised"),
        "the processor sees every event"
    );

    let seen = all_events(&app, &controller("lejre"), 500).await;
    let text = serde_json::to_string(&seen).unwrap();
    assert!(!text.contains("roskilde"), "no other customer's id: {text}");
    assert!(!text.contains(SECRET_REASON), "no other customer's reason");
    assert!(seen
        .iter()
        .all(|e| e["controller_id"].is_null() || e["controller_id"] == "lejre"));
    let types: Vec<&str> = seen.iter().map(|e| e["type"].as_str().unwrap()).collect();
    for expected in ["change.announced", "window.opened", "approval.given"] {
        assert!(types.contains(&expected), "{expected} in {types:?}");
    }
    // Exactly the processor's list narrowed to what lejre may see, in the same order.
    let expected: Vec<Value> = everything
        .iter()
        .filter(|e| e["controller_id"].is_null() || e["controller_id"] == "lejre")
        .cloned()
        .collect();
    assert_eq!(ids(&seen), ids(&expected));
    let roskilde_sees =
        serde_json::to_string(&all_events(&app, &controller("roskilde"), 500).await).unwrap();
    assert!(!roskilde_sees.contains("lejre") && !roskilde_sees.contains(SECRET_NOTE));
    // Keyset pagination pages through the filtered list: one at a time, nothing lost.
    assert_eq!(
        ids(&all_events(&app, &controller("lejre"), 1).await),
        ids(&seen)
    );

    // One event: another customer's is a 404 like an unknown one; its own and public ones 200.
    let objection = roskildes
        .iter()
        .find(|e| e["type"] == "objection.raised")
        .unwrap();
    let path = format!(
        "/v1/processors/acme/events/{}",
        objection["id"].as_str().unwrap()
    );
    let refused = app.get(&path, Some(&controller("lejre"))).await;
    let problem = refused.problem(404);
    assert!(!refused.text.contains(SECRET_REASON));
    let unknown = app
        .get(
            "/v1/processors/acme/events/00000000-0000-7000-8000-000000000000",
            Some(&controller("lejre")),
        )
        .await
        .problem(404);
    assert_eq!(problem["title"], unknown["title"]);
    let own = app.get(&path, Some(&controller("roskilde"))).await;
    assert_eq!(own.status, 200, "{}", own.text);
    assert_eq!(own.json()["data"]["objection"]["reason"], SECRET_REASON);
    assert_eq!(
        app.get(&path, Some(&processor("acme"))).await.status,
        200,
        "the processor sees it"
    );
    assert_eq!(app.get(&path, Some(&admin())).await.status, 200);
    for event in &seen {
        let path = format!(
            "/v1/processors/acme/events/{}",
            event["id"].as_str().unwrap()
        );
        let reply = app.get(&path, Some(&controller("lejre"))).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }

    // The private Atom feed and the annex hold nothing of roskilde's either.
    let rotated = app
        .post(
            "/v1/controllers/lejre/feed-token",
            Some(&controller("lejre")),
            &json!({}),
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let feed_url = rotated.json()["feed_url"].as_str().unwrap().to_string();
    let feed = app.send(app.client.get(&feed_url)).await;
    assert_eq!(feed.status, 200, "{}", feed.text);
    assert!(!feed.text.contains("roskilde") && !feed.text.contains(SECRET_REASON));
    let annex = app
        .get(
            "/v1/controllers/lejre/annex.json?processor=acme",
            Some(&controller("lejre")),
        )
        .await;
    assert_eq!(annex.status, 200, "{}", annex.text);
    let annex = annex.json();
    let newest_seen = seen.last().unwrap();
    assert_eq!(annex["last_event"]["id"], newest_seen["id"]);
    assert_eq!(annex["last_event"]["hash"], newest_seen["leaf_hash"]);
    assert_ne!(annex["last_event"]["id"], objection["id"]);
}

async fn verify_tells_a_controller_the_result_without_other_events(app: TestApp) {
    two_customers(&app).await;
    let everything = all_events(&app, &processor("acme"), 500).await;
    let verify = "/v1/processors/acme/events/verify";
    let as_processor = app.get(verify, Some(&processor("acme"))).await.json();
    assert_eq!(as_processor["valid"], true, "{as_processor}");
    assert_eq!(as_processor["events"], everything.len());
    assert_eq!(as_processor["checkpoint_size"], everything.len());
    assert_eq!(as_processor["first_broken"], Value::Null);
    let as_lejre = app.get(verify, Some(&controller("lejre"))).await;
    assert_eq!(as_lejre.status, 200, "{}", as_lejre.text);
    assert_eq!(
        as_lejre.json(),
        as_processor,
        "the server-side result, whole log"
    );

    // Break the chain at roskilde's objection: lejre learns it is broken, not where.
    let objection = everything
        .iter()
        .find(|e| e["type"] == "objection.raised")
        .unwrap();
    let broken_id = objection["id"].as_str().unwrap().to_string();
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let tampered = diesel::update(events::table.filter(events::id.eq(&broken_id)))
        .set(events::payload.eq("{\"tampered\": true}"))
        .execute(&mut conn)
        .unwrap();
    assert_eq!(tampered, 1);
    let as_processor = app.get(verify, Some(&processor("acme"))).await.json();
    assert_eq!(as_processor["valid"], false);
    assert_eq!(as_processor["first_broken"], broken_id.as_str());
    let as_lejre = app.get(verify, Some(&controller("lejre"))).await;
    assert_eq!(as_lejre.status, 200, "{}", as_lejre.text);
    let as_lejre = as_lejre.json();
    assert_eq!(as_lejre["valid"], false);
    assert_eq!(as_lejre["first_broken"], Value::Null);
    assert_eq!(as_lejre["events"], everything.len());
    assert!(!as_lejre.to_string().contains(&broken_id));
    // roskilde may see its own event, so it is told where.
    let as_roskilde = app.get(verify, Some(&controller("roskilde"))).await.json();
    assert_eq!(as_roskilde["first_broken"], broken_id.as_str());
}

async fn drafts_are_the_processors_own(app: TestApp) {
    app.processor("acme").await;
    app.processor("other").await;
    app.controller("roskilde").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    let body = json!({"kind": "addition", "subprocessor": eea_entry("Secret Plans ApS"),
                      "summary": "Not announced yet"});
    let draft = app
        .post(
            "/v1/processors/acme/changes",
            Some(&processor("acme")),
            &body,
        )
        .await;
    assert_eq!(draft.status, 201, "{}", draft.text);
    let draft_id = draft.json()["id"].as_str().unwrap().to_string();
    let announced = app
        .announce_addition("acme", &eea_entry("Public ApS"))
        .await;

    let others = [None, Some(controller("roskilde")), Some(processor("other"))];
    for token in &others {
        for path in [
            "/v1/processors/acme/changes?state=draft",
            "/v1/processors/acme/changes",
            "/v1/processors/acme/changes?limit=1",
        ] {
            let reply = app.get(path, token.as_deref()).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            assert!(
                !reply.text.contains("Secret Plans"),
                "{path}: {}",
                reply.text
            );
        }
        let all = app
            .get("/v1/processors/acme/changes", token.as_deref())
            .await;
        assert_eq!(all.json()["items"].as_array().unwrap().len(), 1);
        assert_eq!(all.json()["items"][0]["id"], announced["id"]);
        let single = app
            .get(
                &format!("/v1/processors/acme/changes/{draft_id}"),
                token.as_deref(),
            )
            .await;
        assert!(!single.text.contains("Secret Plans"));
        single.problem(404);
    }
    for token in [processor("acme"), admin()] {
        let drafts = app
            .get("/v1/processors/acme/changes?state=draft", Some(&token))
            .await
            .json();
        assert_eq!(drafts["items"].as_array().unwrap().len(), 1);
        assert_eq!(drafts["items"][0]["id"], draft_id.as_str());
        let single = app
            .get(
                &format!("/v1/processors/acme/changes/{draft_id}"),
                Some(&token),
            )
            .await;
        assert_eq!(single.status, 200, "{}", single.text);
        assert_eq!(single.json()["state"], "draft");
    }
    // Announced, it is public.
    let reply = app
        .post(
            &format!("/v1/processors/acme/changes/{draft_id}/announce"),
            Some(&processor("acme")),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let single = app
        .get(&format!("/v1/processors/acme/changes/{draft_id}"), None)
        .await;
    assert_eq!(single.status, 200, "{}", single.text);
}

fn etag(reply: &Reply) -> String {
    reply
        .headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn conditional(app: &TestApp, path: &str, tag: &str) -> Reply {
    app.send(app.client.get(app.url(path)).header("if-none-match", tag))
        .await
}

async fn public_etags_ignore_what_one_controller_does(app: TestApp) {
    app.processor("acme").await;
    app.controller("roskilde").await;
    app.controller("lejre").await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    app.agreement("lejre", "acme", general_terms(30)).await;
    app.announce_addition("acme", &eea_entry("Logly ApS")).await;
    let pages = ["/processors/acme", "/v1/processors/acme/feed.atom"];
    let mut before = Vec::new();
    for path in pages {
        let reply = app.get(path, None).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        before.push((etag(&reply), reply.text));
    }

    let roskilde = app.windows("roskilde").await;
    let wid = roskilde[0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.object("roskilde", &wid, Some(SECRET_REASON))
            .await
            .status,
        200
    );
    let withdrawn = app
        .delete(
            &format!("/v1/controllers/roskilde/windows/{wid}/objection"),
            Some(&controller("roskilde")),
        )
        .await;
    assert_eq!(withdrawn.status, 200, "{}", withdrawn.text);
    let lejre = app.windows("lejre").await;
    let approved = app.approve("lejre", lejre[0]["id"].as_str().unwrap()).await;
    assert_eq!(approved.status, 200, "{}", approved.text);

    for (path, (tag, body)) in pages.iter().zip(&before) {
        let again = app.get(path, None).await;
        assert_eq!(&etag(&again), tag, "{path}: the ETag did not move");
        assert_eq!(&again.text, body, "{path}: nor did the page");
        let not_modified = conditional(&app, path, tag).await;
        assert_eq!(not_modified.status, 304, "{path}");
    }

    // A new customer whose window closes earlier changes nothing public either...
    app.controller("lejre2").await;
    app.agreement("lejre2", "acme", general_terms(7)).await;
    let page = app.get(pages[0], None).await;
    assert_eq!(etag(&page), before[0].0);
    // ...but one whose window closes later moves the objection deadline the page shows.
    app.controller("greve").await;
    app.agreement("greve", "acme", general_terms(60)).await;
    let page = app.get(pages[0], None).await;
    assert_ne!(etag(&page), before[0].0, "a new window changes the page");
    assert_ne!(page.text, before[0].1);
    assert_eq!(conditional(&app, pages[0], &before[0].0).await.status, 200);
}

/// A processor's own endpoint being disabled names no controller, but it is the processor's
/// business: not public, not for its customers.
async fn processor_only_events_stay_with_the_processor(app: TestApp) {
    app.processor("acme").await;
    app.controller("lejre").await;
    app.agreement("lejre", "acme", general_terms(30)).await;
    let pool = subreg::store::connect(&app.database_url, 1).unwrap();
    let mut conn = pool.get().unwrap();
    let disabled = subreg::store::write_transaction(&mut conn, |conn| {
        subreg::store::events::append(
            conn,
            chrono::Utc::now(),
            subreg::store::events::NewEvent {
                event_type: subreg::domain::event::EventType::EndpointDisabled,
                processor_id: "acme".into(),
                controller_id: None,
                data: json!({"endpoint_id": "ep-1", "owner_kind": "processor", "owner_id": "acme",
                             "reason": "https://hooks.acme.example answered 410"}),
            },
        )
    })
    .unwrap()
    .id;
    let path = format!("/v1/processors/acme/events/{disabled}");
    assert_eq!(app.get(&path, Some(&processor("acme"))).await.status, 200);
    app.get(&path, None).await.problem(401);
    app.get(&path, Some(&controller("lejre")))
        .await
        .problem(404);
    let seen = all_events(&app, &controller("lejre"), 500).await;
    assert!(!ids(&seen).contains(&disabled));
    let everything = all_events(&app, &processor("acme"), 500).await;
    assert!(ids(&everything).contains(&disabled));
    let feed = app.get("/v1/processors/acme/feed.atom", None).await;
    assert_eq!(feed.status, 200);
    assert!(!feed.text.contains(&disabled) && !feed.text.contains("hooks.acme"));
}

on_both_backends!(
    processor_only_events_stay_with_the_processor,
    a_controller_sees_public_events_and_its_own_only,
    verify_tells_a_controller_the_result_without_other_events,
    drafts_are_the_processors_own,
    public_etags_ignore_what_one_controller_does,
);
