//! Hostile and broken input: every answer a 4xx problem+json, never a panic, a dropped
//! connection or a 5xx; shared state that stays consistent under concurrency.

use crate::helpers::*;
use crate::on_both_backends;
use serde_json::json;

async fn vat_numbers_with_non_ascii_characters_are_refused(app: TestApp) {
    for number in ["aé123", "€1234", "D\u{301}K1234", "DK𝔇1234"] {
        let mut body = processor_body("acme");
        body["registration"] = json!({"scheme": "vat", "number": number});
        let reply = app.post("/v1/processors", Some(&admin()), &body).await;
        assert_eq!(
            reply.error_fields(),
            vec!["registration.number"],
            "{number}: {}",
            reply.text
        );
    }
    // The server is still there and well.
    assert_eq!(app.get("/healthz", None).await.status, 200);
}

async fn the_test_clock_stays_within_a_century(app: TestApp) {
    let reply = app
        .post(
            "/v1/admin/clock",
            Some(&admin()),
            &json!({"advance": "P300000Y"}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["advance"]);
    // 99 years pass, a further 2 would pass the century: refused, and the clock still answers.
    app.advance("P99Y").await;
    let reply = app
        .post(
            "/v1/admin/clock",
            Some(&admin()),
            &json!({"advance": "P2Y"}),
        )
        .await;
    assert_eq!(reply.error_fields(), vec!["advance"]);
    let reply = app.get("/v1/admin/clock", Some(&admin())).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(app.get("/v1/processors", None).await.status, 200);
}

async fn concurrent_clock_advances_all_count(app: TestApp) {
    let requests = (0..10).map(|_| app.advance("PT1H"));
    futures_util::future::join_all(requests).await;
    let clock = app.get("/v1/admin/clock", Some(&admin())).await.json();
    assert_eq!(clock["offset_ms"], 10 * 3_600_000, "{clock}");
}

on_both_backends!(
    vat_numbers_with_non_ascii_characters_are_refused,
    the_test_clock_stays_within_a_century,
    concurrent_clock_advances_all_count,
);
