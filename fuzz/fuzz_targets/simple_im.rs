//! simple-im: the stream splitter and parsers on arbitrary bytes, cut into arbitrary reads.
//! Both sides' codecs, the HTTP body parsers; no panic, nothing buffered past the limit.
#![no_main]

use bytes::BytesMut;
use imkit_protocols::simple_im::{
    ClientCodec, LoginForm, ReconnectForm, Response, ServerCodec,
};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const LIMIT: usize = 4096;

fn drive<D: Decoder>(mut codec: D, data: &[u8], cut: usize) {
    let mut buf = BytesMut::new();
    for piece in data.chunks(cut.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
        assert!(buf.len() <= LIMIT + cut.max(1), "buffered past the limit");
    }
    while let Ok(Some(_)) = codec.decode_eof(&mut buf) {}
}

fuzz_target!(|data: &[u8]| {
    let cut = data.first().copied().unwrap_or(1) as usize;
    drive(ServerCodec::new(LIMIT), data, cut);
    drive(ClientCodec::new(LIMIT), data, cut);
    let _ = Response::parse(data);
    let _ = LoginForm::parse(data);
    let _ = ReconnectForm::parse(data);
});
