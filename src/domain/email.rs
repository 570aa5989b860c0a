//! An email address, normalised (trimmed, lower-cased) and checked for shape.
//! Deliverability is not our job; a confirmation mail would be.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidEmail(&'static str);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(InvalidEmail("email is required"));
        }
        if email.len() > 254 {
            return Err(InvalidEmail("email is longer than 254 characters"));
        }
        if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail("email must not contain spaces"));
        }
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(InvalidEmail("email must contain @"));
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err(InvalidEmail("email has an invalid local part"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) {
            return Err(InvalidEmail("email has an invalid domain"));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_validated() {
        let ok = [
            ("Ada@Example.COM", "ada@example.com"),
            ("  bob@example.com\n", "bob@example.com"),
            ("x+tag@sub.example.co.uk", "x+tag@sub.example.co.uk"),
            ("dev@bücher.de", "dev@bücher.de"),
        ];
        for (raw, want) in ok {
            assert_eq!(Email::parse(raw).unwrap().as_str(), want, "{raw:?}");
        }
        let bad = [
            "",
            "   ",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@@example.com",
            "a@example..com",
            "a@-example.com",
            "a@example.com-",
        ];
        for raw in bad {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(Email::parse(&format!("a@{}.com", "b".repeat(250))).is_err());
    }
}
