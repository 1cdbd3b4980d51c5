use super::auth::Actor;
use super::error::ApiError;
use super::openapi::{
    Conflict, ControllerId, Forbidden, NotFound, Paging, PayloadTooLarge, UnsupportedMediaType,
    ValidationFailed,
};
use super::processors::PartialBodyLinks;
use super::{AppState, PageQuery, Routes};
use crate::domain::agreement::AgreementWithAnnex;
use crate::domain::party::{validate_controller, Controller, ControllerInput, OrganisationInput};
use crate::store::{agreements, organisations};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/v1/controllers", create)
        .add(Method::GET, "/v1/controllers", list)
        .add(Method::GET, "/v1/controllers/{cid}", get)
        .add(
            Method::GET,
            "/v1/controllers/{cid}/agreements",
            list_agreements,
        );
}

type ControllerPage = crate::store::Page<Controller>;
type AgreementPage = crate::store::Page<AgreementWithAnnex>;

/// Create a controller
///
/// Requires an `admin` token. The `id` is a slug chosen by the caller.
#[utoipa::path(
    post,
    path = "/v1/controllers",
    tag = "controllers",
    operation_id = "createController",
    request_body(
        content = ControllerInput,
        example = json!({
            "id": "roskilde-kommune",
            "name": "Roskilde Kommune",
            "registration": {"scheme": "cvr", "number": "29188386"},
            "contact_email": "dpo@example.dk"
        })
    ),
    responses(
        (
            status = 201,
            description = "The controller was created.",
            body = Controller,
            headers(("Location" = String, description = "The path of the created resource.")),
            links(
                ("GetController" = (operation_id = "getController", parameters(("cid" = "$response.body#/id")))),
                ("ListControllerAgreements" = (operation_id = "listControllerAgreements", parameters(("cid" = "$response.body#/id")))),
                ("ListWindows" = (operation_id = "listWindows", parameters(("cid" = "$response.body#/id")))),
                ("GetAuthorisedList" = (operation_id = "getAuthorisedList", parameters(("cid" = "$response.body#/id")))),
                ("RotateFeedToken" = (operation_id = "rotateFeedToken", parameters(("cid" = "$response.body#/id")))),
                ("CreateAgreement" = (
                    operation_id = "createAgreement",
                    description = "An agreement of this controller with a processor.",
                    request_body = json!({"controller_id": "$response.body#/id"})
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
    body: web::Json<OrganisationInput>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let spec = validate_controller(&body)?;
    let now = state.clock.now();
    let controller = state
        .db(move |conn| organisations::create_controller(conn, &spec, now))
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/v1/controllers/{}", controller.id)))
        .json(controller))
}

/// List controllers
///
/// Requires an `admin` token. Ordered by id, paginated.
#[utoipa::path(
    get,
    path = "/v1/controllers",
    tag = "controllers",
    operation_id = "listControllers",
    params(Paging),
    responses(
        (status = 200, description = "One page of controllers.", body = ControllerPage),
        (status = 403, response = Forbidden),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list(
    state: web::Data<AppState>,
    actor: Actor,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let page = query.request()?;
    let controllers = state
        .db(move |conn| organisations::list_controllers(conn, &page))
        .await?;
    Ok(HttpResponse::Ok().json(controllers))
}

/// Get a controller
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}",
    tag = "controllers",
    operation_id = "getController",
    params(ControllerId),
    responses(
        (status = 200, description = "The controller.", body = Controller),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let controller = state
        .db(move |conn| organisations::get_controller(conn, &cid))
        .await?;
    Ok(HttpResponse::Ok().json(controller))
}

/// A controller's agreements
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token. Ordered by
/// agreement id, paginated.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/agreements",
    tag = "agreements",
    operation_id = "listControllerAgreements",
    params(ControllerId, Paging),
    responses(
        (status = 200, description = "One page of agreements.", body = AgreementPage),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 422, response = ValidationFailed),
    )
)]
async fn list_agreements(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    actor.require_controller(&cid)?;
    let page = query.request()?;
    let list = state
        .db(move |conn| {
            organisations::get_controller(conn, &cid)?;
            agreements::list(conn, agreements::Party::Controller(&cid), &page)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(create, list, get, list_agreements), modifiers(&PartialBodyLinks))]
pub struct Api;
