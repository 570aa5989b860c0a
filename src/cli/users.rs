//! `entitle users set-role <email> <role>` and `entitle users list [--role R]`:
//! how the first admin is made (audited, with no operator as the actor), and
//! who holds which role.

use entity::Role;

use super::UsersAction;
use crate::{app::services::Services, config::Config, db, domain::Email, operators::Actor};

pub fn parse_role(raw: &str) -> Result<Role, String> {
    Role::parse(raw).ok_or_else(|| "one of user, support, admin".to_owned())
}

pub async fn run(action: UsersAction) -> anyhow::Result<()> {
    let mut config = Config::from_env()?;
    config.database.migrate_on_start = false;
    let services = Services::build(&config, 2).await?;
    match action {
        UsersAction::SetRole { email, role } => {
            let email = Email::parse(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = db::users::by_email(&services.db, &email)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user has that email"))?;
            let user = services
                .operators
                .set_role(Actor(None), &user, role)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message()))?;
            println!("{} is now {}", user.pid, user.role.as_str());
        }
        UsersAction::List { role } => {
            let users = match role {
                Some(role) => db::users::with_role(&services.db, role).await?,
                None => db::users::all(&services.db).await?,
            };
            println!("{:<36}  {:<8}  email", "id", "role");
            for u in users {
                println!("{:<36}  {:<8}  {}", u.pid, u.role.as_str(), u.email);
            }
        }
    }
    Ok(())
}
