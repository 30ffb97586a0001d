//! Notifications for messages in other conversations: the terminal bell and, where a notifier
//! is on PATH, a desktop notification. Both can be turned off (`[notifications]`, flags).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How the desktop notification is shown.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// `notify-send`, when found on PATH at start.
    desktop: Option<PathBuf>,
}

impl Notifier {
    pub fn detect() -> Notifier {
        Notifier {
            desktop: find_on_path("notify-send"),
        }
    }

    pub fn has_desktop(&self) -> bool {
        self.desktop.is_some()
    }

    /// BEL to the terminal (the emulator decides: sound, flash, urgency hint).
    pub fn bell(&self) {
        let mut out = std::io::stdout();
        let _ = out.write_all(b"\x07");
        let _ = out.flush();
    }

    /// Fire and forget; the child is reaped in the background and killed if it hangs.
    pub fn desktop(&self, title: &str, body: &str) {
        let Some(program) = &self.desktop else {
            return;
        };
        let mut command = tokio::process::Command::new(program);
        command
            .args(["--app-name=imchat", "--", title, body])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true);
        match command.spawn() {
            Ok(mut child) => {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                });
            }
            Err(e) => tracing::debug!("notify-send failed: {e}"),
        }
    }
}

pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
