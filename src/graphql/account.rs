//! Account mutations: thin wrappers over `auth::Accounts`.

use async_graphql::{Context, Object};

use super::{RequestMeta, types::AuthPayload};
use crate::{
    auth::{Accounts, accounts::Session},
    domain::{Email, LoginPassword, Password},
    error::{ApiError, ApiResult},
};

fn email(raw: &str) -> ApiResult<Email> {
    Email::parse(raw).map_err(|e| ApiError::bad_input("email", e.to_string()))
}

fn meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().copied().unwrap_or_default()
}

fn payload(s: Session) -> AuthPayload {
    AuthPayload {
        access_token: s.access_token,
        refresh_token: s.refresh_token,
        expires_in: i32::try_from(s.expires_in).unwrap_or(i32::MAX),
        token_type: "Bearer",
        user: (&s.user).into(),
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and signs it in. `CONFLICT` if the email is taken.
    async fn register(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let email = self::email(&email)?;
        let password = Password::parse(password)
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(payload(
            accounts
                .register(email, password, meta(ctx).client_ip)
                .await?,
        ))
    }

    /// Signs in. A wrong password and an unknown email give the same `UNAUTHENTICATED` error.
    async fn login(
        &self,
        ctx: &Context<'_>,
        email: String,
        password: String,
    ) -> async_graphql::Result<AuthPayload> {
        let email = self::email(&email)?;
        let password = LoginPassword::parse(password)
            .map_err(|e| ApiError::bad_input("password", e.to_string()))?;
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(payload(
            accounts.login(email, password, meta(ctx).client_ip).await?,
        ))
    }

    /// Trades a refresh token for a new access token and a new refresh token.
    /// Each refresh token works once; reusing one ends its whole session.
    async fn refresh(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<AuthPayload> {
        let accounts = ctx.data_unchecked::<Accounts>();
        Ok(payload(
            accounts
                .refresh(&refresh_token, meta(ctx).client_ip)
                .await?,
        ))
    }

    /// Ends the session the refresh token belongs to. Always true.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> async_graphql::Result<bool> {
        ctx.data_unchecked::<Accounts>()
            .logout(&refresh_token)
            .await?;
        Ok(true)
    }
}
