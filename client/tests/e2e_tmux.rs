//! End to end: server-mock in this process, real `imchat` processes in tmux, driven with
//! `send-keys` and read with `capture-pane`. alice and bob chat on chat-json, carol (7) and
//! dave (8) on fishchat; then the server stops and comes back on the same ports, and each
//! screen has to show the drop, the reconnect, and what became of the messages typed
//! meanwhile. Needs tmux (`.ci/run` installs it).

mod tmux;

use std::time::Duration;

use imkit_protocols::Dialect;
use imkit_server_mock::{Server, ServerConfig};
use tmux::Tmux;

fn config() -> ServerConfig {
    let mut config = ServerConfig::ephemeral(&[Dialect::ChatJson, Dialect::Fishchat]);
    config.limits.shutdown_grace = Duration::from_secs(1);
    config
}

/// The same server again: every endpoint on the port it has now (fishchat's msg_server
/// too, which the gateway names to clients), so the clients can come back to it.
fn same_ports(server: &Server) -> ServerConfig {
    let mut again = ServerConfig {
        listen: Vec::new(),
        ..config()
    };
    for (dialect, role, address) in server.bound() {
        if again.listen.iter().any(|(d, _)| d == dialect) {
            again
                .endpoints
                .push((*dialect, (*role).to_owned(), *address));
        } else {
            again.listen.push((*dialect, *address));
        }
    }
    again
}

async fn all_show(tmux: &Tmux, panes: &[&str], text: &str) {
    for pane in panes {
        tmux.wait_for(pane, text).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the server-mock chat-json and fishchat listeners (run with --ignored)"]
async fn alice_and_bob_chat_and_survive_a_server_restart() {
    let server = Server::start(config()).await.expect("server-mock starts");
    let chat = server.client_address(Dialect::ChatJson).unwrap();
    let fish = server.client_address(Dialect::Fishchat).unwrap();
    let again = same_ports(&server);
    let tmux = Tmux::new("e2e");

    // chat-json: register, match, talk, read receipts.
    tmux.imchat(
        "alice",
        &["--dialect", "chat-json", &chat, "--nick", "alice"],
    );
    tmux.imchat("bob", &["--dialect", "chat-json", &chat, "--nick", "bob"]);
    all_show(&tmux, &["alice", "bob"], "● online").await;
    tmux.type_line("alice", "/match");
    tmux.wait_for("alice", "matched with bob").await;
    tmux.wait_for("bob", "1 unread").await;
    tmux.type_line("alice", "hello bob");
    // bob jumps to the unread conversation (M-a), which also sends the read receipt.
    tmux.wait_for("bob", "2 unread").await;
    tmux.keys("bob", &["M-a"]);
    tmux.wait_for("bob", "alice started a conversation with you")
        .await;
    tmux.wait_for("bob", "alice: hello bob").await;
    tmux.wait_for("alice", "✓✓ read").await;
    tmux.type_line("bob", "hi alice");
    tmux.wait_for("alice", "bob: hi alice").await;

    // fishchat: log in by id, address a user directly, both ways.
    tmux.imchat("carol", &["--dialect", "fishchat", &fish, "--user", "7"]);
    tmux.imchat("dave", &["--dialect", "fishchat", &fish, "--user", "8"]);
    all_show(&tmux, &["carol", "dave"], "● online").await;
    tmux.type_line("carol", "/msg 8 hi from fishchat");
    tmux.wait_for("carol", "hi from fishchat  (sent)").await;
    tmux.wait_for("dave", "1 unread").await;
    tmux.keys("dave", &["M-a"]);
    tmux.wait_for("dave", "7: hi from fishchat").await;
    tmux.type_line("dave", "hello carol");
    tmux.wait_for("carol", "8: hello carol").await;

    // The server goes away: everyone sees it and keeps trying.
    server.shutdown().await;
    let everyone = ["alice", "bob", "carol", "dave"];
    all_show(&tmux, &everyone, "connection lost").await;
    all_show(&tmux, &everyone, "◌ reconnecting in").await;
    tmux.type_line("carol", "sent while the server was down");
    tmux.wait_for("carol", "sent while the server was down  (queued)")
        .await;
    tmux.type_line("alice", "are you still there?");
    tmux.wait_for("alice", "are you still there?  (queued)")
        .await;

    // Back on the same ports: everyone is online again.
    let server = Server::start(again).await.expect("server-mock restarts");
    all_show(&tmux, &everyone, "-- reconnected").await;
    all_show(&tmux, &everyone, "● online").await;
    // fishchat logs in as the same user: the queued message goes out and arrives.
    tmux.wait_for("dave", "7: sent while the server was down")
        .await;
    // chat-json v1 registers a new account on every connect: the old session is gone, and
    // the message typed meanwhile is marked as not sent, with why.
    tmux.wait_for("alice", "this conversation ended").await;
    tmux.wait_for(
        "alice",
        "are you still there?  ✗ not sent: the conversation ended",
    )
    .await;
    tmux.wait_for("bob", "this conversation ended").await;
    // A new match on the new accounts works.
    tmux.type_line("alice", "/match");
    tmux.wait_for("alice", "matched with bob").await;
    tmux.wait_for("bob", "1 unread").await;
    tmux.type_line("alice", "found you again");
    tmux.wait_for("bob", "2 unread").await;
    tmux.keys("bob", &["M-a"]);
    tmux.wait_for("bob", "alice: found you again").await;

    for pane in everyone {
        eprintln!("---- {pane}\n{}", tmux.screen(pane));
    }
    tmux.keys("alice", &["C-c"]);
    server.shutdown().await;
}
