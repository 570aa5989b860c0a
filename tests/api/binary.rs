//! The `entitle` binary itself: start-up checks, subcommands, logs, and a
//! graceful stop on SIGTERM.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_entitle");

fn temp_sqlite() -> (String, std::path::PathBuf) {
    let path =
        std::env::temp_dir().join(format!("entitle-bin-{}.db", uuid::Uuid::new_v4().simple()));
    (format!("sqlite://{}?mode=rwc", path.display()), path)
}

fn cleanup(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

pub(crate) fn entitle(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    // From the temp dir, so a developer's `.env` in the checkout does not leak in.
    cmd.args(args)
        .current_dir(std::env::temp_dir())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "ENTITLE_PLANS",
            concat!(env!("CARGO_MANIFEST_DIR"), "/plans.toml"),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

#[test]
fn production_refuses_to_start_without_a_strong_jwt_secret() {
    for secret in [None, Some("short")] {
        let mut cmd = entitle(&["serve"], &[("ENTITLE_ENV", "production")]);
        if let Some(s) = secret {
            cmd.env("JWT_SECRET", s);
        }
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("JWT_SECRET"), "{stderr}");
    }
}

fn migrations() -> usize {
    use migration::MigratorTrait;
    migration::Migrator::migrations().len()
}

#[test]
fn migrate_lists_applies_and_reverts_migrations() {
    let (url, path) = temp_sqlite();
    let env = [("DATABASE_URL", url.as_str())];
    let status = |cmd: &mut Command| String::from_utf8(cmd.output().unwrap().stdout).unwrap();
    // Nothing listens there: the healthcheck fails.
    assert!(
        !entitle(&["healthcheck"], &[("ENTITLE_BIND", "127.0.0.1:9")])
            .output()
            .unwrap()
            .status
            .success()
    );
    let before = status(&mut entitle(&["migrate", "status"], &env));
    assert_eq!(before.matches("Pending").count(), migrations(), "{before}");
    assert!(
        entitle(&["migrate", "up"], &env)
            .status()
            .unwrap()
            .success()
    );
    let after = status(&mut entitle(&["migrate", "status"], &env));
    assert_eq!(after.matches("Applied").count(), migrations(), "{after}");
    assert!(
        entitle(
            &["migrate", "down", "--steps", &migrations().to_string()],
            &env
        )
        .status()
        .unwrap()
        .success()
    );
    let reverted = status(&mut entitle(&["migrate", "status"], &env));
    assert_eq!(
        reverted.matches("Pending").count(),
        migrations(),
        "{reverted}"
    );
    cleanup(&path);
}

#[test]
fn the_schema_command_prints_the_checked_in_sdl() {
    let out = entitle(&["schema"], &[]).output().unwrap();
    assert!(out.status.success());
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), on_disk);
}

/// Runs the server, signs a user up and in, stops it with SIGTERM, and reads
/// every log line it wrote: no password, token, secret or email among them.
#[tokio::test]
async fn the_server_stops_on_sigterm_and_logs_no_secrets() {
    let (url, path) = temp_sqlite();
    let secret = "log-canary-secret-0123456789abcdef0123";
    let mut child = entitle(
        &["serve"],
        &[
            ("DATABASE_URL", &url),
            ("ENTITLE_ENV", "production"),
            ("JWT_SECRET", secret),
            ("ENTITLE_BIND", "127.0.0.1:0"),
            ("RUST_LOG", "debug"),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();

    // Production logs are JSON lines; the "listening" line carries the port.
    let (tx, rx) = mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    drop(tx);
    let mut logs = Vec::new();
    let addr = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the server logs that it listens");
        logs.push(line.clone());
        if let Ok(v) = serde_json::from_str::<Value>(&line)
            && v["message"] == "listening"
        {
            break v["addr"].as_str().unwrap().to_owned();
        }
    };

    assert!(
        entitle(&["healthcheck"], &[("ENTITLE_BIND", &addr)])
            .status()
            .unwrap()
            .success(),
        "the healthcheck command sees the running server"
    );
    let http = reqwest::Client::new();
    let gql = |query: &'static str, vars: Value| {
        let http = http.clone();
        let addr = addr.clone();
        async move {
            http.post(format!("http://{addr}/graphql"))
                .json(&json!({ "query": query, "variables": vars }))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let email = "canary.user@example.com";
    let password = "canary-password-do-not-log";
    let reg = gql(
        "mutation($e: String!, $p: String!) { register(email: $e, password: $p) { accessToken refreshToken } }",
        json!({ "e": email, "p": password }),
    )
    .await;
    let access = reg["data"]["register"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = reg["data"]["register"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    gql(
        "mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }",
        json!({ "e": email, "p": "a wrong password" }),
    )
    .await;
    gql(
        "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
        json!({ "t": refresh }),
    )
    .await;
    gql(
        "mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }",
        json!({ "t": refresh }),
    )
    .await;

    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "a SIGTERM is a clean stop: {exit:?}");
    logs.extend(rx.iter());

    // One compact access line per request: each field once, no span list.
    let access_lines: Vec<Value> = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["target"] == "entitle::access")
        .collect();
    assert!(access_lines.len() >= 5, "{logs:?}");
    for line in &access_lines {
        for key in ["method", "route", "status", "latency_ms", "request_id"] {
            assert!(line.get(key).is_some(), "{key} in {line}");
        }
        assert!(
            line.get("spans").is_none() && line.get("span").is_none(),
            "{line}"
        );
        assert!(line.to_string().len() < 300, "compact: {line}");
    }
    assert!(
        access_lines
            .iter()
            .any(|l| l["route"] == "/graphql" && l["status"] == 200)
    );
    let all = logs.join("\n");
    assert!(all.contains("shutdown signal received"), "{all}");
    // Logged while a request ran: it names that request, as its access line does.
    let reuse = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("refresh token reused"))
        })
        .unwrap_or_else(|| panic!("reuse is logged for operators: {all}"));
    let id = reuse["request_id"].as_str().expect("a request id");
    assert!(
        access_lines.iter().any(|l| l["request_id"] == id),
        "{reuse}"
    );
    for canary in [password, secret, access.as_str(), refresh.as_str(), email] {
        assert!(
            !all.contains(canary),
            "the log holds a secret or PII ({canary}):\n{all}"
        );
    }
    cleanup(&path);
}
