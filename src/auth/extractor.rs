//! Authentication at the edge, as axum extractors: the credential a request
//! presents becomes a [`Caller`] once, before any handler runs, and the
//! client's address is read the one way the deployment says it may be.
//! Generic over the state (through `FromRef`), so nothing here knows the app.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{HeaderValue, header, request::Parts},
};

use super::{authenticator::Authenticator, caller::Caller};

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Authenticator: FromRef<S>,
{
    type Rejection = Infallible;

    /// An `Authorization` header that is present but not text (bytes outside
    /// visible ASCII) is a broken token, refused like any other, not an
    /// anonymous caller. Refusal is the resolvers' to answer, per field.
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        Ok(
            match parts
                .headers
                .get(header::AUTHORIZATION)
                .map(HeaderValue::to_str)
            {
                None => Caller::Anonymous,
                Some(Ok(value)) => Authenticator::from_ref(state).caller(Some(value)).await,
                Some(Err(_)) => Caller::InvalidToken,
            },
        )
    }
}

/// Whether the deployment sits behind one reverse proxy whose
/// `X-Forwarded-For` can be trusted for the client's address.
#[derive(Clone, Copy, Debug)]
pub struct TrustProxy(pub bool);

/// The client's address: the peer, or behind a trusted proxy the last
/// `X-Forwarded-For` hop (the one the proxy added).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

impl<S> FromRequestParts<S> for ClientIp
where
    S: Send + Sync,
    TrustProxy: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let forwarded = || {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|v| v.trim().parse().ok())
        };
        if TrustProxy::from_ref(state).0
            && let Some(ip) = forwarded()
        {
            return Ok(Self(ip));
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip());
        Ok(Self(peer))
    }
}
