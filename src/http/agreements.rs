use super::auth::{Actor, Role};
use super::error::ApiError;
use super::openapi::{
    AgreementId, Conflict, ControllerId, Forbidden, NotFound, PayloadTooLarge, ProcessorId,
    UnsupportedMediaType, ValidationFailed,
};
use super::processors::{announce_addition, PartialBodyLinks};
use super::windows::{bounded, optional_json, person, PersonInput};
use super::{AppState, Routes};
use crate::domain::agreement::{
    self, Agreement, AgreementDetail, AgreementInput, AmendmentTerms, Proposer,
};
use crate::domain::window::Decider;
use crate::store::agreement_versions;
use crate::store::agreements::{self, Recorded};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/v1/agreements", create)
        .add(Method::GET, "/v1/agreements/{aid}", get)
        .add(
            Method::POST,
            "/v1/controllers/{cid}/agreements/{aid}/confirmation",
            confirm,
        )
        .add(
            Method::POST,
            "/v1/processors/{pid}/agreements/{aid}/confirmation",
            confirm_by_processor,
        )
        .add(Method::POST, "/v1/agreements/{aid}/amendments", amend)
        .add(Method::POST, "/v1/agreements/{aid}/termination", terminate);
}

/// Record a signed agreement
///
/// Requires an `admin` token, or a `processor` token whose `org` is the agreement's
/// `processor_id`. A processor's agreement is `proposed` (event `agreement.proposed`): it
/// authorises nothing and opens no window until the controller confirms it
/// (`POST /v1/controllers/{cid}/agreements/{aid}/confirmation`). An admin's is `active` at
/// once, in force from `signed_at` (importing an existing contract; one event
/// `agreement.confirmed`). Entries on the processor's list when the agreement was signed are
/// authorised by it. One live (proposed or active) agreement per controller and processor: a
/// second one is 409, pointing at the live one's amendments. An unknown `controller_id` or
/// `processor_id` is a field error (422).
#[utoipa::path(
    post,
    path = "/v1/agreements",
    tag = "agreements",
    operation_id = "createAgreement",
    request_body(
        content = AgreementInput,
        example = json!({
            "controller_id": "roskilde-kommune",
            "processor_id": "timengo-dpg",
            "authorisation": "specific",
            "notice_days": 30,
            "objection_requires_reason": false,
            "third_country_transfers": "forbidden",
            "reference": "DPA 2024-03",
            "annex_name": "Bilag B"
        })
    ),
    responses(
        (
            status = 201,
            description = "The agreement was recorded: `proposed` (a processor's) or `active` (an admin's).",
            body = AgreementDetail,
            headers(("Location" = String, description = "The path of the created resource.")),
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$response.body#/id")))),
                ("CreateChange" = (
                    operation_id = "createChange",
                    description = "A change of the agreement's processor: announced, it opens a window for the controller.",
                    parameters(("pid" = "$response.body#/processor_id"))
                )),
                ("ListWindows" = (operation_id = "listWindows", parameters(("cid" = "$response.body#/controller_id")))),
                ("ConfirmAgreement" = (
                    operation_id = "confirmAgreement",
                    description = "The controller confirms a proposed agreement.",
                    parameters(("cid" = "$response.body#/controller_id"), ("aid" = "$response.body#/id"))
                )),
                ("TerminateAgreement" = (operation_id = "terminateAgreement", parameters(("aid" = "$response.body#/id")))),
                ("ListControllerAgreements" = (operation_id = "listControllerAgreements", parameters(("cid" = "$response.body#/controller_id")))),
                ("ListProcessorAgreements" = (operation_id = "listProcessorAgreements", parameters(("pid" = "$response.body#/processor_id")))),
                ("AnnounceAddition" = (
                    operation_id = "createChange",
                    description = "Announce a valid addition on the agreement's processor: it opens a window for this agreement's controller.",
                    parameters(("pid" = "$response.body#/processor_id")),
                    request_body = announce_addition
                )),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
async fn create(
    state: web::Data<AppState>,
    actor: Actor,
    body: web::Json<AgreementInput>,
) -> Result<HttpResponse, ApiError> {
    if !actor.is_admin() && actor.role != Role::Processor {
        return Err(ApiError::Forbidden(
            "agreements are recorded by an admin or by the processor".into(),
        ));
    }
    let now = state.clock.now();
    let spec = agreement::validate(&body, now)?;
    actor.require_processor(&spec.processor_id)?;
    let by = actor.decider(None);
    let admin = actor.is_admin();
    let created = state
        .db(move |conn| {
            let recorded = if admin {
                Recorded::Active { by: Some(&by) }
            } else {
                Recorded::Proposed { by: &by }
            };
            let created = agreements::create(conn, &spec, recorded, now)?;
            agreement_versions::detail(conn, &created.agreement.id)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!("/v1/agreements/{}", created.agreement.id),
        ))
        .json(created))
}

/// Get an agreement
///
/// Requires an `admin` token, or a `processor` or `controller` token whose `org` is one of
/// the agreement's two parties. Anyone else gets 404, as if the agreement did not exist.
#[utoipa::path(
    get,
    path = "/v1/agreements/{aid}",
    tag = "agreements",
    operation_id = "getAgreement",
    params(AgreementId),
    responses(
        (status = 200, description = "The agreement with its versions.", body = AgreementDetail),
        (status = 404, response = NotFound),
    )
)]
async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let aid = path.into_inner();
    let not_found = ApiError::NotFound(format!("agreement `{aid}` does not exist"));
    let found = state
        .db(move |conn| agreement_versions::detail(conn, &aid))
        .await;
    match found {
        // Parties other than the two signatories learn nothing, not even that it exists.
        Ok(a) if party(&actor, &a.agreement) => Ok(HttpResponse::Ok().json(a)),
        Ok(_) | Err(ApiError::NotFound(_)) => Err(not_found),
        Err(other) => Err(other),
    }
}

/// The optional body of a confirmation.
#[derive(Deserialize, utoipa::ToSchema)]
struct ConfirmationInput {
    /// The person confirming for the controller; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Confirm a proposed agreement or amendment
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; an agreement
/// of another controller is 404. A `proposed` agreement becomes `active` and is in force from
/// now: windows open for the changes its processor has announced (event
/// `agreement.confirmed`, then `window.opened`). On an active agreement it confirms the
/// amendment the processor proposed: its terms apply to windows opened from now on (windows
/// already open keep theirs). The body is optional; `decided_by` names the person confirming.
/// Nothing for the controller to confirm is 409.
#[utoipa::path(
    post,
    path = "/v1/controllers/{cid}/agreements/{aid}/confirmation",
    tag = "agreements",
    operation_id = "confirmAgreement",
    params(ControllerId, AgreementId),
    request_body(
        content = ref("#/components/schemas/ConfirmationInput"),
        example = json!({"decided_by": {"name": "Mette Hansen", "role": "DPO"}})
    ),
    responses(
        (
            status = 200,
            description = "The agreement, now `active`, or its amendment now in force.",
            body = AgreementDetail,
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$request.path.aid")))),
                ("ListWindows" = (operation_id = "listWindows", parameters(("cid" = "$request.path.cid")))),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn confirm(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (cid, aid) = path.into_inner();
    actor.require_controller(&cid)?;
    let by = confirmer(&actor, &body)?;
    let now = state.clock.now();
    let confirmed = state
        .db(move |conn| {
            agreements::confirm(conn, &cid, &aid, &by, now)?;
            agreement_versions::detail(conn, &aid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(confirmed))
}

/// Who confirms, from the optional body of a confirmation.
fn confirmer(actor: &Actor, body: &[u8]) -> Result<Decider, ApiError> {
    let decided_by = match optional_json::<ConfirmationInput>(body)? {
        Some(input) => person(input.decided_by)?,
        None => None,
    };
    Ok(actor.decider(decided_by))
}

/// The optional body of a termination.
#[derive(Deserialize, utoipa::ToSchema)]
struct TerminationInput {
    /// When the termination takes effect: now (the default) or later, not in the past.
    effective_at: Option<DateTime<Utc>>,
    /// Why it ends; at most 1000 characters, trimmed.
    #[schema(max_length = 1000)]
    reason: Option<String>,
    /// The person terminating; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Terminate an agreement
///
/// Requires a `processor` or `controller` token of one of the agreement's two parties, or an
/// `admin` token; anyone else gets 404. `agreement.terminated` is appended now. From
/// `effective_at` (default now; later is allowed, earlier than now is 422) the agreement is
/// `terminated`: its windows still open then end `withdrawn`, no new window opens for it, and
/// the authorised list as of that instant or later has nothing from it (before it, as it
/// was). A terminated agreement, or one whose termination is already scheduled, is 409.
#[utoipa::path(
    post,
    path = "/v1/agreements/{aid}/termination",
    tag = "agreements",
    operation_id = "terminateAgreement",
    params(AgreementId),
    request_body(
        content = ref("#/components/schemas/TerminationInput"),
        example = json!({
            "effective_at": "2027-01-01T00:00:00Z",
            "reason": "The hosting contract ends",
            "decided_by": {"name": "Mette Hansen", "role": "DPO"}
        })
    ),
    responses(
        (
            status = 200,
            description = "The agreement with `terminated_at`; `terminated` once that has come.",
            body = AgreementDetail,
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$request.path.aid")))),
            )
        ),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 422, response = ValidationFailed),
    )
)]
async fn terminate(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let aid = path.into_inner();
    let input = optional_json::<TerminationInput>(&body)?;
    let (effective_at, reason, decided_by) = match input {
        Some(input) => (
            input.effective_at,
            bounded("reason", input.reason.map(|r| r.trim().to_string()))?
                .filter(|r| !r.is_empty()),
            person(input.decided_by)?,
        ),
        None => (None, None, None),
    };
    let now = state.clock.now();
    let effective_at = agreement::check_termination(effective_at, now)?;
    let lookup = aid.clone();
    let found = state.db(move |conn| agreements::get(conn, &lookup)).await;
    match found {
        Ok(a) if party(&actor, &a) => {}
        Ok(_) | Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!(
                "agreement `{aid}` does not exist"
            )))
        }
        Err(other) => return Err(other),
    }
    let by = actor.decider(decided_by);
    let terminated = state
        .db(move |conn| {
            agreements::terminate(conn, &aid, effective_at, reason.as_deref(), &by, now)?;
            agreement_versions::detail(conn, &aid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(terminated))
}

/// Confirm an amendment the controller proposed
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token; an agreement of
/// another processor is 404. The pending amendment the controller proposed takes effect
/// (event `agreement.confirmed`): its terms apply to windows opened from now on. Nothing for
/// the processor to confirm is 409. The body is optional; `decided_by` names the person.
#[utoipa::path(
    post,
    path = "/v1/processors/{pid}/agreements/{aid}/confirmation",
    tag = "agreements",
    operation_id = "confirmAmendmentByProcessor",
    params(ProcessorId, AgreementId),
    request_body(
        content = ref("#/components/schemas/ConfirmationInput"),
        example = json!({"decided_by": {"name": "Jens Holm", "role": "CISO"}})
    ),
    responses(
        (
            status = 200,
            description = "The agreement, the amendment now in force.",
            body = AgreementDetail,
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$request.path.aid")))),
            )
        ),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    )
)]
async fn confirm_by_processor(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (pid, aid) = path.into_inner();
    actor.require_processor(&pid)?;
    let by = confirmer(&actor, &body)?;
    let now = state.clock.now();
    let confirmed = state
        .db(move |conn| {
            agreements::confirm_by_processor(conn, &pid, &aid, &by, now)?;
            agreement_versions::detail(conn, &aid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(confirmed))
}

/// An amendment: the terms that change, and who proposes it.
#[derive(Deserialize, utoipa::ToSchema)]
struct AmendmentInput {
    #[serde(flatten)]
    terms: AmendmentTerms,
    /// The person proposing; the token's `sub` is recorded as well.
    decided_by: Option<PersonInput>,
}

/// Amend an agreement
///
/// Requires a `processor` or `controller` token of one of the agreement's two parties, or an
/// `admin` token; anyone else gets 404. The body gives the terms that change (the others stay
/// as in the version in force), checked like a new agreement's. A party's amendment is a new
/// `proposed` version (event `agreement.amended`) until the other party confirms it
/// (`POST /v1/controllers/{cid}/agreements/{aid}/confirmation` or
/// `POST /v1/processors/{pid}/agreements/{aid}/confirmation`); an admin's takes effect at once
/// (`agreement.amended`, then `agreement.confirmed`). A confirmed version applies to windows
/// opened from then on; open windows keep the terms they opened under. A proposed or
/// terminated agreement, or one with an amendment already waiting, is 409; an amendment that
/// changes nothing is 422.
#[utoipa::path(
    post,
    path = "/v1/agreements/{aid}/amendments",
    tag = "agreements",
    operation_id = "amendAgreement",
    params(AgreementId),
    request_body(
        content = ref("#/components/schemas/AmendmentInput"),
        example = json!({"notice_days": 14, "decided_by": {"name": "Jens Holm", "role": "CISO"}})
    ),
    responses(
        (
            status = 201,
            description = "The agreement with the new version (proposed, or in force for an admin).",
            body = AgreementDetail,
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$request.path.aid")))),
                ("ConfirmAgreement" = (
                    operation_id = "confirmAgreement",
                    description = "The controller confirms the processor's amendment.",
                    parameters(("cid" = "$response.body#/controller_id"), ("aid" = "$request.path.aid"))
                )),
                ("ConfirmAmendmentByProcessor" = (
                    operation_id = "confirmAmendmentByProcessor",
                    description = "The processor confirms the controller's amendment.",
                    parameters(("pid" = "$response.body#/processor_id"), ("aid" = "$request.path.aid"))
                )),
            )
        ),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
async fn amend(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<AmendmentInput>,
) -> Result<HttpResponse, ApiError> {
    let aid = path.into_inner();
    let input = body.into_inner();
    let decided_by = person(input.decided_by)?;
    let lookup = aid.clone();
    let current = match state.db(move |conn| agreements::get(conn, &lookup)).await {
        Ok(a) if party(&actor, &a) => a,
        Ok(_) | Err(ApiError::NotFound(_)) => {
            return Err(ApiError::NotFound(format!(
                "agreement `{aid}` does not exist"
            )))
        }
        Err(other) => return Err(other),
    };
    let proposer = if actor.is_admin() {
        Proposer::Admin
    } else if actor.role == Role::Processor {
        Proposer::Processor
    } else {
        Proposer::Controller
    };
    let now = state.clock.now();
    let spec = agreement::amend(&current, &input.terms, now)?;
    let by = actor.decider(decided_by);
    let amended = state
        .db(move |conn| agreement_versions::amend(conn, &aid, &spec, proposer, &by, now))
        .await?;
    Ok(HttpResponse::Created().json(amended))
}

/// An admin, or a token of one of the agreement's two parties.
fn party(actor: &Actor, agreement: &Agreement) -> bool {
    actor.is_admin()
        || actor.acts_for(Role::Processor, &agreement.processor_id)
        || actor.acts_for(Role::Controller, &agreement.controller_id)
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create, get, confirm, confirm_by_processor, amend, terminate),
    components(schemas(ConfirmationInput, TerminationInput, AmendmentInput)),
    modifiers(&PartialBodyLinks)
)]
pub struct Api;
