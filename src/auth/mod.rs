//! Accounts and tokens: password hashing, JWT access tokens, rotating refresh
//! tokens, rate limits, the account flows that tie them together, and the
//! extractors that turn a request's credential into a [`Caller`].

pub mod accounts;
pub mod extractor;
pub mod jwt;
pub mod opaque;
pub mod password;
pub mod rate_limit;

pub use accounts::Accounts;
pub use jwt::{AuthUser, Caller, JwtKeys};
