//! The browser tests: Entitle's GraphiQL page and the example single-page
//! app (examples/web), in Debian's Chromium, driven by the Node harness in
//! tests/browser (playwright-core, no browser download). Skipped loudly when
//! Node or Chromium is missing; under `CI` that fails instead. The harness's
//! and the app's packages are installed from their lockfiles when missing.
//! Screenshots go to `target/tmp/browser-screenshots/`.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{Request, State},
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;
use tokio::sync::{Mutex, OnceCell};

use crate::{
    helpers::{Db, spawn_app, spawn_app_with, unique_email},
    sim::SECRET,
};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v.to_lowercase() != "false")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether Node and Chromium are here; without them a developer's run skips
/// (loudly) and CI fails.
fn tools_present(test: &str) -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let chromium = chromium().exists();
    if node && chromium {
        return true;
    }
    let missing = match (node, chromium) {
        (false, false) => "Node.js and Chromium",
        (false, true) => "Node.js",
        _ => "Chromium (apt-get install -y chromium, or set CHROMIUM)",
    };
    assert!(
        !ci(),
        "{test}: {missing} missing, and CI must run the browser tests"
    );
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n!!!!! SKIPPING the browser test {test}: {missing} not found.\n\
         !!!!! Install them to run it (.ci/run does); CI never skips.\n"
    );
    false
}

/// Runs a command to completion within `limit`, with its output shown on
/// failure (and on success, for the steps' lines).
fn run(mut cmd: Command, what: &str, limit: Duration) -> String {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    let (stdout, stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let (out, err) = (read(Box::new(stdout)), read(Box::new(stderr)));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = format!("{}{}", out.join().unwrap(), err.join().unwrap());
    // The failing step last as well, so that a log's tail names it.
    let fail = text.lines().rfind(|l| l.contains("FAIL"));
    assert!(
        status.success(),
        "{what} failed ({status}):\n{text}\n{what} failed: {}",
        fail.unwrap_or("no FAIL line; see above")
    );
    text
}

/// `npm ci` in `dir` unless its packages are there, once per process.
async fn npm_ci(dir: &Path) {
    static LOCK: Mutex<()> = Mutex::const_new(());
    let _one_at_a_time = LOCK.lock().await;
    if dir.join("node_modules").exists() {
        return;
    }
    let mut cmd = Command::new("npm");
    cmd.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let what = format!("npm ci in {}", dir.display());
    tokio::task::spawn_blocking(move || run(cmd, &what, Duration::from_secs(600)))
        .await
        .unwrap();
}

fn screenshots(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("browser-screenshots")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn node(script: &str, env: Vec<(&'static str, String)>, what: &'static str) -> String {
    let mut cmd = Command::new("node");
    cmd.arg(Path::new(ROOT).join("tests/browser").join(script))
        .current_dir(Path::new(ROOT).join("tests/browser"))
        .env("CHROMIUM", chromium());
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::task::spawn_blocking(move || run(cmd, what, Duration::from_secs(300)))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_and_a_subscription_in_chromium_offline() {
    if !tools_present("graphiql") {
        return;
    }
    npm_ci(&Path::new(ROOT).join("tests/browser")).await;
    let app = spawn_app(Db::Sqlite).await.expect("SQLite is always there");
    let email = unique_email("graphiql");
    let reg = app.register(&email).await;
    let out = node(
        "graphiql.mjs",
        vec![
            ("ENTITLE_URL", format!("http://{}", app.addr)),
            (
                "ACCESS_TOKEN",
                reg["accessToken"].as_str().unwrap().to_owned(),
            ),
            ("ACCESS_EMAIL", email),
            ("ENTITLE_WS_CHECK", "1".into()),
            (
                "SCREENSHOT_DIR",
                screenshots("graphiql").display().to_string(),
            ),
        ],
        "the GraphiQL browser check",
    )
    .await;
    assert!(out.contains("PASS"), "{out}");
    println!("{out}");
}

/// examples/web's production build, made once per process: `npm run build`
/// regenerates the typed operations from schema.graphql and type-checks
/// them first, so a schema change that breaks the client fails here.
async fn spa_dist() -> PathBuf {
    static BUILT: OnceCell<PathBuf> = OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let web = Path::new(ROOT).join("examples/web");
            npm_ci(&web).await;
            let mut cmd = Command::new("npm");
            cmd.args(["run", "build"]).current_dir(&web);
            tokio::task::spawn_blocking(move || {
                run(
                    cmd,
                    "npm run build (codegen, tsc, vite)",
                    Duration::from_secs(600),
                )
            })
            .await
            .unwrap();
            web.join("dist")
        })
        .await
        .clone()
}

#[derive(Clone)]
struct Site {
    dist: PathBuf,
    config: Arc<std::sync::Mutex<String>>,
}

/// dist/ as a static host serves it: files by path, index.html for every
/// other path (client-side routes), and the runtime `/config.json`.
async fn site(State(site): State<Site>, req: Request) -> Response {
    let path = req.uri().path().trim_start_matches('/');
    if path == "config.json" {
        let body = site.config.lock().unwrap().clone();
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let file = site.dist.join(path);
    let (file, kind) = match file.extension().and_then(|e| e.to_str()) {
        _ if path.contains("..") => return StatusCode::NOT_FOUND.into_response(),
        Some("js") => (file, "text/javascript"),
        Some("css") => (file, "text/css"),
        Some("svg") => (file, "image/svg+xml"),
        Some("png") => (file, "image/png"),
        Some("map") | Some("json") => (file, "application/json"),
        _ => (site.dist.join("index.html"), "text/html; charset=utf-8"),
    };
    match std::fs::read(&file) {
        Ok(bytes) => ([(header::CONTENT_TYPE, kind)], bytes).into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The app's build served on a free loopback port; its origin, and the
/// `/config.json` to fill in once Entitle's address is known.
async fn serve_app(dist: PathBuf) -> (String, Arc<std::sync::Mutex<String>>) {
    let config = Arc::new(std::sync::Mutex::new(String::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr: SocketAddr = listener.local_addr().unwrap();
    let router = Router::new().fallback(site).with_state(Site {
        dist,
        config: config.clone(),
    });
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (format!("http://{app_addr}"), config)
}

fn app_config(entitle: &str) -> String {
    json!({ "entitleUrl": entitle, "testHooks": true }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_app_upgrades_and_follows_billing_live_in_chromium() {
    if !tools_present("examples/web") {
        return;
    }
    npm_ci(&Path::new(ROOT).join("tests/browser")).await;
    // The app's origin first: Entitle must allow it for CORS and redirects.
    let (origin, config) = serve_app(spa_dist().await).await;

    let sim = stripe_sim::Sim::start(stripe_sim::SimConfig::default())
        .await
        .expect("stripe-sim starts");
    let base = sim.base_url();
    let server = spawn_app_with(
        Db::Sqlite,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_entitle"),
            ("STRIPE_API_BASE", base.as_str()),
            ("STRIPE_WEBHOOK_SECRETS", SECRET),
            ("ENTITLE_CORS_ORIGINS", origin.as_str()),
            ("ENTITLE_ALLOWED_REDIRECT_ORIGINS", origin.as_str()),
        ],
    )
    .await
    .expect("SQLite is always there");
    sim.add_webhook_endpoint(&server.url("/webhooks/stripe"), Some(SECRET));
    let entitle = format!("http://{}", server.addr);
    *config.lock().unwrap() = app_config(&entitle);

    let out = node(
        "spa.mjs",
        vec![
            ("APP_URL", origin),
            ("ENTITLE_URL", entitle),
            ("SIM_URL", base),
            ("SIM_SECRET_KEY", "sk_test_entitle".into()),
            ("SCREENSHOT_DIR", screenshots("spa").display().to_string()),
        ],
        "the example app's browser test",
    )
    .await;
    assert!(out.contains("steps passed"), "{out}");
    println!("{out}");
}

/// The links in Entitle's mails land on the app's pages: verify the address,
/// reset a forgotten password, the used link refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_app_verifies_an_address_and_resets_a_password_in_chromium() {
    if !tools_present("examples/web recovery") {
        return;
    }
    npm_ci(&Path::new(ROOT).join("tests/browser")).await;
    let (origin, config) = serve_app(spa_dist().await).await;
    let mail_dir = tempfile_dir("mail");
    let server = spawn_app_with(
        Db::Sqlite,
        &[
            ("ENTITLE_CORS_ORIGINS", origin.as_str()),
            ("ENTITLE_APP_URL", origin.as_str()),
            ("ENTITLE_MAIL_DIR", mail_dir.to_str().unwrap()),
        ],
    )
    .await
    .expect("SQLite is always there");
    let entitle = format!("http://{}", server.addr);
    *config.lock().unwrap() = app_config(&entitle);

    let out = node(
        "recovery.mjs",
        vec![
            ("APP_URL", origin),
            ("ENTITLE_URL", entitle),
            ("MAIL_DIR", mail_dir.display().to_string()),
            (
                "SCREENSHOT_DIR",
                screenshots("recovery").display().to_string(),
            ),
        ],
        "the example app's recovery test",
    )
    .await;
    assert!(out.contains("steps passed"), "{out}");
    println!("{out}");
}

/// A new, empty folder under the test target's tmp.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
