//! `stripe-sim`: run the Stripe emulator on 127.0.0.1.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use stripe_sim::{Catalog, RetryPolicy, Sim, SimConfig, WebhookConfig};

#[derive(Debug, Parser)]
#[command(
    name = "stripe-sim",
    version,
    about = "A local Stripe emulator for Entitle"
)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "STRIPE_SIM_PORT", default_value_t = 12111)]
    port: u16,
    /// Address to listen on; only loopback addresses are accepted.
    #[arg(long, env = "STRIPE_SIM_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// A TOML catalogue of products, prices and features (the built-in one otherwise).
    #[arg(long, env = "STRIPE_SIM_CATALOG")]
    catalog: Option<PathBuf>,
    /// A webhook endpoint, `URL` or `URL=whsec_...`; repeat for several. The environment
    /// variable takes a comma-separated list.
    #[arg(long = "webhook", env = "STRIPE_SIM_WEBHOOKS", value_delimiter = ',')]
    webhooks: Vec<WebhookConfig>,
    /// The URL hosted pages are served at, if not http://HOST:PORT.
    #[arg(long, env = "STRIPE_SIM_PUBLIC_URL")]
    public_url: Option<String>,
    /// Delivery attempts per event and endpoint before giving up.
    #[arg(long, env = "STRIPE_SIM_WEBHOOK_ATTEMPTS", default_value_t = 6)]
    webhook_attempts: u32,
    /// Wait after the first failed delivery, doubled after each further failure.
    #[arg(long, env = "STRIPE_SIM_WEBHOOK_RETRY_MS", default_value_t = 1000)]
    webhook_retry_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "stripe_sim=info".into()),
        )
        .init();
    let args = Args::parse();
    let catalog = match &args.catalog {
        Some(path) => Catalog::load(path)?,
        None => Catalog::default(),
    };
    let config = SimConfig {
        catalog,
        addr: SocketAddr::new(args.host, args.port),
        public_url: args.public_url,
        webhooks: args.webhooks,
        retry: RetryPolicy {
            max_attempts: args.webhook_attempts.max(1),
            base_delay: Duration::from_millis(args.webhook_retry_ms),
            max_delay: Duration::from_secs(60),
        },
    };
    let sim = Sim::start(config).await.context("starting stripe-sim")?;
    println!("stripe-sim listening on {}", sim.base_url());
    println!("  STRIPE_API_BASE={}", sim.base_url());
    println!("  any sk_test_... key is accepted");
    sim.shared().with(|st| {
        for e in &st.endpoints {
            println!("  webhook {} -> {} (secret {})", e.id, e.url, e.secrets[0]);
        }
    });
    shutdown_signal().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
