//! Bearer-token authentication: the one extractor that turns a JWT into an [`Actor`].

use super::error::ApiError;
use super::jwks::{self, Jwks};
use super::openapi::{Conflict, Forbidden, OrgId};
use super::{AppState, Routes};
use crate::config::Settings;
use crate::domain::window::Decider;
use crate::store::revocations;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The default audience (`SUBREG_JWT_AUDIENCE`).
pub const AUDIENCE: &str = "subreg";

/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 30;

/// How long this process trusts what it read of the revocations table: a revocation made
/// through another process on the same database takes effect here within this time (one made
/// through this process, at once).
pub const REVOCATION_REFRESH: Duration = Duration::from_secs(5);

pub fn routes(routes: &mut Routes) {
    routes.add(
        Method::POST,
        "/v1/admin/orgs/{org}/revoke-tokens",
        revoke_tokens,
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Processor,
    Controller,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub org: String,
    pub exp: i64,
    /// Required; optional here only so that a token without it gets a clear refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub iss: String,
    pub aud: String,
}

/// Who is calling: a role acting for one organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    pub org: String,
    pub sub: String,
}

/// Verifies tokens: HS256 with the shared secret, RS256 with a configured public key, or
/// RS256/ES256 with the keys of an identity provider (JWKS); then the lifetime and the org's
/// revocation.
pub struct TokenVerifier {
    keys: Keys,
    validation: Validation,
    max_lifetime: i64,
    claims: ClaimNames,
    revocations: Revocations,
}

/// Where the verification keys come from.
enum Keys {
    /// One key: the HS256 secret or the RS256 public key.
    Fixed(DecodingKey),
    /// The identity provider's set, fetched and cached.
    Jwks(Arc<Jwks>),
}

/// Where the role and the org are in a token (`SUBREG_JWT_ROLE_CLAIM`, `SUBREG_JWT_ORG_CLAIM`).
struct ClaimNames {
    role: String,
    role_prefix: String,
    org: String,
}

/// A token whose signature and claims hold; revocation is checked apart (it needs the database).
#[derive(Debug)]
pub struct Verified {
    pub actor: Actor,
    pub issued_at: i64,
}

/// What this process knows of the revocations table, reloaded whole when older than
/// [`REVOCATION_REFRESH`]; revocations made here are recorded at once.
#[derive(Default)]
struct Revocations {
    known: Mutex<KnownRevocations>,
}

#[derive(Default)]
struct KnownRevocations {
    loaded_at: Option<Instant>,
    by_org: HashMap<String, DateTime<Utc>>,
}

impl KnownRevocations {
    /// Keeps the later instant: a reload read before a revocation made here must not undo it.
    fn record(&mut self, org: String, after: DateTime<Utc>) {
        let entry = self.by_org.entry(org).or_insert(after);
        if after > *entry {
            *entry = after;
        }
    }
}

impl Revocations {
    /// `Some` when what is known is fresh enough to answer.
    fn cached(&self, org: &str) -> Option<Option<DateTime<Utc>>> {
        let known = self.known.lock().ok()?;
        let fresh = known
            .loaded_at
            .is_some_and(|at| at.elapsed() < REVOCATION_REFRESH);
        fresh.then(|| known.by_org.get(org).copied())
    }

    fn install(&self, loaded: Vec<(String, DateTime<Utc>)>, read_at: Instant) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        for (org, after) in loaded {
            known.record(org, after);
        }
        known.loaded_at = Some(read_at);
    }

    fn record(&self, org: &str, after: DateTime<Utc>) {
        if let Ok(mut known) = self.known.lock() {
            known.record(org.to_string(), after);
        }
    }
}

impl TokenVerifier {
    /// The JWKS URL wins over a public key, a public key over the shared secret.
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let (keys, algorithms) = match (
            &settings.jwt.jwks_url,
            &settings.jwt_public_key_pem,
            &settings.jwt_secret,
        ) {
            (Some(url), _, _) => (
                Keys::Jwks(Arc::new(Jwks::new(url, &settings.jwt)?)),
                jwks::ALGORITHMS.to_vec(),
            ),
            (None, Some(pem), _) => (
                Keys::Fixed(DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    format!("SUBREG_JWT_PUBLIC_KEY is not an RSA public key in PEM: {e}")
                })?),
                vec![Algorithm::RS256],
            ),
            (None, None, Some(secret)) => (
                Keys::Fixed(DecodingKey::from_secret(secret.as_bytes())),
                vec![Algorithm::HS256],
            ),
            (None, None, None) => {
                return Err(
                    "set SUBREG_JWT_SECRET (at least 32 characters), SUBREG_JWT_PUBLIC_KEY or \
                     SUBREG_JWT_JWKS_URL"
                        .into(),
                )
            }
        };
        let mut validation = Validation::new(Algorithm::RS256);
        validation.algorithms = algorithms;
        validation.set_audience(&[settings.jwt.audience.as_str()]);
        validation.set_issuer(&[settings.jwt_issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        Ok(TokenVerifier {
            keys,
            validation,
            max_lifetime: settings.jwt_max_lifetime_secs,
            claims: ClaimNames {
                role: settings.jwt.role_claim.clone(),
                role_prefix: settings.jwt.role_prefix.clone(),
                org: settings.jwt.org_claim.clone(),
            },
            revocations: Revocations::default(),
        })
    }

    /// The identity provider's key set, to be refreshed in the background, if one is used.
    pub fn jwks(&self) -> Option<Arc<Jwks>> {
        match &self.keys {
            Keys::Jwks(jwks) => Some(jwks.clone()),
            Keys::Fixed(_) => None,
        }
    }

    /// Signature, issuer, audience, time claims and lifetime; not revocation (that needs the
    /// database: the request extractor checks it). With a JWKS, only keys already fetched
    /// are used.
    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let header = header_of(token)?;
        let key = match &self.keys {
            Keys::Fixed(key) => key.clone(),
            Keys::Jwks(jwks) => jwks.cached_key_for(&header)?,
        };
        self.verify_with(token, &header, &key).map(|v| v.actor)
    }

    /// [`Self::verify`], fetching the identity provider's keys again when the token names
    /// an unknown one; returns the token's `iat` too, for the revocation check.
    pub async fn verify_claims(&self, token: &str) -> Result<Verified, ApiError> {
        let header = header_of(token)?;
        let key = match &self.keys {
            Keys::Fixed(key) => key.clone(),
            Keys::Jwks(jwks) => jwks.key_for(&header).await?,
        };
        self.verify_with(token, &header, &key)
    }

    fn verify_with(
        &self,
        token: &str,
        header: &Header,
        key: &DecodingKey,
    ) -> Result<Verified, ApiError> {
        // jsonwebtoken wants every accepted algorithm to fit the key: narrow the JWKS's
        // RS256+ES256 to the token's own (already checked to be one of them, matching the
        // key's type).
        let mut validation = self.validation.clone();
        if validation.algorithms.contains(&header.alg) {
            validation.algorithms = vec![header.alg];
        }
        let data = decode::<Map<String, Value>>(token, key, &validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired: mint a new one".into(),
                ErrorKind::ImmatureSignature => {
                    "the token is not valid yet (its nbf is in the future)".into()
                }
                ErrorKind::InvalidAudience => format!(
                    "the token is not meant for subreg (aud must include {:?})",
                    self.validation
                        .aud
                        .iter()
                        .flatten()
                        .next()
                        .map(String::as_str)
                        .unwrap_or("")
                ),
                ErrorKind::InvalidIssuer => "the token was issued by someone else (iss)".into(),
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    "the token's signature or algorithm is not accepted".into()
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    "the token lacks a required claim (sub, exp, iat, aud, iss)".into()
                }
                _ => "the token is malformed or its claims are invalid".to_string(),
            };
            ApiError::Unauthorized(why)
        })?;
        let claims = data.claims;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("the token's sub claim is not a text".into()))?
            .to_string();
        let role = self.claims.role_of(&claims)?;
        let org = self.claims.org_of(&claims)?;
        let exp = claims
            .get("exp")
            .and_then(whole_seconds)
            .ok_or_else(|| ApiError::Unauthorized("the token's exp is not a number".into()))?;
        let iat = claims.get("iat").and_then(whole_seconds);
        let issued_at = self.check_times(iat, exp, Utc::now().timestamp())?;
        Ok(Verified {
            actor: Actor { role, org, sub },
            issued_at,
        })
    }

    /// `iat` present and not in the future (beyond the leeway), and `exp - iat` within the
    /// maximum lifetime. Returns `iat`.
    fn check_times(&self, iat: Option<i64>, exp: i64, now: i64) -> Result<i64, ApiError> {
        let refuse = |why: String| Err(ApiError::Unauthorized(why));
        let Some(iat) = iat else {
            return refuse(
                "the token lacks iat (issued at): subreg needs it to bound the token's lifetime \
                 and to honour revocations"
                    .into(),
            );
        };
        if iat > now.saturating_add(LEEWAY_SECS) {
            return refuse(format!(
                "the token's iat ({iat}) is in the future: its issuer's clock is ahead, or it is forged"
            ));
        }
        match exp.checked_sub(iat) {
            Some(lifetime) if lifetime <= 0 => {
                refuse("the token expires before it was issued (exp is not after iat)".into())
            }
            Some(lifetime) if lifetime <= self.max_lifetime => Ok(iat),
            _ => refuse(format!(
                "the token lives longer (exp - iat) than the maximum of {} seconds \
                 (SUBREG_JWT_MAX_LIFETIME_SECS): mint one with a shorter lifetime",
                self.max_lifetime
            )),
        }
    }

    /// The instant before which tokens of `org` are revoked, if an admin revoked them.
    async fn tokens_valid_after(
        &self,
        state: &AppState,
        org: &str,
    ) -> Result<Option<DateTime<Utc>>, ApiError> {
        if let Some(known) = self.revocations.cached(org) {
            return Ok(known);
        }
        let read_at = Instant::now();
        let loaded = state.db(revocations::all).await?;
        let found = loaded
            .iter()
            .filter(|(o, _)| o == org)
            .map(|(_, at)| *at)
            .max();
        self.revocations.install(loaded, read_at);
        // Something recorded here meanwhile counts too.
        let recorded = self.revocations.cached(org).flatten();
        Ok(found.max(recorded))
    }
}

fn header_of(token: &str) -> Result<Header, ApiError> {
    decode_header(token).map_err(|_| {
        ApiError::Unauthorized("the token is not a JWT (header.claims.signature)".into())
    })
}

/// A NumericDate: whole seconds, or a number with a fraction (cut to whole seconds).
fn whole_seconds(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f.trunc() as i64)
    })
}

/// The claim named `path`: a top-level claim of exactly that name (Auth0's namespaced
/// `https://example.com/roles`), else the dotted path through nested objects
/// (`realm_access.roles`).
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = claims.get(path) {
        return Some(value);
    }
    let mut parts = path.split('.');
    let mut value = claims.get(parts.next()?)?;
    for part in parts {
        value = value.as_object()?.get(part)?;
    }
    Some(value)
}

/// Roles in order of precedence: a token carrying several gets the first.
const ROLES: [Role; 3] = [Role::Admin, Role::Processor, Role::Controller];

impl ClaimNames {
    /// The role claim is a text (`"processor"`) or an array of texts (Keycloak's
    /// `realm_access.roles`); each value is the prefix followed by `admin`, `processor` or
    /// `controller`. Other values are ignored; with several roles, admin wins over processor,
    /// processor over controller.
    fn role_of(&self, claims: &Map<String, Value>) -> Result<Role, ApiError> {
        let names = |role: Role| format!("{}{}", self.role_prefix, role_name(role));
        let found = match claim_at(claims, &self.role) {
            Some(Value::String(text)) => ROLES.into_iter().find(|r| *text == names(*r)),
            Some(Value::Array(values)) => ROLES.into_iter().find(|r| {
                values
                    .iter()
                    .any(|v| v.as_str() == Some(names(*r).as_str()))
            }),
            _ => None,
        };
        found.ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "the token's `{}` claim names no subreg role: expected {}, {} or {}",
                self.role,
                names(Role::Admin),
                names(Role::Processor),
                names(Role::Controller)
            ))
        })
    }

    /// The org claim is a text, or an array holding exactly one text (Keycloak's
    /// multivalued user attribute).
    fn org_of(&self, claims: &Map<String, Value>) -> Result<String, ApiError> {
        let org = match claim_at(claims, &self.org) {
            Some(Value::String(text)) => Some(text.as_str()),
            Some(Value::Array(values)) => match values.as_slice() {
                [Value::String(text)] => Some(text.as_str()),
                _ => None,
            },
            _ => None,
        };
        match org {
            Some(org) if !org.is_empty() => Ok(org.to_string()),
            _ => Err(ApiError::Unauthorized(format!(
                "the token's `{}` claim (the org it acts for) is missing, empty or not one text",
                self.org
            ))),
        }
    }
}

/// Refused with 401 when the token was issued before its org's revocation. A token issued in
/// the same second as a revocation is refused too (`iat` has whole seconds).
fn check_revocation(
    verified: &Verified,
    valid_after: Option<DateTime<Utc>>,
) -> Result<(), ApiError> {
    let Some(after) = valid_after else {
        return Ok(());
    };
    let issued =
        DateTime::from_timestamp(verified.issued_at, 0).unwrap_or(DateTime::<Utc>::MIN_UTC);
    if issued < after {
        return Err(ApiError::Unauthorized(format!(
            "the token was revoked: an admin revoked the tokens of `{}` issued before {}; \
             mint a new one",
            verified.actor.org,
            after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        )));
    }
    Ok(())
}

/// Mints an HS256 token for the default audience (the tests).
pub fn mint(
    secret: &str,
    issuer: &str,
    role: Role,
    org: &str,
    ttl_seconds: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    mint_for(secret, issuer, AUDIENCE, role, org, ttl_seconds)
}

/// Mints an HS256 token with `role` and `org` claims (the `subreg token` command).
pub fn mint_for(
    secret: &str,
    issuer: &str,
    audience: &str,
    role: Role,
    org: &str,
    ttl_seconds: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: format!("{}:{org}", role_name(role)),
        role,
        org: org.to_string(),
        iat: Some(now),
        exp: now.saturating_add(ttl_seconds),
        iss: issuer.to_string(),
        aud: audience.to_string(),
    };
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Processor => "processor",
        Role::Controller => "controller",
    }
}

fn bearer(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value.to_str().map_err(|_| {
        ApiError::Unauthorized("the Authorization header is not readable text".into())
    })?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(ApiError::Unauthorized(
            "use `Authorization: Bearer <token>`; mint one with `subreg token`".into(),
        )),
    }
}

async fn actor_from(req: HttpRequest) -> Result<Option<Actor>, ApiError> {
    let Some(token) = bearer(&req)? else {
        return Ok(None);
    };
    let verifier = req
        .app_data::<web::Data<TokenVerifier>>()
        .ok_or_else(|| ApiError::Internal("token verifier not configured".into()))?
        .clone();
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("app state not configured".into()))?
        .clone();
    let verified = verifier.verify_claims(&token).await?;
    let valid_after = verifier
        .tokens_valid_after(&state, &verified.actor.org)
        .await?;
    check_revocation(&verified, valid_after)?;
    Ok(Some(verified.actor))
}

/// The verified caller of a request (revocation included), `None` without a token: for
/// middleware that needs to know who calls before the handler runs.
pub async fn actor_of(req: &HttpRequest) -> Result<Option<Actor>, ApiError> {
    actor_from(req.clone()).await
}

type ActorFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = ActorFuture<Actor>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            actor_from(req).await?.ok_or_else(|| {
                ApiError::Unauthorized("this route needs `Authorization: Bearer <token>`".into())
            })
        })
    }
}

/// An optional caller on public routes: no token is fine, a bad token is still refused.
pub struct MaybeActor(pub Option<Actor>);

impl FromRequest for MaybeActor {
    type Error = ApiError;
    type Future = ActorFuture<MaybeActor>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { actor_from(req).await.map(MaybeActor) })
    }
}

/// What a revocation answers.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenRevocation {
    org: String,
    /// Tokens of `org` with an `iat` before this instant are refused.
    #[schema(format = DateTime)]
    tokens_valid_after: String,
}

/// Revoke every token of an org issued before now
///
/// Requires an `admin` token. Records `tokens_valid_after` = now (the real clock, never the
/// test clock) for `{org}`: from then on every token whose `org` claim is `{org}` and whose
/// `iat` is before that instant is refused with 401 ("the token was revoked"). `iat` has
/// whole seconds, so tokens issued in the same second are refused too: mint new tokens
/// afterwards. Takes effect at once on the instance that answers, and on other instances
/// on the same database within 5 seconds. Revoking again moves the instant to the new now.
#[utoipa::path(
    post,
    path = "/v1/admin/orgs/{org}/revoke-tokens",
    tag = "admin",
    operation_id = "revokeTokens",
    params(OrgId),
    responses(
        (
            status = 200,
            description = "The org's new `tokens_valid_after`.",
            body = TokenRevocation,
            example = json!({
                "org": "roskilde-kommune",
                "tokens_valid_after": "2026-11-24T09:30:00.123456Z"
            })
        ),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
    )
)]
async fn revoke_tokens(
    state: web::Data<AppState>,
    verifier: web::Data<TokenVerifier>,
    actor: Actor,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    actor.require_admin()?;
    let org = path.into_inner();
    if org.is_empty() || org.chars().count() > 200 || org.chars().any(char::is_control) {
        return Err(super::error::invalid(
            "org",
            "`org` must be the org claim of the tokens to revoke: 1 to 200 characters, no control characters",
        ));
    }
    // The real clock: token `iat`s are real time, whatever the test clock says.
    let now = Utc::now();
    let store_org = org.clone();
    let after = state
        .db(move |conn| revocations::revoke(conn, &store_org, now))
        .await?;
    verifier.revocations.record(&org, after);
    log::info!(
        "tokens of `{org}` issued before {after} revoked by {}",
        actor.sub
    );
    Ok(HttpResponse::Ok().json(TokenRevocation {
        org,
        tokens_valid_after: after.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    }))
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Who takes a decision: the person the body names, if any, and always this token's `sub`.
    pub fn decider(&self, decided_by: Option<crate::domain::window::Person>) -> Decider {
        Decider {
            decided_by,
            sub: self.sub.clone(),
            via: None,
            mailbox: None,
        }
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only an admin token may do this".into(),
            ))
        }
    }

    /// The processor itself (or an admin) may act on its resources.
    pub fn require_processor(&self, processor_id: &str) -> Result<(), ApiError> {
        self.require_org(Role::Processor, processor_id)
    }

    /// The controller itself (or an admin) may act on its resources.
    pub fn require_controller(&self, controller_id: &str) -> Result<(), ApiError> {
        self.require_org(Role::Controller, controller_id)
    }

    pub fn acts_for(&self, role: Role, org: &str) -> bool {
        self.role == role && self.org == org
    }

    fn require_org(&self, role: Role, org: &str) -> Result<(), ApiError> {
        if self.is_admin() || self.acts_for(role, org) {
            Ok(())
        } else if self.role != role {
            Err(ApiError::Forbidden(format!(
                "a {} token cannot act here: this needs a {} token for `{org}`",
                role_name(self.role),
                role_name(role)
            )))
        } else {
            Err(ApiError::Forbidden(format!(
                "your token acts for `{}`, not for `{org}`",
                self.org
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(max_lifetime: i64) -> TokenVerifier {
        let mut settings = Settings::from_lookup(|_| None).expect("defaults");
        settings.jwt_secret = Some("a-test-secret-that-is-long-enough-000".into());
        settings.jwt_max_lifetime_secs = max_lifetime;
        TokenVerifier::from_settings(&settings).expect("verifier")
    }

    fn names(role: &str, prefix: &str, org: &str) -> ClaimNames {
        ClaimNames {
            role: role.into(),
            role_prefix: prefix.into(),
            org: org.into(),
        }
    }

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn roles_from_a_text_or_an_array_at_a_dotted_path() {
        let plain = names("role", "", "org");
        assert_eq!(
            plain
                .role_of(&map(serde_json::json!({"role": "processor"})))
                .ok(),
            Some(Role::Processor)
        );
        assert!(plain
            .role_of(&map(serde_json::json!({"role": "root"})))
            .is_err());
        assert!(plain.role_of(&map(serde_json::json!({}))).is_err());
        let keycloak = names("realm_access.roles", "subreg-", "org");
        let token = |roles: Value| map(serde_json::json!({"realm_access": {"roles": roles}}));
        assert_eq!(
            keycloak
                .role_of(&token(serde_json::json!([
                    "offline_access",
                    "subreg-controller"
                ])))
                .ok(),
            Some(Role::Controller)
        );
        assert_eq!(
            keycloak
                .role_of(&token(serde_json::json!([
                    "subreg-controller",
                    "subreg-admin"
                ])))
                .ok(),
            Some(Role::Admin),
            "admin wins over controller"
        );
        assert!(
            keycloak
                .role_of(&token(serde_json::json!(["controller"])))
                .is_err(),
            "the prefix is required"
        );
        assert!(keycloak
            .role_of(&token(serde_json::json!("subreg-admin")))
            .is_ok());
        // A namespaced claim name with dots is taken whole first (Auth0).
        let auth0 = names(
            "https://subreg.example/role",
            "",
            "https://subreg.example/org",
        );
        let claims = map(serde_json::json!({
            "https://subreg.example/role": ["admin"],
            "https://subreg.example/org": ["subreg"]
        }));
        assert_eq!(auth0.role_of(&claims).ok(), Some(Role::Admin));
        assert_eq!(auth0.org_of(&claims).ok().as_deref(), Some("subreg"));
    }

    #[test]
    fn the_org_is_one_non_empty_text() {
        let n = names("role", "", "attributes.org");
        let org = |v: Value| n.org_of(&map(serde_json::json!({"attributes": {"org": v}})));
        assert_eq!(
            org(serde_json::json!("roskilde")).ok().as_deref(),
            Some("roskilde")
        );
        assert_eq!(
            org(serde_json::json!(["roskilde"])).ok().as_deref(),
            Some("roskilde")
        );
        assert!(org(serde_json::json!(["roskilde", "lejre"])).is_err());
        assert!(org(serde_json::json!("")).is_err());
        assert!(org(serde_json::json!(7)).is_err());
    }

    #[test]
    fn times_and_lifetime() {
        let v = verifier(100);
        let now = 1_800_000_000;
        assert_eq!(v.check_times(Some(now), now + 100, now).ok(), Some(now));
        assert!(v.check_times(Some(now), now + 101, now).is_err());
        assert!(v.check_times(None, now + 10, now).is_err());
        assert_eq!(
            v.check_times(Some(now + LEEWAY_SECS), now + 90, now).ok(),
            Some(now + LEEWAY_SECS)
        );
        assert!(v
            .check_times(Some(now + LEEWAY_SECS + 1), now + 90, now)
            .is_err());
        assert!(
            v.check_times(Some(now), now, now).is_err(),
            "exp must be after iat"
        );
        assert!(
            v.check_times(Some(i64::MIN), i64::MAX, now).is_err(),
            "no overflow"
        );
    }

    #[test]
    fn revocation_refuses_tokens_issued_before_and_in_the_same_second() {
        let verified = |issued_at| Verified {
            actor: Actor {
                role: Role::Controller,
                org: "roskilde".into(),
                sub: "controller:roskilde".into(),
            },
            issued_at,
        };
        let after = DateTime::from_timestamp(1_800_000_000, 500_000_000);
        assert!(check_revocation(&verified(1_799_999_999), after).is_err());
        assert!(check_revocation(&verified(1_800_000_000), after).is_err());
        assert!(check_revocation(&verified(1_800_000_001), after).is_ok());
        assert!(check_revocation(&verified(0), None).is_ok());
    }

    #[test]
    fn a_reload_never_undoes_a_later_revocation_made_here() {
        let revocations = Revocations::default();
        let later = DateTime::from_timestamp(1_800_000_100, 0).unwrap_or_default();
        let earlier = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(revocations.cached("a"), None, "nothing loaded yet");
        revocations.record("a", later);
        revocations.install(vec![("a".into(), earlier)], Instant::now());
        assert_eq!(revocations.cached("a"), Some(Some(later)));
        assert_eq!(revocations.cached("b"), Some(None));
    }
}

/// The paths of this module in the OpenAPI document (http/openapi.rs).
#[derive(utoipa::OpenApi)]
#[openapi(paths(revoke_tokens))]
pub struct Api;
