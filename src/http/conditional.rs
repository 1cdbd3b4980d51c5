//! Conditional answers for the public reads besides the feeds (the processor page, the index,
//! the change page, the JSON and CSV lists), the way the feeds answer them: the version of a
//! read is kept in memory and trusted while this process has committed no event since and for
//! at most `VERSION_TRUST` (so what another instance on the same database writes shows within
//! that time); otherwise it is read with one cheap query. An unchanged read is answered 304 from
//! the version alone, and the rendered body is kept per version.

use super::error::ApiError;
use super::feeds::{not_modified, validators, ReadVersion, Rendered};
use super::AppState;
use crate::store::{DbConnection, StoreError};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};

/// The version of one read: from memory when trusted, else from `query` (which is remembered).
/// Errors (an unknown processor) are not remembered.
pub(crate) async fn version<F>(
    state: &AppState,
    key: &str,
    query: F,
) -> Result<ReadVersion, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<ReadVersion, StoreError> + Send + 'static,
{
    // Read before the query: an event committed while it runs moves the generation, so the
    // answer is not trusted past it.
    let generation = crate::store::events::events_generation();
    if let Some(known) = state.feed_cache.known_read_version(key, generation) {
        return Ok(known);
    }
    let version = state.db(query).await?;
    state
        .feed_cache
        .remember_read_version(key, generation, version.clone());
    Ok(version)
}

/// The version of everything a processor's page and lists show (store::pages::processor_version).
pub(crate) async fn processor_version(
    state: &AppState,
    pid: &str,
) -> Result<ReadVersion, ApiError> {
    let lookup = pid.to_string();
    version(state, &format!("processor\n{pid}"), move |conn| {
        crate::store::pages::processor_version(conn, &lookup).map(|v| ReadVersion {
            key: v.key(),
            last_modified: v.last_at,
        })
    })
    .await
}

/// What the cache says about one rendering (`key`) of a read at `version`.
pub(crate) enum Cached {
    /// The client holds this version: 304 with these validators.
    NotModified(Rendered),
    /// Rendered before at this version.
    Hit(Rendered),
    /// To be rendered (and `store`d when cacheable).
    Miss,
}

pub(crate) fn lookup(
    state: &AppState,
    req: &HttpRequest,
    key: &str,
    version: &ReadVersion,
    cacheable: bool,
) -> Cached {
    // A kept rendering carries its validators: no tag to compute for an unchanged read.
    let kept = cacheable
        .then(|| state.feed_cache.get(key, &version.key))
        .flatten();
    match kept {
        Some(hit) if not_modified(req, &hit) => Cached::NotModified(hit),
        Some(hit) => Cached::Hit(hit),
        None => {
            let validators_only = Rendered::new(
                key,
                version.key.clone(),
                version.last_modified,
                Bytes::new(),
            );
            if not_modified(req, &validators_only) {
                Cached::NotModified(validators_only)
            } else {
                Cached::Miss
            }
        }
    }
}

/// The rendering of `key` at `version`, kept when `cacheable`.
pub(crate) fn store(
    state: &AppState,
    key: &str,
    version: ReadVersion,
    body: Bytes,
    cacheable: bool,
) -> Rendered {
    let rendered = Rendered::new(key, version.key, version.last_modified, body);
    if cacheable {
        state.feed_cache.put(key.to_string(), rendered.clone());
    }
    rendered
}

/// 304 with the validators (`decorate` adds what every answer of the read carries).
pub(crate) fn not_modified_answer(
    rendered: &Rendered,
    decorate: impl FnOnce(&mut HttpResponseBuilder),
) -> HttpResponse {
    let mut response = HttpResponse::NotModified();
    validators(&mut response, rendered, false);
    decorate(&mut response);
    response.finish()
}

/// 200 with the validators and the body.
pub(crate) fn fresh_answer(
    rendered: Rendered,
    content_type: &'static str,
    decorate: impl FnOnce(&mut HttpResponseBuilder),
) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    validators(&mut response, &rendered, false);
    decorate(&mut response);
    response.content_type(content_type).body(rendered.body)
}
