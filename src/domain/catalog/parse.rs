//! `plans.toml` → [`Catalog`]: the file's shape, and the checks that make a
//! catalogue valid. Every problem is collected, so one start reports them all.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;

use super::{Catalog, CatalogError, Limit, LimitValue, Metering, Plan};
use crate::domain::subscription::BillingInterval;

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
    Table(MeteredFile),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeteredFile {
    max: MaxFile,
    #[serde(default)]
    metered: bool,
    meter: Option<String>,
    #[serde(default)]
    overage: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum MaxFile {
    Number(i64),
    Word(String),
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// What parsing found wrong, in the order found.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, problem: String) {
        self.0.push(problem);
    }
}

pub fn catalog(text: &str) -> Result<Catalog, CatalogError> {
    let file: File = toml::from_str(text).map_err(|e| CatalogError {
        problems: vec![e.message().to_string()],
    })?;
    let mut problems = Problems::default();
    if file.plans.is_empty() {
        problems.push("no plans are defined".to_string());
    }
    let mut names = HashSet::new();
    let mut price_ids = HashSet::new();
    let plans: Vec<Plan> = file
        .plans
        .into_iter()
        .enumerate()
        .map(|(i, p)| plan(i, p, &mut names, &mut price_ids, &mut problems))
        .collect();
    let free = free_plan(&plans, &file.free_plan, &mut problems);
    metering_agrees(&plans, &mut problems);
    if problems.0.is_empty() {
        Ok(Catalog {
            plans: plans.into_iter().map(std::sync::Arc::new).collect(),
            free: free.unwrap_or_default(),
        })
    } else {
        Err(CatalogError {
            problems: problems.0,
        })
    }
}

fn plan(
    i: usize,
    p: PlanFile,
    names: &mut HashSet<String>,
    price_ids: &mut HashSet<String>,
    problems: &mut Problems,
) -> Plan {
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
    features(&label, &p.features, problems);
    let limits = limits(&label, p.limits, problems);
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
    Plan {
        name: p.name,
        features: p.features,
        limits,
        prices: p.prices,
        trial_days: p.trial_days,
    }
}

fn features(label: &str, features: &[String], problems: &mut Problems) {
    let mut seen = HashSet::new();
    for f in features {
        if !is_identifier(f) {
            problems.push(format!(
                "{label}: feature `{f}` uses a-z, 0-9, _ and - only"
            ));
        } else if !seen.insert(f) {
            problems.push(format!("{label}: feature `{f}` is listed twice"));
        }
    }
}

fn limits(
    label: &str,
    raw: BTreeMap<String, LimitFile>,
    problems: &mut Problems,
) -> BTreeMap<String, Limit> {
    let mut limits = BTreeMap::new();
    for (k, v) in raw {
        if !is_identifier(&k) {
            problems.push(format!("{label}: limit `{k}` uses a-z, 0-9, _ and - only"));
        }
        match limit(v) {
            Ok(value) => {
                limits.insert(k, value);
            }
            Err(why) => problems.push(format!("{label}: limit `{k}` {why}")),
        }
    }
    limits
}

fn limit(v: LimitFile) -> Result<Limit, String> {
    match v {
        LimitFile::Number(n) => max(MaxFile::Number(n)).map(Limit::cap),
        LimitFile::Word(w) => max(MaxFile::Word(w)).map(Limit::cap),
        LimitFile::Table(t) => metered(t),
    }
}

fn max(v: MaxFile) -> Result<LimitValue, String> {
    match v {
        MaxFile::Number(n) => match u32::try_from(n) {
            Ok(n) if n <= i32::MAX as u32 => Ok(LimitValue::Finite(n)),
            _ => Err(format!(
                "must be between 0 and {} or \"unlimited\"",
                i32::MAX
            )),
        },
        MaxFile::Word(w) if w == "unlimited" => Ok(LimitValue::Unlimited),
        MaxFile::Word(w) => Err(format!("is `{w}`; use a number or \"unlimited\"")),
    }
}

/// `{ max = …, metered = true [, meter = "…"] [, overage = true] }`.
fn metered(t: MeteredFile) -> Result<Limit, String> {
    if !t.metered {
        return Err(
            "is a table without `metered = true`; a cap is a number or \"unlimited\"".into(),
        );
    }
    if let Some(meter) = &t.meter {
        let shaped = !meter.is_empty()
            && meter.len() <= 100
            && meter
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !shaped {
            return Err(format!(
                "names meter `{meter}`; a Stripe meter event name has 1 to 100 of A-Z a-z 0-9 _ - . :"
            ));
        }
    }
    if t.overage && t.meter.is_none() {
        return Err("allows overage but names no `meter` to bill it through".into());
    }
    Ok(Limit {
        max: max(t.max)?,
        metering: Some(Metering {
            meter: t.meter,
            overage: t.overage,
        }),
    })
}

/// A limit is metered in every plan that sets it, or in none: a counter
/// cannot be a cap on another plan.
fn metering_agrees(plans: &[Plan], problems: &mut Problems) {
    let mut seen: BTreeMap<&str, (&str, bool)> = BTreeMap::new();
    for p in plans {
        for (name, limit) in &p.limits {
            let metered = limit.metering.is_some();
            match seen.get(name.as_str()) {
                Some((other, m)) if *m != metered => {
                    let (yes, no) = if metered {
                        (p.name.as_str(), *other)
                    } else {
                        (*other, p.name.as_str())
                    };
                    problems.push(format!(
                        "limit `{name}` is metered in plan `{yes}` but not in plan `{no}`"
                    ));
                }
                Some(_) => {}
                None => {
                    seen.insert(name, (&p.name, metered));
                }
            }
        }
    }
}

/// The index of the free plan: it must exist and have no prices; every other
/// plan must have a price, or nobody could buy it.
fn free_plan(plans: &[Plan], name: &str, problems: &mut Problems) -> Option<usize> {
    let free = plans.iter().position(|p| p.name == name);
    match free {
        None => problems.push(format!("free_plan `{name}` is not one of the plans")),
        Some(i) if !plans[i].prices.is_empty() => {
            problems.push(format!("the free plan `{name}` must not have prices"))
        }
        Some(_) => {}
    }
    for p in plans {
        if p.name != name && p.prices.is_empty() && !p.name.is_empty() {
            problems.push(format!(
                "plan `{}` has no prices, so nobody can buy it",
                p.name
            ));
        }
    }
    free
}
