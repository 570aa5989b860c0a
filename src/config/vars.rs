//! Reading typed values out of the environment (or any key → value source).
//! Every error names its variable.

use std::time::Duration;

use anyhow::{Context, bail};

/// The source of the variables, with blank values treated as unset.
pub struct Vars<F> {
    get: F,
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn new(get: F) -> Self {
        Self { get }
    }

    pub fn get(&self, key: &str) -> Option<String> {
        (self.get)(key).filter(|v| !v.trim().is_empty())
    }

    pub fn string(&self, key: &str, default: &str) -> String {
        self.get(key).unwrap_or_else(|| default.to_owned())
    }

    pub fn u64(&self, key: &str, default: u64) -> anyhow::Result<u64> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .with_context(|| format!("{key} must be a whole number, not `{v}`")),
        }
    }

    /// A whole number greater than zero.
    pub fn positive(&self, key: &str, default: u64) -> anyhow::Result<u64> {
        let v = self.u64(key, default)?;
        if v == 0 {
            bail!("{key} must be greater than 0");
        }
        Ok(v)
    }

    pub fn positive_u32(&self, key: &str, default: u32) -> anyhow::Result<u32> {
        u32::try_from(self.positive(key, u64::from(default))?)
            .with_context(|| format!("{key} is too large"))
    }

    pub fn positive_usize(&self, key: &str, default: usize) -> anyhow::Result<usize> {
        usize::try_from(self.positive(key, default as u64)?)
            .with_context(|| format!("{key} is too large"))
    }

    pub fn secs(&self, key: &str, default: u64) -> anyhow::Result<Duration> {
        Ok(Duration::from_secs(self.positive(key, default)?))
    }

    pub fn bool(&self, key: &str, default: bool) -> anyhow::Result<bool> {
        match self
            .get(key)
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => bail!("{key} must be true or false, not `{other}`"),
        }
    }

    /// One of `choices` (`(name, value)`), `default` when unset.
    pub fn choice<T: Copy>(
        &self,
        key: &str,
        default: T,
        choices: &[(&str, T)],
    ) -> anyhow::Result<T> {
        let Some(raw) = self.get(key) else {
            return Ok(default);
        };
        let raw = raw.trim();
        match choices.iter().find(|(name, _)| *name == raw) {
            Some((_, v)) => Ok(*v),
            None => {
                let names: Vec<String> = choices.iter().map(|(n, _)| format!("`{n}`")).collect();
                bail!("{key} must be {}, not `{raw}`", names.join(" or "))
            }
        }
    }

    /// A comma-separated list, items trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// `scheme://host[:port]` of an http(s) URL, lower-cased; `None` for anything else.
pub fn origin_of(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}
