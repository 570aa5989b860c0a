//! The resolvers, one file per domain. Each reads the context, parses its
//! input into typed values, calls `auth`, `billing`, `db` or `domain`, and
//! maps the answer to a view. Merged into the roots in `schema.rs`.

pub mod account;
pub mod api_keys;
pub mod billing;
pub mod catalog;
pub mod history;
pub mod live;
pub mod operators;
pub mod recovery;
pub mod usage;
pub mod viewer;
