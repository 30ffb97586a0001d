//! fishchat (length-prefixed JSON): golden bytes from the protocol note (§2, §7.3), both
//! directions; per-frame errors that keep the stream in step; the frame limit; properties.

use bytes::BytesMut;
use futures_util::StreamExt;
use proptest::prelude::*;
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Decoder, Encoder, FramedRead};

use imkit_protocols::fishchat::{Cmd, FrameCodec, Inbound, frame_bytes, go_json};
use imkit_protocols::{Dialect, Error};

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(body);
    out
}

fn s(v: &str) -> String {
    v.to_owned()
}

/// Every frame of the note, as (declared length, body, typed command).
fn golden() -> Vec<(u32, &'static str, Cmd)> {
    vec![
        (
            0x27,
            "{\"CmdName\":\"REQ_MSG_SERVER\",\"Args\":[]}\n",
            Cmd::ReqMsgServer,
        ),
        (
            0x46,
            "{\"CmdName\":\"SELECT_MSG_SERVER_FOR_CLIENT\",\"Args\":[\"127.0.0.1:19001\"]}\n",
            Cmd::SelectMsgServerForClient {
                addr: s("127.0.0.1:19001"),
            },
        ),
        (
            0x46,
            "{\"CmdName\":\"SELECT_MSG_SERVER_FOR_CLIENT\",\"Args\":[\"127.0.0.1:19000\"]}\n",
            Cmd::SelectMsgServerForClient {
                addr: s("127.0.0.1:19000"),
            },
        ),
        (
            0x2e,
            "{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"alice\"]}\n",
            Cmd::SendClientId {
                client_id: s("alice"),
            },
        ),
        (
            0x2c,
            "{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"bob\"]}\n",
            Cmd::SendClientId {
                client_id: s("bob"),
            },
        ),
        (
            0x73,
            "{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"hello \\u003cb\\u003e\\u0026\",\"alice\",\"4f95926e-b2f9-4422-90e5-e0b6349cd7b7\"]}\n",
            Cmd::RespMessageP2p {
                msg: s("hello <b>&"),
                from: s("alice"),
                uuid: s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"),
            },
        ),
        (
            0x4c,
            "{\"CmdName\":\"P2P_ACK\",\"Args\":[\"bob\",\"4f95926e-b2f9-4422-90e5-e0b6349cd7b7\"]}\n",
            Cmd::P2pAck {
                client_id: s("bob"),
                uuid: s("4f95926e-b2f9-4422-90e5-e0b6349cd7b7"),
            },
        ),
        (
            0x2d,
            "{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"dave\"]}\n",
            Cmd::SendClientId {
                client_id: s("dave"),
            },
        ),
        (
            0x46,
            "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"dave\",\"cross server\",\"alice\"]}\n",
            Cmd::SendMessageP2p {
                to: s("dave"),
                msg: s("cross server"),
                from: s("alice"),
            },
        ),
        (
            0x66,
            "{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"cross server\",\"alice\",\"8d225562-a748-4a88-b9e5-ed371cabd390\"]}\n",
            Cmd::RespMessageP2p {
                msg: s("cross server"),
                from: s("alice"),
                uuid: s("8d225562-a748-4a88-b9e5-ed371cabd390"),
            },
        ),
        (
            0x66,
            "{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"cross server\",\"alice\",\"f1444a18-d8c6-4503-8456-c64924f46596\"]}\n",
            Cmd::RespMessageP2p {
                msg: s("cross server"),
                from: s("alice"),
                uuid: s("f1444a18-d8c6-4503-8456-c64924f46596"),
            },
        ),
        (
            0x29,
            "{\"CmdName\":\"CREATE_TOPIC\",\"Args\":[\"t1\"]}\n",
            Cmd::CreateTopic { topic: s("t1") },
        ),
        (
            0x2d,
            "{\"CmdName\":\"JOIN_TOPIC\",\"Args\":[\"t1\",\"bob\"]}\n",
            Cmd::JoinTopic {
                topic: s("t1"),
                client_id: s("bob"),
            },
        ),
        (
            0x44,
            "{\"CmdName\":\"LOCATE_TOPIC_MSG_ADDR\",\"Args\":[\"127.0.0.1:19000\",\"t1\"]}\n",
            Cmd::LocateTopicMsgAddr {
                addr: s("127.0.0.1:19000"),
                topic: s("t1"),
            },
        ),
        (
            0x39,
            "{\"CmdName\":\"SEND_MESSAGE_TOPIC\",\"Args\":[\"t1\",\"hey all\"]}\n",
            Cmd::SendMessageTopic {
                topic: s("t1"),
                msg: s("hey all"),
            },
        ),
        (
            0x41,
            "{\"CmdName\":\"RESP_MESSAGE_TOPIC\",\"Args\":[\"t1\",\"hey all\",\"alice\"]}\n",
            Cmd::RespMessageTopic {
                topic: s("t1"),
                msg: s("hey all"),
                from: s("alice"),
            },
        ),
        (
            0x28,
            "{\"CmdName\":\"SEND_PING\",\"Args\":[\"PING\"]}\n",
            Cmd::SendPing,
        ),
        (
            0x4d,
            "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"carol\",\"while you were out\",\"alice\"]}\n",
            Cmd::SendMessageP2p {
                to: s("carol"),
                msg: s("while you were out"),
                from: s("alice"),
            },
        ),
        (
            0x41,
            "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"carol\",\"second\",\"alice\"]}\n",
            Cmd::SendMessageP2p {
                to: s("carol"),
                msg: s("second"),
                from: s("alice"),
            },
        ),
        (
            0x2e,
            "{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[\"carol\"]}\n",
            Cmd::SendClientId {
                client_id: s("carol"),
            },
        ),
        (
            0x6c,
            "{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"while you were out\",\"alice\",\"55f3037f-2d36-40da-b30a-9a7f64da0a35\"]}\n",
            Cmd::RespMessageP2p {
                msg: s("while you were out"),
                from: s("alice"),
                uuid: s("55f3037f-2d36-40da-b30a-9a7f64da0a35"),
            },
        ),
        (
            0x60,
            "{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"second\",\"alice\",\"5067cbfb-e1e8-47aa-b893-4715d9ce4214\"]}\n",
            Cmd::RespMessageP2p {
                msg: s("second"),
                from: s("alice"),
                uuid: s("5067cbfb-e1e8-47aa-b893-4715d9ce4214"),
            },
        ),
    ]
}

fn decode_all(codec: &mut FrameCodec, bytes: &[u8]) -> Vec<Inbound> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(item) = codec.decode(&mut buf).expect("decodes") {
        out.push(item);
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    out
}

#[test]
fn req_msg_server_is_the_43_bytes_of_the_note() {
    let expected: [u8; 43] = [
        0x00, 0x00, 0x00, 0x27, 0x7b, 0x22, 0x43, 0x6d, 0x64, 0x4e, 0x61, 0x6d, 0x65, 0x22, 0x3a,
        0x22, 0x52, 0x45, 0x51, 0x5f, 0x4d, 0x53, 0x47, 0x5f, 0x53, 0x45, 0x52, 0x56, 0x45, 0x52,
        0x22, 0x2c, 0x22, 0x41, 0x72, 0x67, 0x73, 0x22, 0x3a, 0x5b, 0x5d, 0x7d, 0x0a,
    ];
    let mut out = BytesMut::new();
    FrameCodec::default()
        .encode(&Cmd::ReqMsgServer, &mut out)
        .unwrap();
    assert_eq!(&out[..], &expected[..]);
    let reply = frame_bytes(&Cmd::SelectMsgServerForClient {
        addr: s("127.0.0.1:19000"),
    });
    assert_eq!(reply.len(), 74);
}

#[test]
fn every_note_frame_encodes_to_its_bytes_and_decodes_to_its_command() {
    for (len, body, cmd) in golden() {
        let mut wire = len.to_be_bytes().to_vec();
        wire.extend_from_slice(body.as_bytes());
        assert_eq!(body.len(), len as usize, "the note's length for {body}");

        let mut out = BytesMut::new();
        FrameCodec::default().encode(&cmd, &mut out).unwrap();
        assert_eq!(&out[..], &wire[..], "encoding {cmd:?}");

        match &decode_all(&mut FrameCodec::default(), &wire)[..] {
            [Inbound::Cmd(decoded)] => assert_eq!(decoded, &cmd),
            other => panic!("{body}: {other:?}"),
        }
    }
}

/// §7.3 shows alice's `SEND_MESSAGE_P2P` with a raw `<b>&` (length 0x43): the probe client
/// was not Go. It decodes as written; our encoder writes it as Go's `json.Encoder` would
/// (escaped, like the server's `RESP_MESSAGE_P2P` right after it in the note).
#[test]
fn the_probe_clients_unescaped_send_decodes_and_we_encode_it_as_go_does() {
    let probe = "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"bob\",\"hello <b>&\",\"alice\"]}\n";
    assert_eq!(probe.len(), 0x43);
    let cmd = Cmd::SendMessageP2p {
        to: s("bob"),
        msg: s("hello <b>&"),
        from: s("alice"),
    };
    match &decode_all(&mut FrameCodec::default(), &frame(probe.as_bytes()))[..] {
        [Inbound::Cmd(got)] => assert_eq!(got, &cmd),
        other => panic!("{other:?}"),
    }
    let go = "{\"CmdName\":\"SEND_MESSAGE_P2P\",\"Args\":[\"bob\",\"hello \\u003cb\\u003e\\u0026\",\"alice\"]}\n";
    assert_eq!(frame_bytes(&cmd), frame(go.as_bytes()));
    assert_eq!(frame_bytes(&cmd)[..4], [0, 0, 0, 0x52]);
}

#[test]
fn the_whole_transcript_decodes_from_one_buffer() {
    let stream: Vec<u8> = golden()
        .iter()
        .flat_map(|(_, body, _)| frame(body.as_bytes()))
        .collect();
    let decoded = decode_all(&mut FrameCodec::default(), &stream);
    let expected: Vec<Cmd> = golden().into_iter().map(|(_, _, c)| c).collect();
    let got: Vec<Cmd> = decoded
        .into_iter()
        .map(|i| match i {
            Inbound::Cmd(c) => c,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn decoding_accepts_what_the_original_accepts() {
    let inputs: [(&[u8], Cmd); 4] = [
        (
            br#"{"cmdname":"SEND_CLIENT_ID","args":["42"]}"#,
            Cmd::SendClientId { client_id: s("42") },
        ),
        (br#"{"cmdname":"REQ_MSG_SERVER"}"#, Cmd::ReqMsgServer),
        (
            br#"{"CmdName":"SEND_CLIENT_ID","Args":["42","extra"],"Extra":true}"#,
            Cmd::SendClientId { client_id: s("42") },
        ),
        (br#"{"CmdName":"SEND_PING","Args":[]}"#, Cmd::SendPing),
    ];
    for (body, cmd) in inputs {
        match &decode_all(&mut FrameCodec::default(), &frame(body))[..] {
            [Inbound::Cmd(got)] => assert_eq!(got, &cmd),
            other => panic!("{other:?}"),
        }
    }
}

/// Bad bodies are reported one by one and the frames after them still decode.
#[test]
fn a_bad_frame_is_reported_and_the_next_one_decodes() {
    let good = frame_bytes(&Cmd::SendPing);
    let mut stream = Vec::new();
    stream.extend(frame(b"not json"));
    stream.extend(frame(br#"{"CmdName":"SEND_MESSAGE_P2P","Args":[1,2,3]}"#));
    stream.extend(frame(b""));
    stream.extend(frame(br#"{"CmdName":"SEND_CLIENT_ID","Args":[]}"#));
    stream.extend(frame(br#"{"CmdName":"WHATEVER","Args":["x"]}"#));
    stream.extend(&good);
    let items = decode_all(&mut FrameCodec::default(), &stream);
    assert!(matches!(
        items[0],
        Inbound::Invalid(Error::Malformed { .. })
    ));
    assert!(matches!(
        items[1],
        Inbound::Invalid(Error::Malformed { .. })
    ));
    assert!(matches!(items[2], Inbound::Empty));
    match &items[3] {
        Inbound::Invalid(e) => assert!(e.to_string().contains("SEND_CLIENT_ID needs 1")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &items[4],
        Inbound::Cmd(Cmd::Unknown { name, args }) if name == "WHATEVER" && args == &["x"]
    ));
    assert!(matches!(items[5], Inbound::Cmd(Cmd::SendPing)));
    assert_eq!(items.len(), 6);
}

/// The same through a FramedRead over a socket-like pipe: the stream goes on after bad frames.
#[tokio::test]
async fn a_framed_read_keeps_going_after_bad_frames() {
    let (mut writer, reader) = tokio::io::duplex(64);
    let mut stream = FramedRead::new(reader, FrameCodec::new(1024));
    let feeder = tokio::spawn(async move {
        writer.write_all(&frame(b"{oops")).await.unwrap();
        writer
            .write_all(&frame_bytes(&Cmd::CreateTopic { topic: s("t1") }))
            .await
            .unwrap();
    });
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, Inbound::Invalid(_)), "{first:?}");
    let second = stream.next().await.unwrap().unwrap();
    assert!(matches!(second, Inbound::Cmd(Cmd::CreateTopic { .. })));
    feeder.await.unwrap();
    assert!(stream.next().await.is_none());
}

#[test]
fn a_4_gib_length_is_refused_before_allocating() {
    let mut codec = FrameCodec::new(1024);
    let mut buf = BytesMut::from(&[0xff, 0xff, 0xff, 0xff, b'{'][..]);
    match codec.decode(&mut buf) {
        Err(Error::FrameTooLarge {
            dialect: Dialect::Fishchat,
            len,
            limit: 1024,
        }) => assert_eq!(len, u64::from(u32::MAX)),
        other => panic!("{other:?}"),
    }
    assert!(buf.capacity() < 1024, "capacity {}", buf.capacity());
    // One byte over the limit is refused, the limit itself is fine.
    let mut at_limit = BytesMut::from(&(1024u32).to_be_bytes()[..]);
    assert!(
        FrameCodec::new(1024)
            .decode(&mut at_limit)
            .unwrap()
            .is_none()
    );
    let mut over = BytesMut::from(&(1025u32).to_be_bytes()[..]);
    assert!(FrameCodec::new(1024).decode(&mut over).is_err());
}

#[test]
fn encoding_refuses_a_body_over_the_limit() {
    let cmd = Cmd::SendClientId {
        client_id: "x".repeat(100),
    };
    let mut out = BytesMut::new();
    assert!(matches!(
        FrameCodec::new(64).encode(&cmd, &mut out),
        Err(Error::FrameTooLarge { .. })
    ));
    assert!(out.is_empty());
}

// ---- properties ----

fn arb_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9:.-]{0,12}",
        any::<String>(),
        proptest::collection::vec(
            prop::sample::select(vec![
                '<', '>', '&', '"', '\\', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{c}', '\u{1f}',
                '\u{7f}', '\u{2028}', '\u{2029}', 'é', '😀', ' ', 'a'
            ]),
            0..12
        )
        .prop_map(|v| v.into_iter().collect()),
    ]
}

pub fn arb_cmd() -> impl Strategy<Value = Cmd> {
    let t = arb_text;
    prop_oneof![
        Just(Cmd::ReqMsgServer),
        Just(Cmd::SendPing),
        t().prop_map(|addr| Cmd::SelectMsgServerForClient { addr }),
        t().prop_map(|client_id| Cmd::SendClientId { client_id }),
        (t(), t(), t()).prop_map(|(to, msg, from)| Cmd::SendMessageP2p { to, msg, from }),
        (t(), t(), t()).prop_map(|(msg, from, uuid)| Cmd::RespMessageP2p { msg, from, uuid }),
        (t(), t()).prop_map(|(client_id, uuid)| Cmd::P2pAck { client_id, uuid }),
        t().prop_map(|topic| Cmd::CreateTopic { topic }),
        (t(), t()).prop_map(|(topic, client_id)| Cmd::JoinTopic { topic, client_id }),
        (t(), t()).prop_map(|(addr, topic)| Cmd::LocateTopicMsgAddr { addr, topic }),
        (t(), t()).prop_map(|(topic, msg)| Cmd::SendMessageTopic { topic, msg }),
        (t(), t(), t()).prop_map(|(topic, msg, from)| Cmd::RespMessageTopic { topic, msg, from }),
        ("[A-Z_]{1,10}X", proptest::collection::vec(t(), 0..4))
            .prop_map(|(name, args)| Cmd::Unknown { name, args }),
    ]
}

/// What a decoded item is, comparable (errors are not `PartialEq`).
fn shape(item: &Inbound) -> String {
    match item {
        Inbound::Cmd(c) => format!("{c:?}"),
        Inbound::Empty => "empty".into(),
        Inbound::Invalid(_) => "invalid".into(),
    }
}

proptest! {
    #[test]
    fn every_command_round_trips(cmd in arb_cmd()) {
        let mut out = BytesMut::new();
        FrameCodec::default().encode(&cmd, &mut out).unwrap();
        let items = decode_all(&mut FrameCodec::default(), &out);
        prop_assert_eq!(items.len(), 1);
        match &items[0] {
            Inbound::Cmd(got) => prop_assert_eq!(got, &cmd),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// The body is valid JSON with the same strings, in Go's shape, with Go's escapes.
    #[test]
    fn bodies_are_go_shaped_json(cmd in arb_cmd()) {
        let simple = cmd.to_simple();
        let body = go_json::body(&simple);
        prop_assert_eq!(body.last(), Some(&b'\n'));
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        prop_assert_eq!(&value["CmdName"], &serde_json::json!(simple.name));
        prop_assert_eq!(&value["Args"], &serde_json::json!(simple.args));
        let text = std::str::from_utf8(&body[..body.len() - 1]).unwrap();
        prop_assert!(text.starts_with("{\"CmdName\":"), "{}", text);
        prop_assert!(!text.contains(['<', '>', '&', '\u{2028}', '\u{2029}']), "{}", text);
        prop_assert!(!text.chars().any(|c| c < ' '), "{}", text);
    }

    /// Arbitrary bytes: values or errors, never a panic, never a buffer far above the limit.
    #[test]
    fn arbitrary_bytes_never_panic_or_overallocate(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        chunk in 1usize..64,
    ) {
        let limit = 128;
        let mut codec = FrameCodec::new(limit);
        let mut buf = BytesMut::new();
        'feed: for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            loop {
                match codec.decode(&mut buf) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(Error::FrameTooLarge { limit: l, .. }) => { prop_assert_eq!(l, limit); break 'feed; }
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
                prop_assert!(buf.capacity() <= 4 * (limit + 4 + chunk), "capacity {}", buf.capacity());
            }
            prop_assert!(buf.capacity() <= 4 * (limit + 4 + chunk), "capacity {}", buf.capacity());
        }
    }

    /// A valid stream (with bad and empty frames mixed in) gives the same items however it is split.
    #[test]
    fn splits_do_not_change_the_items(
        frames in proptest::collection::vec(prop_oneof![
            3 => arb_cmd().prop_map(|c| frame_bytes(&c)),
            1 => Just(frame(b"")),
            1 => "[ -~]{0,20}".prop_map(|junk| frame(junk.as_bytes())),
        ], 0..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream: Vec<u8> = frames.concat();
        let whole: Vec<String> = decode_all(&mut FrameCodec::default(), &stream).iter().map(shape).collect();
        prop_assert_eq!(whole.len(), frames.len());

        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
        points.sort_unstable();
        let mut codec = FrameCodec::default();
        let mut buf = BytesMut::new();
        let mut split = Vec::new();
        let mut last = 0;
        for point in points.into_iter().chain([stream.len()]) {
            buf.extend_from_slice(&stream[last..point]);
            last = point;
            while let Some(item) = codec.decode(&mut buf).unwrap() {
                split.push(shape(&item));
            }
        }
        prop_assert_eq!(split, whole);
    }
}
