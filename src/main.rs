use clap::Parser;
use entitle::{cli, config::Environment, telemetry};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // A local `.env` is a convenience for development; real environments set variables.
    let _ = dotenvy::dotenv();
    telemetry::init(Environment::from_env_lenient());
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain names the cause (a bad variable, an unreachable database) for the operator.
            tracing::error!("{e:#}");
            eprintln!("entitle: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
