//! CORS by route: public GET routes answer any origin, private routes answer nothing.

use crate::compression::{all_values, get_raw, raw, with_entries};
use crate::helpers::*;
use crate::on_both_backends;
use crate::request_ids::{header, request_id};
use reqwest::header::HeaderMap;

const ORIGIN: &str = "https://elsewhere.example";

fn cors_headers(headers: &HeaderMap) -> Vec<String> {
    headers
        .keys()
        .map(|name| name.as_str().to_string())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

async fn public_routes_answer_any_origin_and_private_routes_none(app: TestApp) {
    with_entries(&app, "acme", 1).await;
    app.controller("roskilde").await;
    let public = [
        "/",
        "/healthz",
        "/readyz",
        "/openapi.yaml",
        "/v1/processors",
        "/v1/processors/acme",
        "/v1/processors/acme/subprocessors",
        "/v1/processors/acme/subprocessors.csv",
        "/v1/processors/acme/feed.atom",
        "/v1/processors/acme/changes",
        "/v1/processors/acme/changes/no-such-change",
        "/v1/processors/acme/events/no-such-event",
        "/processors",
        "/processors/acme",
        "/static/subreg.css",
    ];
    for path in public {
        let reply = get_raw(&app, path, &[("origin", ORIGIN)]).await;
        assert_ne!(reply.status, 401, "{path} needs no token");
        assert_eq!(
            header(&reply.headers, "access-control-allow-origin"),
            "*",
            "{path}"
        );
        assert_eq!(
            header(&reply.headers, "access-control-allow-credentials"),
            ""
        );
        let exposed = all_values(&reply.headers, "access-control-expose-headers");
        for name in ["etag", "last-modified", "x-request-id", "link"] {
            assert!(exposed.contains(name), "{path}: {exposed}");
        }
        let preflight = raw(
            &app,
            reqwest::Method::OPTIONS,
            path,
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", "GET"),
                ("access-control-request-headers", "if-none-match"),
            ],
        )
        .await;
        assert_eq!(preflight.status, 204, "{path}");
        assert_eq!(
            header(&preflight.headers, "access-control-allow-origin"),
            "*"
        );
        assert!(header(&preflight.headers, "access-control-allow-methods").contains("GET"));
        let allowed = all_values(&preflight.headers, "access-control-allow-headers");
        assert!(allowed.contains("if-none-match"), "{path}: {allowed}");
        assert!(!allowed.contains("authorization"), "{path}: {allowed}");
        assert_eq!(
            header(&preflight.headers, "access-control-allow-credentials"),
            ""
        );
        assert!(!request_id(&preflight.headers).is_empty());
    }
    // Decided by the route: a token on a public route changes nothing, and the 304 of a
    // public feed is public too.
    let with_token = get_raw(
        &app,
        "/v1/processors/acme",
        &[
            ("origin", ORIGIN),
            ("authorization", &format!("Bearer {}", admin())),
        ],
    )
    .await;
    assert_eq!(
        header(&with_token.headers, "access-control-allow-origin"),
        "*"
    );
    let feed = get_raw(&app, "/v1/processors/acme/feed.atom", &[]).await;
    let cached = get_raw(
        &app,
        "/v1/processors/acme/feed.atom",
        &[
            ("origin", ORIGIN),
            ("if-none-match", &header(&feed.headers, "etag")),
        ],
    )
    .await;
    assert_eq!(cached.status, 304);
    assert_eq!(header(&cached.headers, "access-control-allow-origin"), "*");

    // Private routes: anything needing a token, and every write, answer no CORS at all.
    let admin = format!("Bearer {}", admin());
    let roskilde = format!("Bearer {}", controller("roskilde"));
    let acme = format!("Bearer {}", processor("acme"));
    let private = [
        ("/v1/controllers", admin.as_str()),
        ("/v1/controllers/roskilde", roskilde.as_str()),
        ("/v1/controllers/roskilde/windows", roskilde.as_str()),
        ("/v1/processors/acme/events", acme.as_str()),
        // the same shape as /events/{eid}, but the router takes /events/verify first
        ("/v1/processors/acme/events/verify", acme.as_str()),
        ("/v1/processors/acme/agreements", acme.as_str()),
        ("/v1/processors/acme/webhooks", acme.as_str()),
        ("/v1/controllers/roskilde/feed.atom?token=not-the-token", ""),
        ("/v1/controllers/roskilde/annex.json", roskilde.as_str()),
        ("/v1/admin/clock", admin.as_str()),
    ];
    for (path, token) in private {
        let mut headers = vec![("origin", ORIGIN)];
        if !token.is_empty() {
            headers.push(("authorization", token));
        }
        let reply = get_raw(&app, path, &headers).await;
        assert!(reply.status < 500, "{path}: {}", reply.status);
        assert_eq!(cors_headers(&reply.headers), Vec::<String>::new(), "{path}");
        let preflight = raw(
            &app,
            reqwest::Method::OPTIONS,
            path,
            &[("origin", ORIGIN), ("access-control-request-method", "GET")],
        )
        .await;
        assert_eq!(preflight.status, 405, "{path}");
        assert_eq!(
            cors_headers(&preflight.headers),
            Vec::<String>::new(),
            "{path}"
        );
    }
    // Writes, even on a public path.
    let write = app
        .send(
            app.client
                .post(app.url("/v1/processors"))
                .header("origin", ORIGIN)
                .bearer_auth(crate::helpers::admin())
                .json(&processor_body("other")),
        )
        .await;
    assert_eq!(write.status, 201);
    assert_eq!(cors_headers(&write.headers), Vec::<String>::new());
    for method in ["POST", "DELETE", "PUT"] {
        let preflight = raw(
            &app,
            reqwest::Method::OPTIONS,
            "/v1/processors",
            &[
                ("origin", ORIGIN),
                ("access-control-request-method", method),
            ],
        )
        .await;
        assert_eq!(preflight.status, 405, "{method}");
        assert_eq!(cors_headers(&preflight.headers), Vec::<String>::new());
    }
}

on_both_backends!(public_routes_answer_any_origin_and_private_routes_none);

/// Every route the CORS table calls public is a registered GET route (a typo or a renamed
/// route would otherwise silently drop out of it).
#[test]
fn the_public_routes_are_registered_get_routes() {
    let mut routes = Vec::new();
    let _ = actix_web::App::new().configure(|cfg| {
        routes = subreg::http::register(cfg, true);
    });
    for public in subreg::http::cors::PUBLIC_ROUTES {
        assert!(
            routes
                .iter()
                .any(|(m, p)| *m == actix_web::http::Method::GET && p == public),
            "{public} is not a GET route"
        );
    }
}
