//! Public e-mail subscriptions (HTML, da/en): the processor page's form posts to
//! `POST /processors/{pid}/subscribe`; the confirmation message links to
//! `GET /subscriptions/confirm/{token}`; every update carries
//! `/subscriptions/unsubscribe/{token}` in `List-Unsubscribe` and as a visible link.
//!
//! - Subscribing answers the same page whether or not the address is already subscribed (no
//!   enumeration), and sends at most one confirmation per address and processor an hour
//!   (`store::subscriptions::subscribe`). There is no CSRF field: the form acts for nobody
//!   (no session, no cookie; anyone may post any address directly), so a forged post can do
//!   nothing a direct one cannot. A browser's cross-site post is still refused by `Origin`,
//!   so other sites cannot turn their visitors into senders of confirmation messages.
//! - Unsubscribe: GET shows a page with a button and changes nothing (mail scanners prefetch
//!   links); POST with `List-Unsubscribe=One-Click` (RFC 8058, what mail clients send, and
//!   what the button sends) deletes the subscription, address and all, without CSRF: the
//!   token in the URL is the authority, as the RFC intends.
//! - A link that is not this site's is 404; an expired confirmation link 410; a used link a
//!   page saying so (200).

use super::decide::origin_of;
use super::error::ApiError;
use super::i18n::{Labels, Lang};
use super::openapi::ProcessorId;
use super::pages::{html, render};
use super::{AppState, Routes};
use crate::domain::subscription::{self, EmailProblem, Frequency, TokenError};
use crate::store::subscriptions::{self as store, Confirmed};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

pub fn routes(routes: &mut Routes) {
    routes
        .add(Method::POST, "/processors/{pid}/subscribe", subscribe)
        .add(Method::GET, "/subscriptions/confirm/{token}", confirm_page)
        .add(Method::POST, "/subscriptions/confirm/{token}", confirm)
        .add(
            Method::GET,
            "/subscriptions/unsubscribe/{token}",
            unsubscribe_page,
        )
        .add(
            Method::POST,
            "/subscriptions/unsubscribe/{token}",
            unsubscribe,
        );
}

struct Words {
    title: &'static str,
    check_inbox: &'static str,
    check_inbox_more: &'static str,
    cross_site: &'static str,
    email_missing: &'static str,
    email_too_long: &'static str,
    email_invalid: &'static str,
    frequency_invalid: &'static str,
    no_processor: &'static str,
    invalid_link: &'static str,
    expired_link: &'static str,
    gone_link: &'static str,
    confirmed: &'static str,
    already_confirmed: &'static str,
    confirm_question: &'static str,
    confirm_button: &'static str,
    unsubscribe_question: &'static str,
    unsubscribe_button: &'static str,
    unsubscribed: &'static str,
    not_subscribed: &'static str,
    one_click_missing: &'static str,
    unsubscribe_later: &'static str,
    back: &'static str,
    try_again: &'static str,
}

static DA: Words = Words {
    title: "Følg ændringer på e-mail",
    check_inbox: "Tak. Se efter en e-mail fra os: tilmeldingen gælder først, når du har bekræftet den med linket i e-mailen.",
    check_inbox_more: "Linket virker i 48 timer; uden bekræftelse slettes adressen igen. Er adressen allerede tilmeldt, eller er der for nylig sendt et link, sendes der ikke et nyt.",
    cross_site: "Tilmeldingen skal ske fra formularen på databehandlerens side.",
    email_missing: "Skriv din e-mailadresse.",
    email_too_long: "E-mailadressen er for lang (højst 254 tegn).",
    email_invalid: "Det er ikke en e-mailadresse. Skriv den som navn@eksempel.dk.",
    frequency_invalid: "Vælg, om du vil have en e-mail ved hver ændring eller en daglig oversigt.",
    no_processor: "Databehandleren findes ikke.",
    invalid_link: "Linket er ikke gyldigt. Brug linket fra den seneste e-mail.",
    expired_link: "Linket er udløbet. Tilmeld dig igen på databehandlerens side.",
    gone_link: "Linket kan ikke længere bruges: tilmeldingen er udløbet eller afmeldt. Tilmeld dig igen på databehandlerens side.",
    confirmed: "Tilmeldingen er bekræftet. Du får besked på e-mail, når databehandlerens underdatabehandlere ændres.",
    already_confirmed: "Linket er allerede brugt: tilmeldingen er bekræftet.",
    confirm_question: "Vil du have e-mails om ændringer i underdatabehandlere anvendt af",
    confirm_button: "Bekræft tilmeldingen",
    unsubscribe_question: "Vil du afmelde e-mails om ændringer i underdatabehandlere anvendt af",
    unsubscribe_button: "Afmeld",
    unsubscribed: "Du er afmeldt, og adressen er slettet. Du får ikke flere e-mails om ændringerne.",
    not_subscribed: "Adressen er ikke tilmeldt (længere): der er intet at afmelde.",
    one_click_missing: "Afmeldingen skal sendes med knappen på siden.",
    unsubscribe_later: "Du kan altid afmelde dig med linket nederst i hver e-mail.",
    back: "Til databehandlerens side",
    try_again: "Prøv igen",
};

static EN: Words = Words {
    title: "Follow changes by e-mail",
    check_inbox: "Thank you. Look for an e-mail from us: the subscription starts only once you confirm it with the link in that e-mail.",
    check_inbox_more: "The link works for 48 hours; without confirmation the address is deleted again. If the address is already subscribed, or a link was sent recently, no new one is sent.",
    cross_site: "Subscribe with the form on the processor's page.",
    email_missing: "Give your e-mail address.",
    email_too_long: "The e-mail address is too long (at most 254 characters).",
    email_invalid: "That is not an e-mail address. Write it as name@example.com.",
    frequency_invalid: "Choose an e-mail for every change or a daily digest.",
    no_processor: "There is no such processor.",
    invalid_link: "This link is not valid. Use the link from the latest e-mail.",
    expired_link: "This link has expired. Subscribe again on the processor's page.",
    gone_link: "This link can no longer be used: the subscription has expired or was cancelled. Subscribe again on the processor's page.",
    confirmed: "Your subscription is confirmed. You will get an e-mail when the processor's sub-processors change.",
    already_confirmed: "This link has been used: the subscription is confirmed.",
    confirm_question: "Do you want e-mails about changes of the sub-processors used by",
    confirm_button: "Confirm the subscription",
    unsubscribe_question: "Do you want to stop e-mails about changes of the sub-processors used by",
    unsubscribe_button: "Unsubscribe",
    unsubscribed: "You are unsubscribed and the address is deleted. You will get no more e-mails about these changes.",
    not_subscribed: "This address is not subscribed (any more): there is nothing to cancel.",
    one_click_missing: "Send the unsubscription with the button on the page.",
    unsubscribe_later: "You can always unsubscribe with the link at the end of every e-mail.",
    back: "To the processor's page",
    try_again: "Try again",
};

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    }
}

#[derive(Template)]
#[template(path = "subscription.html")]
struct View {
    lang: &'static str,
    l: &'static Labels,
    title: &'static str,
    message: String,
    details: Vec<String>,
    /// The page's button posts here; empty for no form.
    form_action: String,
    /// The form's one field (name, value).
    field: (&'static str, &'static str),
    button: &'static str,
    links: Vec<(String, &'static str)>,
}

/// A page with a message, optional details, links and the unsubscribe button.
fn page(status: StatusCode, view: View) -> Result<HttpResponse, ApiError> {
    let body = render(&view)?;
    let mut response = html(status, body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

fn message(
    lang: Lang,
    status: StatusCode,
    text: &str,
    links: Vec<(String, &'static str)>,
) -> Result<HttpResponse, ApiError> {
    page(
        status,
        View {
            lang: lang.code(),
            l: lang.labels(),
            title: words(lang).title,
            message: text.to_string(),
            details: Vec::new(),
            form_action: String::new(),
            field: ("", ""),
            button: "",
            links,
        },
    )
}

fn processor_link(lang: Lang, pid: &str) -> (String, &'static str) {
    (
        format!("/processors/{pid}?lang={}", lang.code()),
        words(lang).back,
    )
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct LangQuery {
    /// The page's language, overriding `Accept-Language`.
    lang: Option<Lang>,
}

/// What the subscribe form sends (all optional: a missing field is a message, not a 400).
#[derive(Deserialize, Default)]
struct SubscribeForm {
    email: Option<String>,
    frequency: Option<String>,
    lang: Option<String>,
}

/// Subscribe to a processor's public changes by e-mail (HTML form)
///
/// Public. The form on `/processors/{pid}` (`application/x-www-form-urlencoded`: `email`,
/// `frequency` = `immediate` (default: a message per public change) or `daily` (a digest of
/// each day with changes, Copenhagen time, sent when the day is over), `lang` = `da` | `en`
/// (the messages' language; default the page's). Double opt-in: the address gets a message
/// with a confirmation link valid for 48 hours; nothing else is sent before it is followed,
/// and an unconfirmed address is deleted when the link expires. The answer is the same page
/// whether or not the address is already subscribed, and at most one confirmation is sent per
/// address and processor an hour. 403 when the browser says the form came from another site
/// (`Origin`); 422 with what to fix for a missing or malformed address or an unknown
/// frequency; 404 for an unknown processor.
#[utoipa::path(
    post,
    path = "/processors/{pid}/subscribe",
    tag = "pages",
    operation_id = "subscribe",
    security(()),
    params(ProcessorId, LangQuery),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "The form: `email`, `frequency` (`immediate` | `daily`), `lang` (`da` | `en`)."),
    responses(
        (status = 200, description = "An HTML page: look for the confirmation message (the same whether or not the address is already subscribed).", body = String, content_type = "text/html"),
        (status = 403, description = "Posted from another site (`Origin`): nothing sent.", body = String, content_type = "text/html"),
        (status = 404, description = "No such processor; an HTML page.", body = String, content_type = "text/html"),
        (status = 422, description = "The address is missing or not an address, or the frequency is unknown; an HTML page saying what to fix.", body = String, content_type = "text/html"),
    )
)]
async fn subscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let pid = path.into_inner();
    let form: SubscribeForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let chosen = match form.lang.as_deref() {
        Some("da") => Some(Lang::Da),
        Some("en") => Some(Lang::En),
        _ => query.lang,
    };
    let lang = Lang::negotiate(&req, chosen);
    let w = words(lang);
    let back = || vec![processor_link(lang, &pid)];
    let foreign = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| origin.to_str().ok() != Some(origin_of(&state.public_url)));
    if foreign {
        return message(lang, StatusCode::FORBIDDEN, w.cross_site, back());
    }
    let email = match subscription::parse_email(form.email.as_deref().unwrap_or_default()) {
        Ok(email) => email,
        Err(problem) => {
            let text = match problem {
                EmailProblem::Missing => w.email_missing,
                EmailProblem::TooLong => w.email_too_long,
                EmailProblem::Invalid => w.email_invalid,
            };
            let links = vec![(
                format!("/processors/{pid}?lang={}#follow", lang.code()),
                w.try_again,
            )];
            return message(lang, StatusCode::UNPROCESSABLE_ENTITY, text, links);
        }
    };
    let frequency = match form.frequency.as_deref().map(str::trim) {
        None | Some("") => Frequency::Immediate,
        Some(text) => match Frequency::parse(text) {
            Some(frequency) => frequency,
            None => {
                let links = vec![(
                    format!("/processors/{pid}?lang={}#follow", lang.code()),
                    w.try_again,
                )];
                return message(
                    lang,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    w.frequency_invalid,
                    links,
                );
            }
        },
    };
    let (id, now) = (pid.clone(), state.clock.now());
    match state
        .db(move |conn| store::subscribe(conn, &id, &email, lang, frequency, now))
        .await
    {
        Ok(()) => page(
            StatusCode::OK,
            View {
                lang: lang.code(),
                l: lang.labels(),
                title: w.title,
                message: w.check_inbox.to_string(),
                details: vec![w.check_inbox_more.to_string()],
                form_action: String::new(),
                field: ("", ""),
                button: "",
                links: back(),
            },
        ),
        Err(ApiError::NotFound(_)) => {
            message(lang, StatusCode::NOT_FOUND, w.no_processor, Vec::new())
        }
        Err(other) => Err(other),
    }
}

/// The subscription a confirmation link names, or the status and text of the page that says
/// why the link is no good.
fn linked_subscription(
    state: &AppState,
    token: &str,
    w: &'static Words,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, (StatusCode, &'static str)> {
    subscription::verify_confirm(state.log.decide_key(), token, now).map_err(|e| match e {
        TokenError::Expired => (StatusCode::GONE, w.expired_link),
        TokenError::Invalid => (StatusCode::NOT_FOUND, w.invalid_link),
    })
}

/// The confirmation page of an e-mail subscription (the link in the confirmation message)
///
/// Public, for the holder of the link: `{token}` is signed and names one pending
/// subscription; it expires 48 hours after the confirmation was asked for. Shows the address
/// and the processor with a button that confirms (a POST to the same URL); the GET itself
/// changes nothing, so a mail scanner that fetches the link subscribes nobody. Confirmed
/// before: 200 with a page saying so. Expired, or the subscription since expired or
/// cancelled: 410. Not a link of this site: 404.
#[utoipa::path(
    get,
    path = "/subscriptions/confirm/{token}",
    tag = "pages",
    operation_id = "confirmSubscriptionPage",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        LangQuery,
    ),
    responses(
        (status = 200, description = "The page with the button (or saying the subscription is confirmed).", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired, or the subscription is gone; an HTML page saying so.", body = String, content_type = "text/html"),
    )
)]
async fn confirm_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let w = words(lang);
    let id = match linked_subscription(&state, &token, w, state.clock.now()) {
        Ok(id) => id,
        Err((status, text)) => return message(lang, status, text, Vec::new()),
    };
    let found = state.db(move |conn| store::find(conn, &id)).await?;
    match found {
        None => message(lang, StatusCode::GONE, w.gone_link, Vec::new()),
        Some(found) if found.confirmed => message(
            lang,
            StatusCode::OK,
            w.already_confirmed,
            vec![processor_link(lang, &found.processor_id)],
        ),
        Some(found) => page(
            StatusCode::OK,
            View {
                lang: lang.code(),
                l: lang.labels(),
                title: w.title,
                message: format!(
                    "{} {}? ({})",
                    w.confirm_question, found.processor_name, found.email
                ),
                details: vec![w.unsubscribe_later.to_string()],
                form_action: format!("/subscriptions/confirm/{token}?lang={}", lang.code()),
                field: ("confirm", "yes"),
                button: w.confirm_button,
                links: vec![processor_link(lang, &found.processor_id)],
            },
        ),
    }
}

/// Confirm an e-mail subscription (the button of the confirmation page)
///
/// Public, for the holder of the link: `{token}` is signed and names one pending
/// subscription; it expires 48 hours after the confirmation was asked for. Confirms the
/// subscription (200); the body (the page's form sends `confirm=yes`) is not read. Confirmed
/// before: 200 with a page saying so. Expired, or the subscription since expired or
/// cancelled: 410. Not a link of this site: 404.
#[utoipa::path(
    post,
    path = "/subscriptions/confirm/{token}",
    tag = "pages",
    operation_id = "confirmSubscription",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        LangQuery,
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`confirm=yes` (not read)."),
    responses(
        (status = 200, description = "Confirmed (or confirmed before); an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 410, description = "The link has expired, or the subscription is gone; an HTML page saying so.", body = String, content_type = "text/html"),
    )
)]
async fn confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let w = words(lang);
    let now = state.clock.now();
    let id = match linked_subscription(&state, &token, w, now) {
        Ok(id) => id,
        Err((status, text)) => return message(lang, status, text, Vec::new()),
    };
    let sid = id.clone();
    let confirmed = state
        .db(move |conn| store::confirm(conn, &sid, now))
        .await?;
    match confirmed {
        Confirmed::Now { processor_id } => {
            let unsubscribe = subscription::unsubscribe_token(state.log.decide_key(), &id);
            page(
                StatusCode::OK,
                View {
                    lang: lang.code(),
                    l: lang.labels(),
                    title: w.title,
                    message: w.confirmed.to_string(),
                    details: vec![w.unsubscribe_later.to_string()],
                    form_action: String::new(),
                    field: ("", ""),
                    button: "",
                    links: vec![
                        processor_link(lang, &processor_id),
                        (
                            format!(
                                "/subscriptions/unsubscribe/{unsubscribe}?lang={}",
                                lang.code()
                            ),
                            w.unsubscribe_button,
                        ),
                    ],
                },
            )
        }
        Confirmed::Already { processor_id } => message(
            lang,
            StatusCode::OK,
            w.already_confirmed,
            vec![processor_link(lang, &processor_id)],
        ),
        Confirmed::Gone => message(lang, StatusCode::GONE, w.gone_link, Vec::new()),
    }
}

/// The unsubscribe page of an e-mail subscription (the link in every message)
///
/// Public, for the holder of the link. Shows which address and processor the link is for,
/// and a button that unsubscribes (a POST to the same URL); the GET itself changes nothing,
/// so a mail scanner that fetches the link unsubscribes nobody. Already unsubscribed: 200
/// with a page saying so. Not a link of this site: 404.
#[utoipa::path(
    get,
    path = "/subscriptions/unsubscribe/{token}",
    tag = "pages",
    operation_id = "unsubscribePage",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        LangQuery,
    ),
    responses(
        (status = 200, description = "The page with the button (or saying there is nothing to cancel).", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
    )
)]
async fn unsubscribe_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let w = words(lang);
    let Ok(id) = subscription::verify_unsubscribe(state.log.decide_key(), &token) else {
        return message(lang, StatusCode::NOT_FOUND, w.invalid_link, Vec::new());
    };
    let found = state.db(move |conn| store::find(conn, &id)).await?;
    let Some(found) = found else {
        return message(lang, StatusCode::OK, w.not_subscribed, Vec::new());
    };
    page(
        StatusCode::OK,
        View {
            lang: lang.code(),
            l: lang.labels(),
            title: w.title,
            message: format!(
                "{} {}? ({})",
                w.unsubscribe_question, found.processor_name, found.email
            ),
            details: Vec::new(),
            form_action: format!("/subscriptions/unsubscribe/{token}?lang={}", lang.code()),
            field: ("List-Unsubscribe", "One-Click"),
            button: w.unsubscribe_button,
            links: vec![processor_link(lang, &found.processor_id)],
        },
    )
}

/// Whether a POST body says `List-Unsubscribe=One-Click` (RFC 8058), form-urlencoded or as a
/// multipart/form-data field.
fn one_click(body: &[u8]) -> bool {
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    if form
        .iter()
        .any(|(k, v)| k == "List-Unsubscribe" && v.trim() == "One-Click")
    {
        return true;
    }
    let text = String::from_utf8_lossy(body);
    text.contains("name=\"List-Unsubscribe\"") && text.contains("One-Click")
}

/// Unsubscribe with one click (RFC 8058)
///
/// Public, for the holder of the link: the POST a mail client sends for
/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click`, and what the unsubscribe page's
/// button sends. The body must be `List-Unsubscribe=One-Click`
/// (`application/x-www-form-urlencoded` or `multipart/form-data`); no cookie or CSRF field is
/// needed (RFC 8058 §3.2). Deletes the subscription with its address and any message not yet
/// sent: 200. Already unsubscribed: 200 too. Without the one-click field: 422 (an HTML page;
/// nothing changes). Not a link of this site: 404.
#[utoipa::path(
    post,
    path = "/subscriptions/unsubscribe/{token}",
    tag = "pages",
    operation_id = "unsubscribe",
    security(()),
    params(
        ("token" = String, Path, description = "The signed token of the link."),
        LangQuery,
    ),
    request_body(content = String, content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`."),
    responses(
        (status = 200, description = "Unsubscribed (or not subscribed); an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 404, description = "Not a link of this site; an HTML page saying so.", body = String, content_type = "text/html"),
        (status = 422, description = "The body is not `List-Unsubscribe=One-Click`; nothing changed. An HTML page saying so.", body = String, content_type = "text/html"),
    )
)]
async fn unsubscribe(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<LangQuery>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let token = path.into_inner();
    let lang = Lang::negotiate(&req, query.lang);
    let w = words(lang);
    let Ok(id) = subscription::verify_unsubscribe(state.log.decide_key(), &token) else {
        return message(lang, StatusCode::NOT_FOUND, w.invalid_link, Vec::new());
    };
    if !one_click(&body) {
        return message(
            lang,
            StatusCode::UNPROCESSABLE_ENTITY,
            w.one_click_missing,
            Vec::new(),
        );
    }
    let removed = state.db(move |conn| store::unsubscribe(conn, &id)).await?;
    match removed {
        Some(processor_id) => message(
            lang,
            StatusCode::OK,
            w.unsubscribed,
            vec![processor_link(lang, &processor_id)],
        ),
        None => message(lang, StatusCode::OK, w.not_subscribed, Vec::new()),
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(subscribe, confirm_page, confirm, unsubscribe_page, unsubscribe))]
pub struct Api;

#[cfg(test)]
mod tests {
    use super::one_click;

    #[test]
    fn one_click_bodies_are_recognised() {
        assert!(one_click(b"List-Unsubscribe=One-Click"));
        assert!(one_click(
            b"--x\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--x--\r\n"
        ));
        assert!(!one_click(b""));
        assert!(!one_click(b"List-Unsubscribe=No"));
    }
}
