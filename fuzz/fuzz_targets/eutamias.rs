//! Fuzz the eutamias gob decoders (both directions): any bytes give frames or an error,
//! never a panic, and the buffer never grows past the frame limit.
#![no_main]

use bytes::BytesMut;
use imkit_protocols::eutamias::{ClientCodec, ServerCodec};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const LIMIT: usize = 4096;

fn drain<D: Decoder>(mut codec: D, data: &[u8]) {
    let mut buf = BytesMut::from(data);
    // Every Ok(Some) consumes at least one byte, so this is bounded by the input length.
    for _ in 0..=data.len() {
        match codec.decode(&mut buf) {
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    assert!(buf.capacity() <= data.len() + 2 * (LIMIT + 9));
}

fuzz_target!(|data: &[u8]| {
    drain(ServerCodec::new(LIMIT), data);
    drain(ClientCodec::new(LIMIT), data);
});
