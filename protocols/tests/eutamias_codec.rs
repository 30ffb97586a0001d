//! eutamias: golden bytes from the protocol note, round trips, and a total decoder.

use bytes::{Bytes, BytesMut};
use imkit_protocols::eutamias::gob::PREAMBLE;
use imkit_protocols::eutamias::proto::*;
use imkit_protocols::eutamias::{
    ClientCodec, ClientMessage, Envelope, EnvelopeCodec, Frame, ServerCodec, ServerMessage,
};
use imkit_protocols::{Dialect, Error};
use proptest::prelude::*;
use tokio_util::codec::{Decoder, Encoder};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const LOGIN_FRAME: &str = "2dff81030101074d65737361676501ff820001030103436d64010400010353657101060001034d7367010a00000010ff8201080107010708ea011202707700";

fn encode_client(frame: Frame<ClientMessage>) -> Vec<u8> {
    let mut out = BytesMut::new();
    ClientCodec::default().encode(frame, &mut out).unwrap();
    out.to_vec()
}

fn encode_server(frame: Frame<ServerMessage>) -> Vec<u8> {
    let mut out = BytesMut::new();
    ServerCodec::default().encode(frame, &mut out).unwrap();
    out.to_vec()
}

/// Decode everything in `bytes` with `codec`, then expect the buffer to be empty.
fn decode_all<D: Decoder<Error = Error>>(codec: &mut D, bytes: &[u8]) -> Vec<D::Item> {
    let mut buf = BytesMut::from(bytes);
    let mut items = Vec::new();
    while let Some(item) = codec.decode(&mut buf).unwrap() {
        items.push(item);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    items
}

fn login_req() -> Frame<ClientMessage> {
    Frame::new(
        7,
        ClientMessage::Login(LoginReq {
            id: 234,
            passwd: "pw".into(),
            online_statue: OnlineStatus::OsOnline as i32,
        }),
    )
}

#[test]
fn golden_login_frame_both_directions() {
    let bytes = hex(LOGIN_FRAME);
    assert_eq!(bytes.len(), 63);
    assert_eq!(&bytes[..46], &PREAMBLE);
    assert_eq!(encode_client(login_req()), bytes);
    assert_eq!(
        decode_all(&mut ServerCodec::default(), &bytes),
        [login_req()]
    );
}

#[test]
fn golden_heartbeat() {
    let mut expected = PREAMBLE.to_vec();
    expected.extend(hex("05 ff82 01 02 00"));
    assert_eq!(
        encode_client(Frame::new(0, ClientMessage::Heartbeat)),
        expected
    );
    assert_eq!(
        decode_all(&mut ServerCodec::default(), &expected),
        [Frame::new(0, ClientMessage::Heartbeat)]
    );
}

#[test]
fn golden_login_rsp() {
    let rsp = Frame::new(
        7,
        ServerMessage::Login(LoginRsp {
            id: 234,
            result_code: ResultCode::RcOk as i32,
            result_str: String::new(),
        }),
    );
    let mut expected = PREAMBLE.to_vec();
    expected.extend(hex("0e ff82 01 08 01 07 01 05 08ea011001 00"));
    assert_eq!(encode_server(rsp.clone()), expected);
    assert_eq!(decode_all(&mut ClientCodec::default(), &expected), [rsp]);
}

#[test]
fn repeated_definitions_and_back_to_back_messages() {
    let mut stream = hex(LOGIN_FRAME);
    stream.extend(encode_client(Frame::new(0, ClientMessage::Heartbeat)));
    stream.extend(hex(LOGIN_FRAME));
    let frames = decode_all(&mut ServerCodec::default(), &stream);
    assert_eq!(
        frames,
        [
            login_req(),
            Frame::new(0, ClientMessage::Heartbeat),
            login_req()
        ]
    );
}

#[test]
fn a_value_without_its_definition_is_an_error() {
    let bytes = hex(LOGIN_FRAME);
    let err = EnvelopeCodec::default()
        .decode(&mut BytesMut::from(&bytes[46..]))
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn another_type_id_is_recorded_from_its_definition() {
    // The same definition under id 66 (ff83 / ff84), then a value of type 66.
    let mut bytes = hex(LOGIN_FRAME);
    bytes[1..3].copy_from_slice(&[0xff, 0x83]);
    bytes[15..17].copy_from_slice(&[0xff, 0x84]);
    bytes[47..49].copy_from_slice(&[0xff, 0x84]);
    assert_eq!(
        decode_all(&mut ServerCodec::default(), &bytes),
        [login_req()]
    );
    // A definition whose inner id disagrees with the announced one is refused.
    let mut bad = hex(LOGIN_FRAME);
    bad[15..17].copy_from_slice(&[0xff, 0x84]);
    assert!(
        EnvelopeCodec::default()
            .decode(&mut BytesMut::from(&bad[..]))
            .is_err()
    );
}

#[test]
fn a_foreign_type_definition_is_refused() {
    let mut bytes = hex(LOGIN_FRAME);
    bytes[8] = b'X'; // "MXssage"
    let err = EnvelopeCodec::default()
        .decode(&mut BytesMut::from(&bytes[..]))
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn oversized_segments_are_refused_before_allocating() {
    // uint 2^64-1 as a segment length.
    let mut buf = BytesMut::from(&hex("f8 ffffffffffffffff")[..]);
    let err = EnvelopeCodec::new(1024).decode(&mut buf).unwrap_err();
    assert!(
        matches!(
            err,
            Error::FrameTooLarge {
                dialect: Dialect::Eutamias,
                limit: 1024,
                ..
            }
        ),
        "{err}"
    );
    assert!(buf.capacity() < 1024);
    // Just over the limit.
    let mut buf = BytesMut::from(&hex("fe 0401")[..]);
    assert!(matches!(
        EnvelopeCodec::new(1024).decode(&mut buf),
        Err(Error::FrameTooLarge { len: 1025, .. })
    ));
    // The encoder refuses too.
    let envelope = Envelope {
        cmd: 2,
        seq: 1,
        msg: Bytes::from(vec![b'x'; 2000]),
    };
    assert!(
        EnvelopeCodec::new(1024)
            .encode(envelope, &mut BytesMut::new())
            .is_err()
    );
}

#[test]
fn every_prefix_is_incomplete_not_wrong() {
    let bytes = hex(LOGIN_FRAME);
    for cut in 0..bytes.len() {
        let mut codec = EnvelopeCodec::default();
        let mut buf = BytesMut::from(&bytes[..cut]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None, "cut at {cut}");
    }
}

#[test]
fn malformed_values_are_errors() {
    let head = hex(LOGIN_FRAME)[..46].to_vec();
    for value in [
        "04 ff82 04 02 00",            // field 3 does not exist
        "05 ff82 01 02 07",            // field 7 does not exist
        "06 ff82 01 02 00 00",         // stray byte after the struct
        "05 ff82 03 7f 00",            // Msg longer than the segment
        "0a ff82 01 fb 0100000000 00", // Cmd 2^31 does not fit int32 (zig-zag 2^32)
        "00",                          // empty segment
        "03 ff82 01",                  // ends inside a field
    ] {
        let mut bytes = head.clone();
        bytes.extend(hex(value));
        let result = EnvelopeCodec::default().decode(&mut BytesMut::from(&bytes[..]));
        assert!(result.is_err(), "{value}: {result:?}");
    }
}

#[test]
fn a_payload_that_is_not_the_named_protobuf_is_malformed() {
    let envelope = Envelope {
        cmd: MsgCmd::CLogin as i32,
        seq: 1,
        msg: Bytes::from_static(&[0x12, 0x05, 0x70]), // string field cut short
    };
    let mut bytes = BytesMut::new();
    EnvelopeCodec::default()
        .encode(envelope, &mut bytes)
        .unwrap();
    assert!(matches!(
        ServerCodec::default().decode(&mut bytes),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn unknown_commands_survive_as_values() {
    let envelope = Envelope {
        cmd: 42,
        seq: 3,
        msg: Bytes::from_static(b"\x08\x01"),
    };
    let mut bytes = BytesMut::new();
    EnvelopeCodec::default()
        .encode(envelope.clone(), &mut bytes)
        .unwrap();
    let frame = ServerCodec::default().decode(&mut bytes).unwrap().unwrap();
    assert_eq!(
        frame,
        Frame::new(
            3,
            ClientMessage::Unknown {
                cmd: 42,
                msg: envelope.msg
            }
        )
    );
}

// ---- property tests -------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 éß中]{0,12}"
}

fn result_code() -> impl Strategy<Value = i32> {
    0..4i32
}

fn unknown_cmd() -> impl Strategy<Value = i32> {
    prop_oneof![11..i32::MAX, i32::MIN..0]
}

fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        Just(ClientMessage::Heartbeat),
        (any::<u64>(), text(), 0..4i32).prop_map(|(id, passwd, online_statue)| {
            ClientMessage::Login(LoginReq {
                id,
                passwd,
                online_statue,
            })
        }),
        any::<u64>().prop_map(|id| ClientMessage::Logout(LogoutReq { id })),
        (any::<u64>(), any::<u64>())
            .prop_map(|(id, peerid)| ClientMessage::SendMsg(SendMsgReq { id, peerid })),
        (any::<u64>(), any::<u64>()).prop_map(|(fromid, peerid)| {
            ClientMessage::CreateSession(CreateSessionReq { fromid, peerid })
        }),
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(fromid, peerid, session_id)| {
            ClientMessage::CloseSession(CloseSessionReq {
                fromid,
                peerid,
                session_id,
            })
        }),
        (any::<u64>(), any::<u64>(), text()).prop_map(|(id, session_id, content)| {
            ClientMessage::MsgData(MsgData {
                id,
                session_id,
                content,
            })
        }),
        (result_code(), text(), text(), any::<u64>()).prop_map(|(rc, s, sip, sport)| {
            ClientMessage::MsgAck(MsgDataReadAck {
                result_code: rc,
                result_str: s,
                sip,
                sport,
            })
        }),
        any::<u64>().prop_map(|id| ClientMessage::NinfoReq(NinfoReq { id })),
        (text(), any::<u64>(), any::<u64>(), any::<u64>(), text()).prop_map(
            |(ip, port, max_conn, cur_conn, hostname)| {
                ClientMessage::NinfoUpd(Ninfo {
                    ip,
                    port,
                    max_conn,
                    cur_conn,
                    hostname,
                })
            }
        ),
        (unknown_cmd(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(cmd, msg)| {
            ClientMessage::Unknown {
                cmd,
                msg: msg.into(),
            }
        }),
    ]
}

fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        Just(ServerMessage::Heartbeat),
        (any::<u64>(), result_code(), text()).prop_map(|(id, rc, s)| {
            ServerMessage::Login(LoginRsp {
                id,
                result_code: rc,
                result_str: s,
            })
        }),
        (any::<u64>(), result_code(), text()).prop_map(|(id, rc, s)| {
            ServerMessage::Logout(LogoutRsp {
                id,
                result_code: rc,
                result_str: s,
            })
        }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(id, peerid)| ServerMessage::SendMsg(SendMsgRsp { id, peerid })),
        (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            result_code(),
            text(),
            text(),
            any::<u64>()
        )
            .prop_map(|(fromid, peerid, session_id, rc, s, sip, sport)| {
                ServerMessage::CreateSession(CreateSessionRsp {
                    fromid,
                    peerid,
                    session_id,
                    result_code: rc,
                    result_str: s,
                    sip,
                    sport,
                })
            }),
        (result_code(), text()).prop_map(|(rc, s)| {
            ServerMessage::CloseSession(CloseSessionRsq {
                result_code: rc,
                result_str: s,
            })
        }),
        (any::<u64>(), any::<u64>(), text()).prop_map(|(id, session_id, content)| {
            ServerMessage::MsgData(MsgData {
                id,
                session_id,
                content,
            })
        }),
        (result_code(), text(), text(), any::<u64>()).prop_map(|(rc, s, sip, sport)| {
            ServerMessage::MsgAck(MsgDataReadAck {
                result_code: rc,
                result_str: s,
                sip,
                sport,
            })
        }),
        (unknown_cmd(), proptest::collection::vec(any::<u8>(), 0..16)).prop_map(|(cmd, msg)| {
            ServerMessage::Unknown {
                cmd,
                msg: msg.into(),
            }
        }),
    ]
}

/// Feed `bytes` in chunks cut at `cuts` (sorted, deduplicated) and collect what decodes.
fn decode_split<D: Decoder<Error = Error>>(
    codec: &mut D,
    bytes: &[u8],
    cuts: &[usize],
) -> Vec<D::Item> {
    let mut buf = BytesMut::new();
    let mut items = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        buf.extend_from_slice(&bytes[start..cut]);
        start = cut;
        while let Some(item) = codec.decode(&mut buf).unwrap() {
            items.push(item);
        }
    }
    assert!(buf.is_empty());
    items
}

proptest! {
    #[test]
    fn client_messages_round_trip(seq: u64, message in client_message()) {
        let frame = Frame::new(seq, message);
        let bytes = encode_client(frame.clone());
        prop_assert_eq!(&bytes[..46], &PREAMBLE[..]);
        prop_assert_eq!(decode_all(&mut ServerCodec::default(), &bytes), vec![frame]);
    }

    #[test]
    fn server_messages_round_trip(seq: u64, message in server_message()) {
        let frame = Frame::new(seq, message);
        let bytes = encode_server(frame.clone());
        prop_assert_eq!(decode_all(&mut ClientCodec::default(), &bytes), vec![frame]);
    }

    #[test]
    fn envelopes_round_trip(cmd: i32, seq: u64, msg in proptest::collection::vec(any::<u8>(), 0..300)) {
        let envelope = Envelope { cmd, seq, msg: msg.into() };
        let mut bytes = BytesMut::new();
        EnvelopeCodec::default().encode(envelope.clone(), &mut bytes).unwrap();
        prop_assert_eq!(decode_all(&mut EnvelopeCodec::default(), &bytes), vec![envelope]);
    }

    #[test]
    fn any_split_gives_the_same_messages(
        frames in proptest::collection::vec((any::<u64>(), client_message()), 1..6),
        mut cuts in proptest::collection::vec(0usize..2000, 0..12),
    ) {
        let frames: Vec<_> = frames.into_iter().map(|(s, m)| Frame::new(s, m)).collect();
        let bytes: Vec<u8> = frames.iter().cloned().flat_map(encode_client).collect();
        cuts.sort_unstable();
        prop_assert_eq!(decode_split(&mut ServerCodec::default(), &bytes, &cuts), frames);
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overallocate(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        prefix_valid: bool,
    ) {
        const LIMIT: usize = 256;
        let mut input = if prefix_valid { PREAMBLE.to_vec() } else { Vec::new() };
        input.extend(bytes);
        let mut codec = ServerCodec::new(LIMIT);
        let mut buf = BytesMut::from(&input[..]);
        // Each Ok(Some) consumes a segment, so this ends; stop at the first error.
        for _ in 0..=input.len() {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        prop_assert!(buf.capacity() <= input.len() + 2 * (LIMIT + 9));
    }
}
