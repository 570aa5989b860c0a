//! Accounts and tokens: password hashing, JWT access tokens, rotating refresh
//! tokens, rate limits, and the account flows that tie them together.

pub mod accounts;
pub mod jwt;
pub mod opaque;
pub mod password;
pub mod rate_limit;

pub use accounts::Accounts;
pub use jwt::{AuthUser, Caller, JwtKeys};
