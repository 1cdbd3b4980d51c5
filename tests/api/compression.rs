//! Compression: gzip and brotli as asked, the same bytes once decoded, an ETag per encoding.

use crate::helpers::*;
use crate::on_both_backends;
use crate::request_ids::header;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::io::Read;

/// Every value of a header that may repeat (`Vary`), joined and lower-cased.
pub(crate) fn all_values(headers: &HeaderMap, name: &str) -> String {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(", ")
        .to_ascii_lowercase()
}

/// A response with its body as raw bytes: this client decodes no content coding.
pub(crate) struct Raw {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub(crate) async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
) -> Raw {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request sent");
    Raw {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

pub(crate) async fn get_raw(app: &TestApp, path: &str, headers: &[(&str, &str)]) -> Raw {
    raw(app, reqwest::Method::GET, path, headers).await
}

fn decode(coding: &str, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        "gzip" => flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .expect("gzip decodes"),
        "br" => brotli::Decompressor::new(bytes, 4096)
            .read_to_end(&mut out)
            .expect("brotli decodes"),
        other => panic!("no decoder for {other}"),
    };
    out
}

pub(crate) async fn with_entries(app: &TestApp, pid: &str, count: usize) {
    app.processor(pid).await;
    for i in 0..count {
        let mut entry = azure();
        entry["name"] = json!(format!("Sub-processor number {i}"));
        app.seed(pid, &entry).await;
    }
}

async fn compressed_answers_keep_their_bytes_and_get_their_own_etags(app: TestApp) {
    with_entries(&app, "acme", 12).await;
    for i in 0..6 {
        app.processor(&format!("other-{i}")).await;
    }
    let paths = [
        "/v1/processors/acme/feed.atom",
        "/processors/acme",
        "/v1/processors/acme/subprocessors",
        "/v1/processors/acme/subprocessors.csv",
        "/v1/processors",
        "/openapi.yaml",
    ];
    for path in paths {
        let plain = get_raw(&app, path, &[]).await;
        assert_eq!(plain.status, 200, "{path}");
        assert!(
            plain.body.len() > 1024,
            "{path}: {} bytes",
            plain.body.len()
        );
        assert_eq!(header(&plain.headers, "content-encoding"), "", "{path}");
        assert!(
            all_values(&plain.headers, "vary").contains("accept-encoding"),
            "{path}"
        );
        let plain_tag = plain
            .headers
            .get("etag")
            .map(|_| header(&plain.headers, "etag"));
        let mut tags = vec![plain_tag.clone()];
        for coding in ["gzip", "br"] {
            let encoded = get_raw(&app, path, &[("accept-encoding", coding)]).await;
            assert_eq!(encoded.status, 200, "{path}");
            assert_eq!(
                header(&encoded.headers, "content-encoding"),
                coding,
                "{path}"
            );
            assert!(
                all_values(&encoded.headers, "vary").contains("accept-encoding"),
                "{path}"
            );
            assert!(encoded.body.len() < plain.body.len(), "{path} {coding}");
            assert_eq!(decode(coding, &encoded.body), plain.body, "{path} {coding}");
            let Some(plain_tag) = &plain_tag else {
                continue;
            };
            // A strong tag per representation: the coding is part of it.
            let tag = header(&encoded.headers, "etag");
            assert_eq!(
                tag,
                format!("{}-{coding}\"", plain_tag.trim_end_matches('"')),
                "{path}"
            );
            assert!(!tags.contains(&Some(tag.clone())), "{path}: {tag} repeats");
            tags.push(Some(tag.clone()));
            // The client's tag of this coding still gives 304, named as it was sent.
            let again = get_raw(
                &app,
                path,
                &[("accept-encoding", coding), ("if-none-match", tag.as_str())],
            )
            .await;
            assert_eq!(again.status, 304, "{path} {coding}");
            assert_eq!(header(&again.headers, "etag"), tag, "{path}");
            assert!(again.body.is_empty(), "{path}");
            assert_eq!(header(&again.headers, "content-encoding"), "", "{path}");
            // ... and with several tags listed, weak or not.
            let listed = format!("\"other\", W/{tag}");
            let weak = get_raw(
                &app,
                path,
                &[
                    ("accept-encoding", coding),
                    ("if-none-match", listed.as_str()),
                ],
            )
            .await;
            assert_eq!(weak.status, 304, "{path} {coding}");
            // Another coding's tag names other bytes: the full answer in this coding.
            let other = if coding == "gzip" { "br" } else { "gzip" };
            let switched = get_raw(
                &app,
                path,
                &[("accept-encoding", other), ("if-none-match", tag.as_str())],
            )
            .await;
            assert_eq!(switched.status, 200, "{path} {coding} → {other}");
            assert_eq!(header(&switched.headers, "content-encoding"), other);
            // Without Accept-Encoding the encoded tag matches nothing either.
            let identity = get_raw(&app, path, &[("if-none-match", tag.as_str())]).await;
            assert_eq!(identity.status, 200, "{path}");
            assert_eq!(identity.body, plain.body);
        }
        if let Some(plain_tag) = &plain_tag {
            let again = get_raw(&app, path, &[("if-none-match", plain_tag.as_str())]).await;
            assert_eq!(again.status, 304, "{path}");
            assert_eq!(&header(&again.headers, "etag"), plain_tag, "{path}");
        }
    }
    // Feeds and pages have ETags to check above.
    assert!(paths.iter().take(2).all(|p| p.contains("acme")));

    // Tiny bodies go as they are.
    for path in ["/healthz", "/v1/processors/nope"] {
        let tiny = get_raw(&app, path, &[("accept-encoding", "gzip, br")]).await;
        assert!(tiny.body.len() < 1024, "{path}");
        assert_eq!(header(&tiny.headers, "content-encoding"), "", "{path}");
        assert!(
            serde_json::from_slice::<Value>(&tiny.body).is_ok(),
            "{path}"
        );
        assert!(all_values(&tiny.headers, "vary").contains("accept-encoding"));
    }
    // HEAD carries the GET's encoded validators and no body.
    let get = get_raw(&app, "/processors/acme", &[("accept-encoding", "br")]).await;
    let head = raw(
        &app,
        reqwest::Method::HEAD,
        "/processors/acme",
        &[("accept-encoding", "br")],
    )
    .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(header(&head.headers, "etag"), header(&get.headers, "etag"));
}

on_both_backends!(compressed_answers_keep_their_bytes_and_get_their_own_etags);
