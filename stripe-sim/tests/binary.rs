//! The `stripe-sim` binary starts on 127.0.0.1, prints its base URL and serves the API.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_listens_on_loopback_and_prints_its_endpoints() {
    let mut child = Child(
        Command::new(env!("CARGO_BIN_EXE_stripe-sim"))
            .args([
                "--port",
                "0",
                "--webhook",
                "http://127.0.0.1:9/webhooks/stripe=whsec_from_flag",
            ])
            .env("RUST_LOG", "off")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary runs"),
    );
    // Read the banner on a thread and wait for it with a deadline: a short or missing banner
    // fails the test instead of hanging it.
    let stdout = child.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut lines: Vec<String> = Vec::new();
    while lines.len() < 4 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.is_empty() => break,
            Ok(line) => lines.push(line),
            Err(e) => panic!("no complete banner ({e:?}); got {lines:?}"),
        }
    }
    assert!(!lines.is_empty(), "an empty banner");
    let base = lines[0]
        .strip_prefix("stripe-sim listening on ")
        .expect("a banner")
        .to_string();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("http://127.0.0.1:9/webhooks/stripe")
                && l.contains("whsec_from_flag")),
        "{lines:?}"
    );
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/customers"))
        .bearer_auth("sk_test_binary")
        .form(&[("email", "bin@example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let customer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(customer["email"], "bin@example.com");
}

#[test]
fn the_binary_refuses_a_non_loopback_address() {
    let output = Command::new(env!("CARGO_BIN_EXE_stripe-sim"))
        .args(["--host", "0.0.0.0", "--port", "0"])
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("loopback"));
}
