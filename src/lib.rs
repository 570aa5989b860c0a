//! Entitle: the subscription and entitlement backend of a SaaS product billed
//! through Stripe. `main.rs` only parses the command line; everything else is
//! here so that the integration tests drive the same code.

pub mod app;
pub mod auth;
pub mod billing;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod mail;
pub mod metering;
pub mod operators;
pub mod outbox;
pub mod telemetry;
pub mod webhook;

pub use app::Application;
pub use config::Config;
