//! The keys of an identity provider (Keycloak, Entra ID, Auth0, Authentik), read from its JWKS
//! URL: fetched at start, again every `SUBREG_JWT_JWKS_REFRESH_SECS`, and again when a token
//! names a `kid` not known yet, at most once per `SUBREG_JWT_JWKS_MIN_REFRESH_SECS` so that a
//! flood of tokens with made-up key ids cannot hammer the provider.
//!
//! Only signature keys for RS256 (RSA) and ES256 (EC P-256) are taken from the set; a
//! symmetric (`oct`) key or an encryption key is never used, and a token signed with any
//! other algorithm (HS256 above all) is refused before a key is looked up.

use super::error::ApiError;
use crate::config::IdentityProviderSettings;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Header};
use serde::Deserialize;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// The algorithms accepted from an identity provider.
pub const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// One fetch may take this long.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A JWKS larger than this is refused (real ones hold a handful of keys).
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// At most this many keys are kept from one set.
const MAX_KEYS: usize = 100;

#[derive(Clone)]
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// The provider's keys as last fetched, shared by every worker.
pub struct Jwks {
    url: String,
    client: reqwest::Client,
    refresh_every: Duration,
    min_interval: Duration,
    /// `None` until a fetch succeeded.
    keys: RwLock<Option<Vec<Key>>>,
    /// When a fetch was last started; held while fetching, so fetches never overlap.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

/// What a lookup in the cached set found.
enum Lookup {
    Found(DecodingKey),
    Missing,
    NeverLoaded,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<serde_json::Value>,
}

impl Jwks {
    pub fn new(url: &str, settings: &IdentityProviderSettings) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            // A redirect could lead from https to plain http: the URL must be the real one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the JWKS client: {e}"))?;
        Ok(Jwks {
            url: url.to_string(),
            client,
            refresh_every: settings.jwks_refresh,
            min_interval: settings.jwks_min_refresh,
            keys: RwLock::new(None),
            last_attempt: tokio::sync::Mutex::new(None),
        })
    }

    /// Fetches the keys now and then every refresh interval; a failed fetch keeps the keys
    /// known so far.
    pub async fn run_until_stopped(self: std::sync::Arc<Self>) {
        loop {
            {
                let mut last = self.last_attempt.lock().await;
                *last = Some(Instant::now());
                self.fetch().await;
            }
            tokio::time::sleep(self.refresh_every).await;
        }
    }

    /// The key for a token's header, fetching the set again (rate-limited) when its `kid`
    /// is not known.
    pub async fn key_for(&self, header: &Header) -> Result<DecodingKey, ApiError> {
        check_algorithm(header)?;
        if let Lookup::Found(key) = self.lookup(header) {
            return Ok(key);
        }
        self.refresh_if_allowed().await;
        self.answer(self.lookup(header), header)
    }

    /// The key for a token's header from what is cached, without fetching.
    pub fn cached_key_for(&self, header: &Header) -> Result<DecodingKey, ApiError> {
        check_algorithm(header)?;
        self.answer(self.lookup(header), header)
    }

    fn answer(&self, lookup: Lookup, header: &Header) -> Result<DecodingKey, ApiError> {
        match lookup {
            Lookup::Found(key) => Ok(key),
            Lookup::NeverLoaded => Err(ApiError::Unavailable(
                "the identity provider's keys (SUBREG_JWT_JWKS_URL) could not be fetched yet; \
                 retry in a moment"
                    .into(),
            )),
            Lookup::Missing => Err(ApiError::Unauthorized(match &header.kid {
                Some(kid) => format!(
                    "the token's key id (kid `{}`) is not among the identity provider's {:?} keys",
                    kid.chars().take(100).collect::<String>(),
                    header.alg
                ),
                None => "the token names no key id (kid) and the identity provider has more \
                         than one key for its algorithm"
                    .into(),
            })),
        }
    }

    fn lookup(&self, header: &Header) -> Lookup {
        let Ok(keys) = self.keys.read() else {
            return Lookup::NeverLoaded;
        };
        let Some(keys) = keys.as_ref() else {
            return Lookup::NeverLoaded;
        };
        let mut candidates = keys.iter().filter(|k| k.algorithm == header.alg);
        let found = match &header.kid {
            Some(kid) => candidates.find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None => match (candidates.next(), candidates.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            },
        };
        match found {
            Some(key) => Lookup::Found(key.key.clone()),
            None => Lookup::Missing,
        }
    }

    /// Fetches again unless a fetch started less than the minimum interval ago; concurrent
    /// callers wait for the one fetch in progress instead of starting their own.
    async fn refresh_if_allowed(&self) {
        let mut last = self.last_attempt.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.min_interval) {
            return;
        }
        *last = Some(Instant::now());
        self.fetch().await;
    }

    async fn fetch(&self) {
        match self.download().await {
            Ok(keys) => {
                log::info!(
                    "JWKS: {} usable key(s) from the identity provider",
                    keys.len()
                );
                if let Ok(mut known) = self.keys.write() {
                    *known = Some(keys);
                }
            }
            Err(why) => log::warn!("JWKS: cannot fetch {}: {why}", self.url),
        }
    }

    async fn download(&self) -> Result<Vec<Key>, String> {
        let mut response = self
            .client
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len().saturating_add(chunk.len()) > MAX_JWKS_BYTES {
                return Err(format!("the set is larger than {MAX_JWKS_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        usable_keys(&body)
    }
}

fn check_algorithm(header: &Header) -> Result<(), ApiError> {
    if ALGORITHMS.contains(&header.alg) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!(
            "the token is signed with {:?}; tokens from the identity provider must use RS256 or ES256",
            header.alg
        )))
    }
}

/// The signature keys for RS256 and ES256 in a JWKS document; other keys are skipped.
fn usable_keys(document: &[u8]) -> Result<Vec<Key>, String> {
    let set: RawSet =
        serde_json::from_slice(document).map_err(|e| format!("not a JWKS document: {e}"))?;
    Ok(set
        .keys
        .into_iter()
        .filter_map(|raw| serde_json::from_value::<Jwk>(raw).ok())
        .filter_map(|jwk| usable_key(&jwk))
        .take(MAX_KEYS)
        .collect())
}

fn usable_key(jwk: &Jwk) -> Option<Key> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        _ => return None,
    };
    if jwk
        .common
        .key_algorithm
        .is_some_and(|alg| alg != KeyAlgorithm::from(algorithm))
    {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        algorithm,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_rs256_and_es256_signature_keys_are_taken() {
        let rsa = json!({"kty": "RSA", "kid": "rsa", "use": "sig", "alg": "RS256",
            "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw", "e": "AQAB"});
        let enc = json!({"kty": "RSA", "kid": "enc", "use": "enc", "alg": "RSA-OAEP",
            "n": rsa["n"], "e": "AQAB"});
        let rs384 =
            json!({"kty": "RSA", "kid": "rs384", "alg": "RS384", "n": rsa["n"], "e": "AQAB"});
        let oct = json!({"kty": "oct", "kid": "hmac", "alg": "HS256", "k": "c2VjcmV0"});
        let p384 = json!({"kty": "EC", "kid": "p384", "crv": "P-384",
            "x": "AAAA", "y": "AAAA"});
        let unknown = json!({"kty": "OKP-ish", "kid": "odd"});
        let document = json!({"keys": [rsa, enc, rs384, oct, p384, unknown]}).to_string();
        let keys = usable_keys(document.as_bytes()).expect("parses");
        let kids: Vec<_> = keys.iter().map(|k| k.kid.clone()).collect();
        assert_eq!(kids, vec![Some("rsa".to_string())]);
        assert!(usable_keys(b"{\"no\": 1}").is_err());
    }
}
