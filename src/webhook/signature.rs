//! Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]`,
//! each `v1` an HMAC-SHA256 of `"{t}.{body}"` keyed with a `whsec_…` secret
//! used as is. Any `v1` matching any configured secret passes (rotation), if
//! `t` is within the tolerance of now.

use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Debug, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    TooOld,
    NoMatch,
}

/// The timestamp and every `v1` signature of a header; `None` if it has no
/// usable timestamp or no `v1`.
pub fn parse(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" => t = Some(v.parse::<i64>().ok()?),
            "v1" => {
                // Only well-formed SHA-256 tags count, and only a few: each
                // costs a comparison, and a header is attacker-controlled.
                if let Ok(sig) = hex::decode(v)
                    && sig.len() == 32
                    && v1.len() < MAX_SIGNATURES
                {
                    v1.push(sig);
                }
            }
            // v0 and scheme names we do not know are ignored, as Stripe's libraries do.
            _ => {}
        }
    }
    if v1.is_empty() {
        return None;
    }
    Some((t?, v1))
}

/// Stripe sends one `v1` per active secret: two during a rotation.
const MAX_SIGNATURES: usize = 8;

pub fn verify(
    header: &str,
    body: &[u8],
    secrets: &[impl AsRef<[u8]>],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let (t, signatures) = parse(header).ok_or(SignatureError::Malformed)?;
    // `checked_abs`: an age of `i64::MIN` has no `i64` absolute value (found by fuzzing).
    match now.checked_sub(t).and_then(i64::checked_abs) {
        Some(age) if age <= tolerance_secs => {}
        _ => return Err(SignatureError::TooOld),
    }
    for secret in secrets {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_ref()) else {
            continue;
        };
        // The body is hashed once per secret, however many signatures there are.
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        for sig in &signatures {
            // Constant-time comparison.
            if mac.clone().verify_slice(sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(SignatureError::NoMatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(body: &str, secret: &str, t: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_are_checked_against_every_secret_and_every_v1() {
        let body = r#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        let (a, b) = ("whsec_old".to_string(), "whsec_new".to_string());
        let good = format!("t={now},v1={}", sign(body, &a, now));
        assert_eq!(
            verify(&good, body.as_bytes(), std::slice::from_ref(&a), now, 300),
            Ok(())
        );
        // Rotation: signed with the new secret only, configured with both.
        let rotated = format!("t={now},v1={},v0=ignored", sign(body, &b, now));
        assert_eq!(
            verify(&rotated, body.as_bytes(), &[a.clone(), b.clone()], now, 300),
            Ok(())
        );
        // Two signatures, one of them for a secret we do not have.
        let both = format!(
            "t={now},v1={},v1={}",
            sign(body, "whsec_x", now),
            sign(body, &a, now)
        );
        assert_eq!(
            verify(&both, body.as_bytes(), std::slice::from_ref(&a), now, 300),
            Ok(())
        );

        let cases = [
            (
                good.clone(),
                r#"{"id":"evt_2"}"#,
                now,
                SignatureError::NoMatch,
            ),
            (good.clone(), body, now + 301, SignatureError::TooOld),
            (good.clone(), body, now - 301, SignatureError::TooOld),
            (format!("t={now}"), body, now, SignatureError::Malformed),
            (
                format!("v1={}", sign(body, &a, now)),
                body,
                now,
                SignatureError::Malformed,
            ),
            ("garbage".to_string(), body, now, SignatureError::Malformed),
            (String::new(), body, now, SignatureError::Malformed),
            (
                format!("t={now},v1=zz"),
                body,
                now,
                SignatureError::Malformed,
            ),
        ];
        for (header, body, at, want) in cases {
            assert_eq!(
                verify(&header, body.as_bytes(), std::slice::from_ref(&a), at, 300),
                Err(want),
                "{header}"
            );
        }
        // Past eight signatures the rest are not even looked at.
        let flood = format!(
            "t={now},{},v1={}",
            (0..100)
                .map(|_| format!("v1={}", sign(body, "whsec_x", now)))
                .collect::<Vec<_>>()
                .join(","),
            sign(body, &a, now)
        );
        assert_eq!(
            verify(&flood, body.as_bytes(), std::slice::from_ref(&a), now, 300),
            Err(SignatureError::NoMatch)
        );
        // The tolerance edge itself passes.
        assert_eq!(verify(&good, body.as_bytes(), &[a], now + 300, 300), Ok(()));
    }

    #[test]
    fn an_age_too_large_to_negate_is_too_old_rather_than_a_panic() {
        let body = r#"{"id":"evt_1"}"#;
        let secret = "whsec_x".to_string();
        // now - t == i64::MIN, whose absolute value does not fit in an i64.
        let header = format!("t=0,v1={}", sign(body, &secret, 0));
        assert_eq!(
            verify(&header, body.as_bytes(), &[secret], i64::MIN, 300),
            Err(SignatureError::TooOld)
        );
    }
}
