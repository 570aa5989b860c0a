//! The plan catalogue from `plans.toml`: Stripe price ids → plans → features
//! and limits. Code asks "may this user do X?", never "is this user on plan Y?".
//! The file is validated as a whole at start; every problem is reported.

use std::{collections::BTreeMap, collections::HashSet, path::Path};

use serde::Deserialize;

use super::subscription::BillingInterval;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitValue {
    Finite(u32),
    Unlimited,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub features: Vec<String>,
    /// Sorted by name, so responses are stable.
    pub limits: BTreeMap<String, LimitValue>,
    pub prices: BTreeMap<BillingInterval, String>,
    pub trial_days: Option<u32>,
}

impl Plan {
    pub fn has_feature(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }
}

#[derive(Clone, Debug)]
pub struct Catalog {
    plans: Vec<Plan>,
    free: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default = "default_free_plan")]
    free_plan: String,
    #[serde(default)]
    plans: Vec<PlanFile>,
}

fn default_free_plan() -> String {
    "free".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[serde(default)]
    name: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default)]
    limits: BTreeMap<String, LimitFile>,
    #[serde(default)]
    prices: BTreeMap<BillingInterval, String>,
    trial_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum LimitFile {
    Number(i64),
    Word(String),
}

#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("; "))]
pub struct CatalogError {
    pub problems: Vec<String>,
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl Catalog {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read plans file {}: {e}", path.display()))?;
        Self::parse(&text)
            .map_err(|e| anyhow::anyhow!("invalid plans file {}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Self, CatalogError> {
        let file: File = toml::from_str(text).map_err(|e| CatalogError {
            problems: vec![e.message().to_string()],
        })?;
        let mut problems = Vec::new();
        let mut names = HashSet::new();
        let mut price_ids = HashSet::new();
        let mut plans = Vec::with_capacity(file.plans.len());

        if file.plans.is_empty() {
            problems.push("no plans are defined".to_string());
        }
        for (i, p) in file.plans.into_iter().enumerate() {
            let label = if p.name.is_empty() {
                format!("plan #{}", i + 1)
            } else {
                format!("plan `{}`", p.name)
            };
            if p.name.is_empty() {
                problems.push(format!("{label} has no name"));
            } else if !is_identifier(&p.name) {
                problems.push(format!("{label}: a name uses a-z, 0-9, _ and - only"));
            } else if !names.insert(p.name.clone()) {
                problems.push(format!("{label} is defined twice"));
            }
            let mut seen = HashSet::new();
            for f in &p.features {
                if !is_identifier(f) {
                    problems.push(format!(
                        "{label}: feature `{f}` uses a-z, 0-9, _ and - only"
                    ));
                } else if !seen.insert(f) {
                    problems.push(format!("{label}: feature `{f}` is listed twice"));
                }
            }
            let mut limits = BTreeMap::new();
            for (k, v) in p.limits {
                if !is_identifier(&k) {
                    problems.push(format!("{label}: limit `{k}` uses a-z, 0-9, _ and - only"));
                }
                let value = match v {
                    LimitFile::Number(n) => match u32::try_from(n) {
                        Ok(n) if n <= i32::MAX as u32 => LimitValue::Finite(n),
                        _ => {
                            problems.push(format!(
                                "{label}: limit `{k}` must be between 0 and {} or \"unlimited\"",
                                i32::MAX
                            ));
                            continue;
                        }
                    },
                    LimitFile::Word(w) if w == "unlimited" => LimitValue::Unlimited,
                    LimitFile::Word(w) => {
                        problems.push(format!(
                            "{label}: limit `{k}` is `{w}`; use a number or \"unlimited\""
                        ));
                        continue;
                    }
                };
                limits.insert(k, value);
            }
            for id in p.prices.values() {
                if id.trim().is_empty() {
                    problems.push(format!("{label} has an empty price id"));
                } else if !price_ids.insert(id.clone()) {
                    problems.push(format!("price id `{id}` is used by more than one plan"));
                }
            }
            if let Some(days) = p.trial_days
                && !(1..=730).contains(&days)
            {
                problems.push(format!("{label}: trial_days must be between 1 and 730"));
            }
            plans.push(Plan {
                name: p.name,
                features: p.features,
                limits,
                prices: p.prices,
                trial_days: p.trial_days,
            });
        }

        let free = plans.iter().position(|p| p.name == file.free_plan);
        match free {
            None => problems.push(format!(
                "free_plan `{}` is not one of the plans",
                file.free_plan
            )),
            Some(i) if !plans[i].prices.is_empty() => problems.push(format!(
                "the free plan `{}` must not have prices",
                file.free_plan
            )),
            Some(_) => {}
        }
        for p in &plans {
            if p.name != file.free_plan && p.prices.is_empty() && !p.name.is_empty() {
                problems.push(format!(
                    "plan `{}` has no prices, so nobody can buy it",
                    p.name
                ));
            }
        }

        if problems.is_empty() {
            Ok(Self {
                plans,
                free: free.unwrap_or_default(),
            })
        } else {
            Err(CatalogError { problems })
        }
    }

    /// Checks the catalogue against what the code needs: every feature that a
    /// guard requires is granted by some plan, and every plan granting a
    /// feature sets the limits that cap it (`(feature, limit)` pairs).
    pub fn check_requirements(
        &self,
        guarded: &[&str],
        capped_by: &[(&str, &str)],
    ) -> Result<(), CatalogError> {
        let mut problems = Vec::new();
        for feature in guarded {
            if self.plans_with_feature(feature).next().is_none() {
                problems.push(format!(
                    "feature `{feature}` is required by the API but no plan grants it"
                ));
            }
        }
        for (feature, limit) in capped_by {
            for plan in self.plans_with_feature(feature) {
                if !plan.limits.contains_key(*limit) {
                    problems.push(format!(
                        "plan `{}` grants `{feature}` but sets no `{limit}` limit",
                        plan.name
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(CatalogError { problems })
        }
    }

    pub fn plans(&self) -> &[Plan] {
        &self.plans
    }

    /// The plan of everyone without a subscription that grants access.
    pub fn free_plan(&self) -> &Plan {
        &self.plans[self.free]
    }

    pub fn plan(&self, name: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.name == name)
    }

    pub fn plan_for_price(&self, price_id: &str) -> Option<(&Plan, BillingInterval)> {
        self.plans.iter().find_map(|p| {
            p.prices
                .iter()
                .find(|(_, id)| id.as_str() == price_id)
                .map(|(interval, _)| (p, *interval))
        })
    }

    /// The plans that grant `feature`, for upgrade prompts.
    pub fn plans_with_feature<'a>(&'a self, feature: &'a str) -> impl Iterator<Item = &'a Plan> {
        self.plans.iter().filter(move |p| p.has_feature(feature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../plans.toml");

    #[test]
    fn the_shipped_catalogue_is_valid() {
        let c = Catalog::parse(SHIPPED).unwrap();
        assert_eq!(c.free_plan().name, "free");
        let (plan, interval) = c.plan_for_price("price_pro_yearly").unwrap();
        assert_eq!(
            (plan.name.as_str(), interval),
            ("pro", BillingInterval::Yearly)
        );
        assert!(c.plans_with_feature("api_access").count() >= 1);
    }

    fn problems(text: &str) -> String {
        Catalog::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn invalid_catalogues_name_the_problem() {
        let cases = [
            ("", "no plans are defined"),
            ("[[plans]]\nfeatures = []", "plan #1 has no name"),
            (
                "[[plans]]\nname = \"free\"\n[[plans]]\nname = \"free\"",
                "plan `free` is defined twice",
            ),
            (
                "[[plans]]\nname = \"free\"\n[[plans]]\nname = \"pro\"\nprices = { monthly = \"p1\" }\n[[plans]]\nname = \"team\"\nprices = { monthly = \"p1\" }",
                "price id `p1` is used by more than one plan",
            ),
            (
                "[[plans]]\nname = \"basic\"",
                "free_plan `free` is not one of the plans",
            ),
            (
                "[[plans]]\nname = \"free\"\nprices = { monthly = \"p1\" }",
                "the free plan `free` must not have prices",
            ),
            (
                "[[plans]]\nname = \"free\"\n[[plans]]\nname = \"pro\"",
                "plan `pro` has no prices",
            ),
            (
                "[[plans]]\nname = \"free\"\nlimits = { api_keys = -1 }",
                "limit `api_keys` must be between",
            ),
            (
                "[[plans]]\nname = \"free\"\nlimits = { api_keys = \"lots\" }",
                "limit `api_keys` is `lots`",
            ),
            (
                "[[plans]]\nname = \"free\"\nfeatures = [\"a\", \"a\"]",
                "feature `a` is listed twice",
            ),
            (
                "[[plans]]\nname = \"free\"\nprices = { weekly = \"p\" }",
                "weekly",
            ),
            ("[[plans]]\nname = \"free\"\ncolour = 1", "colour"),
        ];
        for (text, want) in cases {
            let got = problems(text);
            assert!(
                got.contains(want),
                "for {text:?}: wanted {want:?} in {got:?}"
            );
        }
    }

    #[test]
    fn the_catalogue_must_grant_what_the_api_guards() {
        let c = Catalog::parse(SHIPPED).unwrap();
        c.check_requirements(&["api_access"], &[("api_access", "api_keys")])
            .unwrap();
        let err = c
            .check_requirements(&["time_travel"], &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("feature `time_travel` is required by the API but no plan grants it"),
            "{err}"
        );
        let c = Catalog::parse(
            "[[plans]]\nname = \"free\"\n[[plans]]\nname = \"pro\"\nfeatures = [\"api_access\"]\nprices = { monthly = \"p\" }",
        )
        .unwrap();
        let err = c
            .check_requirements(&["api_access"], &[("api_access", "api_keys")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("plan `pro` grants `api_access` but sets no `api_keys` limit"),
            "{err}"
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let got = problems("[[plans]]\nname = \"\"\n[[plans]]\nname = \"Pro Plan\"");
        assert!(got.contains("has no name") && got.contains("a-z"), "{got}");
    }
}
