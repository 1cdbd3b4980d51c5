use super::auth::{Actor, Role};
use super::error::ApiError;
use super::openapi::{
    AgreementId, Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType,
};
use super::processors::{announce_addition, PartialBodyLinks};
use super::{AppState, Routes};
use crate::domain::agreement::{self, AgreementInput, AgreementWithAnnex};
use crate::store::agreements;
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub fn routes(routes: &mut Routes) {
    routes.add(Method::POST, "/v1/agreements", create).add(
        Method::GET,
        "/v1/agreements/{aid}",
        get,
    );
}

/// Record a signed agreement
///
/// Requires an `admin` token, or a `processor` token whose `org` is the agreement's
/// `processor_id`. Entries on the processor's list when the agreement is signed are
/// authorised by it. An unknown `controller_id` or `processor_id` is a field error (422).
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
            "reference": "DPA 2024-03"
        })
    ),
    responses(
        (
            status = 201,
            description = "The agreement was recorded.",
            body = AgreementWithAnnex,
            headers(("Location" = String, description = "The path of the created resource.")),
            links(
                ("GetAgreement" = (operation_id = "getAgreement", parameters(("aid" = "$response.body#/id")))),
                ("CreateChange" = (
                    operation_id = "createChange",
                    description = "A change of the agreement's processor: announced, it opens a window for the controller.",
                    parameters(("pid" = "$response.body#/processor_id"))
                )),
                ("ListWindows" = (operation_id = "listWindows", parameters(("cid" = "$response.body#/controller_id")))),
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
    let created = state
        .db(move |conn| agreements::create(conn, &spec, now))
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
        (status = 200, description = "The agreement.", body = AgreementWithAnnex),
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
        .db(move |conn| agreements::get_with_annex(conn, &aid))
        .await;
    match found {
        // Parties other than the two signatories learn nothing, not even that it exists.
        Ok(a)
            if actor.is_admin()
                || actor.acts_for(Role::Processor, &a.agreement.processor_id)
                || actor.acts_for(Role::Controller, &a.agreement.controller_id) =>
        {
            Ok(HttpResponse::Ok().json(a))
        }
        Ok(_) | Err(ApiError::NotFound(_)) => Err(not_found),
        Err(other) => Err(other),
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, get), modifiers(&PartialBodyLinks))]
pub struct Api;
