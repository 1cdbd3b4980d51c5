//! Notice contacts (who receives e-mail notices) and the notices the mail server refused.

use super::auth::Actor;
use super::error::ApiError;
use super::openapi::{
    AgreementId, ControllerId, Forbidden, NotFound, ProcessorId, UnsupportedMediaType,
    ValidationFailed,
};
use super::{AppState, Routes};
use crate::domain::contact::{self, ContactInput, NoticeContact};
use crate::store::contacts::{self as store, Owner};
use crate::store::mail::{self, MailRow};
use actix_web::http::Method;
use actix_web::{web, HttpResponse};

pub fn routes(routes: &mut Routes) {
    routes
        .add(
            Method::PUT,
            "/v1/processors/{pid}/contacts",
            put_processor_contacts,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/contacts",
            get_processor_contacts,
        )
        .add(
            Method::PUT,
            "/v1/controllers/{cid}/agreements/{aid}/notice-contacts",
            put_notice_contacts,
        )
        .add(
            Method::GET,
            "/v1/controllers/{cid}/agreements/{aid}/notice-contacts",
            get_notice_contacts,
        )
        .add(
            Method::GET,
            "/v1/processors/{pid}/notices/failed",
            list_failed_notices,
        );
}

/// Replace the processor's contacts
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. These people
/// receive, by e-mail in their language, the controllers' objections and approvals and the
/// changes blocked by an objection. The list replaces the one on file (at most 20; `[]`
/// removes all). Field errors are reported as `[i].email` etc.
#[utoipa::path(
    put,
    path = "/v1/processors/{pid}/contacts",
    tag = "notices",
    operation_id = "putProcessorContacts",
    params(ProcessorId),
    request_body(
        content = Vec<ContactInput>,
        example = json!([{"name": "Lars Jensen", "email": "compliance@timengo.example", "language": "da"}])
    ),
    responses(
        (status = 200, description = "The contacts now on file.", body = Vec<NoticeContact>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
async fn put_processor_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
    body: web::Json<Vec<ContactInput>>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    let contacts = contact::validate(&body)?;
    let saved = state
        .db(move |conn| store::set_for_processor(conn, &pid, &contacts))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// The processor's contacts
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/contacts",
    tag = "notices",
    operation_id = "getProcessorContacts",
    params(ProcessorId),
    responses(
        (status = 200, description = "The contacts on file, in order.", body = Vec<NoticeContact>),
        (status = 403, response = Forbidden),
    )
)]
async fn get_processor_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    let found = state
        .db(move |conn| store::list(conn, Owner::Processor, &pid))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// Replace an agreement's notice contacts
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token; another
/// controller's agreement is 404. These people receive the agreement's notices by e-mail in
/// their language: windows opened (with the deadline and what silence means under the
/// agreement) and closed, changes made effective, amendments proposed. The list replaces the
/// one on file (at most 20; `[]` removes all).
#[utoipa::path(
    put,
    path = "/v1/controllers/{cid}/agreements/{aid}/notice-contacts",
    tag = "notices",
    operation_id = "putNoticeContacts",
    params(ControllerId, AgreementId),
    request_body(
        content = Vec<ContactInput>,
        example = json!([{"name": "Mette Hansen", "email": "dpo@roskilde.example", "language": "da"}])
    ),
    responses(
        (status = 200, description = "The contacts now on file.", body = Vec<NoticeContact>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    )
)]
async fn put_notice_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
    body: web::Json<Vec<ContactInput>>,
) -> Result<HttpResponse, ApiError> {
    let (cid, aid) = path.into_inner();
    actor.require_controller(&cid)?;
    let contacts = contact::validate(&body)?;
    let saved = state
        .db(move |conn| store::set_for_agreement(conn, &cid, &aid, &contacts))
        .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// An agreement's notice contacts
///
/// Requires a `controller` token whose `org` is `{cid}`, or an `admin` token.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/agreements/{aid}/notice-contacts",
    tag = "notices",
    operation_id = "getNoticeContacts",
    params(ControllerId, AgreementId),
    responses(
        (status = 200, description = "The contacts on file, in order.", body = Vec<NoticeContact>),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
async fn get_notice_contacts(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (cid, aid) = path.into_inner();
    actor.require_controller(&cid)?;
    let found = state
        .db(move |conn| {
            store::agreement_of(conn, &cid, &aid)?;
            store::list(conn, Owner::Agreement, &aid)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

/// E-mail notices the mail server refused
///
/// Requires a `processor` token whose `org` is `{pid}`, or an `admin` token. Each message
/// refused for good (a 5xx reply, or transient failures until the retries ran out), newest
/// first, with the server's last answer; each is also a `notice.failed` event on the log.
#[utoipa::path(
    get,
    path = "/v1/processors/{pid}/notices/failed",
    tag = "notices",
    operation_id = "listFailedNotices",
    params(ProcessorId),
    responses(
        (status = 200, description = "The refused messages, newest first (at most 500).", body = Vec<MailRow>),
        (status = 403, response = Forbidden),
    )
)]
async fn list_failed_notices(
    state: web::Data<AppState>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    actor.require_processor(&pid)?;
    let found = state
        .db(move |conn| mail::list_for_processor(conn, &pid, "failed"))
        .await?;
    Ok(HttpResponse::Ok().json(found))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        put_processor_contacts,
        get_processor_contacts,
        put_notice_contacts,
        get_notice_contacts,
        list_failed_notices
    ),
    components(schemas(ContactInput, NoticeContact, MailRow))
)]
pub struct Api;
