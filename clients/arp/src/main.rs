//! The demo ARP application: `cargo run -p arp-demo -- --client-secret …`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tongxing_demo_rp::main("科研管理 ARP (demo)", "arp-demo", 9002).await
}
