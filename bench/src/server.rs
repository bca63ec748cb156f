//! The processes the bench measures: the real `tongxing` server (or the
//! trivial handler), started pinned to one core, and what the kernel says
//! about them (CPU time, resident memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A free port on loopback (bound, then released for the child to take).
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A scratch directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "tongxing-bench-{tag}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A measured child process serving HTTP on `base`.
pub struct Served {
    child: Child,
    pub base: String,
    pub pid: u32,
}

impl Served {
    /// Starts `program args` with `env`, pinned to `core` when given, and
    /// waits until `probe` answers 200.
    pub async fn start(
        program: &Path,
        args: &[&str],
        env: &[(String, String)],
        core: Option<usize>,
        port: u16,
        probe: &str,
        log: &Path,
    ) -> Result<Self> {
        let log_file = std::fs::File::create(log)?;
        let mut cmd = match core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", program.display()))?;
        // taskset execs the program: the pid is the server's own.
        let pid = child.id();
        let base = format!("http://127.0.0.1:{port}");
        let served = Self { child, base, pid };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(answer) = client.get(format!("{}{probe}", served.base)).send().await
                && answer.status().is_success()
            {
                return Ok(served);
            }
            if Instant::now() > deadline {
                bail!(
                    "{} did not answer {probe} within 60 s (log: {})",
                    program.display(),
                    log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// CPU time (user + system, all threads) the process used so far.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        // Fields after "pid (comm)": state is the first; utime and stime
        // are the 14th and 15th of the whole line.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, r)| r)
            .context("unreadable /proc stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| -> Result<f64> {
            Ok(fields.get(i).context("short /proc stat")?.parse::<f64>()?)
        };
        Ok((ticks(11)? + ticks(12)?) / clock_ticks())
    }

    /// (VmRSS, VmHWM) in KiB: resident memory now, and its peak.
    pub fn memory_kib(&self) -> Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let field = |name: &str| -> Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .with_context(|| format!("no {name} in /proc status"))?;
            Ok(line
                .split_whitespace()
                .nth(1)
                .context("empty field")?
                .parse()?)
        };
        Ok((field("VmRSS:")?, field("VmHWM:")?))
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`; 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// Pins this process's threads made from now on to `core`.
pub fn pin_self(core: usize) -> Result<()> {
    let status = Command::new("taskset")
        .arg("-pc")
        .arg(core.to_string())
        .arg(std::process::id().to_string())
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        bail!("taskset -pc {core} failed");
    }
    Ok(())
}
