//! The bounds each path is compared with, measured in the same run on one
//! core: signatures per second with the crate the server signs with, and
//! argon2id hashes per second with the server's parameters.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair};

/// Runs `op` for at least `at_least` (and at least `min_runs` times);
/// operations per second.
fn rate(at_least: Duration, min_runs: u32, mut op: impl FnMut() -> Result<()>) -> Result<f64> {
    let start = Instant::now();
    let mut runs = 0u32;
    while runs < min_runs || start.elapsed() < at_least {
        op()?;
        runs += 1;
    }
    Ok(f64::from(runs) / start.elapsed().as_secs_f64())
}

/// A JWT-sized signing input (header and claims of an access token).
const INPUT: &[u8] = b"eyJhbGciOiJSUzI1NiIsImtpZCI6ImJlbmNoIiwidHlwIjoiYXQrand0In0.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjgwODAiLCJzdWIiOiIwMTkzYjM0Yy1hYmNkLTdlZjAtOTg3Ni0wMTIzNDU2Nzg5YWIiLCJhdWQiOiJiZW5jaC1ycCIsImV4cCI6MTc2NDcwMDAwMCwiaWF0IjoxNzY0Njk5NDAwLCJqdGkiOiIwMTkzYjM0Yy1hYmNkLTdlZjAtOTg3Ni0wMTIzNDU2Nzg5YWMiLCJzY29wZSI6Im9wZW5pZCBwcm9maWxlIn0";

pub fn rs256_per_second(at_least: Duration) -> Result<f64> {
    let key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|e| anyhow!("RSA key: {e}"))?;
    let rng = SystemRandom::new();
    let mut out = vec![0u8; key.public_modulus_len()];
    rate(at_least, 20, || {
        key.sign(&signature::RSA_PKCS1_SHA256, &rng, INPUT, &mut out)
            .map_err(|e| anyhow!("RS256: {e}"))
    })
}

pub fn es256_per_second(at_least: Duration) -> Result<f64> {
    let key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .map_err(|e| anyhow!("P-256 key: {e}"))?;
    let rng = SystemRandom::new();
    rate(at_least, 20, || {
        key.sign(&rng, INPUT)
            .map(|_| ())
            .map_err(|e| anyhow!("ES256: {e}"))
    })
}

pub fn eddsa_per_second(at_least: Duration) -> Result<f64> {
    let key = Ed25519KeyPair::generate().map_err(|e| anyhow!("Ed25519 key: {e}"))?;
    rate(at_least, 20, || {
        std::hint::black_box(key.sign(INPUT));
        Ok(())
    })
}

/// argon2id with the server's parameters, one hash at a time.
pub fn argon2_per_second(
    at_least: Duration,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> Result<f64> {
    let params = argon2::Params::new(memory_kib, iterations, parallelism, Some(32))
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = [0u8; 32];
    rate(at_least, 3, || {
        argon
            .hash_password_into(b"Bench-Passw0rd!x", b"sixteen byte sal", &mut out)
            .map_err(|e| anyhow!("argon2: {e}"))
    })
}
