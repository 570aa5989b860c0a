//! The product catalogue: products, their recurring prices and their entitlement features,
//! fixed at start from a TOML file or the built-in default.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Catalog {
    #[serde(default = "default_currency")]
    pub currency: String,
    pub products: Vec<Product>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Product {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Entitlement feature lookup keys granted by an active subscription to this product.
    #[serde(default)]
    pub features: Vec<String>,
    pub prices: Vec<Price>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Price {
    pub id: String,
    /// In the smallest currency unit (cents).
    pub unit_amount: i64,
    pub interval: Interval,
    #[serde(default = "one")]
    pub interval_count: u32,
    #[serde(default)]
    pub lookup_key: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

impl Interval {
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
            Interval::Year => "year",
        }
    }
}

fn default_currency() -> String {
    "usd".into()
}

fn one() -> u32 {
    1
}

impl Catalog {
    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let catalog: Catalog = toml::from_str(text)?;
        catalog.validate()?;
        Ok(catalog)
    }

    pub fn load(path: &std::path::Path) -> anyhow::Result<Self> {
        use anyhow::Context;
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading catalogue {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("parsing catalogue {}", path.display()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        let mut seen = std::collections::HashSet::new();
        for product in &self.products {
            anyhow::ensure!(seen.insert(&product.id), "duplicate id {}", product.id);
            for price in &product.prices {
                anyhow::ensure!(seen.insert(&price.id), "duplicate id {}", price.id);
                anyhow::ensure!(
                    price.interval_count > 0,
                    "{}: interval_count is 0",
                    price.id
                );
            }
        }
        Ok(())
    }

    pub fn price(&self, id: &str) -> Option<(&Product, &Price)> {
        self.products.iter().find_map(|product| {
            product
                .prices
                .iter()
                .find(|p| p.id == id)
                .map(|price| (product, price))
        })
    }

    pub fn product(&self, id: &str) -> Option<&Product> {
        self.products.iter().find(|p| p.id == id)
    }

    /// Every price of every product, in catalogue order.
    pub fn prices(&self) -> impl Iterator<Item = (&Product, &Price)> {
        self.products
            .iter()
            .flat_map(|product| product.prices.iter().map(move |price| (product, price)))
    }
}

impl Default for Catalog {
    /// Pro and Studio, each monthly and yearly; Studio grants everything Pro does and more.
    fn default() -> Self {
        let price = |id: &str, amount: i64, interval: Interval, nick: &str| Price {
            id: id.into(),
            unit_amount: amount,
            interval,
            interval_count: 1,
            lookup_key: Some(id.trim_start_matches("price_").into()),
            nickname: Some(nick.into()),
        };
        Catalog {
            currency: "usd".into(),
            products: vec![
                Product {
                    id: "prod_pro".into(),
                    name: "Pro".into(),
                    description: Some("For individuals".into()),
                    features: vec!["advanced_analytics".into(), "api_access".into()],
                    prices: vec![
                        price("price_pro_monthly", 1_200, Interval::Month, "Pro monthly"),
                        price("price_pro_yearly", 12_000, Interval::Year, "Pro yearly"),
                    ],
                },
                Product {
                    id: "prod_studio".into(),
                    name: "Studio".into(),
                    description: Some("For teams".into()),
                    features: vec![
                        "advanced_analytics".into(),
                        "api_access".into(),
                        "priority_support".into(),
                        "team_seats".into(),
                    ],
                    prices: vec![
                        price(
                            "price_studio_monthly",
                            4_900,
                            Interval::Month,
                            "Studio monthly",
                        ),
                        price(
                            "price_studio_yearly",
                            49_000,
                            Interval::Year,
                            "Studio yearly",
                        ),
                    ],
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_catalogue_has_the_price_ids_the_server_plans_use() {
        let c = Catalog::default();
        for id in [
            "price_pro_monthly",
            "price_pro_yearly",
            "price_studio_monthly",
            "price_studio_yearly",
        ] {
            assert!(c.price(id).is_some(), "{id} missing");
        }
        assert_eq!(
            c.price("price_studio_yearly").unwrap().1.interval,
            Interval::Year
        );
    }

    #[test]
    fn catalogue_parses_from_toml_with_defaults() {
        let c = Catalog::from_toml(
            r#"
            [[products]]
            id = "prod_x"
            name = "X"
            features = ["f1"]
            [[products.prices]]
            id = "price_x"
            unit_amount = 500
            interval = "week"
            "#,
        )
        .unwrap();
        assert_eq!(c.currency, "usd");
        let (product, price) = c.price("price_x").unwrap();
        assert_eq!(product.features, vec!["f1".to_string()]);
        assert_eq!(price.interval_count, 1);
    }

    #[test]
    fn catalogue_with_a_duplicate_id_is_rejected() {
        let err = Catalog::from_toml(
            r#"
            [[products]]
            id = "prod_x"
            name = "X"
            [[products.prices]]
            id = "price_x"
            unit_amount = 1
            interval = "month"
            [[products.prices]]
            id = "price_x"
            unit_amount = 2
            interval = "month"
            "#,
        );
        assert!(err.is_err());
    }
}
