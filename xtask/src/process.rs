//! Running external commands with their output passed through and a clear error on failure.

use anyhow::{bail, Context, Result};
use std::process::Command;

/// Runs `cmd`, inheriting stdio; fails with the command line when it exits non-zero.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = format!("{cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("could not start {line}"))?;
    if !status.success() {
        bail!("{line} failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout; stderr passes through.
pub fn output(cmd: &mut Command) -> Result<String> {
    let line = format!("{cmd:?}");
    let out = cmd
        .stderr(std::process::Stdio::inherit())
        .output()
        .with_context(|| format!("could not start {line}"))?;
    if !out.status.success() {
        bail!("{line} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program` can be started at all.
pub fn exists(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// Mesa wants a private runtime dir; without one lavapipe prints warnings on every start.
pub fn gpu_env(cmd: &mut Command) -> Result<&mut Command> {
    let dir = std::env::temp_dir().join(format!("hearth-xdg-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(cmd.env("XDG_RUNTIME_DIR", dir))
}

/// Runs `cmd` like [`run`], but stops it once it has run for `limit`: resolves with `false`
/// when it had to be stopped.
pub fn run_within(cmd: &mut Command, limit: std::time::Duration) -> Result<bool> {
    let line = format!("{cmd:?}");
    let mut child = cmd
        .spawn()
        .with_context(|| format!("could not start {line}"))?;
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("{line} failed ({status})");
            }
            return Ok(true);
        }
        if started.elapsed() >= limit {
            child.kill()?;
            child.wait()?;
            return Ok(false);
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
