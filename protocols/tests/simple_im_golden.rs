//! Golden tests: every byte example of simple-im-toml.md, both directions.

use bytes::BytesMut;
use imkit_protocols::simple_im::{
    Ack, ChatMessage, ClientCodec, ClientMessage, Context, Document, Endpoint, FailedForm,
    GroupMessage, LoginForm, ReconnectForm, Reply, Request, Response, ServerCodec, ServerMessage,
    Value, command_to_message, event_to_message, message_to_command, message_to_event,
};
use imkit_protocols::{Command, Conversation, Error, Event, GroupId, Message, MessageId, UserId};
use tokio_util::codec::{Decoder, Encoder};

const TOKEN: &str = "Xb3kq+/9AbCdEfGhIjKlMnOpQrStUv==";

fn server_bytes(message: &ServerMessage) -> String {
    let mut out = BytesMut::new();
    ServerCodec::default()
        .encode(message, &mut out)
        .expect("printable");
    String::from_utf8(out.to_vec()).unwrap()
}

fn client_bytes(message: &ClientMessage) -> String {
    let mut out = BytesMut::new();
    ClientCodec::default()
        .encode(message, &mut out)
        .expect("printable");
    String::from_utf8(out.to_vec()).unwrap()
}

/// Decode exactly one server document from `wire` (as a client does).
fn decode_server(wire: &str) -> ServerMessage {
    let mut buf = BytesMut::from(wire.as_bytes());
    let item = ClientCodec::default().decode(&mut buf).unwrap();
    assert!(buf.is_empty(), "all of {wire:?} consumed");
    item.expect("complete").expect("valid")
}

fn decode_client(wire: &str) -> ClientMessage {
    let mut buf = BytesMut::from(wire.as_bytes());
    let item = ServerCodec::default().decode(&mut buf).unwrap();
    assert!(buf.is_empty(), "all of {wire:?} consumed");
    item.expect("complete").expect("valid")
}

#[test]
fn client_login_request() {
    let wire = format!(
        r#"[r] id = "a_01" t = "login" [r.user] id = "1" device = "android" token = "{TOKEN}""#
    );
    let message = ClientMessage::Request(Request::login("1", "android", TOKEN));
    assert_eq!(client_bytes(&message), wire);
    assert_eq!(decode_client(&wire), message);
    // The server's view of it, in the neutral model.
    let ctx = Context::new("1", "android");
    assert_eq!(
        message_to_command(&message, &ctx).unwrap(),
        Command::Login {
            user: UserId::from("1"),
            secret: Some(TOKEN.into()),
            device: Some("android".into()),
        }
    );
    // And the client's: the command prints the same bytes.
    let command = message_to_command(&message, &ctx).unwrap();
    assert_eq!(
        client_bytes(&command_to_message(&command, &ctx).unwrap()),
        wire
    );
}

#[test]
fn client_login_with_integer_id_and_reconnect() {
    let wire = r#"[r] id = "a_01" t = "reconnect" [r.user] id = 1 device = "ipad" token = "t""#;
    let message = decode_client(wire);
    assert_eq!(
        message,
        ClientMessage::Request(Request::reconnect(Value::Int(1), "ipad", "t"))
    );
    assert_eq!(client_bytes(&message), wire);
    assert_eq!(
        message_to_command(&message, &Context::new("1", "ipad")).unwrap(),
        Command::Resume {
            user: UserId::from("1"),
            token: "t".into(),
            device: Some("ipad".into()),
        }
    );
}

#[test]
fn login_success_is_the_28_bytes() {
    let wire = r#"[rr] id="a_01" t="login" s=0"#;
    assert_eq!(wire.len(), 28);
    assert_eq!(server_bytes(&ServerMessage::Reply(Reply::LoginOk)), wire);
    assert_eq!(decode_server(wire), ServerMessage::Reply(Reply::LoginOk));
    let ctx = Context::new("7", "android");
    assert_eq!(
        event_to_message(
            &Event::LoggedIn {
                user: "7".into(),
                token: None
            },
            &ctx
        )
        .unwrap(),
        ServerMessage::Reply(Reply::LoginOk)
    );
}

#[test]
fn login_failures() {
    for reason in ["Token error", "Wrong device", "Unknown error"] {
        let wire = format!(r#"[rr] id = "a_01" t = "login" s = 1 r = "{reason}""#);
        let reply = Reply::LoginFailed {
            id: "a_01".into(),
            reason: reason.into(),
        };
        assert_eq!(server_bytes(&ServerMessage::Reply(reply.clone())), wire);
        assert_eq!(decode_server(&wire), ServerMessage::Reply(reply.clone()));
        let event = message_to_event(
            &ServerMessage::Reply(reply.clone()),
            &Context::new("1", "android"),
        );
        assert_eq!(
            event,
            Event::Error {
                code: Some(1),
                message: reason.into()
            }
        );
        assert_eq!(
            event_to_message(&event, &Context::new("1", "android")).unwrap(),
            ServerMessage::Reply(reply)
        );
    }
}

#[test]
fn reconnect_failures_have_no_space_after_the_id() {
    for reason in ["offline", "Token not match", "Wrong device"] {
        let wire = format!(r#"[rr] id = "b_01"t = "reconnect" s = 1 r = "{reason}""#);
        let reply = Reply::ReconnectFailed {
            id: "b_01".into(),
            reason: reason.into(),
        };
        assert_eq!(server_bytes(&ServerMessage::Reply(reply.clone())), wire);
        assert_eq!(decode_server(&wire), ServerMessage::Reply(reply));
    }
}

#[test]
fn unknown_request_reply() {
    let wire = r#"[rr] id = "x_9" c = "Unknown request""#;
    let reply = ServerMessage::Reply(Reply::UnknownRequest { id: "x_9".into() });
    assert_eq!(server_bytes(&reply), wire);
    assert_eq!(decode_server(wire), reply);
}

#[test]
fn readme_reconnect_success_is_understood() {
    // The README's form (the code never sends it), spaced as the README writes it.
    let reply = decode_server(r#"[rr] id="a_01" t="reconnect" s=0"#);
    assert_eq!(
        reply,
        ServerMessage::Reply(Reply::Ok {
            id: "a_01".into(),
            kind: "reconnect".into()
        })
    );
    assert!(matches!(
        message_to_event(&reply, &Context::new("3", "android")),
        Event::LoggedIn { user, .. } if user.as_str() == "3"
    ));
}

#[test]
fn messages_and_acks_both_directions() {
    let m = ChatMessage {
        id: "a_02".into(),
        content: "hello there".into(),
        from: Endpoint {
            id: "1".into(),
            device: Some("android".into()),
        },
        to: Endpoint {
            id: "2".into(),
            device: None,
        },
    };
    let wire =
        r#"[m] id = "a_02" c = "hello there" [m.to] id = "2" [m.from] id = "1" device = "android""#;
    assert_eq!(client_bytes(&ClientMessage::Message(m.clone())), wire);
    assert_eq!(server_bytes(&ServerMessage::Message(m.clone())), wire);
    assert_eq!(decode_client(wire), ClientMessage::Message(m.clone()));
    assert_eq!(decode_server(wire), ServerMessage::Message(m.clone()));

    // The client builds exactly this from the neutral command.
    let ctx = Context::new("1", "android");
    let send = Command::Send {
        to: Conversation::User("2".into()),
        client_ref: "a_02".into(),
        content: "hello there".into(),
    };
    assert_eq!(
        command_to_message(&send, &ctx).unwrap(),
        ClientMessage::Message(m.clone())
    );
    assert_eq!(
        message_to_command(&ClientMessage::Message(m.clone()), &ctx).unwrap(),
        send
    );
    // The receiver sees a delivery from user 1.
    assert_eq!(
        message_to_event(&ServerMessage::Message(m), &Context::new("2", "iphone")),
        Event::Delivered(Message {
            conversation: Conversation::User("1".into()),
            from: "1".into(),
            id: Some(MessageId::Text("a_02".into())),
            content: "hello there".into(),
        })
    );

    let ack = r#"[a] id = "a_02""#;
    let a = Ack { id: "a_02".into() };
    assert_eq!(server_bytes(&ServerMessage::Ack(a.clone())), ack);
    assert_eq!(client_bytes(&ClientMessage::Ack(a.clone())), ack);
    assert_eq!(
        message_to_event(&ServerMessage::Ack(a.clone()), &ctx),
        Event::Accepted {
            client_ref: Some("a_02".into()),
            id: None
        }
    );
    // The reference client's ack spelling.
    assert_eq!(decode_client(r#"[a] id="a_02""#), ClientMessage::Ack(a));
}

#[test]
fn group_message() {
    let gm = GroupMessage {
        id: "a_03".into(),
        content: "hi all".into(),
        user: Endpoint {
            id: "1".into(),
            device: Some("android".into()),
        },
        group: "5".into(),
    };
    let wire = r#"[gm] id = "a_03" c = "hi all" [gm.group] id = "5" [gm.user] id = "1" device = "android""#;
    assert_eq!(client_bytes(&ClientMessage::GroupMessage(gm.clone())), wire);
    assert_eq!(decode_server(wire), ServerMessage::GroupMessage(gm.clone()));
    let ctx = Context::new("1", "android");
    let send = Command::Send {
        to: Conversation::Group(GroupId::from("5")),
        client_ref: "a_03".into(),
        content: "hi all".into(),
    };
    assert_eq!(
        command_to_message(&send, &ctx).unwrap(),
        ClientMessage::GroupMessage(gm.clone())
    );
    assert!(matches!(
        message_to_event(&ServerMessage::GroupMessage(gm), &ctx),
        Event::Delivered(Message { conversation: Conversation::Group(g), .. }) if g.as_str() == "5"
    ));
}

#[test]
fn readme_multiline_form_is_accepted() {
    let wire =
        "[m]\nid = \"a_02\"\nc = \"hi\"\n[m.from]\nid = 1\ndevice = \"android\"\n[m.to]\nid = 2\n";
    let ClientMessage::Message(m) = decode_client(wire) else {
        panic!("a message")
    };
    assert_eq!(m.from.id, Value::Int(1));
    assert_eq!(m.to.id, Value::Int(2));
}

#[test]
fn quotes_cannot_be_printed() {
    let m = ClientMessage::Ack(Ack {
        id: "say \"hi\"".into(),
    });
    let mut out = BytesMut::new();
    let err = ClientCodec::default().encode(&m, &mut out).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
    assert!(out.is_empty(), "nothing written");
}

#[test]
fn unsupported_commands() {
    let ctx = Context::new("1", "android");
    for command in [
        Command::Match,
        Command::Read {
            conversation: Conversation::User("2".into()),
            up_to: MessageId::Seq(1),
        },
        Command::CreateGroup { group: "g".into() },
        Command::JoinGroup { group: "g".into() },
        Command::Ping,
        Command::Send {
            to: Conversation::Session(imkit_protocols::SessionId(1)),
            client_ref: "x".into(),
            content: "y".into(),
        },
    ] {
        let err = command_to_message(&command, &ctx).unwrap_err();
        assert!(
            matches!(err, Error::Unsupported { .. }),
            "{command:?}: {err}"
        );
        assert!(err.to_string().contains("simple-im"), "{err}");
    }
}

#[test]
fn http_login_bodies() {
    let form = LoginForm {
        phone: "13800000001".into(),
        password: "p@ss word&=+".into(),
    };
    let body = form.encode();
    assert_eq!(body, "phone=13800000001&password=p%40ss+word%26%3D%2B");
    assert_eq!(LoginForm::parse(body.as_bytes()).unwrap(), form);

    let ok = r#"[response] status = 0 server = "10.0.0.5" port = "1987" [response.user] token = "Xb3k" id = 1"#;
    let response = Response::login_ok("10.0.0.5", 1987, "Xb3k", 1);
    assert_eq!(response.print().unwrap(), ok);
    assert_eq!(Response::parse(ok.as_bytes()).unwrap(), response);
    assert_eq!(response.node_address().as_deref(), Some("10.0.0.5:1987"));

    for status in [1, 2, 404] {
        let wire = format!("[response] status = {status}");
        assert_eq!(Response::status(status).print().unwrap(), wire);
        assert_eq!(
            Response::parse(wire.as_bytes()).unwrap(),
            Response::status(status)
        );
    }
}

#[test]
fn http_reconnect_and_failed_bodies() {
    let form = ReconnectForm {
        id: "1".into(),
        token: TOKEN.into(),
    };
    assert_eq!(
        form.encode(),
        "id=1&token=Xb3kq%2B%2F9AbCdEfGhIjKlMnOpQrStUv%3D%3D"
    );
    assert_eq!(
        ReconnectForm::parse(form.encode().as_bytes()).unwrap(),
        form
    );
    let failed = FailedForm {
        token: TOKEN.into(),
    };
    assert_eq!(
        FailedForm::parse(failed.encode().as_bytes()).unwrap(),
        failed
    );
    assert!(LoginForm::parse(b"phone=1").is_err());

    let node = r#"[response] status = 0 server = "10.0.0.6" port = "1988""#;
    assert_eq!(Response::node("10.0.0.6", 1988).print().unwrap(), node);
    assert_eq!(
        Response::parse(node.as_bytes()).unwrap(),
        Response::node("10.0.0.6", 1988)
    );
    let online = r#"[response] status = 3 r = "IM is online""#;
    assert_eq!(Response::im_online().print().unwrap(), online);
    assert_eq!(
        Response::parse(online.as_bytes()).unwrap(),
        Response::im_online()
    );
}

#[test]
fn document_trait_parses_one_document() {
    assert_eq!(
        ServerMessage::parse(br#"[a] id = "x""#).unwrap(),
        ServerMessage::Ack(Ack { id: "x".into() })
    );
    assert!(ServerMessage::parse(br#"[r] id = "x" t = "y""#).is_err());
    assert!(ClientMessage::parse(br#"[rr] id="a_01" t="login" s=0"#).is_err());
}
