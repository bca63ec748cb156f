//! The demo wiki application: `cargo run -p wiki-demo -- --client-secret …`.
//! Unlike mail and ARP it does not require strong passwords, so an account
//! blocked there for a weak password still signs in here.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tongxing_demo_rp::main("知识库 Wiki (demo)", "wiki-demo", 9003).await
}
