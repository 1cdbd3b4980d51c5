//! The confirmation page of a proposal's link (issue 13: "an agreement proposed or amended, to
//! the controller, with a confirmation link"): `GET /confirm/{token}` shows the proposed terms
//! and a form (no JavaScript); `POST /confirm/{token}` confirms them through the API's store
//! path (`store::agreements::confirm_version`), with `via: email_link` and the mailbox.
//!
//! A link confirms the version of the terms it was sent for, never a later proposal: a link to
//! terms that were since superseded, or to an agreement since terminated, is 410; to terms
//! already confirmed, 200 saying so. CSRF as on the decision page: an HMAC field bound to a
//! `SameSite=Strict` cookie's nonce, and the POST's `Origin` must be this site's.

use super::change_page::Fact;
use super::decide::{
    form_is_ours, message_page, new_nonce, terms, trimmed, with_form_nonce, words, DecideQuery,
    MAX_PERSON_TEXT,
};
use super::error::ApiError;
use super::i18n::Lang;
use super::pages::{html, render};
use super::{AppState, Routes};
use crate::domain::agreement::{AgreementDetail, VersionState};
use crate::domain::decide::{self, ConfirmClaims, LinkError};
use crate::domain::window::{Decider, DecisionChannel, Person};
use crate::store::StoreError;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/confirm/{token}", show)
        .add(Method::POST, "/confirm/{token}", submit);
}

#[derive(Template)]
#[template(path = "confirm.html")]
struct ConfirmView {
    lang: &'static str,
    l: &'static super::i18n::Labels,
    title: String,
    heading: &'static str,
    intro: String,
    notice: String,
    error: String,
    terms_heading: &'static str,
    terms: Vec<Fact>,
    show_form: bool,
    action: String,
    csrf: String,
    your_name: &'static str,
    your_role: &'static str,
    name: String,
    role: String,
    submit: &'static str,
}

/// What the form sent (a missing field is a message on the page, not a 400).
#[derive(Deserialize, Default, Clone)]
struct ConfirmForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
}

struct Texts {
    heading: &'static str,
    proposed: &'static str,
    amended: &'static str,
    submit: &'static str,
    confirmed: &'static str,
    already: &'static str,
    superseded: &'static str,
}

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Da => &Texts {
            heading: "Bekræftelse af databehandleraftale",
            proposed: "har foreslået en databehandleraftale med",
            amended: "har foreslået en ændring af databehandleraftalen med",
            submit: "Bekræft aftalen",
            confirmed: "Aftalen er bekræftet.",
            already: "Linket er allerede brugt: aftalen er bekræftet.",
            superseded: "Linket gælder ikke længere: vilkårene er siden ændret, eller aftalen er ophørt.",
        },
        Lang::En => &Texts {
            heading: "Confirmation of a data processing agreement",
            proposed: "has proposed a data processing agreement with",
            amended: "has proposed an amendment of the data processing agreement with",
            submit: "Confirm the agreement",
            confirmed: "The agreement is confirmed.",
            already: "The link was already used: the agreement is confirmed.",
            superseded: "The link no longer applies: the terms have changed since, or the agreement has ended.",
        },
    }
}

/// The agreement, the parties' names and which version awaits the controller now.
struct Proposal {
    detail: AgreementDetail,
    processor_name: String,
    controller_name: String,
    awaiting: Option<u32>,
}

/// Where the link stands against the agreement now.
enum Standing {
    Open,
    Confirmed,
    Gone,
}

fn standing(claims: &ConfirmClaims, proposal: &Proposal) -> Standing {
    let version = proposal
        .detail
        .versions
        .iter()
        .find(|v| v.version == claims.ver);
    match version {
        _ if proposal.detail.agreement.terminated_at.is_some() => Standing::Gone,
        Some(v) if v.state == VersionState::Confirmed => Standing::Confirmed,
        Some(_) if proposal.awaiting == Some(claims.ver) => Standing::Open,
        _ => Standing::Gone,
    }
}

/// Verifies the link and loads its agreement; `Err` is the finished answer for a bad link.
async fn load(
    state: &AppState,
    lang: Lang,
    token: &str,
) -> Result<Result<(ConfirmClaims, Proposal), HttpResponse>, ApiError> {
    let w = words(lang);
    let claims = match decide::verify_confirm(state.log.decide_key(), token, state.clock.now()) {
        Ok(claims) => claims,
        Err(LinkError::Expired) => {
            return Ok(Err(message_page(lang, StatusCode::GONE, w.expired)?))
        }
        Err(LinkError::Invalid) => {
            return Ok(Err(message_page(lang, StatusCode::NOT_FOUND, w.invalid)?))
        }
    };
    let aid = claims.aid.clone();
    let found = state
        .db(move |conn| {
            let detail = crate::store::agreement_versions::detail(conn, &aid)?;
            let processor_name =
                crate::store::organisations::get_processor(conn, &detail.agreement.processor_id)?
                    .name;
            let controller_name =
                crate::store::organisations::get_controller(conn, &detail.agreement.controller_id)?
                    .name;
            let awaiting = crate::store::agreement_versions::awaiting_controller(conn, &aid)?;
            Ok(Proposal {
                detail,
                processor_name,
                controller_name,
                awaiting,
            })
        })
        .await;
    match found {
        Ok(proposal) => Ok(Ok((claims, proposal))),
        Err(ApiError::NotFound(_)) => {
            Ok(Err(message_page(lang, StatusCode::NOT_FOUND, w.invalid)?))
        }
        Err(other) => Err(other),
    }
}

struct Page<'a> {
    state: &'a AppState,
    lang: Lang,
    token: &'a str,
    claims: &'a ConfirmClaims,
    proposal: &'a Proposal,
}

impl Page<'_> {
    fn render(
        &self,
        status: StatusCode,
        notice: &str,
        error: &str,
        form: Option<&ConfirmForm>,
    ) -> Result<HttpResponse, ApiError> {
        let (lang, t, w) = (self.lang, texts(self.lang), words(self.lang));
        let agreement = &self.proposal.detail.agreement;
        let proposed = if self.claims.ver > 1 {
            t.amended
        } else {
            t.proposed
        };
        let nonce = new_nonce();
        let terms = self
            .proposal
            .detail
            .versions
            .iter()
            .find(|v| v.version == self.claims.ver)
            .map(|v| terms(lang, v))
            .unwrap_or_default();
        let view = ConfirmView {
            lang: lang.code(),
            l: lang.labels(),
            title: format!("{}: {}", t.heading, self.proposal.processor_name),
            heading: t.heading,
            intro: format!(
                "{} {proposed} {}{} · {} {}",
                self.proposal.processor_name,
                self.proposal.controller_name,
                agreement
                    .reference
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default(),
                w.sent_to,
                self.claims.mbx
            ),
            notice: notice.into(),
            error: error.into(),
            terms_heading: w.the_terms,
            terms,
            show_form: form.is_some(),
            action: format!("/confirm/{}?lang={}", self.token, lang.code()),
            csrf: decide::csrf_field(self.state.log.decide_key(), self.token, &nonce),
            your_name: w.your_name,
            your_role: w.your_role,
            name: form.and_then(|f| f.name.clone()).unwrap_or_default(),
            role: form.and_then(|f| f.role.clone()).unwrap_or_default(),
            submit: t.submit,
        };
        let mut response = html(status, render(&view)?);
        if form.is_some() {
            with_form_nonce(&mut response, self.state, "/confirm", nonce)?;
        }
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        Ok(response)
    }
}

/// The confirmation page of a proposal's link
///
/// HTML for the holder of a link from the e-mail that told the controller of a proposed
/// agreement or amendment: the proposed terms and a form to confirm them. A link to terms
/// already confirmed answers 200 saying so; to terms since superseded, or an agreement since
/// terminated, 410; an expired link 410; not a link of this site 404.
#[utoipa::path(
    get,
    path = "/confirm/{token}",
    tag = "pages",
    operation_id = "confirmationPage",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        DecideQuery,
    ),
    responses(
        (status = 200, description = "The page (with the form, or saying the terms are confirmed).", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired or its terms were superseded; an HTML page saying so.", body = String, content_type = "text/html"),
    )
)]
async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DecideQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let (claims, proposal) = match load(&state, lang, &token).await? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let page = Page {
        state: &state,
        lang,
        token: &token,
        claims: &claims,
        proposal: &proposal,
    };
    let t = texts(lang);
    match standing(&claims, &proposal) {
        Standing::Open => page.render(StatusCode::OK, "", "", Some(&ConfirmForm::default())),
        Standing::Confirmed => page.render(StatusCode::OK, t.already, "", None),
        Standing::Gone => page.render(StatusCode::GONE, t.superseded, "", None),
    }
}

/// Confirm a proposal from its link
///
/// The form of `GET /confirm/{token}` (`application/x-www-form-urlencoded`: `csrf`, `name`,
/// `role`). Refused with 403 (an HTML page) unless `Origin` is this site and `csrf` matches the
/// token and the cookie's nonce. Confirms exactly the version of the terms the link was sent
/// for, as `POST /v1/controllers/{cid}/agreements/{aid}/confirmation` does, with `confirmed_by:
/// {decided_by: {name, role}, sub: "mailto:<mailbox>", via: "email_link", mailbox}`. 200 when
/// confirmed (or already confirmed); 422 with the form again when the name is missing or too
/// long; 410 when the terms were superseded or the link expired; 404 not a link of this site.
#[utoipa::path(
    post,
    path = "/confirm/{token}",
    tag = "pages",
    operation_id = "confirmFromLink",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        DecideQuery,
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The page's form."),
    responses(
        (status = 200, description = "Confirmed (or already confirmed): an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 403, description = "Cross-site or without a valid CSRF field: nothing recorded.", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired or its terms were superseded.", body = String, content_type = "text/html"),
        (status = 422, description = "The name is missing or too long; the form again, saying so.", body = String, content_type = "text/html"),
    )
)]
async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<DecideQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let (t, w) = (texts(lang), words(lang));
    let form: ConfirmForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    if !form_is_ours(&state, &req, &token, form.csrf.as_deref()) {
        return message_page(lang, StatusCode::FORBIDDEN, w.refused_form);
    }
    let (claims, proposal) = match load(&state, lang, &token).await? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let page = Page {
        state: &state,
        lang,
        token: &token,
        claims: &claims,
        proposal: &proposal,
    };
    match standing(&claims, &proposal) {
        Standing::Open => {}
        Standing::Confirmed => return page.render(StatusCode::OK, t.already, "", None),
        Standing::Gone => return page.render(StatusCode::GONE, t.superseded, "", None),
    }
    let role = trimmed(form.role.as_ref());
    let Some(name) = trimmed(form.name.as_ref()) else {
        return page.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            w.name_missing,
            Some(&form),
        );
    };
    if name.chars().count() > MAX_PERSON_TEXT
        || role
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_PERSON_TEXT)
    {
        return page.render(
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            w.too_long,
            Some(&form),
        );
    }
    let by = Decider {
        decided_by: Some(Person { name, role }),
        sub: format!("mailto:{}", claims.mbx),
        via: Some(DecisionChannel::EmailLink),
        mailbox: Some(claims.mbx.clone()),
    };
    let agreement = &proposal.detail.agreement;
    let (cid, aid, version, now) = (
        agreement.controller_id.clone(),
        agreement.id.clone(),
        claims.ver,
        state.clock.now(),
    );
    let confirmed = state
        .db(move |conn| {
            match crate::store::agreements::confirm_version(
                conn,
                &cid,
                &aid,
                Some(version),
                &by,
                now,
            ) {
                Ok(_) => Ok(true),
                // Superseded (or confirmed) between the page and the form.
                Err(StoreError::Conflict(_)) => Ok(false),
                Err(other) => Err(other),
            }
        })
        .await?;
    let (claims_now, proposal_now) = match load(&state, lang, &token).await? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let page = Page {
        claims: &claims_now,
        proposal: &proposal_now,
        ..page
    };
    match (confirmed, standing(&claims_now, &proposal_now)) {
        (true, _) => page.render(StatusCode::OK, t.confirmed, "", None),
        (false, Standing::Confirmed) => page.render(StatusCode::OK, t.already, "", None),
        (false, _) => page.render(StatusCode::GONE, t.superseded, "", None),
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, submit))]
pub struct Api;
