//! A MySQL account, `'user'@'host'`, as definers and grants name it.

use std::fmt;

use crate::database::quote;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account {
    pub user: String,
    pub host: String,
}

impl Account {
    pub fn new(user: impl Into<String>, host: impl Into<String>) -> Account {
        Account {
            user: user.into(),
            host: host.into(),
        }
    }

    /// Parse `user@host` as information_schema writes a `DEFINER`. The
    /// host is after the last `@`, since a user name may contain one.
    pub fn parse_definer(text: &str) -> Option<Account> {
        let (user, host) = text.rsplit_once('@')?;
        Some(Account::new(user, host))
    }

    /// The account as a SQL account name: `'user'@'host'`.
    pub fn sql(&self) -> String {
        quote::account(&self.user, &self.host)
    }

    /// The clause mysqldump writes: ``DEFINER=`user`@`host` ``.
    pub fn definer_clause(&self) -> String {
        format!(
            "DEFINER={}@{}",
            quote::identifier(&self.user),
            quote::identifier(&self.host)
        )
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`@`{}`", self.user, self.host)
    }
}

impl serde::Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}@{}", self.user, self.host))
    }
}

#[cfg(test)]
mod tests {
    use super::Account;

    #[test]
    fn parse_definer_splits_at_last_at() {
        assert_eq!(
            Account::parse_definer("olduser@%"),
            Some(Account::new("olduser", "%"))
        );
        assert_eq!(
            Account::parse_definer("a@b@localhost"),
            Some(Account::new("a@b", "localhost"))
        );
        assert_eq!(Account::parse_definer("nohost"), None);
    }

    #[test]
    fn definer_clause_matches_dump_text() {
        assert_eq!(
            Account::new("olduser", "%").definer_clause(),
            "DEFINER=`olduser`@`%`"
        );
        assert_eq!(Account::new("app", "10.0.0.5").sql(), "'app'@'10.0.0.5'");
    }
}
