//! Standard Webhooks signatures, made by the `standardwebhooks` crate.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use standardwebhooks::Webhook;

pub const SECRET_PREFIX: &str = "whsec_";

/// A new endpoint secret: `whsec_` and the base64 of 24 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` header value (`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`).
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Result<String, String> {
    let webhook = Webhook::new(secret).map_err(|e| format!("endpoint secret: {e}"))?;
    webhook
        .sign(msg_id, timestamp, body.as_bytes())
        .map_err(|e| format!("signing: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_the_spec_test_vector() {
        let signature = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signature.as_deref(),
            Ok("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn new_secrets_decode_to_24_bytes_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert_ne!(a, b);
        let key = a.strip_prefix(SECRET_PREFIX).expect("prefix");
        assert_eq!(STANDARD.decode(key).expect("base64").len(), 24);
        assert!(Webhook::new(&a).is_ok());
    }
}
