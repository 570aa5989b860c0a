//! The password policy: 8 to 256 characters (NIST SP 800-63B: length, not
//! composition rules). The upper bound keeps argon2 input bounded.

#[derive(Clone)]
pub struct Password(String);

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 256;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPassword(&'static str);

impl Password {
    pub fn parse(raw: String) -> Result<Self, InvalidPassword> {
        let chars = raw.chars().count();
        if chars < MIN_CHARS {
            return Err(InvalidPassword("password must be at least 8 characters"));
        }
        if chars > MAX_CHARS {
            return Err(InvalidPassword("password must be at most 256 characters"));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A password as typed at login: only bounded, since the policy may have
/// changed since the account was made.
#[derive(Clone)]
pub struct LoginPassword(String);

impl LoginPassword {
    pub fn parse(raw: String) -> Result<Self, InvalidPassword> {
        if raw.is_empty() {
            return Err(InvalidPassword("password is required"));
        }
        if raw.chars().count() > MAX_CHARS {
            return Err(InvalidPassword("password must be at most 256 characters"));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for LoginPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginPassword([redacted])")
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_held_to_the_length_policy() {
        let cases = [
            ("", false),
            ("1234567", false),
            ("12345678", true),
            ("ñññññññ", false),
            ("ññññññññ", true),
        ];
        for (raw, ok) in cases {
            assert_eq!(Password::parse(raw.into()).is_ok(), ok, "{raw:?}");
        }
        assert!(Password::parse("a".repeat(256)).is_ok());
        assert!(Password::parse("a".repeat(257)).is_err());
    }

    #[test]
    fn login_passwords_are_only_bounded() {
        assert!(LoginPassword::parse(String::new()).is_err());
        assert!(LoginPassword::parse("short".into()).is_ok());
        assert!(LoginPassword::parse("a".repeat(256)).is_ok());
        assert!(LoginPassword::parse("a".repeat(257)).is_err());
    }

    #[test]
    fn passwords_do_not_print() {
        let p = Password::parse("hunter2hunter2".into()).unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
