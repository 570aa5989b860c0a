//! Integration tests: the real server on port 0, a real database, each
//! scenario on SQLite and on PostgreSQL.

mod helpers;

mod abuse;
mod access;
mod accounts;
mod billing;
mod binary;
mod browser;
mod ecosystem;
mod faults;
mod http;
mod keys;
mod limits;
mod operators;
mod ops;
mod overage;
mod recovery;
mod sim;
mod tokens;
mod usage;
mod webhooks;
mod ws;
