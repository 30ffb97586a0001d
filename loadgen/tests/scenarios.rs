//! Every shipped scenario parses (for its dialect), and mistakes name file, line, key and
//! what is allowed.

use std::path::Path;

use imkit_loadgen::scenario::{LoadModel, Talk};
use imkit_loadgen::{Overrides, Scenario};
use imkit_protocols::Dialect;

fn parse(text: &str) -> Result<Scenario, imkit_loadgen::ScenarioError> {
    Scenario::parse("test.toml", text, &Overrides::default())
}

#[test]
fn every_shipped_scenario_parses() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path, &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
            assert!(!s.behaviours.is_empty());
            names.push(path.file_stem().unwrap().to_string_lossy().into_owned());
        }
    }
    names.sort();
    for wanted in [
        "10k",
        "chat-json",
        "eutamias",
        "fishchat",
        "fishchat-text",
        "groups",
        "newim",
        "open-model",
        "reconnect-storm",
        "simple-im",
        "smoke",
    ] {
        assert!(
            names.iter().any(|n| n == wanted),
            "scenarios/{wanted}.toml is missing"
        );
    }
    // One per dialect, speaking it.
    for d in Dialect::ALL {
        let s = Scenario::load(
            &dir.join(format!("{}.toml", d.name())),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(s.target.dialect, d);
    }
    let big = Scenario::load(&dir.join("10k.toml"), &Overrides::default()).unwrap();
    assert_eq!(big.peak_users(), 10_000);
    assert!(big.load_duration().unwrap().as_secs() >= 80);
    assert!(!big.thresholds.is_empty());
}

const GOOD: &str = r#"
name = "t"
[target]
dialect = "fishchat"
[load]
model = "closed"
users = 10
ramp_up = "2s"
hold = "10s"
[[behaviour]]
name = "b"
steps = ["login", "pair", { send = { count = 3, size = 40 } }, "logout"]
[thresholds]
"deliver.p99" = "< 50ms"
"lost" = "== 0"
"#;

#[test]
fn a_good_scenario_resolves_fully() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.target.dialect, Dialect::Fishchat);
    assert!(s.target.address.is_none(), "no address: embedded server");
    assert_eq!(s.behaviours[0].talk, Talk::Pair);
    assert_eq!(s.thresholds.len(), 2);
    match &s.load.model {
        LoadModel::Closed { stages, timed } => {
            assert!(*timed);
            assert_eq!(
                stages.iter().map(|s| s.to).collect::<Vec<_>>(),
                vec![10, 10]
            );
        }
        other => panic!("{other:?}"),
    }
    // Overrides: users scale the stages, duration replaces the hold, dialect and target win.
    let o = Overrides {
        users: Some(100),
        duration: Some(std::time::Duration::from_secs(3)),
        target: Some("127.0.0.1:9".into()),
        dialect: Some(Dialect::SimpleIm),
        rate: Some("total:50/s".into()),
        chaos: None,
    };
    let s = Scenario::parse("t.toml", GOOD, &o).unwrap();
    assert_eq!(s.peak_users(), 100);
    assert_eq!(s.load_duration(), Some(std::time::Duration::from_secs(5)));
    assert_eq!(s.target.dialect, Dialect::SimpleIm);
    assert_eq!(s.target.address.as_deref(), Some("127.0.0.1:9"));
    assert_eq!(s.load.forced_rate.unwrap().0, 0.5);
}

#[test]
fn an_unknown_key_names_file_line_key_and_the_allowed_keys() {
    let text = GOOD.replace("users = 10", "userz = 10");
    let e = parse(&text).unwrap_err();
    assert_eq!((e.file.as_str(), e.line), ("test.toml", 7));
    assert_eq!(e.key.as_deref(), Some("load.userz"));
    assert!(
        e.message.contains("unknown field `userz`") && e.message.contains("`users`"),
        "{e}"
    );
    assert!(
        e.to_string().starts_with("test.toml:7:1: `load.userz`: "),
        "{e}"
    );
}

#[test]
fn a_bad_value_names_its_key() {
    let e = parse(&GOOD.replace("hold = \"10s\"", "hold = \"10\"")).unwrap_err();
    assert_eq!((e.line, e.key.as_deref()), (9, Some("load.hold")));
    assert!(e.message.contains("unit"), "{e}");
    let e = parse(&GOOD.replace("size = 40", "size = \"big\"")).unwrap_err();
    assert_eq!(e.line, 12);
    assert!(e.key.as_deref().unwrap().ends_with("size"), "{e}");
}

#[test]
fn a_step_the_dialect_cannot_do_names_the_dialect() {
    let e = parse(&GOOD.replace("\"pair\"", "\"match\"")).unwrap_err();
    assert_eq!(e.line, 12);
    assert_eq!(e.key.as_deref(), Some("behaviour[0].steps[1]"));
    assert!(
        e.message
            .contains("the fishchat dialect cannot match a partner"),
        "{e}"
    );
    assert!(
        e.message.contains("pair") && e.message.contains("join"),
        "lists what it can do: {e}"
    );
    // The same scenario with --dialect newim: pair is impossible there.
    let o = Overrides {
        dialect: Some(Dialect::Newim),
        ..Default::default()
    };
    let e = Scenario::parse("t.toml", GOOD, &o).unwrap_err();
    assert!(e.message.contains("newim"), "{e}");
    let e = parse(&GOOD.replace("\"logout\"", "\"read\"")).unwrap_err();
    assert!(
        e.message
            .contains("the fishchat dialect cannot send a read receipt"),
        "{e}"
    );
}

#[test]
fn semantic_mistakes_are_explained() {
    let cases = [
        (GOOD.replace("\"pair\", ", ""), "needs a conversation first"),
        (GOOD.replace("\"login\", ", ""), "comes before any connect"),
        (
            GOOD.replace("dialect = \"fishchat\"", "dialect = \"irc\""),
            "expected one of: chat-json",
        ),
        (GOOD.replace("\"< 50ms\"", "\"< 50\""), "latency"),
        (
            GOOD.replace("\"deliver.p99\"", "\"delivery.p99\""),
            "unknown metric",
        ),
        (
            GOOD.replace("model = \"closed\"", "model = \"open\""),
            "not for the open model",
        ),
        (
            GOOD.replace("\"pair\"", "{ repeat = { steps = [\"pair\"] } }"),
            "needs a bound",
        ),
        (
            GOOD.replace("\"pair\"", "\"pair\", { join = { size = 3 } }"),
            "one kind of conversation",
        ),
        (
            GOOD.replace(
                "[target]\ndialect = \"fishchat\"",
                "[target]\ndialect = \"fishchat\"\ncredentials = \"register\"",
            ),
            "cannot register",
        ),
    ];
    for (text, wanted) in cases {
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains(wanted), "wanted {wanted:?} in: {e}");
        assert!(e.line > 0, "has a line: {e}");
    }
    // An unbounded send in an untimed run.
    let text = GOOD
        .replace("hold = \"10s\"\n", "")
        .replace("{ count = 3, size = 40 }", "{ size = 40 }");
    assert!(parse(&text).unwrap_err().to_string().contains("no bound"));
}
