//! Golden tests: every byte example of the chat-json protocol note (§2, §3, §9), both
//! directions, down to the WebSocket frame header.

use std::io::Cursor;

use imkit_protocols::Error;
use imkit_protocols::chat_json::{
    ClientMessage, Code, Ignored, Inbound, ServerMessage, SignalData, SignalType, V1_MAX_FRAME,
    V2_MAX_FRAME, Version, decode_client_frame, decode_client_payload, decode_client_text,
    decode_server_text,
};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket};

/// The exact bytes tungstenite puts on the wire for `frame`, as a server (unmasked).
fn server_wire(frame: WsMessage) -> Vec<u8> {
    let mut ws = WebSocket::from_raw_socket(Cursor::new(Vec::new()), Role::Server, None);
    ws.send(frame).expect("write to memory");
    ws.get_ref().get_ref().clone()
}

/// The bytes of `frame` sent as a client: header, mask, unmasked payload.
fn client_wire(frame: WsMessage) -> (Vec<u8>, Vec<u8>) {
    let mut ws = WebSocket::from_raw_socket(Cursor::new(Vec::new()), Role::Client, None);
    ws.send(frame).expect("write to memory");
    let bytes = ws.get_ref().get_ref().clone();
    let len = usize::from(bytes[1] & 0x7f);
    assert!(len < 126, "examples are short frames");
    let mask = &bytes[2..6];
    let payload = bytes[6..]
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ mask[i % 4])
        .collect();
    (bytes[..2].to_vec(), payload)
}

fn server_bytes(message: &ServerMessage, version: Version) -> Vec<u8> {
    server_wire(message.to_frame(version).expect("expressible"))
}

fn frame(header: &[u8], json: &str) -> Vec<u8> {
    let mut out = header.to_vec();
    out.extend_from_slice(json.as_bytes());
    out
}

fn decoded_server(json: &str) -> (ServerMessage, Version) {
    match decode_server_text(json, 64 * 1024).expect("within the limit") {
        Inbound::Message { message, version } => (message, version),
        other => panic!("{json} was not decoded: {other:?}"),
    }
}

fn decoded_client(json: &str) -> (ClientMessage, Version) {
    match decode_client_text(json, V1_MAX_FRAME).expect("within the limit") {
        Inbound::Message { message, version } => (message, version),
        other => panic!("{json} was not decoded: {other:?}"),
    }
}

/// A server frame of the note: printing `message` gives exactly `wire` (header included),
/// and reading the payload back gives `message`.
fn check_server(message: ServerMessage, wire: &[u8]) {
    assert_eq!(
        server_bytes(&message, Version::V1),
        wire,
        "{}",
        String::from_utf8_lossy(wire)
    );
    let header_len = if wire[1] == 0x7e { 4 } else { 2 };
    let json = std::str::from_utf8(&wire[header_len..]).unwrap();
    assert_eq!(decoded_server(json), (message, Version::V1));
}

/// A client frame of the note: masked header byte pair and payload, and decoding it back.
fn check_client(message: ClientMessage, header: [u8; 2], json: &str) {
    let (h, payload) = client_wire(message.to_frame(Version::V1).unwrap());
    assert_eq!(h, header, "{json}");
    assert_eq!(String::from_utf8(payload).unwrap(), json);
    assert_eq!(decoded_client(json), (message, Version::V1));
}

fn push_signal_new_session(sender: u64, session: u64, receiver: u64, nick: &str) -> ServerMessage {
    ServerMessage::PushSignal {
        sender_id: sender,
        session_id: session,
        receiver_id: receiver,
        signal_type: SignalType::NewSession,
        data: SignalData {
            account_id: sender,
            nick_name: nick.into(),
        },
    }
}

fn partner_exit(session: u64, receiver: u64, who: u64) -> ServerMessage {
    ServerMessage::PushSignal {
        sender_id: 0,
        session_id: session,
        receiver_id: receiver,
        signal_type: SignalType::PartnerExit,
        data: SignalData {
            account_id: who,
            nick_name: String::new(),
        },
    }
}

fn dialogue(request: &str, sender: u64, session: u64, content: &str) -> ClientMessage {
    ClientMessage::Dialogue {
        request_id: request.into(),
        sender_id: sender,
        session_id: session,
        content: content.into(),
    }
}

fn accepted(request: &str, msg_id: u64) -> ServerMessage {
    ServerMessage::DialogueResult {
        code: Code::SUCCESS,
        request_id: request.into(),
        msg_id,
    }
}

#[test]
fn section_2_match_example() {
    check_client(
        ClientMessage::Match { account_id: 10 },
        [0x81, 0x80 | 30],
        r#"{"cmd":"MATCH","accountId":10}"#,
    );
    let reply = ServerMessage::MatchResult {
        code: Code::SUCCESS,
        partner_id: 11,
        partner_name: "bob".into(),
        session_id: 10,
    };
    let wire = server_bytes(&reply, Version::V1);
    assert_eq!(&wire[..2], &[0x81, 0x4a]);
    assert_eq!(wire.len() - 2, 74);
    check_server(
        reply,
        &frame(
            &[0x81, 0x4a],
            r#"{"cmd":"MATCH","partnerId":11,"partnerName":"bob","sessionId":10,"code":0}"#,
        ),
    );
}

#[test]
fn section_9_3_transcript_client_frames() {
    check_client(
        ClientMessage::CreateAccount {
            nick_name: "alice".into(),
        },
        [0x81, 0xa8],
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#,
    );
    check_client(
        ClientMessage::CreateAccount {
            nick_name: "bob".into(),
        },
        [0x81, 0xa6],
        r#"{"cmd":"CRT_ACCOUNT","nickName":"bob"}"#,
    );
    check_client(
        ClientMessage::Pong { account_id: 10 },
        [0x81, 0x9d],
        r#"{"cmd":"PONG","accountId":10}"#,
    );
    check_client(
        ClientMessage::Match { account_id: 10 },
        [0x81, 0x9e],
        r#"{"cmd":"MATCH","accountId":10}"#,
    );
    // The browser does not HTML-escape: the payload is 118 bytes (0x76).
    check_client(
        dialogue("6c1e0000-0000-11ea-8000-000000000001", 10, 10, "hi <b>&"),
        [0x81, 0xf6],
        r#"{"cmd":"DIALOGUE","requestId":"6c1e0000-0000-11ea-8000-000000000001","senderId":10,"sessionId":10,"content":"hi <b>&"}"#,
    );
    check_client(
        ClientMessage::ViewedAck {
            session_id: 10,
            account_id: 11,
            msg_id: 11,
        },
        [0x81, 0xbd],
        r#"{"cmd":"VIEWED_ACK","sessionId":10,"accountId":11,"msgId":11}"#,
    );
    check_client(
        dialogue("r2", 11, 10, "yo"),
        [0x81, 0xcf],
        r#"{"cmd":"DIALOGUE","requestId":"r2","senderId":11,"sessionId":10,"content":"yo"}"#,
    );
    check_client(
        dialogue("r3", 10, 10, "anyone?"),
        [0x81, 0xd4],
        r#"{"cmd":"DIALOGUE","requestId":"r3","senderId":10,"sessionId":10,"content":"anyone?"}"#,
    );
}

#[test]
fn section_9_3_transcript_server_frames() {
    let created = |nick: &str, id| ServerMessage::AccountCreated {
        code: Code::SUCCESS,
        nick_name: nick.into(),
        account_id: id,
        token: String::new(),
    };
    check_server(
        created("alice", 10),
        &frame(
            &[0x81, 0x37],
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#,
        ),
    );
    check_server(
        created("bob", 11),
        &frame(
            &[0x81, 0x35],
            r#"{"cmd":"CRT_ACCOUNT","nickName":"bob","accountId":11}"#,
        ),
    );
    check_server(
        ServerMessage::Ping { account_id: 10 },
        &frame(&[0x81, 0x1d], r#"{"cmd":"PING","accountId":10}"#),
    );
    check_server(
        push_signal_new_session(10, 10, 11, "alice"),
        &frame(
            &[0x81, 0x7e, 0x00, 0x87],
            r#"{"cmd":"PUSH_SIGNAL","senderId":10,"sessionId":10,"receiverId":11,"signalType":"NewSession","data":{"accountId":10,"nickName":"alice"}}"#,
        ),
    );
    check_server(
        ServerMessage::MatchResult {
            code: Code::SUCCESS,
            partner_id: 11,
            partner_name: "bob".into(),
            session_id: 10,
        },
        &frame(
            &[0x81, 0x4a],
            r#"{"cmd":"MATCH","partnerId":11,"partnerName":"bob","sessionId":10,"code":0}"#,
        ),
    );
    check_server(
        accepted("6c1e0000-0000-11ea-8000-000000000001", 11),
        &frame(
            &[0x81, 0x59],
            r#"{"cmd":"DIALOGUE","requestId":"6c1e0000-0000-11ea-8000-000000000001","msgId":11,"code":0}"#,
        ),
    );
    check_server(
        ServerMessage::PushDialogue {
            msg_id: 11,
            sender_id: 10,
            session_id: 10,
            content: "hi <b>&".into(),
        },
        &frame(
            &[0x81, 0x62],
            r#"{"cmd":"PUSH_DIALOGUE","msgId":11,"senderId":10,"sessionId":10,"content":"hi \u003cb\u003e\u0026"}"#,
        ),
    );
    check_server(
        ServerMessage::ViewedAckResult {
            code: Code::SUCCESS,
        },
        &frame(&[0x81, 0x1d], r#"{"cmd":"VIEWED_ACK","code":0}"#),
    );
    check_server(
        ServerMessage::PushViewedAck {
            session_id: 10,
            account_id: 11,
            msg_id: 11,
        },
        &frame(
            &[0x81, 0x42],
            r#"{"cmd":"PUSH_VIEWED_ACK","sessionId":10,"accountId":11,"msgId":11}"#,
        ),
    );
    check_server(
        accepted("r2", 12),
        &frame(
            &[0x81, 0x37],
            r#"{"cmd":"DIALOGUE","requestId":"r2","msgId":12,"code":0}"#,
        ),
    );
    check_server(
        ServerMessage::PushDialogue {
            msg_id: 12,
            sender_id: 11,
            session_id: 10,
            content: "yo".into(),
        },
        &frame(
            &[0x81, 0x4e],
            r#"{"cmd":"PUSH_DIALOGUE","msgId":12,"senderId":11,"sessionId":10,"content":"yo"}"#,
        ),
    );
    check_server(
        partner_exit(10, 10, 11),
        &frame(
            &[0x81, 0x74],
            r#"{"cmd":"PUSH_SIGNAL","senderId":0,"sessionId":10,"receiverId":10,"signalType":"PartnerExit","data":{"accountId":11}}"#,
        ),
    );
    check_server(
        accepted("r3", 14),
        &frame(
            &[0x81, 0x37],
            r#"{"cmd":"DIALOGUE","requestId":"r3","msgId":14,"code":0}"#,
        ),
    );
    check_server(
        ServerMessage::MatchResult {
            code: Code::NO_DATA_FOUND,
            partner_id: 0,
            partner_name: String::new(),
            session_id: 0,
        },
        &frame(&[0x81, 0x18], r#"{"cmd":"MATCH","code":4}"#),
    );
}

#[test]
fn section_3_example_frames() {
    check_client(
        ClientMessage::CreateAccount {
            nick_name: "alice".into(),
        },
        [0x81, 0xa8],
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#,
    );
    let wire = |m: &ServerMessage| String::from_utf8(server_bytes(m, Version::V1)[2..].to_vec());
    let expect = [
        (
            ServerMessage::AccountCreated {
                code: Code::SUCCESS,
                nick_name: "alice".into(),
                account_id: 11,
                token: String::new(),
            },
            r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":11}"#,
        ),
        (
            ServerMessage::MatchResult {
                code: Code::SUCCESS,
                partner_id: 10,
                partner_name: "bob".into(),
                session_id: 12,
            },
            r#"{"cmd":"MATCH","partnerId":10,"partnerName":"bob","sessionId":12,"code":0}"#,
        ),
        (
            ServerMessage::PushDialogue {
                msg_id: 40,
                sender_id: 11,
                session_id: 12,
                content: "hi".into(),
            },
            r#"{"cmd":"PUSH_DIALOGUE","msgId":40,"senderId":11,"sessionId":12,"content":"hi"}"#,
        ),
        (
            ServerMessage::PushViewedAck {
                session_id: 12,
                account_id: 10,
                msg_id: 40,
            },
            r#"{"cmd":"PUSH_VIEWED_ACK","sessionId":12,"accountId":10,"msgId":40}"#,
        ),
        (
            ServerMessage::Ping { account_id: 11 },
            r#"{"cmd":"PING","accountId":11}"#,
        ),
    ];
    for (message, json) in expect {
        assert_eq!(wire(&message).unwrap(), json);
        assert_eq!(decoded_server(json), (message, Version::V1));
    }
    // The NewSession line (111 bytes < 126, so a short header).
    let json = r#"{"cmd":"PUSH_SIGNAL","senderId":11,"sessionId":12,"receiverId":10,"signalType":"NewSession","data":{"accountId":11,"nickName":"alice"}}"#;
    assert_eq!(json.len(), 135);
    assert_eq!(
        server_bytes(&push_signal_new_session(11, 12, 10, "alice"), Version::V1),
        frame(&[0x81, 0x7e, 0x00, 0x87], json)
    );
    assert_eq!(
        decoded_client(r#"{"cmd":"PONG","accountId":11}"#).0,
        ClientMessage::Pong { account_id: 11 }
    );
}

#[test]
fn section_9_1_escaping_of_echoed_strings() {
    let created = ServerMessage::AccountCreated {
        code: Code::SUCCESS,
        nick_name: "<i>&amp;".into(),
        account_id: 12,
        token: String::new(),
    };
    assert_eq!(
        created.to_json(Version::V1).unwrap(),
        r#"{"cmd":"CRT_ACCOUNT","nickName":"\u003ci\u003e\u0026amp;","accountId":12}"#
    );
    // Go also escapes the JavaScript line separators.
    let pushed = ServerMessage::PushDialogue {
        msg_id: 1,
        sender_id: 2,
        session_id: 3,
        content: "a\u{2028}b\u{2029}\"\\\n\u{1}".into(),
    };
    let json = pushed.to_json(Version::V1).unwrap();
    assert_eq!(
        json,
        r#"{"cmd":"PUSH_DIALOGUE","msgId":1,"senderId":2,"sessionId":3,"content":"a\u2028b\u2029\"\\\n\u0001"}"#
    );
    assert_eq!(decoded_server(&json).0, pushed);
}

#[test]
fn section_9_1_keys_match_case_insensitively() {
    let (message, version) =
        decoded_client(r#"{"CMD":"VIEWED_ACK","SessionId":10,"accountid":11,"MsgId":11}"#);
    assert_eq!(version, Version::V1);
    assert_eq!(
        message,
        ClientMessage::ViewedAck {
            session_id: 10,
            account_id: 11,
            msg_id: 11
        }
    );
    // The cmd *value* is compared exactly, as Go's switch does.
    assert_eq!(
        decode_client_text(r#"{"cmd":"match","accountId":1}"#, V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::UnknownCmd("match".into()))
    );
}

#[test]
fn section_9_1_ignored_frames() {
    assert_eq!(
        decode_client_text(r#"{"cmd":"NOPE","accountId":10}"#, V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::UnknownCmd("NOPE".into()))
    );
    assert_eq!(
        decode_client_text("hello, broker", V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::NotJson)
    );
    assert_eq!(
        decode_client_text(r#"{"cmd":"MATCH"} trailing"#, V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::NotJson)
    );
    assert_eq!(
        decode_client_text(r#"["MATCH"]"#, V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::NotObject)
    );
    let binary_match = WsMessage::binary(r#"{"cmd":"MATCH","accountId":10}"#.as_bytes().to_vec());
    assert_eq!(
        decode_client_frame(&binary_match, V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::Binary { len: 30 })
    );
    assert!(matches!(
        decode_client_frame(&WsMessage::Close(None), V1_MAX_FRAME),
        Err(Error::Closed)
    ));
    assert_eq!(
        decode_client_frame(&WsMessage::Ping(Vec::new().into()), V1_MAX_FRAME).unwrap(),
        Inbound::Ignored(Ignored::Control)
    );
}

#[test]
fn section_9_1_frame_limit_512_passes_513_fails() {
    let frame_of = |len: usize| {
        let head = r#"{"cmd":"DIALOGUE","requestId":"r","senderId":1,"sessionId":2,"content":""#;
        let pad = len - head.len() - 2;
        format!("{head}{}\"}}", "x".repeat(pad))
    };
    let ok = frame_of(512);
    assert_eq!(ok.len(), 512);
    assert!(matches!(
        decode_client_text(&ok, V1_MAX_FRAME).unwrap(),
        Inbound::Message { .. }
    ));
    let too_big = frame_of(513);
    match decode_client_text(&too_big, V1_MAX_FRAME) {
        Err(Error::FrameTooLarge { len, limit, .. }) => assert_eq!((len, limit), (513, 512)),
        other => panic!("expected FrameTooLarge, got {other:?}"),
    }
    assert!(matches!(
        decode_client_payload(too_big.as_bytes(), V1_MAX_FRAME),
        Err(Error::FrameTooLarge { .. })
    ));
    assert!(matches!(
        decode_client_text(&too_big, V2_MAX_FRAME).unwrap(),
        Inbound::Message { .. }
    ));
}

#[test]
fn section_9_2_wrong_types_and_missing_fields_are_zero() {
    assert_eq!(
        decoded_client(r#"{"cmd":"MATCH"}"#).0,
        ClientMessage::Match { account_id: 0 }
    );
    assert_eq!(
        decoded_client(r#"{"cmd":"MATCH","accountId":"16"}"#).0,
        ClientMessage::Match { account_id: 0 }
    );
    assert_eq!(
        decoded_client(r#"{"cmd":"VIEWED_ACK","sessionId":-1,"accountId":1.5,"msgId":18446744073709551615,"extra":[1]}"#).0,
        ClientMessage::ViewedAck {
            session_id: 0,
            account_id: 0,
            msg_id: u64::MAX
        }
    );
    // The self-match of §9.2: both omitempty data keys gone.
    let signal = ServerMessage::PushSignal {
        sender_id: 0,
        session_id: 13,
        receiver_id: 16,
        signal_type: SignalType::NewSession,
        data: SignalData::default(),
    };
    let json = r#"{"cmd":"PUSH_SIGNAL","senderId":0,"sessionId":13,"receiverId":16,"signalType":"NewSession","data":{}}"#;
    assert_eq!(signal.to_json(Version::V1).unwrap(), json);
    assert_eq!(decoded_server(json).0, signal);
    let matched = r#"{"cmd":"MATCH","partnerId":16,"partnerName":"hal","sessionId":13,"code":0}"#;
    assert_eq!(
        decoded_server(matched).0.to_json(Version::V1).unwrap(),
        matched
    );
}

#[test]
fn v2_names_and_field_order() {
    let cases: Vec<(ServerMessage, &str)> = vec![
        (
            ServerMessage::AccountCreated {
                code: Code::SUCCESS,
                nick_name: "alice".into(),
                account_id: 10,
                token: "abcdefghijABCDEFGHIJ0123456789".into(),
            },
            r#"{"cmd":"CRT_ACCOUNT_RESP","code":0,"nickName":"alice","accountId":10,"token":"abcdefghijABCDEFGHIJ0123456789"}"#,
        ),
        (
            ServerMessage::MatchResult {
                code: Code::SUCCESS,
                partner_id: 11,
                partner_name: "bob".into(),
                session_id: 10,
            },
            r#"{"cmd":"MATCH_RESP","code":0,"partnerId":11,"partnerName":"bob","sessionId":10}"#,
        ),
        (
            accepted("r2", 12),
            r#"{"cmd":"DIALOGUE_RESP","code":0,"requestId":"r2","msgId":12}"#,
        ),
        (
            ServerMessage::Ping { account_id: 10 },
            r#"{"cmd":"PING_REQ","accountId":10}"#,
        ),
        (
            ServerMessage::PingReply { account_id: 10 },
            r#"{"cmd":"PING_RESP","accountId":10}"#,
        ),
        (
            ServerMessage::ReconnectResult {
                code: Code::NO_DATA_FOUND,
            },
            r#"{"cmd":"RECONNECT_RESP","code":4}"#,
        ),
        (
            ServerMessage::ViewedAckResult {
                code: Code::SUCCESS,
            },
            r#"{"cmd":"VIEWED_ACK_RESP","code":0}"#,
        ),
        (
            partner_exit(10, 10, 11),
            r#"{"cmd":"PUSH_SIGNAL_REQ","senderId":0,"sessionId":10,"receiverId":10,"signalType":"PartnerExit","data":{"accountId":11}}"#,
        ),
    ];
    for (message, json) in cases {
        assert_eq!(message.to_json(Version::V2).unwrap(), json);
        assert_eq!(decoded_server(json), (message, Version::V2));
    }
    let client: Vec<(ClientMessage, &str)> = vec![
        (
            ClientMessage::Reconnect {
                account_id: 10,
                token: "t".into(),
            },
            r#"{"cmd":"RECONNECT_REQ","accountId":10,"token":"t"}"#,
        ),
        (
            ClientMessage::Ping { account_id: 10 },
            r#"{"cmd":"PING_REQ","accountId":10}"#,
        ),
        (
            ClientMessage::Pong { account_id: 10 },
            r#"{"cmd":"PING_RESP","accountId":10}"#,
        ),
        (
            ClientMessage::CreateAccount {
                nick_name: "alice".into(),
            },
            r#"{"cmd":"CRT_ACCOUNT_REQ","nickName":"alice"}"#,
        ),
    ];
    for (message, json) in client {
        assert_eq!(message.to_json(Version::V2).unwrap(), json);
        assert_eq!(decoded_client(json), (message, Version::V2));
    }
    // v1 has no words for these.
    assert!(matches!(
        ClientMessage::Ping { account_id: 1 }.to_json(Version::V1),
        Err(Error::Unsupported { .. })
    ));
    assert!(matches!(
        ServerMessage::ReconnectResult {
            code: Code::SUCCESS
        }
        .to_json(Version::V1),
        Err(Error::Unsupported { .. })
    ));
}
