//! The shipped catalogue, and every problem a catalogue can have.

use super::*;
use crate::domain::subscription::BillingInterval;

const SHIPPED: &str = include_str!("../../../plans.toml");

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
    let free = c.free_plan();
    assert_eq!(free.max("monthly_requests"), Some(LimitValue::Finite(1000)));
    assert_eq!(c.is_metered("monthly_requests"), Some(true));
    assert_eq!(c.is_metered("api_keys"), Some(false));
    assert_eq!(
        c.plan("studio").unwrap().max("monthly_requests"),
        Some(LimitValue::Unlimited)
    );
}

#[test]
fn metered_limits_name_their_meter_and_overage() {
    let c = Catalog::parse(
        "[[plans]]\nname = \"free\"\nlimits = { calls = { max = 5, metered = true } }\n\
         [[plans]]\nname = \"pro\"\nprices = { monthly = \"p\" }\n\
         limits = { calls = { max = 50, metered = true, meter = \"api_calls\", overage = true } }",
    )
    .unwrap();
    let pro = &c.plan("pro").unwrap().limits["calls"];
    assert_eq!(pro.max, LimitValue::Finite(50));
    assert_eq!(
        pro.metering,
        Some(Metering {
            meter: Some("api_calls".into()),
            overage: true
        })
    );
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
