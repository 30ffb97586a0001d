//! chat-json: arbitrary bytes as a frame payload, read by both decoders with v1's 512-byte
//! limit: a message, an "ignored" outcome, or FrameTooLarge, never a panic. Whatever decodes
//! prints, and printing is a fixed point (print → decode → print gives the same bytes).
#![no_main]

use imkit_protocols::Error;
use imkit_protocols::chat_json::{
    Inbound, V1_MAX_FRAME, decode_client_payload, decode_client_text, decode_server_payload,
    decode_server_text,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode_client_payload(data, V1_MAX_FRAME) {
        Ok(Inbound::Message { message, version }) => {
            let json = message.to_json(version).expect("a decoded message prints");
            let Ok(Inbound::Message { message: again, version: v }) =
                decode_client_text(&json, usize::MAX)
            else {
                panic!("{json} does not decode");
            };
            assert_eq!(v, version);
            assert_eq!(again.to_json(v).expect("prints"), json);
        }
        Ok(Inbound::Ignored(_)) => {}
        Err(Error::FrameTooLarge { .. }) => assert!(data.len() > V1_MAX_FRAME),
        Err(e) => panic!("unexpected error {e}"),
    }
    match decode_server_payload(data, V1_MAX_FRAME) {
        Ok(Inbound::Message { message, version }) => {
            let json = message.to_json(version).expect("a decoded message prints");
            let Ok(Inbound::Message { message: again, version: v }) =
                decode_server_text(&json, usize::MAX)
            else {
                panic!("{json} does not decode");
            };
            assert_eq!(v, version);
            assert_eq!(again.to_json(v).expect("prints"), json);
        }
        Ok(Inbound::Ignored(_)) => {}
        Err(Error::FrameTooLarge { .. }) => assert!(data.len() > V1_MAX_FRAME),
        Err(e) => panic!("unexpected error {e}"),
    }
});
