//! A private tmux server for driving real `imchat` processes: its own socket, its own
//! config and state directories, killed on drop (also when a test fails).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Generous: the machine is shared; a wait ends as soon as the text shows.
pub const WAIT: Duration = Duration::from_secs(40);

pub struct Tmux {
    socket: String,
    pub dir: PathBuf,
}

impl Tmux {
    pub fn new(name: &str) -> Tmux {
        let socket = format!("imchat-{name}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        Tmux { socket, dir }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux must be installed for this test (.ci/run installs it)");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run a shell command line in a new 100x30 session named `pane`, with imchat's config
    /// and state kept in this test's directory.
    pub fn run(&self, pane: &str, command: &str) {
        let line = format!(
            "env XDG_CONFIG_HOME={0}/config XDG_STATE_HOME={0}/state IMCHAT_LOG=debug {command}",
            self.dir.display(),
        );
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            pane,
            "-x",
            "100",
            "-y",
            "30",
            &line,
        ]);
    }

    /// Start imchat in its own session named `pane`; it logs to `<dir>/<pane>.log`.
    pub fn imchat(&self, pane: &str, args: &[&str]) {
        let mut command = imchat_binary().to_owned();
        for a in args {
            command.push(' ');
            command.push_str(a);
        }
        command.push_str(&format!(
            " --no-bell --no-desktop --log-file {}/{pane}.log",
            self.dir.display()
        ));
        self.run(pane, &command);
    }

    pub fn screen(&self, pane: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", pane])
    }

    /// A tmux format value of the pane, e.g. `#{alternate_on}`.
    pub fn format(&self, pane: &str, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", pane, format])
            .trim()
            .to_owned()
    }

    pub fn keys(&self, pane: &str, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", pane, k]);
            // Separate presses, so Esc is never read as Alt+next key.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn type_line(&self, pane: &str, line: &str) {
        self.tmux(&["send-keys", "-t", pane, "-l", line]);
        self.keys(pane, &["Enter"]);
    }

    /// Poll the screen until it shows `text`, up to [`WAIT`]; panics with the screen if not.
    pub async fn wait_for(&self, pane: &str, text: &str) -> String {
        self.wait_until(pane, &format!("{text:?}"), |s| s.contains(text))
            .await
    }

    pub async fn wait_until(&self, pane: &str, what: &str, done: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(pane);
            if done(&screen) {
                return screen;
            }
            if start.elapsed() > WAIT {
                let log = std::fs::read_to_string(self.dir.join(format!("{pane}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!(
                    "{pane} never showed {what}; the screen:\n{screen}\nlast log lines:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn imchat_binary() -> &'static str {
    env!("CARGO_BIN_EXE_imchat")
}
