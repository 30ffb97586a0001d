//! End to end: server-mock in this process, real `imchat` processes in tmux, driven with
//! `send-keys` and read with `capture-pane`. alice and bob chat on chat-json, carol (7) and
//! dave (8) on fishchat; then the server stops and comes back on the same ports, and each
//! screen has to show the drop, the reconnect, and what became of the messages typed
//! meanwhile. Needs tmux (`.ci/run` installs it). Each dialect has its own server and tmux.

mod tmux;

use std::time::Duration;

use imkit_protocols::Dialect;
use imkit_server_mock::{Server, ServerConfig};
use tmux::Tmux;

fn config(dialect: Dialect) -> ServerConfig {
    let mut config = ServerConfig::ephemeral(&[dialect]);
    config.limits.shutdown_grace = Duration::from_secs(1);
    config
}

/// The same server again: every endpoint on the port it has now (fishchat's msg_server
/// too, which the gateway names to clients), so the clients can come back to it.
fn same_ports(server: &Server, dialect: Dialect) -> ServerConfig {
    let mut again = ServerConfig {
        listen: Vec::new(),
        ..config(dialect)
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

fn print_screens(tmux: &Tmux, panes: &[&str]) {
    for pane in panes {
        eprintln!("---- {pane}\n{}", tmux.screen(pane));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_and_bob_chat_on_chat_json_and_survive_a_server_restart() {
    let server = Server::start(config(Dialect::ChatJson))
        .await
        .expect("server-mock starts");
    let chat = server.client_address(Dialect::ChatJson).unwrap();
    let again = same_ports(&server, Dialect::ChatJson);
    let tmux = Tmux::new("e2e-chat");
    let both = ["alice", "bob"];

    // Register, match, talk, read receipts.
    tmux.imchat(
        "alice",
        &["--dialect", "chat-json", &chat, "--nick", "alice"],
    );
    tmux.imchat("bob", &["--dialect", "chat-json", &chat, "--nick", "bob"]);
    all_show(&tmux, &both, "● online").await;
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

    // The server goes away: both see it and keep trying.
    server.shutdown().await;
    all_show(&tmux, &both, "connection lost").await;
    all_show(&tmux, &both, "◌ reconnecting in").await;
    tmux.type_line("alice", "are you still there?");
    tmux.wait_for("alice", "are you still there?  (queued)")
        .await;

    // Back on the same port: both are online again.
    let server = Server::start(again).await.expect("server-mock restarts");
    all_show(&tmux, &both, "-- reconnected").await;
    all_show(&tmux, &both, "● online").await;
    // chat-json v1 registers a new account on every connect: the old session is gone, and
    // the message typed meanwhile is marked as not sent, with why.
    tmux.wait_for("alice", "this conversation ended").await;
    tmux.wait_for(
        "alice",
        "are you still there?  ✗ not sent: the conversation ended",
    )
    .await;
    tmux.wait_for("bob", "this conversation ended").await;
    // A new match on the new accounts works, in a room of its own.
    tmux.type_line("alice", "/match");
    tmux.wait_for("alice", "matched with bob").await;
    tmux.wait_for("bob", "1 unread").await;
    tmux.type_line("alice", "found you again");
    tmux.wait_for("bob", "2 unread").await;
    tmux.keys("bob", &["M-a"]);
    tmux.wait_for("bob", "alice: found you again").await;
    tmux.wait_for("alice", "found you again  ✓✓ read").await;

    print_screens(&tmux, &both);
    tmux.keys("alice", &["C-c"]);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn carol_and_dave_message_by_id_on_fishchat_and_survive_a_server_restart() {
    let server = Server::start(config(Dialect::Fishchat))
        .await
        .expect("server-mock starts");
    let fish = server.client_address(Dialect::Fishchat).unwrap();
    let again = same_ports(&server, Dialect::Fishchat);
    let tmux = Tmux::new("e2e-fish");
    let both = ["carol", "dave"];

    // Log in by id (through the gateway), address a user directly, both ways.
    tmux.imchat("carol", &["--dialect", "fishchat", &fish, "--user", "7"]);
    tmux.imchat("dave", &["--dialect", "fishchat", &fish, "--user", "8"]);
    all_show(&tmux, &both, "● online").await;
    tmux.type_line("carol", "/msg 8 hi from fishchat");
    tmux.wait_for("carol", "hi from fishchat  (sent)").await;
    tmux.wait_for("dave", "1 unread").await;
    tmux.keys("dave", &["M-a"]);
    tmux.wait_for("dave", "7: hi from fishchat").await;
    tmux.type_line("dave", "hello carol");
    tmux.wait_for("carol", "8: hello carol").await;

    // The server goes away; a message typed meanwhile waits in carol's queue.
    server.shutdown().await;
    all_show(&tmux, &both, "connection lost").await;
    all_show(&tmux, &both, "◌ reconnecting in").await;
    tmux.type_line("carol", "sent while the server was down");
    tmux.wait_for("carol", "sent while the server was down  (queued)")
        .await;

    // Back on the same ports (gateway and msg_server): both log in as the same users again,
    // and the queued message goes out and arrives.
    let server = Server::start(again).await.expect("server-mock restarts");
    all_show(&tmux, &both, "-- reconnected").await;
    all_show(&tmux, &both, "● online").await;
    tmux.wait_for("carol", "sent while the server was down  (sent)")
        .await;
    tmux.wait_for("dave", "7: sent while the server was down")
        .await;

    print_screens(&tmux, &both);
    tmux.keys("carol", &["C-c"]);
    server.shutdown().await;
}
