//! Atom feeds: RFC 4287 required elements checked with a real XML parser, escaping of hostile
//! names, RFC 5005 paging, conditional GETs, and the controller feed token.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use subreg::domain::event::EventType;
use subreg::store::events::{append, NewEvent};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

const HOSTILE: [&str; 5] = [
    "<script>alert(1)</script>",
    "A & B",
    "]]>",
    "\"quoted\" 'single'",
    "Ørsted A/S",
];

fn entry(name: &str) -> Value {
    json!({
        "name": name, "address": "Kanalvej 7, 2800 Kgs. Lyngby", "country": "DK",
        "processing_locations": ["IE"], "purpose": "Hosting"
    })
}

async fn seed_many(app: &TestApp, pid: &str, names: &[String]) {
    let body = Value::Array(names.iter().map(|n| entry(n)).collect());
    let reply = app
        .post(
            &format!("/v1/processors/{pid}/subprocessors"),
            Some(&processor(pid)),
            &body,
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

/// Writes an event straight into the log, as the lifecycle will (it is built in parallel).
fn append_event(
    app: &TestApp,
    pid: &str,
    cid: Option<&str>,
    event_type: EventType,
    data: Value,
) -> String {
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("connection");
    subreg::store::write_transaction(&mut conn, |conn| {
        append(
            conn,
            chrono::Utc::now(),
            NewEvent {
                event_type,
                processor_id: pid.to_string(),
                controller_id: cid.map(str::to_string),
                data,
            },
        )
    })
    .expect("event appended")
    .id
}

fn window(cid: &str, pid: &str) -> Value {
    json!({
        "id": uuid::Uuid::new_v4().to_string(), "change_id": "chg-1", "agreement_id": "agr-1",
        "controller_id": cid, "processor_id": pid, "opened_at": "2026-11-23T12:00:00Z",
        "closes_at": "2026-12-23T12:00:00Z", "state": "open", "conflicts": [],
        "decided_at": null, "objection": null, "approval": null,
        "change": {"id": "chg-1", "kind": "addition", "subprocessor": entry("Qbox ApS")}
    })
}

/// One entry as read back by the raw parser.
#[derive(Debug)]
struct ParsedEntry {
    id: String,
    title: String,
    alternate: String,
    related: String,
    event: Value,
}

#[derive(Debug)]
struct ParsedFeed {
    id: String,
    updated: chrono::DateTime<chrono::FixedOffset>,
    self_link: String,
    next: Option<String>,
    entries: Vec<ParsedEntry>,
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> roxmltree::Node<'a, 'i> {
    node.children()
        .find(|c| c.has_tag_name((ATOM_NS, name)))
        .unwrap_or_else(|| panic!("<{name}> missing in <{}>", node.tag_name().name()))
}

fn text_of(node: roxmltree::Node, name: &str) -> String {
    child(node, name).text().unwrap_or("").to_string()
}

fn link(node: roxmltree::Node, rel: &str) -> Option<(String, Option<String>)> {
    node.children()
        .filter(|c| c.has_tag_name((ATOM_NS, "link")))
        .find(|c| c.attribute("rel").unwrap_or("alternate") == rel)
        .map(|c| {
            (
                c.attribute("href").expect("link href").to_string(),
                c.attribute("type").map(str::to_string),
            )
        })
}

fn instant(text: &str) -> chrono::DateTime<chrono::FixedOffset> {
    let at = chrono::DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}"));
    assert!(
        at.timestamp() > 1_700_000_000,
        "updated looks unset: {text}"
    );
    at
}

/// Parses a feed with a real XML parser and checks RFC 4287's required elements; also reads
/// it back with atom_syndication.
fn parse_feed(xml: &str) -> ParsedFeed {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert!(root.has_tag_name((ATOM_NS, "feed")), "root is atom:feed");
    let id = text_of(root, "id");
    assert!(!id.trim().is_empty(), "feed id is empty");
    assert!(!text_of(root, "title").trim().is_empty(), "feed title");
    let updated = instant(&text_of(root, "updated"));
    let (self_link, _) = link(root, "self").expect("link rel=self");
    assert!(self_link.starts_with("http"), "{self_link}");
    let author = child(root, "author");
    assert!(!text_of(author, "name").trim().is_empty(), "author name");
    let next = link(root, "next").map(|(href, _)| href);
    let entries = root
        .children()
        .filter(|c| c.has_tag_name((ATOM_NS, "entry")))
        .map(|e| {
            let id = text_of(e, "id");
            let uuid = id.strip_prefix("urn:uuid:").expect("entry id is urn:uuid");
            uuid::Uuid::parse_str(uuid).expect("entry id is a UUID");
            let title = text_of(e, "title");
            assert!(!title.trim().is_empty(), "entry title");
            instant(&text_of(e, "updated"));
            let (alternate, alternate_type) = link(e, "alternate").expect("alternate link");
            assert_eq!(alternate_type.as_deref(), Some("text/html"));
            let (related, related_type) = link(e, "related").expect("related link");
            assert_eq!(related_type.as_deref(), Some("application/json"));
            assert!(related.ends_with(uuid), "related is the entry's event");
            assert!(!text_of(e, "summary").trim().is_empty(), "summary");
            // Content is for people: HTML of the notice (never the raw event JSON).
            let content = child(e, "content");
            assert_eq!(content.attribute("type"), Some("html"));
            let html = content.text().unwrap_or("");
            assert!(html.starts_with("<p><strong>"), "{html}");
            assert!(serde_json::from_str::<Value>(html).is_err());
            ParsedEntry {
                id,
                title,
                alternate,
                related,
                event: Value::Null,
            }
        })
        .collect();
    let feed =
        atom_syndication::Feed::read_from(xml.as_bytes()).expect("atom_syndication reads it");
    assert_eq!(feed.id, id);
    ParsedFeed {
        id,
        updated,
        self_link,
        next,
        entries,
    }
}

fn path_of(app: &TestApp, url: &str) -> String {
    url.strip_prefix(&app.address)
        .unwrap_or_else(|| panic!("{url} is not on {}", app.address))
        .to_string()
}

async fn atom(app: &TestApp, path: &str) -> (Reply, ParsedFeed) {
    let reply = app.get(path, None).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.content_type(), "application/atom+xml");
    let mut feed = parse_feed(&reply.text);
    // The event JSON is one `related` link away.
    for entry in &mut feed.entries {
        let event = app
            .send(app.client.get(&entry.related).bearer_auth(admin()))
            .await;
        assert_eq!(event.status, 200, "{}", event.text);
        entry.event = event.json();
        assert_eq!(
            entry.event["id"].as_str(),
            entry.id.strip_prefix("urn:uuid:")
        );
    }
    (reply, feed)
}

async fn processor_feed_is_valid_atom_and_escapes_names(app: TestApp) {
    app.processor("acme").await;
    // An empty feed still has a real `updated` (the processor's creation), not 1970.
    let (_, empty) = atom(&app, "/v1/processors/acme/feed.atom").await;
    assert_eq!(empty.id, "urn:subreg:feed:processor:acme");
    assert!(empty.entries.is_empty());
    assert!(empty
        .self_link
        .ends_with("/v1/processors/acme/feed.atom?lang=en"));

    let names: Vec<String> = HOSTILE.iter().map(|s| s.to_string()).collect();
    seed_many(&app, "acme", &names).await;
    let private = append_event(
        &app,
        "acme",
        Some("roskilde-kommune"),
        EventType::WindowOpened,
        window("roskilde-kommune", "acme"),
    );
    let (reply, feed) = atom(&app, "/v1/processors/acme/feed.atom").await;
    assert!(
        !reply.text.contains("<script>"),
        "raw XML carries a script tag"
    );
    assert_eq!(
        feed.entries.len(),
        HOSTILE.len(),
        "window events stay private"
    );
    assert!(feed
        .entries
        .iter()
        .all(|e| e.event["controller_id"].is_null()));
    assert!(!reply.text.contains(&private));
    let seen: BTreeSet<String> = feed
        .entries
        .iter()
        .map(|e| e.event["data"]["name"].as_str().expect("name").to_string())
        .collect();
    assert_eq!(seen, HOSTILE.iter().map(|s| s.to_string()).collect());
    for e in &feed.entries {
        let name = e.event["data"]["name"].as_str().expect("name");
        assert_eq!(e.title, format!("Added: {name} (EEA)"), "title round-trips");
        assert!(e.alternate.ends_with("/processors/acme?lang=en"));
    }
    // atom_syndication reads the same text back.
    let parsed = atom_syndication::Feed::read_from(reply.text.as_bytes()).expect("reads");
    let titles: BTreeSet<String> = parsed
        .entries
        .iter()
        .map(|e| e.title.value.clone())
        .collect();
    for name in HOSTILE {
        assert!(
            titles.contains(&format!("Added: {name} (EEA)")),
            "{titles:?}"
        );
    }
    assert!(feed.updated >= empty.updated);

    // The related link serves the event JSON; a private event needs a reader's token.
    let first = &feed.entries[0];
    let event = app.get(&path_of(&app, &first.related), None).await;
    assert_eq!(event.status, 200, "{}", event.text);
    assert_eq!(
        format!("urn:uuid:{}", event.json()["id"].as_str().expect("id")),
        first.id
    );
    let path = format!("/v1/processors/acme/events/{private}");
    app.get(&path, None).await.problem(401);
    app.get(&path, Some(&processor("other"))).await.problem(403);
    let as_owner = app.get(&path, Some(&processor("acme"))).await;
    assert_eq!(as_owner.status, 200);
    assert_eq!(as_owner.json()["controller_id"], "roskilde-kommune");
    app.get("/v1/processors/acme/events/no-such-event", None)
        .await
        .problem(404);
    app.get("/v1/processors/nobody/feed.atom", None)
        .await
        .problem(404);
}

async fn feed_pages_through_120_events(app: TestApp) {
    app.processor("acme").await;
    let names: Vec<String> = (0..120).map(|i| format!("Entry {i:03}")).collect();
    seed_many(&app, "acme", &names).await;
    let mut path = "/v1/processors/acme/feed.atom?lang=en".to_string();
    let mut pages = Vec::new();
    loop {
        let (_, feed) = atom(&app, &path).await;
        pages.push(
            feed.entries
                .iter()
                .map(|e| e.event["data"]["name"].as_str().expect("name").to_string())
                .collect::<Vec<_>>(),
        );
        assert_eq!(path_of(&app, &feed.self_link), path, "self names this page");
        match feed.next {
            Some(next) => path = path_of(&app, &next),
            None => break,
        }
    }
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [50, 50, 20]);
    // Newest first across pages, each event exactly once.
    let all: Vec<String> = pages.concat();
    let mut expected = names.clone();
    expected.reverse();
    assert_eq!(all, expected);
    let bad = app
        .get("/v1/processors/acme/feed.atom?page=%25%25", None)
        .await;
    assert_eq!(bad.error_fields(), ["page"]);
}

async fn conditional_gets_answer_304(app: TestApp) {
    app.processor("acme").await;
    app.seed("acme", &entry("Microsoft Azure")).await;
    let path = "/v1/processors/acme/feed.atom";
    let (first, _) = atom(&app, path).await;
    let header = |reply: &Reply, name: &str| {
        reply
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("{name} header"))
            .to_string()
    };
    let etag = header(&first, "etag");
    let last_modified = header(&first, "last-modified");
    assert!(
        etag.starts_with('"') && !etag.starts_with("W/"),
        "strong: {etag}"
    );

    let conditional = |name: &'static str, value: String| {
        app.send(app.client.get(app.url(path)).header(name, value))
    };
    let not_modified = conditional("if-none-match", etag.clone()).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.text.is_empty());
    assert_eq!(header(&not_modified, "etag"), etag);
    let since = conditional("if-modified-since", last_modified.clone()).await;
    assert_eq!(since.status, 304);
    assert!(since.text.is_empty());
    let other = conditional("if-none-match", "\"something-else\"".into()).await;
    assert_eq!(other.status, 200);
    assert_eq!(other.text, first.text, "cached bytes are the same bytes");

    // A new event changes the validators.
    app.advance("PT1H").await;
    app.seed("acme", &entry("Office 365")).await;
    let changed = conditional("if-none-match", etag.clone()).await;
    assert_eq!(changed.status, 200);
    assert_ne!(header(&changed, "etag"), etag);
    assert_eq!(parse_feed(&changed.text).entries.len(), 2);
    let later = conditional("if-modified-since", last_modified).await;
    assert_eq!(later.status, 200);
}

async fn controller_feed_needs_its_token_and_shows_only_its_events(app: TestApp) {
    for pid in ["acme", "other-proc"] {
        app.processor(pid).await;
    }
    for cid in ["roskilde", "odense"] {
        app.controller(cid).await;
    }
    app.seed("acme", &entry("Microsoft Azure")).await;
    app.seed("other-proc", &entry("Not Mine ApS")).await;
    app.agreement("roskilde", "acme", general_terms(30)).await;
    app.agreement("odense", "acme", general_terms(30)).await;
    let mine = append_event(
        &app,
        "acme",
        Some("roskilde"),
        EventType::WindowOpened,
        window("roskilde", "acme"),
    );
    let theirs = append_event(
        &app,
        "acme",
        Some("odense"),
        EventType::WindowOpened,
        window("odense", "acme"),
    );

    let path = "/v1/controllers/roskilde/feed.atom";
    let no_token = app.get(path, None).await.problem(404);
    let bad_token = app
        .get(&format!("{path}?token=guess"), None)
        .await
        .problem(404);
    assert_eq!(no_token["detail"], bad_token["detail"], "no hint");
    let rotate = "/v1/controllers/roskilde/feed-token";
    app.post(rotate, None, &json!({})).await.problem(401);
    app.post(rotate, Some(&controller("odense")), &json!({}))
        .await
        .problem(403);
    // Before any token exists, nothing opens the feed.
    app.get(&format!("{path}?token="), None).await.problem(404);

    let issued = app
        .post(rotate, Some(&controller("roskilde")), &json!({}))
        .await;
    assert_eq!(issued.status, 200, "{}", issued.text);
    let issued = issued.json();
    let token = issued["token"].as_str().expect("token").to_string();
    assert!(token.len() >= 40, "{token}");
    let feed_url = issued["feed_url"].as_str().expect("feed_url");
    assert_eq!(feed_url, app.url(&format!("{path}?token={token}")));
    let unknown = app
        .get(
            &format!("/v1/controllers/nobody/feed.atom?token={token}"),
            None,
        )
        .await
        .problem(404);
    assert_eq!(unknown["detail"], no_token["detail"], "no hint");

    let (reply, feed) = atom(&app, &path_of(&app, feed_url)).await;
    assert_eq!(feed.id, "urn:subreg:feed:controller:roskilde");
    assert!(reply
        .headers
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("private")));
    let ids: BTreeSet<String> = feed
        .entries
        .iter()
        .map(|e| e.event["id"].as_str().expect("id").to_string())
        .collect();
    assert!(ids.contains(&mine), "its own window");
    assert!(!ids.contains(&theirs), "another controller's window");
    let names: Vec<&str> = feed
        .entries
        .iter()
        .filter_map(|e| e.event["data"]["name"].as_str())
        .collect();
    assert_eq!(
        names,
        ["Microsoft Azure"],
        "public events of its processors only"
    );
    let window_entry = feed
        .entries
        .iter()
        .find(|e| e.event["id"] == mine.as_str())
        .expect("window entry");
    assert!(window_entry
        .alternate
        .ends_with("/processors/acme/changes/chg-1?lang=en"));
    assert_eq!(
        window_entry.title,
        "Objection window open until 23 December 2026, 13:00 CET: addition of Qbox ApS"
    );
    assert!(feed.self_link.contains(&format!("token={token}")));
    // A Danish reader gets the notice in Danish, by `?lang=da` or by Accept-Language.
    let danish_path = format!("{}&lang=da", path_of(&app, feed_url));
    let (_, danish) = atom(&app, &danish_path).await;
    let danish_entry = danish
        .entries
        .iter()
        .find(|e| e.event["id"] == mine.as_str())
        .expect("window entry");
    assert_eq!(
        danish_entry.title,
        "Indsigelsesfristen udløber 23. december 2026 kl. 13.00 (dansk tid): tilføjelse af Qbox ApS"
    );
    assert!(danish.self_link.contains("lang=da"));

    // Signing another agreement brings that processor's earlier public events in, even
    // though no newer event was written (the cached page must not hide them).
    app.agreement("roskilde", "other-proc", general_terms(30))
        .await;
    let (_, widened) = atom(&app, &path_of(&app, feed_url)).await;
    let names: BTreeSet<&str> = widened
        .entries
        .iter()
        .filter_map(|e| e.event["data"]["name"].as_str())
        .collect();
    assert_eq!(names, BTreeSet::from(["Microsoft Azure", "Not Mine ApS"]));

    // Rotating: the old token stops working, the new one works; an admin may rotate too.
    let rotated = app.post(rotate, Some(&admin()), &json!({})).await;
    assert_eq!(rotated.status, 200);
    let new_token = rotated.json()["token"].as_str().expect("token").to_string();
    assert_ne!(new_token, token);
    app.get(&path_of(&app, feed_url), None).await.problem(404);
    atom(&app, &format!("{path}?token={new_token}")).await;
    app.post(
        "/v1/controllers/nobody/feed-token",
        Some(&admin()),
        &json!({}),
    )
    .await
    .problem(404);
}

/// Events this process commits show at once; events another instance writes (simulated by a
/// transaction outside `write_transaction`, which does not move this process's generation)
/// show within `VERSION_TRUST`.
async fn events_from_another_instance_show_within_a_second(app: TestApp) {
    app.processor("acme").await;
    app.seed("acme", &entry("Microsoft Azure")).await;
    let path = "/v1/processors/acme/feed.atom";
    let (_, before) = atom(&app, path).await;
    assert_eq!(before.entries.len(), 1);
    let pool = subreg::store::connect(&app.database_url, 1).expect("pool");
    let mut conn = pool.get().expect("connection");
    let id = diesel::Connection::transaction(&mut *conn, |conn| {
        append(
            conn,
            chrono::Utc::now(),
            NewEvent {
                event_type: EventType::SubprocessorAdded,
                processor_id: "acme".into(),
                controller_id: None,
                data: json!({"name": "Elsewhere"}),
            },
        )
    })
    .expect("appended")
    .id;
    tokio::time::sleep(subreg::http::feeds::VERSION_TRUST + std::time::Duration::from_millis(100))
        .await;
    let (_, after) = atom(&app, path).await;
    assert_eq!(after.entries.len(), 2);
    assert_eq!(after.entries[0].id, format!("urn:uuid:{id}"));
}

on_both_backends!(
    events_from_another_instance_show_within_a_second,
    processor_feed_is_valid_atom_and_escapes_names,
    feed_pages_through_120_events,
    conditional_gets_answer_304,
    controller_feed_needs_its_token_and_shows_only_its_events,
);
