//! argon2id with the OWASP parameters (m = 19 MiB, t = 2, p = 1), off the async
//! runtime. A semaphore bounds concurrent hashes so a login flood queues
//! instead of allocating 19 MiB per request without limit.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use anyhow::Context;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::Semaphore;

use crate::domain::{LoginPassword, Password};

#[derive(Clone)]
pub struct PasswordHasherPool {
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so both cases cost the same.
    dummy_hash: Arc<str>,
    verifications: Arc<AtomicU64>,
}

fn argon2() -> Argon2<'static> {
    // Argon2::default() is argon2id v19 with m=19456 KiB, t=2, p=1: OWASP's first choice.
    Argon2::default()
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let hash = argon2()
        .hash_password(password.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2 hash: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &str, phc: &str) -> bool {
    argon2().verify_password(password.as_bytes(), phc).is_ok()
}

impl PasswordHasherPool {
    pub async fn new() -> anyhow::Result<Self> {
        let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
        let dummy = tokio::task::spawn_blocking(|| {
            let mut random = [0u8; 24];
            rand::RngCore::fill_bytes(&mut rand::rng(), &mut random);
            hash_blocking(&base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                random,
            ))
        })
        .await
        .context("argon2 task")??;
        Ok(Self {
            permits: Arc::new(Semaphore::new(parallelism * 2)),
            dummy_hash: dummy.into(),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Runs `work` on a blocking thread once a permit is free. The permit
    /// moves into the blocking task: if the request is dropped mid-hash, the
    /// permit is held until argon2 really finishes.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .context("hasher closed")?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .context("argon2 task")
    }

    pub async fn hash(&self, password: &Password) -> anyhow::Result<String> {
        let password = password.expose().to_owned();
        self.run(move || hash_blocking(&password)).await?
    }

    /// `stored` is `None` for an unknown account: the dummy hash is checked so
    /// the answer takes as long, and is `false`.
    pub async fn verify(
        &self,
        password: &LoginPassword,
        stored: Option<&str>,
    ) -> anyhow::Result<bool> {
        let known = stored.is_some();
        let phc: String = stored.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.expose().to_owned();
        let verifications = self.verifications.clone();
        let ok = self
            .run(move || {
                verifications.fetch_add(1, Ordering::Relaxed);
                verify_blocking(&password, &phc)
            })
            .await?;
        Ok(ok && known)
    }

    /// How many argon2 verifications ran, dummy ones included.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let pool = PasswordHasherPool::new().await.unwrap();
        let pw = Password::parse("correct horse battery".into()).unwrap();
        let phc = pool.hash(&pw).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let login = |s: &str| LoginPassword::parse(s.into()).unwrap();
        assert!(
            pool.verify(&login("correct horse battery"), Some(&phc))
                .await
                .unwrap()
        );
        assert!(
            !pool
                .verify(&login("correct horse battery!"), Some(&phc))
                .await
                .unwrap()
        );
        assert_eq!(pool.verifications(), 2);
        // An unknown account never verifies, whatever the password, but it
        // still pays for a real argon2 verification (against the dummy hash).
        assert!(
            !pool
                .verify(&login("correct horse battery"), None)
                .await
                .unwrap()
        );
        assert_eq!(pool.verifications(), 3);
    }
}
