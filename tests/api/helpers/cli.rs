//! The `tongxing` binary run against a test deployment's database.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::TestApp;

impl TestApp {
    /// Runs the `tongxing` binary against this deployment's database.
    pub async fn cli(&self, args: &[&str], stdin: Option<&str>) -> CliOutput {
        self.cli_env(args, stdin, &[]).await
    }

    pub async fn cli_env(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> CliOutput {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tongxing"));
        cmd.args(args)
            .env("TONGXING_DATA_DIR", &self.config.data_dir)
            .env("TONGXING_DATABASE_URL", self.database_url())
            .env(
                "TONGXING_PASSWORD_HASH__MEMORY_KIB",
                self.config.password_hash.memory_kib.to_string(),
            )
            .env(
                "TONGXING_PASSWORD_HASH__ITERATIONS",
                self.config.password_hash.iterations.to_string(),
            )
            .env(
                "TONGXING_STEP_UP__ENABLED",
                self.config.step_up.enabled.to_string(),
            )
            .env("USER", "tester")
            .env_remove("TONGXING_REDIS_URL")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).await.unwrap();
        }
        drop(input);
        let out = child.wait_with_output().await.unwrap();
        CliOutput {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[derive(Debug)]
pub struct CliOutput {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}
