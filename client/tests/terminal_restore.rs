//! The terminal is given back when imchat panics: raw mode off, the alternate screen left,
//! and the panic message printed on the normal screen where the user can read it. A real
//! imchat runs in tmux with `IMCHAT_TEST_PANIC` set, which makes the UI thread panic right
//! after the first frame is drawn.

mod tmux;

use tmux::{Tmux, imchat_binary};

#[tokio::test]
async fn a_panic_in_the_ui_gives_the_terminal_back() {
    let tmux = Tmux::new("panic");
    // After imchat ends, the shell prints its exit code and the terminal modes, then waits.
    let log = tmux.dir.join("panic.log");
    tmux.run(
        "ui",
        &format!(
            "sh -c 'IMCHAT_TEST_PANIC=1 RUST_BACKTRACE=0 {} --dialect chat-json ws://127.0.0.1:9/ws --nick x \
             --no-bell --no-desktop --log-file {}; echo exit=$?; stty -a; sleep 60'",
            imchat_binary(),
            log.display()
        ),
    );
    let screen = tmux.wait_for("ui", "exit=").await;
    assert!(
        screen.contains("exit=101"),
        "a panic exits with 101:\n{screen}"
    );
    assert!(
        screen.contains("IMCHAT_TEST_PANIC"),
        "the panic message is on the normal screen:\n{screen}"
    );
    // Raw mode is off again: the line discipline echoes and edits lines.
    let modes: Vec<&str> = screen.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(modes.contains(&mode), "{mode} is not back on:\n{screen}");
    }
    assert_eq!(
        tmux.format("ui", "#{alternate_on}"),
        "0",
        "the alternate screen was left"
    );
    // The panic is in the log too.
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("panic"), "{logged}");
}
