//! Tongxing's entry point: everything happens in [`tongxing::cli`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tongxing::cli::main().await
}
