//! The GraphQL API: schema assembly, the HTTP and WebSocket handlers, and the
//! resolvers, split by domain.

pub mod account;
pub mod api_keys;
pub mod billing;
pub mod catalog;
pub mod guards;
pub mod handler;
pub mod history;
pub mod live;
pub mod loaders;
pub mod schema;
pub mod types;
pub mod usage;
pub mod viewer;

pub use schema::{EntitleSchema, build_schema, sdl};

use std::net::{IpAddr, Ipv4Addr};

use crate::auth::Caller;

/// What the transport knows about one request, handed to resolvers as request data.
#[derive(Clone, Copy, Debug)]
pub struct RequestMeta {
    pub caller: Caller,
    pub client_ip: IpAddr,
}

impl Default for RequestMeta {
    fn default() -> Self {
        Self {
            caller: Caller::Anonymous,
            client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        }
    }
}
