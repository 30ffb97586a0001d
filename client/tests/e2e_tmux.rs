//! End to end: server-mock in this process, two real `imchat` processes in tmux, driven with
//! `send-keys` and read with `capture-pane`. Needs tmux (`.ci/run` installs it) and the
//! server-mock listeners; ignored until those land (run with `--ignored`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use imkit_protocols::Dialect;
use imkit_server_mock::{Server, ServerConfig};

/// Generous: the machine is shared; a wait ends as soon as the text shows.
const WAIT: Duration = Duration::from_secs(30);

/// A private tmux server (its own socket), killed on drop.
struct Tmux {
    socket: String,
    dir: PathBuf,
}

impl Tmux {
    fn new(name: &str) -> Tmux {
        let socket = format!("imchat-e2e-{}-{name}", std::process::id());
        let dir = std::env::temp_dir().join(&socket);
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::create_dir_all(dir.join("state")).unwrap();
        Tmux { socket, dir }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux must be installed for the end-to-end test");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Start imchat in its own tmux session named `pane`.
    fn imchat(&self, pane: &str, args: &[&str]) {
        let mut command = format!(
            "env XDG_CONFIG_HOME={0}/config XDG_STATE_HOME={0}/state IMCHAT_LOG=debug {1}",
            self.dir.display(),
            env!("CARGO_BIN_EXE_imchat")
        );
        for a in args {
            command.push(' ');
            command.push_str(a);
        }
        command.push_str(" --no-bell --no-desktop --log-file ");
        command.push_str(&format!("{}/{pane}.log", self.dir.display()));
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            pane,
            "-x",
            "100",
            "-y",
            "30",
            &command,
        ]);
    }

    fn screen(&self, pane: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", pane])
    }

    fn keys(&self, pane: &str, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", pane, k]);
            // Separate presses, so Esc is never read as Alt+next key.
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn type_line(&self, pane: &str, line: &str) {
        self.tmux(&["send-keys", "-t", pane, "-l", line]);
        self.keys(pane, &["Enter"]);
    }

    async fn wait_for(&self, pane: &str, text: &str) -> String {
        let start = Instant::now();
        loop {
            let screen = self.screen(pane);
            if screen.contains(text) {
                return screen;
            }
            if start.elapsed() > WAIT {
                panic!("{pane} never showed {text:?}; the screen:\n{screen}");
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
    }
}

/// `ws://127.0.0.1:40123/ws` or `127.0.0.1:40123` → the socket address to listen on again.
fn listen_address(url: &str) -> SocketAddr {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host_port = rest.split('/').next().unwrap();
    host_port.parse().unwrap()
}

async fn start(dialects: &[Dialect]) -> (Server, ServerConfig) {
    let server = Server::start(ServerConfig::ephemeral(dialects))
        .await
        .expect("server-mock starts");
    // The same ports again after a restart, so the clients can come back.
    let again = ServerConfig {
        listen: dialects
            .iter()
            .map(|d| (*d, listen_address(&server.client_address(*d).unwrap())))
            .collect(),
        ..ServerConfig::default()
    };
    (server, again)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the server-mock listeners (e2e round)"]
async fn alice_and_bob_chat_and_survive_a_server_restart() {
    let (server, again) = start(&[Dialect::ChatJson, Dialect::Fishchat]).await;
    let chat = server.client_address(Dialect::ChatJson).unwrap();
    let fish = server.client_address(Dialect::Fishchat).unwrap();
    let tmux = Tmux::new("chat");

    // chat-json: register, match, talk, read receipts.
    tmux.imchat(
        "alice",
        &["--dialect", "chat-json", &chat, "--nick", "alice"],
    );
    tmux.imchat("bob", &["--dialect", "chat-json", &chat, "--nick", "bob"]);
    tmux.wait_for("alice", "● online").await;
    tmux.wait_for("bob", "● online").await;
    tmux.type_line("alice", "/match");
    tmux.wait_for("alice", "matched with bob").await;
    tmux.wait_for("bob", "new conversation with alice").await;
    tmux.type_line("alice", "hello bob");
    // bob jumps to the unread conversation (M-a), which also sends the read receipt.
    tmux.wait_for("bob", " unread").await;
    tmux.keys("bob", &["M-a"]);
    tmux.wait_for("bob", "alice: hello bob").await;
    tmux.wait_for("alice", "✓✓ read").await;
    tmux.type_line("bob", "hi alice");
    tmux.wait_for("alice", "bob: hi alice").await;

    // fishchat: log in by id, address a user directly.
    tmux.imchat("carol", &["--dialect", "fishchat", &fish, "--user", "7"]);
    tmux.imchat("dave", &["--dialect", "fishchat", &fish, "--user", "8"]);
    tmux.wait_for("carol", "● online").await;
    tmux.wait_for("dave", "● online").await;
    tmux.type_line("carol", "/msg 8 hi from fishchat");
    tmux.wait_for("dave", " unread").await;
    tmux.keys("dave", &["M-a"]);
    tmux.wait_for("dave", "7: hi from fishchat").await;

    // Kill the server: everyone sees it and reconnects when it is back.
    server.shutdown().await;
    for pane in ["alice", "bob", "carol", "dave"] {
        tmux.wait_for(pane, "connection lost").await;
        tmux.wait_for(pane, "reconnecting in").await;
    }
    tmux.type_line("carol", "sent while the server was down");
    tmux.wait_for("carol", "(queued)").await;
    let server = Server::start(again).await.expect("server-mock restarts");
    for pane in ["alice", "bob", "carol", "dave"] {
        tmux.wait_for(pane, "-- reconnected").await;
        tmux.wait_for(pane, "● online").await;
    }
    // The queued message went out once the connection was back.
    tmux.wait_for("dave", "7: sent while the server was down")
        .await;

    tmux.keys("alice", &["C-c"]);
    server.shutdown().await;
}
