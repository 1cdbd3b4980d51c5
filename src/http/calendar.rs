//! A controller's objection deadlines as an iCalendar feed (RFC 5545), for the feed-token
//! holder: one VEVENT per window at its deadline, with reminders, a stable UID, SEQUENCE
//! raised whenever the window changes, and STATUS:CANCELLED once it is closed.

use super::change_page::{deadline_text, facts, heading};
use super::error::ApiError;
use super::feeds::{constant_time_eq, sha256_hex};
use super::i18n::Lang;
use super::openapi::{ControllerId, NotFound};
use super::{AppState, Routes};
use crate::domain::window::WindowState;
use crate::store::feeds::{self, CalendarWindow};
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use icalendar::{Alarm, Calendar, Component, Event, EventLike, EventStatus};
use serde::Deserialize;

/// Closed windows stay this long in the calendar, cancelled, so subscribed calendars see it.
const KEEP_CLOSED_DAYS: i64 = 60;
const NO_CALENDAR: &str = "there is no calendar at this address";

pub fn routes(routes: &mut Routes) {
    routes.add(
        Method::GET,
        "/v1/controllers/{cid}/deadlines.ics",
        deadlines,
    );
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct CalendarQuery {
    /// The feed token from `POST /v1/controllers/{cid}/feed-token`.
    #[param(required = true)]
    token: Option<String>,
    /// The language of the events: `da` or `en`. Without it `Accept-Language` decides, and
    /// without that (most calendar apps send none) Danish.
    #[param(value_type = Option<Lang>)]
    lang: Option<Lang>,
}

/// The host of the public URL, for UIDs (`window-<id>@<host>`).
fn host_of(public_url: &str) -> &str {
    let rest = public_url
        .split_once("://")
        .map_or(public_url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) && !host.is_empty() => host,
        _ => authority,
    }
}

fn state_word(lang: Lang, state: WindowState) -> &'static str {
    match (lang, state) {
        (Lang::Da, WindowState::Open) => "åben",
        (Lang::Da, WindowState::Approved) => "godkendt",
        (Lang::Da, WindowState::Objected) => "den dataansvarlige har gjort indsigelse",
        (Lang::Da, WindowState::TacitConsent) => {
            "stiltiende samtykke – ingen indsigelse inden for fristen"
        }
        (Lang::Da, WindowState::NotApproved) => {
            "ikke godkendt – forudgående specifik skriftlig godkendelse mangler"
        }
        (Lang::Da, WindowState::Withdrawn) => "trukket tilbage",
        (Lang::En, WindowState::Open) => "open",
        (Lang::En, WindowState::Approved) => "approved",
        (Lang::En, WindowState::Objected) => "the controller objected",
        (Lang::En, WindowState::TacitConsent) => "tacit consent (no objection by the deadline)",
        (Lang::En, WindowState::NotApproved) => "not approved (prior specific approval missing)",
        (Lang::En, WindowState::Withdrawn) => "withdrawn",
    }
}

/// The calendar event of a window's deadline; none while the window waits for its notice.
fn event(public_url: &str, host: &str, lang: Lang, item: &CalendarWindow) -> Option<Event> {
    let w = &item.window;
    let closes_at = w.closes_at?;
    let da = lang == Lang::Da;
    let change_url = format!(
        "{public_url}/processors/{}/changes/{}?lang={}",
        w.processor_id,
        w.change_id,
        lang.code()
    );
    let what = w
        .change
        .as_deref()
        .map(|c| heading(lang, c))
        .unwrap_or_default();
    let summary = if da {
        format!("Indsigelsesfrist: {what} ({})", item.processor_name)
    } else {
        format!("Objection deadline: {what} ({})", item.processor_name)
    };
    let mut lines = vec![
        if da {
            format!("Fristen udløber {}.", deadline_text(lang, closes_at))
        } else {
            format!("The deadline is {}.", deadline_text(lang, closes_at))
        },
        format!(
            "{}: {}",
            if da { "Databehandler" } else { "Processor" },
            item.processor_name
        ),
        format!(
            "{}: {}",
            if da { "Fristens status" } else { "Window" },
            state_word(lang, w.state)
        ),
    ];
    if let Some(change) = w.change.as_deref() {
        lines.extend(
            facts(lang, change, None, None)
                .into_iter()
                .map(|f| format!("{}: {}", f.term, f.value)),
        );
    }
    lines.push(change_url.clone());
    let reminder = |days: i64, text: &str| {
        let mut alarm = Alarm::display(&format!("{text}: {what}"), -chrono::Duration::days(days));
        // As people (and RFC 5545's examples) write it: -P7D rather than -PT604800S.
        alarm.add_property("TRIGGER", format!("-P{days}D"));
        // The writer would invent a random UID and the current time here otherwise, and
        // the calendar (and its ETag) would change on every request.
        alarm
            .uid(&format!("window-{}-{days}d@{host}", w.id))
            .timestamp(item.last_changed);
        alarm.done()
    };
    let mut event = Event::new();
    event
        .uid(&format!("window-{}@{host}", w.id))
        .timestamp(item.last_changed)
        .sequence(item.sequence)
        .summary(&summary)
        .description(&lines.join("\n"))
        .url(&change_url)
        .starts(closes_at)
        .ends(closes_at)
        .last_modified(item.last_changed)
        .status(
            if w.closed_at.is_none() && w.state != WindowState::Withdrawn {
                EventStatus::Confirmed
            } else {
                EventStatus::Cancelled
            },
        );
    if w.closed_at.is_none() {
        event
            .alarm(reminder(
                7,
                if da {
                    "Indsigelsesfristen udløber om 7 dage"
                } else {
                    "The objection deadline is in 7 days"
                },
            ))
            .alarm(reminder(
                1,
                if da {
                    "Indsigelsesfristen udløber i morgen"
                } else {
                    "The objection deadline is tomorrow"
                },
            ));
    }
    Some(event.done())
}

/// A controller's objection deadlines (iCalendar)
///
/// For the holder of the controller's feed token (the same token and the same check as the
/// private Atom feed: a missing or wrong token and an unknown controller all get the same 404).
/// An RFC 5545 calendar to subscribe to: one `VEVENT` per objection window of the controller
/// at its deadline (`closes_at`), with `SUMMARY` and `DESCRIPTION` in the requested language
/// (the change, the processor, the deadline as people write it, the window's state), `URL` to
/// the change's page, reminders (`VALARM`) 7 days and 1 day before, a stable
/// `UID` (`window-<id>@<host>`) and a `SEQUENCE` raised each time the window changes (an
/// objection, its withdrawal, an approval, the close). A closed or withdrawn window stays in the
/// calendar for 60 days with `STATUS:CANCELLED`, so subscribed calendars drop it. `ETag`;
/// `If-None-Match` gives 304.
#[utoipa::path(
    get,
    path = "/v1/controllers/{cid}/deadlines.ics",
    tag = "feeds",
    operation_id = "controllerDeadlines",
    security(()),
    params(ControllerId, CalendarQuery),
    responses(
        (
            status = 200,
            description = "The calendar (text/calendar).",
            body = String,
            content_type = "text/calendar",
            headers(("ETag" = String, description = "Strong validator of the calendar."))
        ),
        (status = 304, description = "Not modified since the `ETag` the client sent; no body."),
        (status = 404, response = NotFound),
    )
)]
async fn deadlines(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CalendarQuery>,
) -> Result<HttpResponse, ApiError> {
    let cid = path.into_inner();
    let no_calendar = || ApiError::NotFound(NO_CALENDAR.into());
    let Some(token) = query.token.clone().filter(|t| !t.is_empty()) else {
        return Err(no_calendar());
    };
    let presented = sha256_hex(&token);
    let since = state.clock.now() - chrono::Duration::days(KEEP_CLOSED_DAYS);
    let lookup = cid.clone();
    let found = state
        .db(move |conn| {
            let controller = match feeds::controller_feed(conn, &lookup) {
                Ok(controller) => controller,
                Err(crate::store::StoreError::NotFound { .. }) => return Ok(None),
                Err(other) => return Err(other),
            };
            let valid = controller
                .token_hash
                .as_deref()
                .is_some_and(|stored| constant_time_eq(stored.as_bytes(), presented.as_bytes()));
            if !valid {
                return Ok(None);
            }
            Ok(Some((
                controller.name,
                feeds::calendar(conn, &lookup, since)?,
            )))
        })
        .await?;
    let Some((name, windows)) = found else {
        return Err(no_calendar());
    };
    let lang = match query.lang {
        Some(lang) => lang,
        None if req.headers().contains_key(header::ACCEPT_LANGUAGE) => Lang::negotiate(&req, None),
        None => Lang::Da,
    };
    let host = host_of(&state.public_url);
    let mut calendar = Calendar::new();
    calendar
        .name(&match lang {
            Lang::Da => format!("{name}: indsigelsesfrister"),
            Lang::En => format!("{name}: objection deadlines"),
        })
        .ttl(&chrono::Duration::hours(1));
    for event in windows
        .iter()
        .filter_map(|item| event(&state.public_url, host, lang, item))
    {
        calendar.push(event);
    }
    let body = calendar.done().to_string();
    let etag = format!("\"{}\"", &sha256_hex(&body).get(..32).unwrap_or_default());
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
        });
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if matches {
        return Ok(response.finish());
    }
    Ok(response
        .content_type("text/calendar; charset=utf-8")
        .body(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_host() {
        assert_eq!(host_of("http://127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_of("https://subreg.example/base"), "subreg.example");
        assert_eq!(host_of("https://subreg.example"), "subreg.example");
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(deadlines))]
pub struct Api;
