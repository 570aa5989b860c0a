use clap::Parser;
use entitle::{cli, config::Environment, telemetry};

fn main() -> std::process::ExitCode {
    tune_allocator();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
        .block_on(run())
}

/// Every sign-in and sign-up hashes with argon2id, which allocates its
/// 19 MiB of memory on a blocking thread. glibc raises its mmap threshold
/// each time such a block is freed, so later blocks come from per-thread
/// arenas and stay resident: 1.4 GiB after 1,000 sign-ups (benches/run).
/// A fixed threshold keeps them mmapped, and returned to the system on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_allocator() {
    // SAFETY: mallopt only changes allocator parameters; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

async fn run() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    // A local `.env` is a convenience for development; real environments set variables.
    let _ = dotenvy::dotenv();
    telemetry::init(Environment::from_env_lenient());
    let code = match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The chain names the cause (a bad variable, an unreachable database) for the operator.
            tracing::error!("{e:#}");
            eprintln!("entitle: {e:#}");
            std::process::ExitCode::FAILURE
        }
    };
    telemetry::writer::flush();
    code
}
