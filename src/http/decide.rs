//! The decision page of a notice's link: `GET /decide/{token}` shows the change, the
//! agreement's terms and a form (no JavaScript); `POST /decide/{token}` records the decision
//! through the same store path as the API (`store::lifecycle::decide`), with `via:
//! email_link` and the mailbox the link went to.
//!
//! Answers: a link that is not this site's is 404; an expired one (past its `exp`, the change
//! withdrawn, or the window can no longer be decided that way) is 410; a used one (the window
//! already decided that way) is 200 with a notice saying so, GET and POST alike, so a second
//! click or a resubmitted form is not an error. CSRF: the form carries an HMAC of the token and
//! a nonce that is also in a `SameSite=Strict` cookie, and the POST's `Origin` must be this
//! site's.

use super::change_page::{facts, heading, window_deadline_text, Fact};
use super::error::ApiError;
use super::i18n::Lang;
use super::pages::{html, render};
use super::{AppState, Routes};
use crate::domain::agreement::{
    AgreementVersion, Authorisation, NoticeStarts, ThirdCountryTransfers,
};
use crate::domain::decide::{self, LinkClaims, LinkError, Purpose};
use crate::domain::language::pick;
use crate::domain::subprocessor::MAX_TEXT;
use crate::domain::window::{
    Decider, Decision, DecisionChannel, ObjectionWindow, Person, WindowError, WindowState,
};
use crate::store::decide::DecidePage;
use crate::store::StoreError;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;

const COOKIE: &str = "subreg_decide";
pub(super) const MAX_PERSON_TEXT: usize = 200;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::GET, "/decide/{token}", show)
        .add(Method::POST, "/decide/{token}", submit);
}

pub(super) struct Words {
    view: &'static str,
    object: &'static str,
    approve: &'static str,
    intro: &'static str,
    pub(super) sent_to: &'static str,
    the_window: &'static str,
    the_change: &'static str,
    pub(super) the_terms: &'static str,
    state: &'static str,
    deadline: &'static str,
    conflicts: &'static str,
    none: &'static str,
    authorisation: &'static str,
    general: &'static str,
    specific: &'static str,
    notice_days: &'static str,
    days: &'static str,
    silence: &'static str,
    silence_general: &'static str,
    silence_specific: &'static str,
    reason_rule: &'static str,
    reason_yes: &'static str,
    reason_no: &'static str,
    transfers: &'static str,
    transfers_allowed: &'static str,
    transfers_forbidden: &'static str,
    pub(super) your_name: &'static str,
    pub(super) your_role: &'static str,
    reason: &'static str,
    note: &'static str,
    instruction: &'static str,
    required: &'static str,
    submit_object: &'static str,
    submit_approve: &'static str,
    change_page: &'static str,
    pub(super) invalid: &'static str,
    pub(super) expired: &'static str,
    withdrawn: &'static str,
    too_late_object: &'static str,
    not_needed: &'static str,
    already_objected: &'static str,
    already_approved: &'static str,
    recorded_objection: &'static str,
    recorded_approval: &'static str,
    pub(super) refused_form: &'static str,
    pub(super) name_missing: &'static str,
    pub(super) too_long: &'static str,
    by: &'static str,
}

static DA: Words = Words {
    view: "Varsel om ændring af underdatabehandlere",
    object: "Indsigelse mod ændring af underdatabehandlere",
    approve: "Godkendelse af ændring af underdatabehandlere",
    intro: "fra databehandleren",
    sent_to: "Linket er sendt til",
    the_window: "Fristen",
    the_change: "Ændringen",
    the_terms: "Aftalens vilkår",
    state: "Status",
    deadline: "Indsigelsesfrist",
    conflicts: "Konflikter med aftalen",
    none: "ingen",
    authorisation: "Godkendelse af underdatabehandlere",
    general: "generel skriftlig godkendelse",
    specific: "specifik skriftlig godkendelse",
    notice_days: "Varsel",
    days: "kalenderdage",
    silence: "Hvis I ikke reagerer inden fristen",
    silence_general: "stiltiende samtykke – ændringen anses for godkendt (medmindre en konflikt med aftalen kræver jeres instruks)",
    silence_specific: "ikke godkendt – forudgående specifik skriftlig godkendelse mangler",
    reason_rule: "Begrundelse for indsigelse",
    reason_yes: "påkrævet (en konkret og saglig begrundelse)",
    reason_no: "ikke påkrævet",
    transfers: "Overførsel til tredjelande",
    transfers_allowed: "tilladt med et gyldigt overførselsgrundlag",
    transfers_forbidden: "ikke tilladt efter aftalen",
    your_name: "Dit navn",
    your_role: "Din stilling (fx DPO)",
    reason: "Begrundelse",
    note: "Bemærkning",
    instruction: "Instruks til databehandleren (databeskyttelsesforordningens artikel 28, stk. 3, litra a)",
    required: "skal udfyldes",
    submit_object: "Gør indsigelse",
    submit_approve: "Godkend ændringen",
    change_page: "Se ændringen på databehandlerens side",
    invalid: "Linket er ikke gyldigt. Brug linket fra den seneste e-mail, eller kontakt databehandleren.",
    expired: "Linket er udløbet og kan ikke længere bruges.",
    withdrawn: "Databehandleren har trukket ændringen tilbage; der er intet at tage stilling til.",
    too_late_object: "Indsigelsesfristen er udløbet; der kan ikke længere gøres indsigelse via dette link.",
    not_needed: "Ændringen kan ikke længere godkendes via dette link.",
    already_objected: "Linket er allerede brugt: indsigelsen er registreret.",
    already_approved: "Linket er allerede brugt: godkendelsen er registreret.",
    recorded_objection: "Jeres indsigelse er registreret.",
    recorded_approval: "Jeres godkendelse er registreret.",
    refused_form: "Formularen kunne ikke bekræftes. Åbn linket fra e-mailen igen, og udfyld formularen på ny.",
    name_missing: "Skriv dit navn.",
    too_long: "En tekst er for lang.",
    by: "af",
};

static EN: Words = Words {
    view: "Notice of a change of sub-processors",
    object: "Objection to a change of sub-processors",
    approve: "Approval of a change of sub-processors",
    intro: "from the processor",
    sent_to: "This link was sent to",
    the_window: "The deadline",
    the_change: "The change",
    the_terms: "The agreement's terms",
    state: "State",
    deadline: "Objection deadline",
    conflicts: "Conflicts with the agreement",
    none: "none",
    authorisation: "Authorisation of sub-processors",
    general: "general written authorisation",
    specific: "specific written authorisation",
    notice_days: "Notice",
    days: "calendar days",
    silence: "If you do not respond by the deadline",
    silence_general: "tacit consent – the change counts as approved (unless a conflict with the agreement needs your instruction)",
    silence_specific: "not approved – prior specific written approval is missing",
    reason_rule: "Reason for an objection",
    reason_yes: "required (a concrete, objective reason)",
    reason_no: "not required",
    transfers: "Transfers to third countries",
    transfers_allowed: "allowed with a valid transfer basis",
    transfers_forbidden: "not allowed by the agreement",
    your_name: "Your name",
    your_role: "Your role (e.g. DPO)",
    reason: "Reason",
    note: "Note",
    instruction: "Instruction to the processor (GDPR Article 28(3)(a))",
    required: "required",
    submit_object: "Object",
    submit_approve: "Approve the change",
    change_page: "See the change on the processor's page",
    invalid: "This link is not valid. Use the link from the latest e-mail, or contact the processor.",
    expired: "This link has expired and can no longer be used.",
    withdrawn: "The processor has withdrawn the change; there is nothing to decide.",
    too_late_object: "The objection deadline has passed; this link can no longer be used to object.",
    not_needed: "The change can no longer be approved through this link.",
    already_objected: "This link has been used: the objection is recorded.",
    already_approved: "This link has been used: the approval is recorded.",
    recorded_objection: "Your objection is recorded.",
    recorded_approval: "Your approval is recorded.",
    refused_form: "The form could not be verified. Open the link from the e-mail again and fill in the form anew.",
    name_missing: "Give your name.",
    too_long: "A text is too long.",
    by: "by",
};

pub(super) fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "decide.html")]
struct DecideView {
    lang: &'static str,
    l: &'static super::i18n::Labels,
    w: &'static Words,
    title: String,
    heading: String,
    intro: String,
    notice: String,
    error: String,
    window_facts: Vec<Fact>,
    change_heading: String,
    summary: String,
    facts: Vec<Fact>,
    terms: Vec<Fact>,
    show_form: bool,
    object: bool,
    action: String,
    csrf: String,
    reason_required: bool,
    instruction_required: bool,
    name: String,
    role: String,
    reason: String,
    note: String,
    instruction: String,
    change_url: String,
}

/// What the form sent (all optional: a missing field is a message on the page, not a 400).
#[derive(Deserialize, Default, Clone)]
struct DecideForm {
    csrf: Option<String>,
    name: Option<String>,
    role: Option<String>,
    reason: Option<String>,
    note: Option<String>,
    instruction: Option<String>,
}

/// Where the link stands against the window now.
enum Standing {
    /// The form may be shown and posted.
    Open,
    /// Already decided the way this link decides.
    Used(&'static str),
    /// Can no longer be used (410).
    Gone(&'static str),
    /// A view link: nothing to decide here.
    View,
}

fn standing(
    lang: Lang,
    purpose: Purpose,
    window: &ObjectionWindow,
    now: chrono::DateTime<chrono::Utc>,
) -> Standing {
    let w = words(lang);
    let withdrawn = window.state == WindowState::Withdrawn
        || window
            .change
            .as_deref()
            .is_some_and(|c| c.state == crate::domain::change::ChangeState::Withdrawn);
    if withdrawn {
        return Standing::Gone(w.withdrawn);
    }
    let live = window.closed_at.is_none() && window.closes_at.is_none_or(|at| now < at);
    match purpose {
        Purpose::View => Standing::View,
        Purpose::Object => match window.state {
            WindowState::Objected => Standing::Used(w.already_objected),
            WindowState::Open if live => Standing::Open,
            _ => Standing::Gone(w.too_late_object),
        },
        Purpose::Approve => match window.state {
            WindowState::Approved => Standing::Used(w.already_approved),
            WindowState::Open if live => Standing::Open,
            // A late approval of a refusal is still possible while the change stands.
            WindowState::Objected | WindowState::NotApproved => Standing::Open,
            _ => Standing::Gone(w.not_needed),
        },
    }
}

pub(super) fn terms(lang: Lang, t: &AgreementVersion) -> Vec<Fact> {
    let w = words(lang);
    vec![
        Fact {
            term: w.authorisation,
            value: match t.authorisation {
                Authorisation::General => w.general.into(),
                Authorisation::Specific => w.specific.into(),
            },
        },
        Fact {
            term: w.notice_days,
            value: format!("{} {}", t.notice_days, w.days),
        },
        Fact {
            term: w.silence,
            value: match t.authorisation {
                Authorisation::General => w.silence_general.into(),
                Authorisation::Specific => w.silence_specific.into(),
            },
        },
        Fact {
            term: w.reason_rule,
            value: if t.objection_requires_reason {
                w.reason_yes.into()
            } else {
                w.reason_no.into()
            },
        },
        Fact {
            term: match lang {
                Lang::Da => "Fristen løber fra",
                Lang::En => "The period runs from",
            },
            value: match (lang, t.notice_starts) {
                (Lang::Da, NoticeStarts::Announcement) => "varslingen".into(),
                (Lang::Da, NoticeStarts::Dispatch) => {
                    "afsendelsen af underretningen til jer".into()
                }
                (Lang::En, NoticeStarts::Announcement) => "the announcement".into(),
                (Lang::En, NoticeStarts::Dispatch) => "the dispatch of the notice to you".into(),
            },
        },
        Fact {
            term: w.transfers,
            value: match t.third_country_transfers {
                ThirdCountryTransfers::AllowedWithBasis => w.transfers_allowed.into(),
                ThirdCountryTransfers::Forbidden => w.transfers_forbidden.into(),
            },
        },
    ]
}

fn conflict_word(lang: Lang, c: crate::domain::change::Conflict) -> &'static str {
    use crate::domain::change::Conflict::*;
    match (lang, c) {
        (Lang::Da, ThirdCountryForbidden) => "behandling uden for EØS, som aftalen ikke tillader",
        (Lang::Da, LocationNotAllowed) => "behandling i et land uden for aftalens tilladte lokaliteter",
        (Lang::Da, DerogationForOngoingTransfer) => "overførsel på grundlag af en undtagelse (art. 49), som ikke kan bære en løbende overførsel",
        (Lang::Da, PlannedBeforeWindowCloses) => "planlagt taget i brug før indsigelsesfristens udløb",
        (Lang::En, ThirdCountryForbidden) => "processing outside the EEA, which the agreement forbids",
        (Lang::En, LocationNotAllowed) => "processing in a country outside the agreement's allowed locations",
        (Lang::En, DerogationForOngoingTransfer) => "a transfer on an Art. 49 derogation, which cannot carry a standing transfer",
        (Lang::En, PlannedBeforeWindowCloses) => "planned to be used before the objection deadline",
    }
}

fn state_word(lang: Lang, window: &ObjectionWindow) -> String {
    let da = lang == Lang::Da;
    let by = |d: Option<&Decider>| {
        d.and_then(|d| d.decided_by.as_ref())
            .map(|p| format!(" ({} {})", words(lang).by, p.name))
            .unwrap_or_default()
    };
    match window.state {
        WindowState::Open if da => "åben – I kan gøre indsigelse eller godkende".into(),
        WindowState::Open => "open – you may object or approve".into(),
        WindowState::Objected if da => format!(
            "den dataansvarlige har gjort indsigelse{}",
            by(window.objection.as_ref().and_then(|o| o.by.as_ref()))
        ),
        WindowState::Objected => format!(
            "objected{}",
            by(window.objection.as_ref().and_then(|o| o.by.as_ref()))
        ),
        WindowState::Approved if da => format!(
            "godkendt{}",
            by(window.approval.as_ref().and_then(|a| a.by.as_ref()))
        ),
        WindowState::Approved => format!(
            "approved{}",
            by(window.approval.as_ref().and_then(|a| a.by.as_ref()))
        ),
        WindowState::TacitConsent if da => {
            "stiltiende samtykke – ingen indsigelse inden for fristen".into()
        }
        WindowState::TacitConsent => "tacit consent – no objection by the deadline".into(),
        WindowState::NotApproved if da => {
            "ikke godkendt – forudgående specifik skriftlig godkendelse mangler".into()
        }
        WindowState::NotApproved => {
            "not approved – prior specific written approval is missing".into()
        }
        WindowState::Withdrawn if da => "trukket tilbage".into(),
        WindowState::Withdrawn => "withdrawn".into(),
    }
}

/// Everything a page needs besides the form's state.
struct Context<'a> {
    state: &'a AppState,
    lang: Lang,
    token: &'a str,
    claims: &'a LinkClaims,
    page: &'a DecidePage,
}

fn view(
    ctx: &Context,
    notice: &str,
    error: &str,
    show_form: bool,
    nonce: &str,
    form: &DecideForm,
) -> DecideView {
    let lang = ctx.lang;
    let w = words(lang);
    let window = &ctx.page.window;
    let heading_text = match ctx.claims.act {
        Purpose::View => w.view,
        Purpose::Object => w.object,
        Purpose::Approve => w.approve,
    };
    let (change_heading, summary, facts) = match window.change.as_deref() {
        Some(change) => (
            heading(lang, change),
            pick(lang, &change.summary, change.summary_en.as_deref()).to_string(),
            facts(lang, change, ctx.page.replaced.as_ref(), None),
        ),
        None => (w.the_change.into(), String::new(), Vec::new()),
    };
    let conflicts = if window.conflicts.is_empty() {
        w.none.to_string()
    } else {
        window
            .conflicts
            .iter()
            .map(|c| conflict_word(lang, *c))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let blocking = window.conflicts.iter().any(|c| c.blocks_silence());
    DecideView {
        lang: lang.code(),
        l: lang.labels(),
        w,
        title: format!("{heading_text}: {change_heading}"),
        heading: heading_text.into(),
        intro: format!(
            "{} · {} {} · {} {}",
            ctx.page.controller_name,
            change_heading_short(lang, &ctx.page.processor_name),
            w.intro,
            w.sent_to,
            ctx.claims.mbx
        ),
        notice: notice.into(),
        error: error.into(),
        window_facts: vec![
            Fact {
                term: w.state,
                value: state_word(lang, window),
            },
            Fact {
                term: w.deadline,
                value: window_deadline_text(lang, window.closes_at),
            },
            Fact {
                term: w.conflicts,
                value: conflicts,
            },
        ],
        change_heading: format!("{}: {change_heading}", w.the_change),
        summary,
        facts,
        terms: terms(lang, &ctx.page.terms),
        show_form,
        object: ctx.claims.act == Purpose::Object,
        action: format!("/decide/{}?lang={}", ctx.token, lang.code()),
        csrf: decide::csrf_field(ctx.state.log.decide_key(), ctx.token, nonce),
        reason_required: ctx.page.terms.objection_requires_reason,
        instruction_required: blocking,
        name: form.name.clone().unwrap_or_default(),
        role: form.role.clone().unwrap_or_default(),
        reason: form.reason.clone().unwrap_or_default(),
        note: form.note.clone().unwrap_or_default(),
        instruction: form.instruction.clone().unwrap_or_default(),
        change_url: format!(
            "/processors/{}/changes/{}?lang={}",
            window.processor_id,
            window.change_id,
            lang.code()
        ),
    }
}

fn change_heading_short(_lang: Lang, processor: &str) -> String {
    processor.to_string()
}

pub(super) fn new_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A page with a fresh form nonce in the cookie.
fn page_with_form(
    ctx: &Context,
    status: StatusCode,
    notice: &str,
    error: &str,
    form: &DecideForm,
) -> Result<HttpResponse, ApiError> {
    let nonce = new_nonce();
    let body = render(&view(ctx, notice, error, true, &nonce, form))?;
    let mut response = html(status, body);
    with_form_nonce(&mut response, ctx.state, "/decide", nonce)?;
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// Gives a page with a form the nonce its CSRF field is bound to, in a `SameSite=Strict`
/// cookie for `path` (the decision and the confirmation pages alike).
pub(super) fn with_form_nonce(
    response: &mut HttpResponse,
    state: &AppState,
    path: &str,
    nonce: String,
) -> Result<(), ApiError> {
    let cookie = Cookie::build(COOKIE, nonce)
        .path(path.to_string())
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.public_url.starts_with("https://"))
        .max_age(actix_web::cookie::time::Duration::hours(2))
        .finish();
    response
        .add_cookie(&cookie)
        .map_err(|e| ApiError::Internal(format!("cookie: {e}")))?;
    // With `no-referrer` a browser sends `Origin: null` on the form's POST; `same-origin`
    // still sends nothing (and so never the token in the URL) to another site.
    response.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("same-origin"),
    );
    Ok(())
}

/// Whether a form's POST comes from this site's own page for `token`: `Origin` is this site
/// and the CSRF field matches the token and the cookie's nonce.
pub(super) fn form_is_ours(
    state: &AppState,
    req: &HttpRequest,
    token: &str,
    csrf: Option<&str>,
) -> bool {
    let same_origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|origin| origin == origin_of(&state.public_url));
    let nonce = req
        .cookie(COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    same_origin
        && decide::csrf_ok(
            state.log.decide_key(),
            token,
            &nonce,
            csrf.unwrap_or_default(),
        )
}

fn page_without_form(
    ctx: &Context,
    status: StatusCode,
    notice: &str,
) -> Result<HttpResponse, ApiError> {
    let body = render(&view(ctx, notice, "", false, "", &DecideForm::default()))?;
    let mut response = html(status, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

/// A plain page with one message and no window (the link is not valid or not ours).
pub(super) fn message_page(
    lang: Lang,
    status: StatusCode,
    message: &str,
) -> Result<HttpResponse, ApiError> {
    #[derive(Template)]
    #[template(
        source = "{% extends \"base.html\" %}{% block content %}<h1>{{ title }}</h1><p class=\"notice\">{{ message }}</p>{% endblock %}",
        ext = "html"
    )]
    struct Message {
        lang: &'static str,
        l: &'static super::i18n::Labels,
        title: &'static str,
        message: String,
    }
    let body = render(&Message {
        lang: lang.code(),
        l: lang.labels(),
        title: words(lang).view,
        message: message.into(),
    })?;
    let mut response = html(status, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct DecideQuery {
    /// The page's language, overriding `Accept-Language`.
    pub(super) lang: Option<Lang>,
}

/// Verifies the link and loads its window; `Err` is the finished answer for a bad link.
async fn load(
    state: &AppState,
    lang: Lang,
    token: &str,
) -> Result<Result<(LinkClaims, DecidePage), HttpResponse>, ApiError> {
    let w = words(lang);
    let claims = match decide::verify(state.log.decide_key(), token, state.clock.now()) {
        Ok(claims) => claims,
        Err(LinkError::Expired) => {
            return Ok(Err(message_page(lang, StatusCode::GONE, w.expired)?))
        }
        Err(LinkError::Invalid) => {
            return Ok(Err(message_page(lang, StatusCode::NOT_FOUND, w.invalid)?))
        }
    };
    let wid = claims.wid.clone();
    match state
        .db(move |conn| crate::store::decide::page(conn, &wid))
        .await
    {
        Ok(page) => Ok(Ok((claims, page))),
        Err(ApiError::NotFound(_)) => {
            Ok(Err(message_page(lang, StatusCode::NOT_FOUND, w.invalid)?))
        }
        Err(other) => Err(other),
    }
}

/// A notice's decision page (HTML)
///
/// For the holder of a link from a notice: `{token}` is a signed, single-purpose token
/// (view, object or approve) for one objection window and one mailbox. Shows the change, the
/// window's state and deadline, the agreement's terms (authorisation, notice, what silence
/// means, whether an objection needs a reason, the rule on third-country transfers) and, for
/// an object or approve link while that decision can be made, a form (no JavaScript): the
/// deciding person's name and role, and the reason (object) or note and instruction (approve).
/// A link that is not this site's: 404. Expired (past its validity, the change withdrawn, or
/// the window can no longer be decided that way): 410. Used (the window already decided that
/// way): 200 with a notice saying so. Sets a `SameSite=Strict` cookie with the form's nonce.
#[utoipa::path(
    get,
    path = "/decide/{token}",
    tag = "pages",
    operation_id = "decisionPage",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        DecideQuery,
    ),
    responses(
        (status = 200, description = "The page (with the form, or saying the link was used).", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired; an HTML page saying so.", body = String, content_type = "text/html"),
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
    let (claims, page) = match load(&state, lang, &token).await? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let ctx = Context {
        state: &state,
        lang,
        token: &token,
        claims: &claims,
        page: &page,
    };
    match standing(lang, claims.act, &page.window, state.clock.now()) {
        Standing::Open => page_with_form(&ctx, StatusCode::OK, "", "", &DecideForm::default()),
        Standing::View => page_without_form(&ctx, StatusCode::OK, ""),
        Standing::Used(notice) => page_without_form(&ctx, StatusCode::OK, notice),
        Standing::Gone(notice) => page_without_form(&ctx, StatusCode::GONE, notice),
    }
}

/// The origin (`scheme://host[:port]`) of the public URL.
pub(crate) fn origin_of(public_url: &str) -> &str {
    match public_url.split_once("://") {
        Some((scheme, rest)) => {
            let end = rest
                .find('/')
                .map_or(public_url.len(), |i| scheme.len() + 3 + i);
            public_url.get(..end).unwrap_or(public_url)
        }
        None => public_url,
    }
}

pub(super) fn trimmed(text: Option<&String>) -> Option<String> {
    text.map(|t| t.trim().to_string()).filter(|t| !t.is_empty())
}

/// Record a decision from a notice's link
///
/// The form of `GET /decide/{token}` (`application/x-www-form-urlencoded`: `csrf`, `name`,
/// `role`, and `reason` for an objection or `note` and `instruction` for an approval). Refused
/// with 403 (an HTML page) unless `Origin` is this site and `csrf` matches the token and the
/// cookie's nonce. Records the decision exactly as the API's objection or approval does, with
/// `by: {decided_by: {name, role}, sub: "mailto:<mailbox>", via: "email_link", mailbox}`.
/// 200 with the recorded state; 422 with the form again when the name is missing or the terms
/// need a reason or an instruction; 409 when the window refuses the decision; a used link 200,
/// an expired one 410, not a link of this site 404, as for GET.
#[utoipa::path(
    post,
    path = "/decide/{token}",
    tag = "pages",
    operation_id = "decide",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        DecideQuery,
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The page's form."),
    responses(
        (status = 200, description = "Recorded (or already recorded): an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 403, description = "Cross-site or without a valid CSRF field: nothing recorded.", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site.", body = String, content_type = "text/html"),
        (status = 409, description = "The window refuses the decision; the page says why.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired.", body = String, content_type = "text/html"),
        (status = 422, description = "A required field is missing; the form again, saying which.", body = String, content_type = "text/html"),
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
    let w = words(lang);
    let form: DecideForm = serde_urlencoded_form(&body);
    // Cross-site requests are refused before anything else is looked at.
    if !form_is_ours(&state, &req, &token, form.csrf.as_deref()) {
        return message_page(lang, StatusCode::FORBIDDEN, w.refused_form);
    }
    let (claims, page) = match load(&state, lang, &token).await? {
        Ok(found) => found,
        Err(answer) => return Ok(answer),
    };
    let ctx = Context {
        state: &state,
        lang,
        token: &token,
        claims: &claims,
        page: &page,
    };
    match standing(lang, claims.act, &page.window, state.clock.now()) {
        Standing::Open => {}
        Standing::View => return message_page(lang, StatusCode::FORBIDDEN, w.refused_form),
        Standing::Used(notice) => return page_without_form(&ctx, StatusCode::OK, notice),
        Standing::Gone(notice) => return page_without_form(&ctx, StatusCode::GONE, notice),
    }
    let name = trimmed(form.name.as_ref());
    let role = trimmed(form.role.as_ref());
    let Some(name) = name else {
        return page_with_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            w.name_missing,
            &form,
        );
    };
    let texts = [&form.reason, &form.note, &form.instruction];
    if name.chars().count() > MAX_PERSON_TEXT
        || role
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_PERSON_TEXT)
        || texts.iter().any(|t| {
            t.as_ref()
                .is_some_and(|t| t.trim().chars().count() > MAX_TEXT)
        })
    {
        return page_with_form(
            &ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
            w.too_long,
            &form,
        );
    }
    let decision = match claims.act {
        Purpose::Object => Decision::Object {
            reason: trimmed(form.reason.as_ref()),
        },
        _ => Decision::Approve {
            note: trimmed(form.note.as_ref()),
            instruction: trimmed(form.instruction.as_ref()),
        },
    };
    let by = Decider {
        decided_by: Some(Person { name, role }),
        sub: format!("mailto:{}", claims.mbx),
        via: Some(DecisionChannel::EmailLink),
        mailbox: Some(claims.mbx.clone()),
    };
    let (cid, wid, now) = (
        page.window.controller_id.clone(),
        page.window.id.clone(),
        state.clock.now(),
    );
    // The same store path as the API's decisions (http/windows.rs).
    let outcome = state
        .db(move |conn| {
            match crate::store::lifecycle::decide(conn, &cid, &wid, decision, &by, now) {
                Ok(window) => Ok(Ok(window)),
                Err(StoreError::Window { error, window }) => Ok(Err((error, window))),
                Err(other) => Err(other),
            }
        })
        .await?;
    match outcome {
        Ok(window) => {
            let recorded = DecidePage { window, ..page };
            let ctx = Context {
                state: &state,
                lang,
                token: &token,
                claims: &claims,
                page: &recorded,
            };
            let notice = match claims.act {
                Purpose::Object => w.recorded_objection,
                _ => w.recorded_approval,
            };
            page_without_form(&ctx, StatusCode::OK, notice)
        }
        Err((error @ (WindowError::ReasonRequired | WindowError::InstructionRequired), _)) => {
            let message = match (lang, &error) {
                (Lang::Da, WindowError::ReasonRequired) => "Aftalen kræver en konkret og saglig begrundelse for en indsigelse: skriv begrundelsen.".to_string(),
                (Lang::Da, _) => "Aftalen tillader ikke denne underdatabehandler af sig selv: en godkendelse kræver jeres dokumenterede instruks til databehandleren.".to_string(),
                _ => error.to_string(),
            };
            page_with_form(&ctx, StatusCode::UNPROCESSABLE_ENTITY, "", &message, &form)
        }
        Err((error, window)) => {
            let refused = DecidePage {
                window: *window,
                ..page
            };
            let ctx = Context {
                state: &state,
                lang,
                token: &token,
                claims: &claims,
                page: &refused,
            };
            page_without_form(&ctx, StatusCode::CONFLICT, &error.to_string())
        }
    }
}

/// Parses the form body; what cannot be read counts as absent (the page then says what is
/// missing).
fn serde_urlencoded_form(body: &[u8]) -> DecideForm {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(show, submit))]
pub struct Api;
