//! Decision links: signed, single-purpose tokens (view | object | approve) for one window and
//! one mailbox, put in notices so a person can decide from the e-mail (`/decide/{token}`); and
//! confirmation links for one proposed version of an agreement's terms (`/confirm/{token}`).
//!
//! Tokens are JWTs (HS256, jsonwebtoken) under a key derived from the instance's log key with
//! HKDF-SHA256, so every instance that signs the log with the same key accepts the same links
//! and no new secret needs managing. The expiry is checked against the caller's clock, not the
//! machine's. The decision page's CSRF field is an HMAC-SHA256 of the token and a per-form
//! nonce under a second derived key.

use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const AUDIENCE: &str = "subreg-decide";
const CONFIRM_AUDIENCE: &str = "subreg-confirm";
const SALT: &[u8] = b"subreg decision links v1";

/// What a link lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// See the change and the terms.
    View,
    /// Object to the change.
    Object,
    /// Approve the change.
    Approve,
}

/// The keys behind decision links, derived from the instance's log key.
#[derive(Clone)]
pub struct DecideKey {
    sign: [u8; 32],
    csrf: [u8; 32],
    /// Signs the links of public e-mail subscriptions (`domain::subscription`).
    subscription: [u8; 32],
}

impl std::fmt::Debug for DecideKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DecideKey(..)")
    }
}

impl DecideKey {
    /// From the log's signed-note private key text (what `SUBREG_LOG_KEY` holds).
    pub fn from_log_key(skey: &str) -> DecideKey {
        let hk = Hkdf::<Sha256>::new(Some(SALT), skey.trim().as_bytes());
        let mut sign = [0u8; 32];
        let mut csrf = [0u8; 32];
        let mut subscription = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's limit of 8160: expand cannot fail here.
        let _ = hk.expand(b"jwt hs256", &mut sign);
        let _ = hk.expand(b"csrf hmac-sha256", &mut csrf);
        let _ = hk.expand(b"subscription hmac-sha256", &mut subscription);
        DecideKey {
            sign,
            csrf,
            subscription,
        }
    }

    /// An HMAC-SHA256 under the subscription links' own derived key, fed with `message`.
    pub fn subscription_mac(&self, message: &[u8]) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.subscription).ok()?;
        mac.update(message);
        Some(mac)
    }
}

/// The three links of one window for one mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DecideLinks {
    pub view: String,
    pub object: String,
    pub approve: String,
}

/// What a valid link says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    /// The window.
    pub wid: String,
    /// The mailbox the link was sent to.
    pub mbx: String,
    pub act: Purpose,
    /// Unix seconds after which the link is expired.
    pub exp: i64,
    aud: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("not a decision link of this site")]
    Invalid,
    #[error("the link has expired")]
    Expired,
}

/// What a valid confirmation link says: the version of an agreement's terms its holder may
/// confirm for the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmClaims {
    /// The agreement.
    pub aid: String,
    /// The version of its terms the link confirms (a later proposal needs its own link).
    pub ver: u32,
    /// The mailbox the link was sent to.
    pub mbx: String,
    /// Unix seconds after which the link is expired.
    pub exp: i64,
    aud: String,
}

fn sign<T: Serialize>(key: &DecideKey, claims: &T) -> Result<String, LinkError> {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&key.sign),
    )
    .map_err(|_| LinkError::Invalid)
}

/// The claims of a token signed with `key` for `audience`; the expiry is the caller's to judge
/// (by the app's clock, not the machine's).
fn check<T: DeserializeOwned>(
    key: &DecideKey,
    token: &str,
    audience: &str,
) -> Result<T, LinkError> {
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.set_audience(&[audience]);
    decode::<T>(token, &DecodingKey::from_secret(&key.sign), &validation)
        .map(|data| data.claims)
        .map_err(|_| LinkError::Invalid)
}

/// The link that confirms version `version` of agreement `agreement_id`, for `mailbox`.
pub fn confirm_link(
    public_url: &str,
    key: &DecideKey,
    agreement_id: &str,
    version: u32,
    mailbox: &str,
    valid_until: DateTime<Utc>,
) -> Result<String, LinkError> {
    let token = sign(
        key,
        &ConfirmClaims {
            aid: agreement_id.to_string(),
            ver: version,
            mbx: mailbox.to_string(),
            exp: valid_until.timestamp(),
            aud: CONFIRM_AUDIENCE.into(),
        },
    )?;
    Ok(format!(
        "{}/confirm/{token}",
        public_url.trim_end_matches('/')
    ))
}

/// Checks a confirmation token's signature and audience, and its expiry against `now`.
pub fn verify_confirm(
    key: &DecideKey,
    token: &str,
    now: DateTime<Utc>,
) -> Result<ConfirmClaims, LinkError> {
    let claims: ConfirmClaims = check(key, token, CONFIRM_AUDIENCE)?;
    if now.timestamp() >= claims.exp {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

/// One signed token.
pub fn token(
    key: &DecideKey,
    window_id: &str,
    mailbox: &str,
    purpose: Purpose,
    valid_until: DateTime<Utc>,
) -> Result<String, LinkError> {
    sign(
        key,
        &LinkClaims {
            wid: window_id.to_string(),
            mbx: mailbox.to_string(),
            act: purpose,
            exp: valid_until.timestamp(),
            aud: AUDIENCE.into(),
        },
    )
}

/// The three links (view, object, approve) of window `window_id` for `mailbox`, valid until
/// `valid_until` at the latest (the server also refuses them once the change is withdrawn or
/// the window can no longer be decided that way). `public_url` without a trailing slash.
pub fn links(
    public_url: &str,
    key: &DecideKey,
    window_id: &str,
    mailbox: &str,
    valid_until: DateTime<Utc>,
) -> Result<DecideLinks, LinkError> {
    let base = public_url.trim_end_matches('/');
    let url = |purpose| {
        token(key, window_id, mailbox, purpose, valid_until).map(|t| format!("{base}/decide/{t}"))
    };
    Ok(DecideLinks {
        view: url(Purpose::View)?,
        object: url(Purpose::Object)?,
        approve: url(Purpose::Approve)?,
    })
}

/// Checks a token's signature and audience, and its expiry against `now`.
pub fn verify(key: &DecideKey, token: &str, now: DateTime<Utc>) -> Result<LinkClaims, LinkError> {
    let claims: LinkClaims = check(key, token, AUDIENCE)?;
    if now.timestamp() >= claims.exp {
        return Err(LinkError::Expired);
    }
    Ok(claims)
}

fn csrf_mac(key: &DecideKey, token: &str, nonce: &str) -> Option<Hmac<Sha256>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.csrf).ok()?;
    mac.update(token.as_bytes());
    mac.update(b"\n");
    mac.update(nonce.as_bytes());
    Some(mac)
}

/// The form's hidden CSRF field for this token and the nonce in the browser's cookie (hex).
pub fn csrf_field(key: &DecideKey, token: &str, nonce: &str) -> String {
    csrf_mac(key, token, nonce)
        .map(|mac| hex::encode(mac.finalize().into_bytes()))
        .unwrap_or_default()
}

/// Whether a posted CSRF field matches the token and the cookie's nonce (constant time).
pub fn csrf_ok(key: &DecideKey, token: &str, nonce: &str, field: &str) -> bool {
    let (Some(mac), Ok(tag)) = (csrf_mac(key, token, nonce), hex::decode(field)) else {
        return false;
    };
    !nonce.is_empty() && mac.verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn links_verify_for_their_purpose_until_they_expire() {
        let key = DecideKey::from_log_key("PRIVATE+KEY+test+abc");
        let links = links(
            "https://subreg.example/",
            &key,
            "w1",
            "dpo@roskilde.dk",
            at("2027-01-01T00:00:00Z"),
        )
        .unwrap();
        let token = links
            .object
            .strip_prefix("https://subreg.example/decide/")
            .unwrap();
        let claims = verify(&key, token, at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!((claims.wid.as_str(), claims.act), ("w1", Purpose::Object));
        assert_eq!(claims.mbx, "dpo@roskilde.dk");
        assert!(matches!(
            verify(&key, token, at("2027-01-01T00:00:00Z")),
            Err(LinkError::Expired)
        ));
        let other = DecideKey::from_log_key("PRIVATE+KEY+other+abc");
        assert_eq!(
            verify(&other, token, at("2026-12-01T00:00:00Z")),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify(&key, "garbage", at("2026-12-01T00:00:00Z")),
            Err(LinkError::Invalid)
        );
        assert_ne!(links.view, links.approve);
    }

    #[test]
    fn a_confirmation_link_is_not_a_decision_link() {
        let key = DecideKey::from_log_key("PRIVATE+KEY+test+abc");
        let url = confirm_link(
            "https://subreg.example",
            &key,
            "a1",
            2,
            "dpo@roskilde.dk",
            at("2027-01-01T00:00:00Z"),
        )
        .unwrap();
        let token = url.strip_prefix("https://subreg.example/confirm/").unwrap();
        let claims = verify_confirm(&key, token, at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!((claims.aid.as_str(), claims.ver), ("a1", 2));
        assert_eq!(
            verify(&key, token, at("2026-12-01T00:00:00Z")),
            Err(LinkError::Invalid)
        );
        assert_eq!(
            verify_confirm(&key, token, at("2027-01-01T00:00:00Z")),
            Err(LinkError::Expired)
        );
    }

    #[test]
    fn csrf_field_binds_token_and_nonce() {
        let key = DecideKey::from_log_key("k");
        let field = csrf_field(&key, "t", "n");
        assert!(csrf_ok(&key, "t", "n", &field));
        assert!(!csrf_ok(&key, "t", "m", &field));
        assert!(!csrf_ok(&key, "u", "n", &field));
        assert!(!csrf_ok(&key, "t", "", &csrf_field(&key, "t", "")));
        assert!(!csrf_ok(&key, "t", "n", "zz"));
    }
}
