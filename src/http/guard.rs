//! The request guard every route sits behind: a URL or a JSON body carrying control
//! characters (or, in a URL, bytes that are not UTF-8) is refused before any handler or
//! database sees it. PostgreSQL refuses NUL in text, XML refuses most C0 controls: either
//! would otherwise surface as a 5xx or as a feed that no reader can parse again.

use super::error::ApiError;
use super::MAX_BODY_BYTES;
use crate::domain::text::{check_text, first_forbidden};
use crate::domain::FieldError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, FromRequest};
use serde_json::Value;

/// At most this many field errors are listed for one body.
const MAX_LISTED: usize = 20;

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(refusal) = check_url(&req) {
        return Ok(req.error_response(refusal).map_into_right_body());
    }
    if carries_json(&req) {
        let body = match read_body(&mut req).await {
            Ok(body) => body,
            Err(refusal) => return Ok(req.error_response(refusal).map_into_right_body()),
        };
        // Malformed JSON is left to the JSON extractor, which says what is wrong with it.
        if let Ok(value) = serde_json::from_slice::<Value>(&body) {
            let mut errors = Vec::new();
            walk(&value, "", &mut errors);
            if !errors.is_empty() {
                return Ok(req
                    .error_response(ApiError::Invalid(errors))
                    .map_into_right_body());
            }
        }
        req.set_payload(Payload::from(body));
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Reads the whole body of a request (within the body limit) for a middleware that must look
/// at it; put it back with `req.set_payload(Payload::from(body))` before the handler runs.
pub(crate) async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    let (http_req, payload) = req.parts_mut();
    web::Bytes::from_request(http_req, payload)
        .await
        .map_err(|_| {
            ApiError::PayloadTooLarge(format!(
                "the body is larger than the limit of {MAX_BODY_BYTES} bytes"
            ))
        })
}

fn carries_json(req: &ServiceRequest) -> bool {
    if !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return false;
    }
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

/// The path and the query, percent-decoded, must be UTF-8 without control characters.
fn check_url(req: &ServiceRequest) -> Result<(), ApiError> {
    for (part, raw) in [("path", req.path()), ("query", req.query_string())] {
        let decoded = percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| {
                ApiError::BadRequest(format!(
                    "the URL's {part} is not UTF-8 once percent-decoded: encode text as UTF-8"
                ))
            })?;
        if let Some(code) = first_forbidden(&decoded, false) {
            return Err(ApiError::BadRequest(format!(
                "the URL's {part} contains the control character {code}: remove it"
            )));
        }
    }
    Ok(())
}

/// Checks every string (and every key) of a JSON document, naming fields by their path:
/// `subprocessor.name`, `processing_locations[1]`.
fn walk(value: &Value, path: &str, errors: &mut Vec<FieldError>) {
    if errors.len() >= MAX_LISTED {
        return;
    }
    match value {
        Value::String(text) => {
            let field = if path.is_empty() { "body" } else { path };
            if let Err(error) = check_text(field, text) {
                errors.push(error);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(members) => {
            for (key, member) in members {
                let field = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                if let Some(code) = first_forbidden(key, false) {
                    errors.push(FieldError::new(
                        field.clone(),
                        format!("the member name contains the control character {code}"),
                    ));
                }
                walk(member, &field, errors);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> Vec<String> {
        let mut errors = Vec::new();
        walk(&value, "", &mut errors);
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn every_string_is_checked_and_named_by_its_path() {
        let body = json!({
            "name": "ok",
            "subprocessor": {"name": "bad\u{0}", "purpose": "two\nlines", "address": "x\u{7}"},
            "processing_locations": ["IE", "N\u{85}L"],
            "k\u{1}": 1
        });
        assert_eq!(
            fields(body),
            vec![
                "k\u{1}",
                "processing_locations[1]",
                "subprocessor.address",
                "subprocessor.name"
            ]
        );
        assert!(fields(json!({"summary": "a\tb\nc", "n": [1, null, true]})).is_empty());
        assert_eq!(fields(json!("\u{ffff}")), vec!["body"]);
    }
}
