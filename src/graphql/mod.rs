//! The GraphQL API.
//!
//! - transport: [`http`] (GraphQL over HTTP, with [`negotiate`] and
//!   [`execute`]), [`ws`] (graphql-transport-ws) and [`graphiql`] (the page,
//!   served offline);
//! - [`schema`] assembly and its [`limits`];
//! - [`caller`]: who is calling and what they may do, for [`guards`] and
//!   resolvers alike;
//! - [`resolvers`], one file per domain, reading through the [`loaders`] and
//!   answering with [`views`].

pub mod caller;
pub mod documents;
pub mod execute;
pub mod graphiql;
pub mod guards;
pub mod http;
pub mod limits;
pub mod loaders;
pub mod negotiate;
pub mod pipeline;
pub mod resolvers;
pub mod schema;
pub mod views;
pub mod ws;

pub use schema::{EntitleSchema, build_schema, sdl};
