//! Bearer-token authentication: the one extractor that turns a JWT into an [`Actor`].

use super::error::ApiError;
use crate::config::Settings;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::future::{ready, Ready};

pub const AUDIENCE: &str = "subreg";

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
    pub iat: i64,
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

/// Verifies tokens: HS256 with the shared secret, or RS256 with a configured public key.
pub struct TokenVerifier {
    key: DecodingKey,
    validation: Validation,
}

impl TokenVerifier {
    pub fn from_settings(settings: &Settings) -> Result<Self, String> {
        let (key, algorithm) = match (&settings.jwt_public_key_pem, &settings.jwt_secret) {
            (Some(pem), _) => (
                DecodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| {
                    format!("SUBREG_JWT_PUBLIC_KEY is not an RSA public key in PEM: {e}")
                })?,
                Algorithm::RS256,
            ),
            (None, Some(secret)) => (
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            ),
            (None, None) => {
                return Err(
                    "set SUBREG_JWT_SECRET (at least 32 characters) or SUBREG_JWT_PUBLIC_KEY"
                        .into(),
                )
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_audience(&[AUDIENCE]);
        validation.set_issuer(&[settings.jwt_issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "aud", "iss"]);
        validation.leeway = 30;
        Ok(TokenVerifier { key, validation })
    }

    pub fn verify(&self, token: &str) -> Result<Actor, ApiError> {
        let data = decode::<Claims>(token, &self.key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind;
            let why = match e.kind() {
                ErrorKind::ExpiredSignature => "the token has expired: mint a new one",
                ErrorKind::InvalidAudience => {
                    "the token is not meant for subreg (aud must be \"subreg\")"
                }
                ErrorKind::InvalidIssuer => "the token was issued by someone else (iss)",
                ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                    "the token's signature or algorithm is not accepted"
                }
                ErrorKind::MissingRequiredClaim(_) => {
                    "the token lacks a required claim (sub, exp, iat, aud, iss)"
                }
                _ => "the token is malformed or its claims are invalid (role, org)",
            };
            ApiError::Unauthorized(why.into())
        })?;
        let claims = data.claims;
        if claims.org.is_empty() {
            return Err(ApiError::Unauthorized(
                "the token's org claim is empty".into(),
            ));
        }
        Ok(Actor {
            role: claims.role,
            org: claims.org,
            sub: claims.sub,
        })
    }
}

/// Mints an HS256 token (the `subreg token` command and the tests).
pub fn mint(
    secret: &str,
    issuer: &str,
    role: Role,
    org: &str,
    ttl_seconds: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        sub: format!("{}:{org}", role_name(role)),
        role,
        org: org.to_string(),
        iat: now,
        exp: now + ttl_seconds,
        iss: issuer.to_string(),
        aud: AUDIENCE.to_string(),
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

fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
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
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::Unauthorized(
            "use `Authorization: Bearer <token>`; mint one with `subreg token`".into(),
        )),
    }
}

fn actor_from(req: &HttpRequest) -> Result<Option<Actor>, ApiError> {
    let Some(token) = bearer(req)? else {
        return Ok(None);
    };
    let verifier = req
        .app_data::<web::Data<TokenVerifier>>()
        .ok_or_else(|| ApiError::Internal("token verifier not configured".into()))?;
    verifier.verify(token).map(Some)
}

impl FromRequest for Actor {
    type Error = ApiError;
    type Future = Ready<Result<Actor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(actor_from(req).and_then(|actor| {
            actor.ok_or_else(|| {
                ApiError::Unauthorized("this route needs `Authorization: Bearer <token>`".into())
            })
        }))
    }
}

/// An optional caller on public routes: no token is fine, a bad token is still refused.
pub struct MaybeActor(pub Option<Actor>);

impl FromRequest for MaybeActor {
    type Error = ApiError;
    type Future = Ready<Result<MaybeActor, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(actor_from(req).map(MaybeActor))
    }
}

impl Actor {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
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
