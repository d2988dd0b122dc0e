//! The apps' database users on a target: created with generated passwords
//! and granted the inventory's privileges on the apps' database.
//!
//! Passwords travel only inside SQL on the client's stdin, as `Secret`s:
//! never in argv, logs, errors or `Debug` output.

use std::collections::BTreeMap;

use rand::RngExt;
use rand::distr::Alphanumeric;

use crate::database::account::Account;
use crate::database::quote;
use crate::database::sql::{SqlError, SqlRunner};
use crate::inventory::model::DatabaseUser;
use crate::secret::Secret;

/// Generated passwords are this long: about 238 bits from 62 symbols.
pub const PASSWORD_CHARS: usize = 40;

/// A user wwctl created or updated, and its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppUser {
    pub name: String,
    /// One account per host the app connects from.
    pub accounts: Vec<Account>,
    pub privileges: Vec<String>,
    pub password: Secret,
}

#[derive(Debug, thiserror::Error)]
pub enum AppUserError {
    #[error("privilege `{privilege}` of database user `{user}` is not a privilege name")]
    InvalidPrivilege { user: String, privilege: String },
    #[error("no host given for database user `{user}`")]
    NoHosts { user: String },
    #[error("cannot create database user {account}")]
    Sql {
        account: Account,
        #[source]
        source: Box<SqlError>,
    },
}

/// A new random password of letters and digits, from the operating
/// system's cryptographic generator (through `rand`'s thread RNG).
pub fn generate_password() -> Secret {
    let password: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(PASSWORD_CHARS)
        .map(char::from)
        .collect();
    Secret::new(password)
}

/// Pick the hosts app users connect from: `localhost` when the apps run on
/// the database server (all-in-one), else each app server's address.
pub fn app_hosts(all_in_one: bool, app_addresses: &[String]) -> Vec<String> {
    if all_in_one {
        vec!["localhost".to_string()]
    } else {
        app_addresses.to_vec()
    }
}

/// Create or update each user for each host with `CREATE USER IF NOT
/// EXISTS`, `ALTER USER` (so a rerun sets the same password on an existing
/// account) and `GRANT <privileges> ON <database>.*`. A user's password is
/// taken from `passwords` when present, so reruns keep it, and generated
/// otherwise.
pub async fn create_app_users(
    sql: &dyn SqlRunner,
    database: &str,
    users: &[DatabaseUser],
    hosts: &[String],
    passwords: &BTreeMap<String, Secret>,
) -> Result<Vec<AppUser>, AppUserError> {
    let mut created = Vec::new();
    for user in users {
        check_privileges(user)?;
        if hosts.is_empty() {
            return Err(AppUserError::NoHosts {
                user: user.name.clone(),
            });
        }

        let password = passwords
            .get(&user.name)
            .cloned()
            .unwrap_or_else(generate_password);
        let mut accounts = Vec::new();
        for host in hosts {
            let account = Account::new(&user.name, host);
            let statements = user_statements(&account, database, &user.privileges, &password);
            let label = format!("CREATE USER IF NOT EXISTS {} ...", account.sql());
            sql.execute_secret(&statements, &label, &[&password])
                .await
                .map_err(|source| AppUserError::Sql {
                    account: account.clone(),
                    source: Box::new(source),
                })?;
            tracing::info!(
                "created or updated database user {account} with {} on `{database}`",
                user.privileges.join(", ")
            );
            accounts.push(account);
        }

        created.push(AppUser {
            name: user.name.clone(),
            accounts,
            privileges: user.privileges.clone(),
            password,
        });
    }
    Ok(created)
}

/// Privilege names go into SQL text, so only words of letters and single
/// spaces are accepted (the inventory allows a short list).
fn check_privileges(user: &DatabaseUser) -> Result<(), AppUserError> {
    for privilege in &user.privileges {
        let valid = !privilege.is_empty()
            && privilege
                .split(' ')
                .all(|word| !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase()));
        if !valid {
            return Err(AppUserError::InvalidPrivilege {
                user: user.name.clone(),
                privilege: privilege.clone(),
            });
        }
    }
    Ok(())
}

fn user_statements(
    account: &Account,
    database: &str,
    privileges: &[String],
    password: &Secret,
) -> Secret {
    let name = account.sql();
    let password = quote::string(password.expose());
    let mut sql = format!(
        "CREATE USER IF NOT EXISTS {name} IDENTIFIED BY {password};\n\
         ALTER USER {name} IDENTIFIED BY {password};\n"
    );
    if !privileges.is_empty() {
        sql.push_str(&format!(
            "GRANT {} ON {}.* TO {name};\n",
            privileges.join(", "),
            quote::identifier(database)
        ));
    }
    Secret::new(sql)
}

#[cfg(test)]
mod tests {
    use super::{PASSWORD_CHARS, app_hosts, generate_password, user_statements};
    use crate::database::account::Account;
    use crate::secret::Secret;

    #[test]
    fn generated_passwords_are_long_and_distinct() {
        let first = generate_password();
        let second = generate_password();
        assert_eq!(first.expose().len(), PASSWORD_CHARS);
        assert!(first.expose().chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(first, second);
    }

    #[test]
    fn statements_create_alter_and_grant() {
        let sql = user_statements(
            &Account::new("wwdtm_stats", "localhost"),
            "wwdtm",
            &["SELECT".to_string()],
            &Secret::new("pw"),
        );
        assert_eq!(
            sql.expose(),
            "CREATE USER IF NOT EXISTS 'wwdtm_stats'@'localhost' IDENTIFIED BY 'pw';\n\
             ALTER USER 'wwdtm_stats'@'localhost' IDENTIFIED BY 'pw';\n\
             GRANT SELECT ON `wwdtm`.* TO 'wwdtm_stats'@'localhost';\n"
        );
        assert_eq!(format!("{sql:?}"), "[redacted]");
    }

    #[test]
    fn all_in_one_apps_connect_from_localhost() {
        assert_eq!(app_hosts(true, &["10.0.0.5".to_string()]), ["localhost"]);
        assert_eq!(app_hosts(false, &["10.0.0.5".to_string()]), ["10.0.0.5"]);
    }
}
