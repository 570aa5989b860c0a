//! Fuzzes `Stripe-Signature` parsing and verification. The input is
//! `<header>\n<body>`, so a seed file reads like the request it stands for.

#![no_main]

use entitle_fuzz::signature::{SignatureError, parse, verify};
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;

/// Two secrets, as during a rotation; the seeds are signed with the second.
const SECRETS: [&str; 2] = ["whsec_fuzz_old", "whsec_fuzz_new"];
/// `signature::MAX_SIGNATURES`, private there.
const MAX_SIGNATURES: usize = 8;
/// A realistic clock first; the extremes exercise the age arithmetic.
const NOWS: [i64; 4] = [1_800_000_000, 0, i64::MIN, i64::MAX];
const TOLERANCES: [i64; 2] = [300, 0];

/// What Stripe sends: hex HMAC-SHA256 of `"{t}.{body}"`.
fn sign(secret: &str, t: i64, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The tolerance check done in i128, where nothing can overflow.
fn within(now: i64, t: i64, tolerance: i64) -> bool {
    (i128::from(now) - i128::from(t)).abs() <= i128::from(tolerance)
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let header = String::from_utf8_lossy(header);

    let parsed = parse(&header);
    if let Some((_, tags)) = &parsed {
        assert!(
            (1..=MAX_SIGNATURES).contains(&tags.len()),
            "{} tags",
            tags.len()
        );
        assert!(tags.iter().all(|tag| tag.len() == 32));
    }

    // `verify` agrees with `parse`, the clock and an independent HMAC.
    for now in NOWS {
        for tolerance in TOLERANCES {
            let got = verify(&header, body, &SECRETS, now, tolerance);
            let Some((t, tags)) = &parsed else {
                assert_eq!(got, Err(SignatureError::Malformed));
                continue;
            };
            let fresh = within(now, *t, tolerance);
            let signed = SECRETS.iter().any(|s| tags.contains(&sign(s, *t, body)));
            match got {
                Ok(()) => assert!(fresh && signed, "accepted t={t} at now={now}"),
                Err(SignatureError::TooOld) => assert!(!fresh),
                Err(SignatureError::NoMatch) => assert!(fresh && !signed),
                Err(SignatureError::Malformed) => panic!("parsed, yet Malformed"),
            }
        }
    }

    // Round trip: a header signed as Stripe signs it verifies for any body,
    // anywhere within the tolerance, with the input's other parts after it
    // (its `t=` parts left out: a later `t` replaces ours).
    let skew = i64::from(i16::from_le_bytes([
        data.first().copied().unwrap_or(0),
        data.last().copied().unwrap_or(0),
    ])) % 301;
    let secret = SECRETS[data.len() % 2];
    let others: Vec<&str> = header
        .split(',')
        .filter(|part| part.trim().split_once('=').is_none_or(|(k, _)| k != "t"))
        .collect();
    for now in NOWS {
        let Some(t) = now.checked_sub(skew) else {
            continue;
        };
        let ours = format!(
            "t={t},v1={},{}",
            hex::encode(sign(secret, t, body)),
            others.join(",")
        );
        assert_eq!(
            verify(&ours, body, &SECRETS, now, 300),
            Ok(()),
            "{ours:?} at now={now}"
        );
    }
});
