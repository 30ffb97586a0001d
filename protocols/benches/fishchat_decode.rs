//! Decoding a fishchat body into a typed command, the two frames every forwarded message
//! costs a server (`SEND_MESSAGE_P2P` in, `P2P_ACK` back): typed in place from the borrowed
//! body (what the codec and server-mock do) beside the general route through an owned
//! `CmdSimple`. Compare the two within one run:
//!
//!   cargo bench -p imkit-protocols --bench fishchat_decode

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use imkit_protocols::fishchat::go_json::{body, parse_body, parse_cmd};
use imkit_protocols::fishchat::message::{Cmd, CmdSimple};

fn frames() -> [(&'static str, Vec<u8>); 2] {
    let send = CmdSimple::new(
        "SEND_MESSAGE_P2P",
        vec!["u4821".into(), "m".repeat(64), "u4820".into()],
    );
    let ack = CmdSimple::new(
        "P2P_ACK",
        vec![
            "u4821".into(),
            "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        ],
    );
    [("send", body(&send)), ("ack", body(&ack))]
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("fishchat_decode");
    for (name, bytes) in frames() {
        group.bench_function(format!("{name}/typed_in_place"), |b| {
            b.iter(|| parse_cmd(black_box(&bytes)))
        });
        group.bench_function(format!("{name}/through_simple"), |b| {
            b.iter(|| parse_body(black_box(&bytes)).and_then(Cmd::from_simple))
        });
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
