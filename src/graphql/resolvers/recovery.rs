//! Accounts people can live with: change or reset a password, verify the
//! address, close the account. Thin wrappers over `auth::Accounts`; none of
//! them is open to an API key.

use async_graphql::{Context, Object};

use super::account::{email, login_password, new_password};
use crate::{
    auth::Accounts,
    graphql::{
        caller::{meta, session_id, signed_in_user, signed_in_user_uncached},
        guards::SessionOnly,
    },
};

fn accounts<'a>(ctx: &Context<'a>) -> &'a Accounts {
    ctx.data_unchecked::<Accounts>()
}

#[derive(Default)]
pub struct RecoveryMutation;

#[Object]
impl RecoveryMutation {
    /// Sets a new password, given the current one (`BAD_USER_INPUT` on
    /// `currentPassword` when it is wrong). Every other session is signed
    /// out; this one goes on.
    #[graphql(guard = "SessionOnly")]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let current = login_password(current_password, "currentPassword")?;
        let new = self::new_password(new_password, "newPassword")?;
        // Fresh from the database: the password hash is what is checked.
        let user = signed_in_user_uncached(ctx).await?;
        accounts(ctx)
            .change_password(&user, session_id(ctx), current, new)
            .await?;
        Ok(true)
    }

    /// Mails a link to reset the password (valid 30 minutes, once) when the
    /// address has an account. Always true, and about as slow either way, so
    /// it tells nothing about which addresses have accounts.
    #[graphql(guard = "SessionOnly")]
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> async_graphql::Result<bool> {
        let email = self::email(&email)?;
        accounts(ctx)
            .request_password_reset(&email, meta(ctx).client_ip)
            .await?;
        Ok(true)
    }

    /// Sets a new password with the token from a reset link, and signs out
    /// every session. `BAD_USER_INPUT` for a token that was used, has
    /// expired, or is not ours; nothing changes then.
    #[graphql(guard = "SessionOnly")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> async_graphql::Result<bool> {
        let new = self::new_password(new_password, "newPassword")?;
        accounts(ctx).reset_password(&token, new).await?;
        Ok(true)
    }

    /// Mails another link that verifies the caller's address.
    #[graphql(guard = "SessionOnly")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let user = signed_in_user(ctx).await?;
        accounts(ctx).request_email_verification(&user).await?;
        Ok(true)
    }

    /// Verifies an address with the token from its link.
    #[graphql(guard = "SessionOnly")]
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> async_graphql::Result<bool> {
        accounts(ctx).verify_email(&token).await?;
        Ok(true)
    }

    /// Closes the caller's account, given its password: the Stripe
    /// subscription ends at once, keys and sessions are revoked, the address
    /// and password are erased.
    #[graphql(guard = "SessionOnly")]
    async fn delete_account(
        &self,
        ctx: &Context<'_>,
        password: String,
    ) -> async_graphql::Result<bool> {
        let password = login_password(password, "password")?;
        let user = signed_in_user_uncached(ctx).await?;
        accounts(ctx).delete_account(&user, password).await?;
        Ok(true)
    }
}
