//! The demo mail application: `cargo run -p mail-demo -- --client-secret …`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tongxing_demo_rp::main("邮件系统 Mail (demo)", "mail-demo", 9001).await
}
