//! Starts the real server on port 0 against a fresh database (a temporary
//! SQLite file, or a new PostgreSQL database), and talks to it over HTTP.

use std::{collections::HashMap, net::SocketAddr, path::PathBuf};

use entitle::{Application, Config};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "integration-test-secret-0123456789abcdef";
pub const PASSWORD: &str = "correct horse battery staple";
pub const GQL: &str = "application/graphql-response+json";

#[derive(Clone, Copy, Debug)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Generates one test per database for each scenario `async fn name(db: Db)`.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Db::Postgres).await
                }
            )*
        }
    };
}

/// Deletes the test database when the test ends, pass or fail.
pub enum DbGuard {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        match self {
            DbGuard::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            DbGuard::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime; use a thread with its own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    rt.block_on(async move {
                        if let Ok(db) = Database::connect(&admin_url).await {
                            let _ = db
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

pub fn postgres_admin_url() -> String {
    std::env::var("ENTITLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn postgres_required() -> bool {
    let set = |k: &str| {
        std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v.to_lowercase() != "false")
    };
    set("CI") || set("ENTITLE_REQUIRE_POSTGRES")
}

/// Whether anything listens at the PostgreSQL URL's host and port; asked once
/// per test binary, so a laptop without PostgreSQL skips at once, not after a
/// pool timeout per test.
fn postgres_reachable(url: &str) -> bool {
    static REACHABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *REACHABLE.get_or_init(|| {
        let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
        let host_port = after_scheme
            .rsplit_once('@')
            .map_or(after_scheme, |(_, h)| h);
        let host_port = host_port.split(['/', '?']).next().unwrap_or_default();
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        use std::net::ToSocketAddrs;
        host_port
            .to_socket_addrs()
            .ok()
            .into_iter()
            .flatten()
            .any(|addr| {
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))
                    .is_ok()
            })
    })
}

/// A fresh, empty database of the given kind: its URL and its guard. `None`
/// when PostgreSQL is unreachable on a developer machine (never in CI).
pub async fn fresh_database(db: Db) -> Option<(String, DbGuard)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    match db {
        Db::Sqlite => {
            let path = std::env::temp_dir().join(format!("entitle-test-{id}.db"));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            Some((url, DbGuard::Sqlite(path)))
        }
        Db::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = if postgres_reachable(&admin_url) {
                Database::connect(&admin_url).await
            } else {
                Err(sea_orm::DbErr::Custom("nothing listens there".into()))
            };
            let admin = match admin {
                Ok(c) => c,
                Err(e) => {
                    if postgres_required() {
                        panic!(
                            "PostgreSQL is required here (CI) but unreachable at {admin_url}: {e}"
                        );
                    }
                    // Written to the real stderr: libtest would hide an eprintln! of a passing test.
                    use std::io::Write;
                    let _ = writeln!(
                        std::io::stderr().lock(),
                        "\n!!!!! SKIPPING a PostgreSQL test: cannot reach {admin_url} ({e}).\n\
                         !!!!! Set ENTITLE_TEST_POSTGRES_URL or start PostgreSQL; CI never skips.\n"
                    );
                    return None;
                }
            };
            let name = format!("entitle_test_{id}");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(b, _)| b);
            let url = format!("{base}/{name}");
            Some((url, DbGuard::Postgres { admin_url, name }))
        }
    }
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// `/metrics`, when the test asked for it (`ENTITLE_METRICS_BIND`).
    pub metrics_addr: Option<SocketAddr>,
    pub db_url: String,
    pub http: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
    /// `None` for a second instance on another app's database.
    _db: Option<DbGuard>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The test configuration: generous rate limits unless a test sets its own.
pub fn test_config(db_url: &str, overrides: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), db_url.into()),
        ("ENTITLE_BIND".into(), "127.0.0.1:0".into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        (
            "ENTITLE_PLANS".into(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/plans.toml").into(),
        ),
        ("ENTITLE_AUTH_RATE_PER_EMAIL".into(), "1000".into()),
        ("ENTITLE_AUTH_RATE_PER_IP".into(), "1000".into()),
        ("ENTITLE_DB_MAX_CONNECTIONS".into(), "5".into()),
    ]);
    for (k, v) in overrides {
        vars.insert((*k).into(), (*v).into());
    }
    Config::from_lookup(|k| vars.get(k).cloned()).expect("test config")
}

pub async fn spawn_app(db: Db) -> Option<TestApp> {
    spawn_app_with(db, &[]).await
}

pub async fn spawn_app_with(db: Db, overrides: &[(&str, &str)]) -> Option<TestApp> {
    spawn_app_configured(db, overrides, |_| {}).await
}

/// A server on an existing database at `db_url` (which the caller cleans up).
pub async fn spawn_at(db_url: &str, overrides: &[(&str, &str)]) -> TestApp {
    let app = Application::build(test_config(db_url, overrides))
        .await
        .expect("application starts");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let server = tokio::spawn(async move {
        app.run_until(std::future::pending())
            .await
            .expect("server runs");
    });
    TestApp {
        addr,
        metrics_addr,
        db_url: db_url.to_owned(),
        http: reqwest::Client::new(),
        server,
        _db: None,
    }
}

/// Another server instance on the same database as `first` (as when several
/// instances share one PostgreSQL).
pub async fn spawn_another_instance(first: &TestApp, overrides: &[(&str, &str)]) -> TestApp {
    spawn_at(&first.db_url, overrides).await
}

impl TestApp {
    /// A server that runs elsewhere (another process), at `addr` on `db_url`.
    pub fn external(addr: SocketAddr, db_url: &str) -> TestApp {
        TestApp {
            addr,
            metrics_addr: None,
            db_url: db_url.to_owned(),
            http: reqwest::Client::new(),
            server: tokio::spawn(async {}),
            _db: None,
        }
    }

    /// Stops the server as a crash would (its task aborted, nothing
    /// finished), keeping the database for another instance.
    pub fn stop(&self) {
        self.server.abort();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs a GraphQL request as a modern client does and returns the body.
    pub async fn gql(&self, query: &str, variables: Value, token: Option<&str>) -> Value {
        let mut req = self
            .http
            .post(self.url("/graphql"))
            .header("accept", GQL)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.expect("request");
        res.json().await.expect("json body")
    }

    /// A `register` call and its whole answer, errors included.
    pub async fn try_register(&self, email: &str, password: &str) -> Value {
        self.gql(
            "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { accessToken refreshToken expiresIn tokenType user { id email } } }",
            json!({ "e": email, "p": password }),
            None,
        )
        .await
    }

    /// Registers with [`PASSWORD`] and returns the `AuthPayload`.
    pub async fn register(&self, email: &str) -> Value {
        let body = self.try_register(email, PASSWORD).await;
        assert!(body.get("errors").is_none(), "register failed: {body}");
        body["data"]["register"].clone()
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        self.gql(
            "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken refreshToken user { id email } } }",
            json!({ "e": email, "p": password }),
            None,
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Value {
        self.gql(
            "mutation($t: String!) { refresh(refreshToken: $t) { accessToken refreshToken user { email } } }",
            json!({ "t": refresh_token }),
            None,
        )
        .await
    }
}

/// `extensions.code` of the first error.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error with a code, got {body}"))
}

pub fn unique_email(prefix: &str) -> String {
    format!(
        "{prefix}-{}@example.com",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    )
}

/// A plans file with `text`, for a server started with `ENTITLE_PLANS` set to
/// the returned path; deleted when the guard drops (the server reads it at start).
pub struct PlansFile(pub PathBuf);

impl PlansFile {
    pub fn new(text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "entitle-plans-{}.toml",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::write(&path, text).expect("write plans file");
        Self(path)
    }

    pub fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for PlansFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A server with `overrides`, and whatever else `adjust` sets on its
/// configuration (a clock a test moves, say).
pub async fn spawn_app_configured(
    db: Db,
    overrides: &[(&str, &str)],
    adjust: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    let (db_url, guard) = fresh_database(db).await?;
    let mut config = test_config(&db_url, overrides);
    adjust(&mut config);
    let app = Application::build(config)
        .await
        .expect("application starts");
    let addr = app.local_addr();
    let metrics_addr = app.metrics_addr();
    let server = tokio::spawn(async move {
        app.run_until(std::future::pending())
            .await
            .expect("server runs");
    });
    Some(TestApp {
        addr,
        metrics_addr,
        db_url,
        http: reqwest::Client::new(),
        server,
        _db: Some(guard),
    })
}

/// A small SMTP server on loopback that accepts every message and keeps it:
/// the tests read the mail Entitle sends, over SMTP for real.
pub struct SmtpSink {
    pub addr: SocketAddr,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = mails.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(smtp_session(stream, kept.clone()));
            }
        });
        Self { addr, mails }
    }

    /// `smtp://…` for `ENTITLE_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().unwrap().clone()
    }

    /// Waits (at most 20 s) for the `n`th mail (from 1) to `to`.
    pub async fn nth_to(&self, to: &str, n: usize) -> String {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let mine: Vec<String> = self
                .mails()
                .into_iter()
                .filter(|m| m.contains(&format!("To: {to}")))
                .collect();
            if mine.len() >= n {
                return mine[n - 1].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no mail #{n} to {to}; the sink holds: {:?}",
                self.mails()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn smtp_session(
    stream: tokio::net::TcpStream,
    mails: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
    while let Ok(Some(line)) = lines.next_line().await {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250 sink\r\n",
            "DATA" => {
                let _ = write.write_all(b"354 go on\r\n").await;
                let mut body = Vec::new();
                while let Ok(Some(l)) = lines.next_line().await {
                    if l == "." {
                        break;
                    }
                    body.push(l.strip_prefix('.').map(str::to_owned).unwrap_or(l));
                }
                mails.lock().unwrap().push(body.join("\n"));
                b"250 kept\r\n"
            }
            "QUIT" => {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            }
            _ => b"250 OK\r\n",
        };
        if write.write_all(reply).await.is_err() {
            return;
        }
    }
}

/// A mail's quoted-printable text decoded (soft line breaks joined, `=XX`
/// bytes restored); other text comes through as it is.
pub fn unquote(mail: &str) -> String {
    let joined = mail.replace("=\n", "").replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the first link to `path` in a mail.
pub fn token_in(mail: &str, path: &str) -> String {
    let mail = unquote(mail);
    let at = mail
        .find(&format!("{path}?token="))
        .unwrap_or_else(|| panic!("no {path} link in:\n{mail}"));
    mail[at + path.len() + "?token=".len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}
