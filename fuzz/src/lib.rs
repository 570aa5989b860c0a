//! The production webhook code the fuzz targets exercise. The files are
//! compiled here by path rather than through the `entitle` crate: that crate
//! pulls in a few hundred dependencies (SeaORM, axum, async-stripe…), all of
//! which would be built with sanitizer instrumentation for nothing. These two
//! files depend only on hmac/sha2/hex and serde_json/chrono, so the fuzzed
//! code is byte for byte what the server runs.

#[path = "../../src/webhook/signature.rs"]
pub mod signature;

#[path = "../../src/webhook/envelope.rs"]
pub mod envelope;
