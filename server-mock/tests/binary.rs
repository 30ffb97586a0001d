//! The binary's plain-words errors (the listeners themselves are tested in the library).

use std::process::{Command, Output};
use std::time::Duration;

fn server_mock(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run server-mock");
    // Every case below ends on its own; never wait forever.
    for _ in 0..300 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("server-mock {args:?} did not exit");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_unknown_dialect_is_named_with_the_choices() {
    let out = server_mock(&["--dialect", "irc"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("unknown dialect \"irc\""), "{err}");
    assert!(err.contains("chat-json, simple-im"), "{err}");
}

#[test]
fn a_bad_listen_address_says_how_to_write_one() {
    let out = server_mock(&["--listen", "newim=here"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("write IP:PORT"), "{}", stderr(&out));
}

#[test]
fn a_broken_accounts_file_names_file_line_and_key() {
    let dir = std::env::temp_dir().join(format!("imkit-accounts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("users.toml");
    std::fs::write(&file, "[[user]]\nid = 1\npasword = \"x\"\n").unwrap();
    let out = server_mock(&[
        "--accounts",
        file.to_str().unwrap(),
        "--listen",
        "newim=127.0.0.1:0",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("server-mock: {}:3: ", file.display())),
        "{err}"
    );
    assert!(err.contains("pasword"), "{err}");
    assert!(out.stdout.is_empty(), "nothing announced");
}

#[test]
fn a_bad_chaos_spec_is_explained() {
    let out = server_mock(&["--chaos", "drop-delivery=7"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("between 0 and 1"), "{}", stderr(&out));
}
