//! Account mutations: thin wrappers over `auth::Accounts`.

use async_graphql::{Context, Object};

use crate::{
    auth::Accounts,
    domain::{Email, LoginPassword, Password},
    error::{ApiError, ApiResult},
    graphql::{caller::meta, guards::SessionOnly, views::AuthPayload},
};

pub fn email(raw: &str) -> ApiResult<Email> {
    Email::parse(raw).map_err(|e| ApiError::bad_input("email", e.to_string()))
}

/// A password being set, held to the policy.
pub fn new_password(raw: String, field: &'static str) -> ApiResult<Password> {
    Password::parse(raw).map_err(|e| ApiError::bad_input(field, e.to_string()))
}

/// A password being checked: only bounded.
pub fn login_password(raw: String, field: &'static str) -> ApiResult<LoginPassword> {
    LoginPassword::parse(raw).map_err(|e| ApiError::bad_input(field, e.to_string()))
}

fn accounts<'a>(ctx: &Context<'a>) -> &'a Accounts {
    ctx.data_unchecked::<Accounts>()
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. `CONFLICT` if the email is taken.
    #[graphql(guard = "SessionOnly")]
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let (email, password) = (self::email(&email)?, new_password(password, "password")?);
        let ip = meta(ctx).client_ip;
        Ok(accounts(ctx).register(email, password, ip).await?.into())
    }

    /// Signs in. A wrong password and an unknown email give the same `UNAUTHENTICATED` error.
    #[graphql(guard = "SessionOnly")]
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let (email, password) = (self::email(&email)?, login_password(password, "password")?);
        let ip = meta(ctx).client_ip;
        Ok(accounts(ctx).login(email, password, ip).await?.into())
    }

    /// Trades a refresh token for a new access token and a new refresh token.
    /// Each refresh token works once; reusing one ends its whole session.
    #[graphql(guard = "SessionOnly")]
    async fn refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = meta(ctx).client_ip;
        Ok(accounts(ctx).refresh(&refresh_token, ip).await?.into())
    }

    /// Ends the session the refresh token belongs to. Always true.
    #[graphql(guard = "SessionOnly")]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        accounts(ctx).logout(&refresh_token).await?;
        Ok(true)
    }
}
