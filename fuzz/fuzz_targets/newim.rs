//! newim decoders on arbitrary bytes: the ChatMessage frame decoder (both directions), the
//! mapping on whatever it accepts, and the exchange-hop codecs fed in two pieces.
#![no_main]

use bytes::BytesMut;
use imkit_protocols::newim::{
    Context, ExchangeCodec, Frame, PushCountCodec, decode_chat_message, decode_chat_status,
    decode_exchange_message, frame_to_command,
};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

const LIMIT: usize = 1024;

fuzz_target!(|data: &[u8]| {
    // One WebSocket message, binary and (where UTF-8) text.
    if let Ok(message) = decode_chat_message(data, LIMIT) {
        assert!(data.len() <= LIMIT);
        let frame = Frame::Chat(message);
        let _ = frame_to_command(&frame);
        let _ = Context::new("me").frame_to_event(frame.clone());
        let _ = Context::new("me").frame_to_event(Frame::Text(String::new()));
    }
    let _ = decode_chat_status(data, LIMIT);
    let _ = decode_exchange_message(data, LIMIT);

    // The length-prefixed hop, split where the first byte says.
    let cut = data.first().map_or(0, |b| *b as usize % (data.len() + 1));
    let mut exchange = ExchangeCodec::new(LIMIT);
    let mut counts = PushCountCodec::new(LIMIT);
    let mut a = BytesMut::new();
    let mut b = BytesMut::new();
    for piece in [&data[..cut], &data[cut..]] {
        a.extend_from_slice(piece);
        b.extend_from_slice(piece);
        while let Ok(Some(_)) = exchange.decode(&mut a) {}
        while let Ok(Some(_)) = counts.decode(&mut b) {}
        assert!(a.capacity() <= 2 * (LIMIT + 4) + data.len());
        assert!(b.capacity() <= 2 * (LIMIT + 4) + data.len());
    }
});
