//! Compression (actix-web's `Compress`: gzip, brotli, zstd, deflate as the client's
//! `Accept-Encoding` asks) with entity tags that stay correct per encoding.
//!
//! A strong ETag names exact bytes, so a compressed answer carries the handler's tag with the
//! coding appended (`"abc"` → `"abc-gzip"`). Handlers know nothing of this: before them,
//! `etags` turns a tag of the coding this request will get back into the handler's own tag,
//! so `If-None-Match: "abc-gzip"` still gives 304; after `Compress`, it renames the tag of an
//! encoded answer (and of the 304 that stands for one). A tag of another coding matches
//! nothing; the identity tag still matches (the identity bytes are acceptable to everyone).
//!
//! `small_bodies` sits inside `Compress` and keeps bodies under `MIN_COMPRESS_BYTES` as they
//! are: it marks them `Content-Encoding: identity`, which `Compress` leaves alone and `etags`
//! removes again.

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{
    self, AcceptEncoding, ContentEncoding, Encoding, HeaderMap, HeaderValue,
};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::HttpMessage;

/// Bodies smaller than this are sent as they are: compressing them gains nothing.
pub const MIN_COMPRESS_BYTES: u64 = 1024;

/// What `Compress` chooses from (the actix-web features enabled for this crate).
const SUPPORTED: [Encoding; 5] = [
    Encoding::identity(),
    Encoding::brotli(),
    Encoding::gzip(),
    Encoding::deflate(),
    Encoding::zstd(),
];

/// The content coding `Compress` will apply for this request, `None` for identity.
fn negotiated(req: &ServiceRequest) -> Option<&'static str> {
    let accept = req.get_header::<AcceptEncoding>()?;
    match accept.negotiate(SUPPORTED.iter())? {
        Encoding::Known(coding) if coding != ContentEncoding::Identity => Some(coding.as_str()),
        _ => None,
    }
}

/// `"abc"` with the coding appended: `"abc-gzip"` (a weak tag stays weak).
pub fn tag_for(etag: &str, coding: &str) -> Option<String> {
    let (weak, opaque) = split_weak(etag);
    let inner = opaque.strip_suffix('"')?;
    inner
        .starts_with('"')
        .then(|| format!("{weak}{inner}-{coding}\""))
}

/// The handler's tag for a tag of `coding`: `"abc-gzip"` → `"abc"`; `None` for other tags.
fn untagged(etag: &str, coding: &str) -> Option<String> {
    let (weak, opaque) = split_weak(etag);
    let inner = opaque.strip_suffix(&format!("-{coding}\""))?;
    inner.starts_with('"').then(|| format!("{weak}{inner}\""))
}

fn split_weak(etag: &str) -> (&'static str, &str) {
    match etag.strip_prefix("W/") {
        Some(rest) => ("W/", rest),
        None => ("", etag),
    }
}

/// Rewrites `If-None-Match` so the tags of `coding` read as the handler's tags; returns the
/// handler tags the client holds in that coding.
fn untag_conditions(headers: &mut HeaderMap, coding: &str) -> Vec<String> {
    let Some(text) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return Vec::new();
    };
    let mut held = Vec::new();
    let tags: Vec<String> = text
        .split(',')
        .map(str::trim)
        .map(|tag| match untagged(tag, coding) {
            Some(plain) => {
                held.push(split_weak(&plain).1.to_string());
                plain
            }
            None => tag.to_string(),
        })
        .collect();
    if !held.is_empty() {
        if let Ok(value) = HeaderValue::from_str(&tags.join(", ")) {
            headers.insert(header::IF_NONE_MATCH, value);
        }
    }
    held
}

/// Wraps `Compress`: ETags per encoding and `Vary: Accept-Encoding` on every answer.
pub async fn etags(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let coding = negotiated(&req);
    let held = match coding {
        Some(coding) => untag_conditions(req.headers_mut(), coding),
        None => Vec::new(),
    };
    let mut response = next.call(req).await?;
    let not_modified = response.status() == StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    let applied = match headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
    {
        // The mark of `small_bodies`: sent as is, and nothing to say about it.
        Some("identity") => {
            headers.remove(header::CONTENT_ENCODING);
            None
        }
        Some(applied) => Some(applied.to_string()),
        None => None,
    };
    let etag = headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(etag) = etag {
        // A 304 stands for the representation the client holds: the encoded one when the
        // client's matching tag was of this request's coding.
        let coding = applied.or_else(|| {
            coding
                .filter(|_| not_modified && held.iter().any(|t| *t == split_weak(&etag).1))
                .map(str::to_string)
        });
        let renamed = coding
            .and_then(|coding| tag_for(&etag, &coding))
            .and_then(|tag| HeaderValue::from_str(&tag).ok());
        if let Some(tag) = renamed {
            headers.insert(header::ETAG, tag);
        }
    }
    let varies = headers.get_all(header::VARY).any(|v| {
        v.to_str()
            .map(|v| {
                v.split(',').any(|name| {
                    matches!(
                        name.trim().to_ascii_lowercase().as_str(),
                        "accept-encoding" | "*"
                    )
                })
            })
            .unwrap_or(false)
    });
    if !varies {
        headers.append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    Ok(response)
}

/// Inside `Compress`: bodies under `MIN_COMPRESS_BYTES` are marked to be sent as they are.
pub async fn small_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(req).await?;
    let small =
        matches!(response.response().body().size(), BodySize::Sized(n) if n < MIN_COMPRESS_BYTES);
    if small && !response.headers().contains_key(header::CONTENT_ENCODING) {
        response.headers_mut().insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static("identity"),
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_per_coding() {
        assert_eq!(tag_for("\"abc\"", "gzip").as_deref(), Some("\"abc-gzip\""));
        assert_eq!(tag_for("W/\"abc\"", "br").as_deref(), Some("W/\"abc-br\""));
        assert_eq!(tag_for("abc", "br"), None);
        assert_eq!(tag_for("\"", "br"), None);
        assert_eq!(untagged("\"abc-gzip\"", "gzip").as_deref(), Some("\"abc\""));
        assert_eq!(untagged("W/\"abc-br\"", "br").as_deref(), Some("W/\"abc\""));
        assert_eq!(untagged("\"abc-br\"", "gzip"), None);
        assert_eq!(untagged("\"abc\"", "gzip"), None);
        assert_eq!(untagged("-gzip\"", "gzip"), None);
    }

    #[test]
    fn conditions_of_the_coding_read_as_the_handlers_tags() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a-br\", W/\"b-gzip\", \"c\""),
        );
        let held = untag_conditions(&mut headers, "gzip");
        assert_eq!(held, vec!["\"b\""]);
        assert_eq!(
            headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok()),
            Some("\"a-br\", W/\"b\", \"c\"")
        );
        let mut untouched = HeaderMap::new();
        untouched.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(untag_conditions(&mut untouched, "br").is_empty());
    }
}
