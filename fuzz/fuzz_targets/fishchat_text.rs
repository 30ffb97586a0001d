//! fishchat-text: arbitrary bytes into the line codec (both directions share it), fed in
//! chunks; nothing beyond the line limit is buffered, and every typed command re-prints and
//! re-parses to itself.
#![no_main]

use bytes::BytesMut;
use imkit_protocols::fishchat::{Inbound, TextCodec, cmd_to_command, cmd_to_event};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};

const LIMIT: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let chunk = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut codec = TextCodec::new(LIMIT);
    let mut buf = BytesMut::new();
    for piece in data.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(Inbound::Cmd(cmd))) => {
                    let mut out = BytesMut::new();
                    if TextCodec::new(LIMIT).encode(&cmd, &mut out).is_ok() {
                        match TextCodec::new(LIMIT).decode(&mut out) {
                            Ok(Some(Inbound::Cmd(back))) => assert_eq!(back, cmd),
                            other => panic!("re-parsing {cmd:?} gave {other:?}"),
                        }
                    }
                    let _ = cmd_to_command(cmd.clone());
                    let _ = cmd_to_event(cmd);
                }
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() <= LIMIT);
    }
    let _ = codec.decode_eof(&mut buf);
});
