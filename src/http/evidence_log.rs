//! The evidence log's proofs (DESIGN §2, §4b): the latest signed checkpoint, inclusion proofs
//! of the events a caller may see, consistency proofs between sizes, and the verifier keys.

use super::auth::MaybeActor;
use super::error::ApiError;
use super::openapi::{NotFound, ProcessorId, ValidationFailed};
use super::{AppState, Routes};
use crate::domain::log::{self as tree, LogError};
use crate::domain::FieldError;
use crate::store::{feeds, log, organisations, StoreError};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

pub fn routes(routes: &mut Routes) {
    routes
        .add(
            Method::GET,
            "/v1/processors/{pid}/log/checkpoint",
            latest_checkpoint,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/log/inclusion",
            inclusion_proof,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/log/consistency",
            consistency_proof,
        )
        .add(Method::GET, "/.well-known/subreg/log-keys", log_keys)
        .add(
            Method::GET,
            "/v1/controllers/{cid}/evidence",
            evidence_bundle,
        );
}

const PLAIN: &str = "text/plain; charset=utf-8";

fn size_refused(field: &str, error: LogError) -> ApiError {
    match error {
        LogError::Size(message) => ApiError::Invalid(vec![FieldError::new(field, message)]),
        other => ApiError::Internal(other.to_string()),
    }
}

/// The latest signed checkpoint
///
/// Public. The newest checkpoint of the processor's log as a C2SP signed note: the body
/// `<origin>\n<size>\n<base64 root>\n` (C2SP tlog-checkpoint; the origin is
/// `<public host>/processors/{pid}`), a blank line, and one signature line per key
/// (`— <key name> <base64(key id || Ed25519 signature)>`). Verify it with a key from
/// `/.well-known/subreg/log-keys`. A checkpoint is signed at the end of every write that
/// appends events. 404 while the log is empty.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/log/checkpoint",
    tag = "evidence",
    operation_id = "getLogCheckpoint",
    security(()),
    params(ProcessorId),
    responses(
        (
            status = 200,
            description = "The signed note (`text/plain; charset=utf-8`).",
            body = String,
            content_type = "text/plain",
            example = json!("subreg.example/processors/timengo-dpg\n42\nqJp0s9mnAqiUKyHyrx0yTsgAUz2NQrwZRhvx5ZkE6Gk=\n\n— subreg.example Az3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hHe2o+3FD/sXOCwL9WzrT4s0M0c0tCyqcQYf8hE3MNE0y+vA0=\n")
        ),
        (status = 404, response = NotFound),
    )
)]
async fn latest_checkpoint(
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let checkpoint = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            log::latest_checkpoint(conn, &pid)?.ok_or_else(|| {
                StoreError::not_found("checkpoint of the evidence log of processor", pid)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().content_type(PLAIN).body(checkpoint.note))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InclusionQuery {
    /// The event's id.
    #[param(example = "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b")]
    pub event: String,
    /// The tree size to prove inclusion in: more than the event's `index`, at most the log's
    /// size. Default: the size of the latest checkpoint.
    #[param(minimum = 1)]
    pub size: Option<u64>,
}

/// An inclusion proof (RFC 9162 §2.1.3): with `leaf_hash` and `proof` in order, the root of
/// the tree of `size` leaves is recomputed and held against a checkpoint of that size.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InclusionProof {
    #[schema(format = "uuid")]
    pub event_id: String,
    /// The event's leaf index.
    #[schema(minimum = 0)]
    pub index: u64,
    #[schema(minimum = 1)]
    pub size: u64,
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub leaf_hash: String,
    /// The audit path, from the leaf's sibling up, each SHA-256 in hex.
    #[schema(value_type = Vec<crate::domain::event::Sha256Hex>)]
    pub proof: Vec<String>,
    /// The root of the tree of `size` leaves, in hex.
    #[schema(value_type = crate::domain::event::Sha256Hex)]
    pub root: String,
    /// The signed checkpoint of exactly this size, when one was signed (null otherwise: prove
    /// consistency from it to a signed size instead).
    #[schema(required = true)]
    pub checkpoint: Option<String>,
}

/// Inclusion proof of an event
///
/// The event must be one the caller may see: a public event for anyone; otherwise the
/// token of the processor, of the controller the event names (with an agreement with
/// `{pid}`) or an admin, as for `GET /v1/processors/{pid}/events/{eid}` (an event the caller
/// may not see is a 404, like an unknown one). A `size` outside `index + 1 ..= log size` is
/// refused with 422 (field `size`) saying the allowed range.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/log/inclusion",
    tag = "evidence",
    operation_id = "getInclusionProof",
    security((), ("bearerAuth" = [])),
    params(ProcessorId, InclusionQuery),
    responses(
        (
            status = 200,
            description = "The proof.",
            body = InclusionProof,
            example = json!({
                "event_id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                "index": 2,
                "size": 3,
                "leaf_hash": "5d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                "proof": ["7d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"],
                "root": "9d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592",
                "checkpoint": "subreg.example/processors/timengo-dpg\n3\nqJp0s9mnAqiUKyHyrx0yTsgAUz2NQrwZRhvx5ZkE6Gk=\n\n— subreg.example Az3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hHe2o+3FD/sXOCwL9WzrT4s0M0c0tCyqcQYf8hE3MNE0y+vA0=\n"
            })
        ),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn inclusion_proof(
    state: web::Data<AppState>,
    actor: MaybeActor,
    path: web::Path<String>,
    query: web::Query<InclusionQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let InclusionQuery { event, size } = query.into_inner();
    let (lookup_pid, lookup_eid) = (pid.clone(), event.clone());
    let stored = state
        .db(move |conn| feeds::event(conn, &lookup_pid, &lookup_eid))
        .await?;
    if !stored.is_public() {
        let actor = actor.0.ok_or_else(|| {
            ApiError::Unauthorized("this event is not public: send a bearer token".into())
        })?;
        let reader = super::events::require_evidence_reader(&state, &actor, &pid).await?;
        if !stored.visible_to(&reader) {
            return Err(ApiError::from(StoreError::not_found("event", event)));
        }
    }
    let index = u64::try_from(stored.log_index).unwrap_or(u64::MAX);
    let (tree, latest) = state
        .db({
            let pid = pid.clone();
            move |conn| {
                Ok((
                    log::stored_tree(conn, &pid)?,
                    log::latest_checkpoint(conn, &pid)?,
                ))
            }
        })
        .await?;
    let size = size
        .or(latest.map(|c| u64::try_from(c.size).unwrap_or(0)))
        .unwrap_or(tree.size());
    if size <= index {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "size",
            format!(
                "`size` must be greater than the event's index {index} (and at most {}): \
                 the tree of {size} leaves does not hold it",
                tree.size()
            ),
        )]));
    }
    let proof = tree
        .inclusion(index, size)
        .map_err(|e| size_refused("size", e))?;
    let root = tree.root(size).map_err(|e| size_refused("size", e))?;
    let checkpoint = state
        .db(move |conn| log::checkpoint_of_size(conn, &pid, size))
        .await?;
    Ok(HttpResponse::Ok().json(InclusionProof {
        event_id: stored.id,
        index,
        size,
        leaf_hash: stored.leaf_hash,
        proof: proof.iter().map(tree::to_hex).collect(),
        root: tree::to_hex(&root),
        checkpoint: checkpoint.map(|c| c.note),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyQuery {
    /// The older size, from 1 to `to`.
    #[param(minimum = 1)]
    pub from: u64,
    /// The newer size, at most the log's size. Default: the size of the latest checkpoint.
    #[param(minimum = 1)]
    pub to: Option<u64>,
}

/// A consistency proof (RFC 9162 §2.1.4): the tree of `from` leaves is a prefix of the tree of
/// `to` leaves, so nothing held at `from` was rewritten.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConsistencyProof {
    #[schema(minimum = 1)]
    pub from: u64,
    #[schema(minimum = 1)]
    pub to: u64,
    /// Each SHA-256 in hex, in RFC 9162 order.
    #[schema(value_type = Vec<crate::domain::event::Sha256Hex>)]
    pub proof: Vec<String>,
}

/// Consistency proof between two sizes
///
/// Public: hashes only. `from` must be between 1 and `to`, `to` at most the log's size;
/// otherwise 422 names the field and the allowed range.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/log/consistency",
    tag = "evidence",
    operation_id = "getConsistencyProof",
    security(()),
    params(ProcessorId, ConsistencyQuery),
    responses(
        (
            status = 200,
            description = "The proof.",
            body = ConsistencyProof,
            example = json!({
                "from": 2,
                "to": 3,
                "proof": ["7d41402abc4b2a76b9719d911017c5925d41402abc4b2a76b9719d911017c592"]
            })
        ),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn consistency_proof(
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<ConsistencyQuery>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let ConsistencyQuery { from, to } = query.into_inner();
    let (tree, latest) = state
        .db(move |conn| {
            organisations::get_processor(conn, &pid)?;
            Ok((
                log::stored_tree(conn, &pid)?,
                log::latest_checkpoint(conn, &pid)?,
            ))
        })
        .await?;
    let to = to
        .or(latest.map(|c| u64::try_from(c.size).unwrap_or(0)))
        .unwrap_or(tree.size());
    let proof = tree.consistency(from, to).map_err(|e| match e {
        LogError::Size(message) if from >= 1 && from <= to => {
            ApiError::Invalid(vec![FieldError::new("to", message)])
        }
        other => size_refused("from", other),
    })?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        from,
        to,
        proof: proof.iter().map(tree::to_hex).collect(),
    }))
}

/// The log's verifier keys
///
/// Public. One C2SP verifier key per line (`<name>+<hex key id>+<base64(0x01 || Ed25519
/// public key)>`): the current key first, then earlier keys (`SUBREG_LOG_PREVIOUS_KEYS`),
/// which still verify the checkpoints they signed.
#[utoipa::path(
    get,
    path = "/.well-known/subreg/log-keys",
    tag = "evidence",
    operation_id = "getLogKeys",
    security(()),
    responses(
        (
            status = 200,
            description = "The verifier keys (`text/plain; charset=utf-8`).",
            body = String,
            content_type = "text/plain",
            example = json!("subreg.example+1e7a2b3c+AQ3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hH\n")
        ),
    )
)]
async fn log_keys(state: web::Data<AppState>) -> HttpResponse {
    let mut body = state.log.vkeys().join("\n");
    body.push('\n');
    HttpResponse::Ok().content_type(PLAIN).body(body)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EvidenceQuery {
    /// The processor whose log the bundle is taken from; the controller must have an
    /// agreement with it (else 403).
    #[param(value_type = crate::domain::party::Slug, example = "timengo-dpg")]
    pub processor: String,
    /// Sizes of checkpoints held before (an older bundle's `size`), comma-separated, at most
    /// 64: the bundle adds a consistency proof from each, so `verify-evidence --against` can
    /// show the older tree is a prefix of this one. Proofs from the checkpoints of the
    /// controller's receipts are always included.
    #[param(example = "12,40")]
    pub consistency_from: Option<String>,
}

/// The sizes of `consistency_from`.
fn consistency_sizes(text: Option<&str>) -> Result<Vec<u64>, ApiError> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    let sizes = text
        .split(',')
        .map(|part| part.trim().parse::<u64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            ApiError::Invalid(vec![FieldError::new(
                "consistency_from",
                "comma-separated tree sizes (whole numbers from 1), e.g. `12,40`",
            )])
        })?;
    if sizes.len() > 64 {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "consistency_from",
            format!("at most 64 sizes; {} were given", sizes.len()),
        )]));
    }
    Ok(sizes)
}

/// The controller's evidence bundle
///
/// Requires a `controller` token whose `org` is `{cid}` (with an agreement with the
/// processor), or an `admin` token. One JSON document an auditor can check without subreg
/// (`subreg verify-evidence BUNDLE [--against OLDER_BUNDLE]`): the public events of the
/// processor's log and those naming `{cid}`, nothing of other controllers, each as its leaf's
/// object with its leaf hash and its inclusion proof to the latest signed checkpoint, that
/// checkpoint, and the instance's verifier keys. 404 while the log has no checkpoint.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/evidence",
    tag = "evidence",
    operation_id = "getEvidenceBundle",
    params(super::openapi::ControllerId, EvidenceQuery),
    responses(
        (
            status = 200,
            description = "The bundle.",
            body = crate::domain::evidence::Bundle,
            example = json!({
                "processor_id": "timengo-dpg",
                "controller_id": "roskilde-kommune",
                "verifier_keys": ["subreg.example+1e7a2b3c+AQ3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hH"],
                "checkpoint": "subreg.example/processors/timengo-dpg\n1\nqJp0s9mnAqiUKyHyrx0yTsgAUz2NQrwZRhvx5ZkE6Gk=\n\n— subreg.example Az3grmFDJkL3pS2qDMVxbZ0J6a8ECqUsAmTfbFhJG5hHe2o+3FD/sXOCwL9WzrT4s0M0c0tCyqcQYf8hE3MNE0y+vA0=\n",
                "size": 1,
                "events": [{
                    "event": {
                        "id": "019ab3c4-5d6e-7f80-9a1b-2c3d4e5f6a7b",
                        "index": 0,
                        "type": "change.announced",
                        "occurred_at": "2026-11-23T12:00:00.123456Z",
                        "processor_id": "timengo-dpg",
                        "controller_id": null,
                        "visibility": "public",
                        "data": {"id": "5b7e2f0a-3c1d-4e8f-9a6b-1c2d3e4f5a60", "kind": "addition"}
                    },
                    "leaf_hash": "a8a69b4b3ae9b4e1fbc3b7d4c1e5a8a7e4f7c0d7b1d2b7a1e9f1c3d5b7a9e1f3",
                    "inclusion_proof": []
                }],
                "consistency": []
            })
        ),
        (status = 401, response = super::openapi::Unauthorized),
        (status = 403, response = super::openapi::Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = super::openapi::ValidationFailed),
    )
)]
async fn evidence_bundle(
    state: web::Data<AppState>,
    actor: super::auth::Actor,
    path: web::Path<String>,
    query: web::Query<EvidenceQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    let EvidenceQuery {
        processor: pid,
        consistency_from,
    } = query.into_inner();
    actor.require_controller(&cid)?;
    let consistency_from = consistency_sizes(consistency_from.as_deref())?;
    let (agreement_cid, agreement_pid) = (cid.clone(), pid.clone());
    let has_agreement = state
        .db(move |conn| {
            Ok(
                crate::store::agreements::all_for_controller(conn, &agreement_cid)?
                    .iter()
                    .any(|a| a.processor_id == agreement_pid),
            )
        })
        .await?;
    if !has_agreement {
        return Err(ApiError::Forbidden(format!(
            "`{cid}` has no agreement with `{pid}`: its evidence is of the processors it has \
             agreements with"
        )));
    }
    let signer = state.log.clone();
    let bundle = state
        .db(move |conn| log::bundle(conn, &signer, &pid, &cid, &consistency_from))
        .await?;
    Ok(HttpResponse::Ok().json(bundle))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        latest_checkpoint,
        inclusion_proof,
        consistency_proof,
        log_keys,
        evidence_bundle
    ),
    components(schemas(
        InclusionProof,
        ConsistencyProof,
        crate::domain::evidence::Bundle,
        crate::domain::evidence::BundleEvent,
        crate::domain::evidence::ConsistencyStep,
        crate::domain::evidence::LogReceipt
    ))
)]
pub struct Api;
