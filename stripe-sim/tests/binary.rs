//! The `stripe-sim` binary starts on 127.0.0.1, prints its base URL and serves the API.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

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
    let stdout = child.0.stdout.take().unwrap();
    let lines: Vec<String> = BufReader::new(stdout)
        .lines()
        .map(|l| l.unwrap())
        .take_while(|l| !l.is_empty())
        .take(4)
        .collect();
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
