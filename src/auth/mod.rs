//! Accounts and credentials: password hashing, JWT access tokens, rotating
//! refresh tokens, API keys, rate limits, the account flows that tie them
//! together, and the extractors that turn a request's credential into a
//! [`Caller`].

pub mod accounts;
pub mod api_keys;
pub mod authenticator;
pub mod caller;
pub mod extractor;
pub mod jwt;
pub mod opaque;
pub mod password;
pub mod rate_limit;
pub mod signing_keys;

pub use accounts::Accounts;
pub use authenticator::Authenticator;
pub use caller::{AuthUser, Caller, KeyCaller};
pub use jwt::JwtKeys;
