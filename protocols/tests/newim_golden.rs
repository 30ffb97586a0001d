//! Every byte example of protocols/newim-protobuf.md, both directions.

use bytes::BytesMut;
use imkit_protocols::newim::{
    ChatMessage, ChatOp, Context, ExchangeCodec, ExchangeMessage, Frame, MessageType,
    PushCountCodec, decode_chat_message, decode_client_frame, encode_server_frame,
    frame_to_command,
};
use imkit_protocols::{
    Command, Conversation, DEFAULT_MAX_FRAME, Error, Event, GroupId, Message, MessageId, UserId,
};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_util::codec::{Decoder, Encoder};

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// §3: JOIN box "123" from john-1, 19 bytes.
const JOIN: &str = "0a03313233 1000 22066a6f686e2d31 3807 4000";
/// §3: CHAT "hi" to box "123", receiver john-2.
const CHAT: &str = "0a03313233 1000 2206 6a6f686e2d31 2a06 6a6f686e2d32 3202 6869 3800 4002";
/// §3: the delivered copy: uuid "42" after the group field.
const DELIVERED: &str =
    "0a03313233 1000 1a023432 2206 6a6f686e2d31 2a06 6a6f686e2d32 3202 6869 3800 4002";

fn join_message() -> ChatMessage {
    ChatMessage {
        boxid: "123".into(),
        group: 0,
        sender: Some("john-1".into()),
        mtype: MessageType::Sync as i32,
        op: ChatOp::Join as i32,
        ..Default::default()
    }
}

fn chat_message() -> ChatMessage {
    ChatMessage {
        boxid: "123".into(),
        group: 0,
        uuid: None,
        sender: Some("john-1".into()),
        receiver: Some("john-2".into()),
        body: Some("hi".into()),
        mtype: MessageType::SmallText as i32,
        op: ChatOp::Chat as i32,
    }
}

#[test]
fn join_bytes_both_ways() {
    let bytes = hex(JOIN);
    assert_eq!(bytes.len(), 19);
    assert_eq!(join_message().to_bytes(), bytes);
    assert_eq!(
        decode_chat_message(&bytes, DEFAULT_MAX_FRAME).unwrap(),
        join_message()
    );
}

#[test]
fn join_command_is_the_golden_frame() {
    let mut me = Context::new("john-1");
    let frame = me
        .command_to_frame(&Command::JoinGroup {
            group: GroupId::new("123"),
        })
        .unwrap()
        .unwrap();
    assert_eq!(frame.to_ws(), WsMessage::binary(hex(JOIN)));
    // CreateGroup is the same JOIN: a box exists once someone joins.
    let create = me
        .command_to_frame(&Command::CreateGroup {
            group: GroupId::new("123"),
        })
        .unwrap()
        .unwrap();
    assert_eq!(create, frame);
    // And the server reads it back as a join.
    let decoded = decode_client_frame(&WsMessage::binary(hex(JOIN)), DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(
        frame_to_command(&decoded).unwrap(),
        Command::JoinGroup {
            group: GroupId::new("123")
        }
    );
}

#[test]
fn chat_bytes_both_ways() {
    let bytes = hex(CHAT);
    assert_eq!(chat_message().to_bytes(), bytes);
    assert_eq!(
        decode_chat_message(&bytes, DEFAULT_MAX_FRAME).unwrap(),
        chat_message()
    );
    let frame = decode_client_frame(&WsMessage::binary(bytes), DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(
        frame_to_command(&frame).unwrap(),
        Command::Send {
            to: Conversation::Group(GroupId::new("123")),
            client_ref: String::new(),
            content: "hi".into(),
        }
    );
}

#[test]
fn send_command_bytes() {
    // The same CHAT without the receiver (the neutral model has none for a box).
    let mut me = Context::new("john-1");
    let frame = me
        .command_to_frame(&Command::Send {
            to: Conversation::Group(GroupId::new("123")),
            client_ref: "c1".into(),
            content: "hi".into(),
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.to_ws(),
        WsMessage::binary(hex("0a03313233 1000 2206 6a6f686e2d31 3202 6869 3800 4002"))
    );
}

#[test]
fn delivered_copy_bytes_both_ways() {
    // The client wrote another sender: the gateway takes the cookie's uid.
    let sent = ChatMessage {
        sender: Some("mallory".into()),
        ..chat_message()
    };
    let stored = sent.stored_copy(&UserId::new("john-1"), 42);
    assert_eq!(
        encode_server_frame(&stored),
        WsMessage::binary(hex(DELIVERED))
    );
    let frame = Frame::decode(&WsMessage::binary(hex(DELIVERED)), DEFAULT_MAX_FRAME)
        .unwrap()
        .unwrap();
    assert_eq!(frame, Frame::Chat(stored));

    // To john-2 it is a delivery; to john-1 (the sender) the proof it was stored.
    let delivered = Event::Delivered(Message {
        conversation: Conversation::Group(GroupId::new("123")),
        from: UserId::new("john-1"),
        id: Some(MessageId::Seq(42)),
        content: "hi".into(),
    });
    assert_eq!(
        Context::new("john-2")
            .frame_to_event(frame.clone())
            .unwrap(),
        Some(delivered.clone())
    );
    assert_eq!(
        Context::new("john-1").frame_to_event(frame).unwrap(),
        Some(Event::Accepted {
            client_ref: None,
            id: Some(MessageId::Seq(42)),
        })
    );
    // The server's encoding of that delivery (no receiver in the neutral model).
    let server = Context::new("john-2").event_to_frame(&delivered).unwrap();
    assert_eq!(
        server.to_ws(),
        WsMessage::binary(hex(
            "0a03313233 1000 1a023432 2206 6a6f686e2d31 3202 6869 3800 4002"
        ))
    );
}

#[test]
fn join_notice_to_me_and_to_others() {
    let frame = Frame::Chat(join_message());
    assert_eq!(
        Context::new("john-1")
            .frame_to_event(frame.clone())
            .unwrap(),
        Some(Event::GroupJoined {
            group: GroupId::new("123"),
            server: None
        })
    );
    assert_eq!(
        Context::new("john-2").frame_to_event(frame).unwrap(),
        Some(Event::MemberJoined {
            group: GroupId::new("123"),
            user: UserId::new("john-1")
        })
    );
    // The server encodes GroupJoined for john-1 as the golden JOIN.
    let ev = Event::GroupJoined {
        group: GroupId::new("123"),
        server: None,
    };
    assert_eq!(
        Context::new("john-1").event_to_frame(&ev).unwrap().to_ws(),
        WsMessage::binary(hex(JOIN))
    );
}

#[test]
fn quit_notice_to_me_and_to_others() {
    let quit = ChatMessage {
        op: ChatOp::Quit as i32,
        ..join_message()
    };
    assert_eq!(
        quit.to_bytes(),
        hex("0a03313233 1000 22066a6f686e2d31 3807 4001")
    );
    let frame = Frame::Chat(quit);
    assert_eq!(
        Context::new("john-1")
            .frame_to_event(frame.clone())
            .unwrap(),
        Some(Event::Done {
            operation: "leave_group".into()
        })
    );
    assert_eq!(
        Context::new("john-2").frame_to_event(frame).unwrap(),
        Some(Event::MemberLeft {
            group: GroupId::new("123"),
            user: UserId::new("john-1")
        })
    );
}

#[test]
fn ack_carries_the_uuid() {
    let mut me = Context::new("john-2");
    let frame = me
        .command_to_frame(&Command::Ack {
            conversation: Conversation::Group(GroupId::new("123")),
            id: MessageId::Seq(42),
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.to_ws(),
        WsMessage::binary(hex("0a03313233 1000 1a023432 2206 6a6f686e2d32 3807 4003"))
    );
}

#[test]
fn proto3_style_message_without_zero_fields_is_rejected() {
    // What a proto3 encoder would write for the golden JOIN: group, mtype 0 and op 0 omitted
    // is exactly what the Java build() throws on.
    let missing_group = hex("0a03313233 22066a6f686e2d31 3807");
    let err = decode_chat_message(&missing_group, DEFAULT_MAX_FRAME).unwrap_err();
    assert!(
        matches!(&err, Error::Malformed { reason, .. } if reason.contains("group (tag 2)")),
        "{err}"
    );
}

#[test]
fn text_frames_are_the_ping() {
    let mut me = Context::new("john-1");
    let first = me.command_to_frame(&Command::Ping).unwrap().unwrap();
    let second = me.command_to_frame(&Command::Ping).unwrap().unwrap();
    assert_eq!(first, Frame::Text("imkit-ping-1".into()));
    assert_ne!(first, second, "tokens are unique on a connection");
    assert_eq!(frame_to_command(&first).unwrap(), Command::Ping);
    assert_eq!(me.frame_to_event(first).unwrap(), Some(Event::Pong));
}

#[test]
fn nothing_on_the_wire_for_login() {
    let mut me = Context::new("john-1");
    let login = Command::Login {
        user: UserId::new("john-1"),
        secret: None,
        device: None,
    };
    assert_eq!(me.command_to_frame(&login).unwrap(), None);
}

#[test]
fn unsupported_commands_name_the_dialect() {
    let mut me = Context::new("john-1");
    let err = me
        .command_to_frame(&Command::Send {
            to: Conversation::User(UserId::new("john-2")),
            client_ref: String::new(),
            content: "hi".into(),
        })
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }));
    assert!(
        err.to_string()
            .starts_with("the newim dialect cannot send to a user")
    );
    assert!(matches!(
        me.command_to_frame(&Command::Match),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn exchange_reply_count_bytes() {
    let mut codec = PushCountCodec::default();
    let mut buf = BytesMut::from(&hex("00000001 32")[..]);
    assert_eq!(codec.decode(&mut buf).unwrap(), Some(2));
    assert!(buf.is_empty());
    let mut out = BytesMut::new();
    codec.encode(2, &mut out).unwrap();
    assert_eq!(&out[..], &hex("00000001 32")[..]);
    let mut bad = BytesMut::from(&hex("00000002 2d31")[..]);
    assert!(codec.decode(&mut bad).is_err(), "\"-1\" is not a count");
}

#[test]
fn exchange_message_bytes_unpacked_channel_ids() {
    let message = ExchangeMessage {
        message_id: "42".into(),
        chat_room_id: Some("123".into()),
        channel_id: vec![1, 2],
        ..Default::default()
    };
    // 4-byte BE length (header excluded), messageId, chatRoomId, one key per channel id.
    let wire = hex("0000000d 0a023432 2203313233 3001 3002");
    let mut out = BytesMut::new();
    ExchangeCodec::default().encode(&message, &mut out).unwrap();
    assert_eq!(&out[..], &wire[..]);
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        ExchangeCodec::default().decode(&mut buf).unwrap(),
        Some(message)
    );
}

#[test]
fn exchange_declared_length_over_the_limit_is_refused_before_allocating() {
    let mut buf = BytesMut::from(&hex("ffffffff 0a")[..]);
    assert!(matches!(
        ExchangeCodec::new(1024).decode(&mut buf),
        Err(Error::FrameTooLarge {
            len: 0xffff_ffff,
            limit: 1024,
            ..
        })
    ));
    assert!(buf.capacity() < 1024);
}
