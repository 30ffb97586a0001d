//! fishchat end to end: the gateway hop, login, p2p with server uuids, acks that really
//! acknowledge, offline flush, topics, the dead-session scan and bad input, over real sockets
//! with the protocols driver and raw clients (protocol note `fishchat-text.md`).

mod e2e_fishchat_common;

use std::time::Duration;

use e2e_fishchat_common::*;
use imkit_protocols::fishchat::Cmd;
use imkit_protocols::{Command, Conversation, Dialect, Event, GroupId, Message, MessageId, UserId};
use imkit_server_mock::ServerConfig;
use imkit_server_mock::hub::AccountsFile;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::timeout;

const FISH: Dialect = Dialect::Fishchat;

fn to_user(user: &str, content: &str) -> Command {
    Command::Send {
        to: Conversation::User(UserId::from(user)),
        client_ref: String::new(),
        content: content.into(),
    }
}

fn to_group(group: &str, content: &str) -> Command {
    Command::Send {
        to: Conversation::Group(GroupId::from(group)),
        client_ref: String::new(),
        content: content.into(),
    }
}

fn uuid_of(message: &Message) -> String {
    match &message.id {
        Some(MessageId::Text(uuid)) => {
            let parsed = uuid::Uuid::parse_str(uuid).expect("a uuid");
            assert_eq!(parsed.get_version_num(), 4, "a v4 uuid like the original's");
            assert_eq!(uuid, &parsed.to_string(), "lowercase, hyphenated");
            uuid.clone()
        }
        other => panic!("a p2p delivery carries the server's uuid, got {other:?}"),
    }
}

fn p2p(from: &str, content: &str, message: &Message) {
    assert_eq!(message.conversation, Conversation::User(UserId::from(from)));
    assert_eq!(message.from, UserId::from(from));
    assert_eq!(message.content, content);
}

#[tokio::test]
async fn the_gateway_names_the_msg_server_byte_for_byte_then_closes() {
    let server = start_ephemeral(&[FISH]).await;
    let gateway = endpoint(&server, FISH, "gateway");
    let msg_server = endpoint(&server, FISH, "msg_server");
    assert_eq!(server.client_address(FISH), Some(gateway.to_string()));
    assert_ne!(gateway, msg_server);

    let mut raw = Raw::frames(gateway).await;
    // Unknown commands and bodies that are no command: no reply, the connection stays.
    raw.send_body("{\"CmdName\":\"WHATEVER\",\"Args\":[]}\n")
        .await;
    raw.send_body("not json at all").await;
    raw.send_bytes(&[0, 0, 0, 0]).await;
    raw.expect_silence(Duration::from_millis(300)).await;

    // §2: the 43-byte request, the 74-byte reply (for 127.0.0.1 and a 5-digit port), FIN.
    let request = b"\x00\x00\x00\x27{\"CmdName\":\"REQ_MSG_SERVER\",\"Args\":[]}\n";
    assert_eq!(request.len(), 43);
    raw.send_bytes(request).await;
    let reply = raw.recv_frame_bytes().await;
    let note = b"\x00\x00\x00\x46{\"CmdName\":\"SELECT_MSG_SERVER_FOR_CLIENT\",\"Args\":[\"127.0.0.1:19000\"]}\n";
    assert_eq!(note.len(), 74);
    let port = msg_server.port().to_string();
    assert_eq!(
        port.len(),
        5,
        "ephemeral ports have five digits, like 19000"
    );
    let expected = String::from_utf8_lossy(note).replace("19000", &port);
    assert_eq!(reply, expected.as_bytes());
    raw.expect_closed().await;
}

#[tokio::test]
async fn p2p_is_delivered_byte_exact_and_nothing_is_answered_to_the_sender() {
    let server = start_ephemeral(&[FISH]).await;
    let msg_server = endpoint(&server, FISH, "msg_server");
    let mut alice = Raw::frames(msg_server).await;
    let mut bob = Raw::frames(msg_server).await;
    alice.login(&server, "alice").await;
    bob.login(&server, "bob").await;

    alice
        .send(Cmd::SendMessageP2p {
            to: "bob".into(),
            msg: "hello <b>&".into(),
            from: "alice".into(),
        })
        .await;
    // §7.3: 00 00 00 73 {"CmdName":"RESP_MESSAGE_P2P","Args":["hello \u003cb\u003e\u0026","alice","<uuid>"]}\n
    let frame = bob.recv_frame_bytes().await;
    let head = b"\x00\x00\x00\x73{\"CmdName\":\"RESP_MESSAGE_P2P\",\"Args\":[\"hello \\u003cb\\u003e\\u0026\",\"alice\",\"";
    let tail = b"\"]}\n";
    assert_eq!(frame.len(), 4 + 0x73, "{}", String::from_utf8_lossy(&frame));
    assert_eq!(&frame[..head.len()], head);
    assert_eq!(&frame[frame.len() - tail.len()..], tail);
    let uuid = std::str::from_utf8(&frame[head.len()..frame.len() - tail.len()]).unwrap();
    assert_eq!(uuid::Uuid::parse_str(uuid).unwrap().get_version_num(), 4);
    bob.send(Cmd::P2pAck {
        client_id: "bob".into(),
        uuid: uuid.into(),
    })
    .await;

    // SEND_CLIENT_ID, SEND_MESSAGE_P2P, SEND_PING and CREATE_TOPIC have no reply: the first
    // thing alice ever gets is the answer to her JOIN_TOPIC.
    alice.send(Cmd::SendPing).await;
    alice.send(Cmd::CreateTopic { topic: "t1".into() }).await;
    alice
        .send(Cmd::JoinTopic {
            topic: "t1".into(),
            client_id: "alice".into(),
        })
        .await;
    assert_eq!(
        alice.recv_frame_bytes().await,
        format!(
            "\0\0\0\x44{{\"CmdName\":\"LOCATE_TOPIC_MSG_ADDR\",\"Args\":[\"{msg_server}\",\"t1\"]}}\n"
        )
        .as_bytes()
    );
    // bob's ack settled the message: nothing is kept for him.
    wait_pending(&server, 0).await;
}

#[tokio::test]
async fn drivers_look_up_chat_and_unacked_messages_come_back_after_a_reconnect() {
    let server = start_ephemeral(&[FISH]).await;
    let msg_server = endpoint(&server, FISH, "msg_server").to_string();
    let mut alice = client(&server, FISH, "alice").await;
    let first = timeout(WAIT, alice.recv()).await.unwrap().unwrap();
    assert_eq!(
        first,
        Event::LookedUp {
            address: msg_server.clone()
        }
    );
    let mut bob = client(&server, FISH, "bob").await;

    alice.send(to_user("bob", "one")).await.unwrap();
    alice.send(to_user("bob", "two")).await.unwrap();
    let one = next_delivery(&mut bob).await;
    let two = next_delivery(&mut bob).await;
    p2p("alice", "one", &one);
    p2p("alice", "two", &two);
    let (one_id, two_id) = (uuid_of(&one), uuid_of(&two));
    assert_ne!(one_id, two_id);
    // bob acks "two" only, and goes away.
    bob.send(Command::Ack {
        conversation: Conversation::User("alice".into()),
        id: two.id.clone().unwrap(),
    })
    .await
    .unwrap();
    bob.close().await;
    wait_offline(&server, &UserId::from("bob")).await;

    alice.send(to_user("bob", "three")).await.unwrap();
    let mut bob = client(&server, FISH, "bob").await;
    // Unacked first (same uuid), then what came while offline; never the acked "two".
    let again = next_delivery(&mut bob).await;
    p2p("alice", "one", &again);
    assert_eq!(uuid_of(&again), one_id);
    let three = next_delivery(&mut bob).await;
    p2p("alice", "three", &three);
    alice.send(to_user("bob", "four")).await.unwrap();
    p2p("alice", "four", &next_delivery(&mut bob).await);

    // And back the other way.
    bob.send(to_user("alice", "hi alice")).await.unwrap();
    p2p("bob", "hi alice", &next_delivery(&mut alice).await);
}

#[tokio::test]
async fn offline_messages_are_flushed_in_order_at_login() {
    let server = start_ephemeral(&[FISH]).await;
    let alice = client(&server, FISH, "alice").await;
    for text in ["while you were out", "second", "third"] {
        alice.send(to_user("carol", text)).await.unwrap();
    }
    wait_pending(&server, 3).await;
    let mut carol = client(&server, FISH, "carol").await;
    for text in ["while you were out", "second", "third"] {
        p2p("alice", text, &next_delivery(&mut carol).await);
    }
}

#[tokio::test]
async fn topics_fan_out_to_every_member_including_the_sender() {
    let server = start_ephemeral(&[FISH]).await;
    let msg_server = endpoint(&server, FISH, "msg_server").to_string();
    let mut alice = client(&server, FISH, "alice").await;
    let mut bob = client(&server, FISH, "bob").await;
    let mut carol = client(&server, FISH, "carol").await;
    let t1 = GroupId::from("t1");
    let located = Event::GroupJoined {
        group: t1.clone(),
        server: Some(msg_server.clone()),
    };

    alice
        .send(Command::CreateGroup { group: t1.clone() })
        .await
        .unwrap();
    // CREATE_TOPIC has no reply; the creator's own JOIN_TOPIC has one.
    alice
        .send(Command::JoinGroup { group: t1.clone() })
        .await
        .unwrap();
    assert_eq!(next_event(&mut alice).await, located);
    // An unknown topic gets no reply: bob's first answer is for t1.
    bob.send(Command::JoinGroup {
        group: GroupId::from("nope"),
    })
    .await
    .unwrap();
    bob.send(Command::JoinGroup { group: t1.clone() })
        .await
        .unwrap();
    assert_eq!(next_event(&mut bob).await, located);
    carol
        .send(Command::JoinGroup { group: t1.clone() })
        .await
        .unwrap();
    assert_eq!(next_event(&mut carol).await, located);

    alice.send(to_group("t1", "hey all")).await.unwrap();
    for member in [&mut alice, &mut bob, &mut carol] {
        let message = next_delivery(member).await;
        assert_eq!(message.conversation, Conversation::Group(t1.clone()));
        assert_eq!(message.from, UserId::from("alice"));
        assert_eq!(message.content, "hey all");
        assert_eq!(message.id, None, "RESP_MESSAGE_TOPIC has no uuid");
    }
    // Topic messages cannot be acked on the wire: once written they are settled, so
    // nothing piles up to be redelivered.
    wait_pending(&server, 0).await;

    // An offline member gets the topic's messages at its next login.
    carol.close().await;
    wait_offline(&server, &UserId::from("carol")).await;
    bob.send(to_group("t1", "carol missed this")).await.unwrap();
    let mut carol = client(&server, FISH, "carol").await;
    let missed = next_delivery(&mut carol).await;
    assert_eq!(missed.conversation, Conversation::Group(t1));
    assert_eq!(missed.content, "carol missed this");
}

#[tokio::test]
async fn the_dead_session_scan_closes_silent_sessions_and_keeps_pinging_ones() {
    let mut config = ServerConfig::ephemeral(&[FISH]);
    config.timers.fishchat_scan = Duration::from_millis(200);
    config.limits.handshake_timeout = Duration::from_secs(1);
    let server = start(config).await;
    let msg_server = endpoint(&server, FISH, "msg_server");

    let mut awake_config = driver_config(&server, FISH, "awake");
    awake_config.heartbeat = Some(Duration::from_millis(50));
    let mut awake = client_with(&server, awake_config).await;
    let mut alice_config = driver_config(&server, FISH, "alice");
    alice_config.heartbeat = Some(Duration::from_millis(50));
    let alice = client_with(&server, alice_config).await;

    // Logs in, then never pings: gone after two scans.
    let mut sleepy = Raw::frames(msg_server).await;
    sleepy.login(&server, "sleepy").await;
    sleepy.expect_closed().await;
    wait_offline(&server, &UserId::from("sleepy")).await;
    // Never logs in at all: closed at the handshake timeout.
    let mut mute = Raw::frames(msg_server).await;
    mute.expect_closed().await;

    // The pinging client outlived those scans and still gets messages.
    alice.send(to_user("awake", "still there?")).await.unwrap();
    p2p("alice", "still there?", &next_delivery(&mut awake).await);
    assert!(server.hub().is_online(&UserId::from("awake")));

    // What was sent to the swept session waits for its next login.
    alice.send(to_user("sleepy", "wake up")).await.unwrap();
    let mut sleepy = Raw::frames(msg_server).await;
    sleepy.login(&server, "sleepy").await;
    match sleepy.recv().await {
        Cmd::RespMessageP2p { msg, from, .. } => {
            assert_eq!((msg.as_str(), from.as_str()), ("wake up", "alice"));
        }
        other => panic!("expected RESP_MESSAGE_P2P, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_input_closes_only_the_offending_connection() {
    let server = start_ephemeral(&[FISH]).await;
    let msg_server = endpoint(&server, FISH, "msg_server");
    let mut alice = client(&server, FISH, "alice").await;
    let mut bob = client(&server, FISH, "bob").await;
    let mut topic_owner = Raw::frames(msg_server).await;
    topic_owner.login(&server, "owner").await;
    topic_owner
        .send(Cmd::CreateTopic { topic: "t1".into() })
        .await;

    // SEND_CLIENT_ID with [] (crashed the whole original process).
    let mut crash = Raw::frames(msg_server).await;
    crash
        .send_body("{\"CmdName\":\"SEND_CLIENT_ID\",\"Args\":[]}\n")
        .await;
    crash.expect_closed().await;

    // Too few args after login.
    let mut short = Raw::frames(msg_server).await;
    short.login(&server, "short").await;
    short
        .send_body("{\"CmdName\":\"P2P_ACK\",\"Args\":[\"short\"]}\n")
        .await;
    short.expect_closed().await;

    // A command before SEND_CLIENT_ID.
    let mut early = Raw::frames(msg_server).await;
    early
        .send(Cmd::SendMessageP2p {
            to: "bob".into(),
            msg: "who am I".into(),
            from: "alice".into(),
        })
        .await;
    early.expect_closed().await;

    // A sender that is not the logged-in user: refused, not delivered.
    let mut forger = Raw::frames(msg_server).await;
    forger.login(&server, "eve").await;
    forger
        .send(Cmd::SendMessageP2p {
            to: "bob".into(),
            msg: "forged".into(),
            from: "alice".into(),
        })
        .await;
    forger.expect_closed().await;

    // A topic send by a non-member.
    let mut outsider = Raw::frames(msg_server).await;
    outsider.login(&server, "outsider").await;
    outsider
        .send(Cmd::SendMessageTopic {
            topic: "t1".into(),
            msg: "let me in".into(),
        })
        .await;
    outsider.expect_closed().await;

    // A declared length over the frame limit.
    let mut huge = Raw::frames(msg_server).await;
    huge.send_bytes(&[0xff, 0xff, 0xff, 0xff, b'{']).await;
    huge.expect_closed().await;

    // Invalid JSON, an empty body and unknown commands are ignored (as the original); the
    // Go-lenient login (lowercase keys, no newline) then works on the same connection.
    let mut sloppy = Raw::frames(msg_server).await;
    sloppy.send_body("{\"CmdName\":").await;
    sloppy.send_bytes(&[0, 0, 0, 0]).await;
    sloppy
        .send_body("{\"CmdName\":\"NO_SUCH\",\"Args\":[\"x\"]}")
        .await;
    sloppy
        .send_body("{\"cmdname\":\"SEND_CLIENT_ID\",\"args\":[\"dave\"],\"extra\":1}")
        .await;
    wait_online(&server, &UserId::from("dave")).await;

    // Everyone else kept chatting; the forged message never reached bob.
    alice.send(to_user("bob", "still here")).await.unwrap();
    p2p("alice", "still here", &next_delivery(&mut bob).await);
    bob.send(to_user("alice", "me too")).await.unwrap();
    p2p("bob", "me too", &next_delivery(&mut alice).await);
    alice.send(to_user("dave", "hi dave")).await.unwrap();
    match sloppy.recv().await {
        Cmd::RespMessageP2p { msg, from, .. } => {
            assert_eq!((msg.as_str(), from.as_str()), ("hi dave", "alice"));
        }
        other => panic!("expected RESP_MESSAGE_P2P, got {other:?}"),
    }
}

#[tokio::test]
async fn with_an_accounts_file_unknown_ids_are_refused() {
    let accounts = AccountsFile::parse(
        "users.toml",
        "[[user]]\nid = \"alice\"\ngroups = [\"lobby\"]\n[[user]]\nid = \"bob\"\ngroups = [\"lobby\"]\n",
    )
    .expect("accounts");
    let mut config = ServerConfig::ephemeral(&[FISH]);
    config.hub.accounts = Some(accounts);
    let server = start(config).await;
    let msg_server = endpoint(&server, FISH, "msg_server");

    let mut mallory = Raw::frames(msg_server).await;
    mallory
        .send(Cmd::SendClientId {
            client_id: "mallory".into(),
        })
        .await;
    mallory.expect_closed().await;
    assert!(!server.hub().is_online(&UserId::from("mallory")));

    let mut alice = client(&server, FISH, "alice").await;
    let mut bob = client(&server, FISH, "bob").await;
    // A message to an id that does not exist is dropped, as the original drops messages to
    // never-registered ids; the sender's connection stays.
    alice.send(to_user("ghost", "anyone?")).await.unwrap();
    alice.send(to_group("lobby", "hello lobby")).await.unwrap();
    for member in [&mut alice, &mut bob] {
        let message = next_delivery(member).await;
        assert_eq!(message.conversation, Conversation::Group("lobby".into()));
        assert_eq!(message.content, "hello lobby");
    }
}

#[tokio::test]
async fn the_binary_announces_fishchat_and_serves_the_lookup() {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "fishchat=127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run server-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .expect("announced in time")
        .expect("read")
        .expect("a line");
    let gateway = line
        .strip_prefix("listening fishchat ")
        .unwrap_or_else(|| panic!("unexpected announcement {line:?}"));
    let gateway: std::net::SocketAddr = gateway.parse().expect("host:port");
    assert_eq!(gateway.ip().to_string(), "127.0.0.1");

    let mut raw = Raw::frames(gateway).await;
    raw.send(Cmd::ReqMsgServer).await;
    let Cmd::SelectMsgServerForClient { addr } = raw.recv().await else {
        panic!("expected SELECT_MSG_SERVER_FOR_CLIENT");
    };
    raw.expect_closed().await;
    let msg_server: std::net::SocketAddr = addr.parse().expect("host:port");
    assert_ne!(msg_server, gateway);
    let mut client = Raw::frames(msg_server).await;
    client
        .send(Cmd::SendClientId {
            client_id: "alice".into(),
        })
        .await;
    client.expect_silence(Duration::from_millis(200)).await;
    let _ = child.kill().await;
}
