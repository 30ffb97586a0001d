//! fishchat-text end to end: the same flows as fishchat, as text lines on one endpoint, driven
//! by the protocols driver and by hand, exactly as a person typing into `nc` would.

mod e2e_fishchat_common;

use std::time::Duration;

use e2e_fishchat_common::*;
use imkit_protocols::{Command, Conversation, Dialect, Event, GroupId, MessageId, UserId};
use imkit_server_mock::ServerConfig;

const TEXT: Dialect = Dialect::FishchatText;

fn to_user(user: &str, content: &str) -> Command {
    Command::Send {
        to: Conversation::User(UserId::from(user)),
        client_ref: String::new(),
        content: content.into(),
    }
}

/// `RESP_MESSAGE_P2P <msg> <from> <uuid>`: the words before the uuid, and the uuid.
fn split_p2p_line(line: &str) -> (&str, &str) {
    let (head, uuid) = line.rsplit_once(' ').expect("words");
    let parsed = uuid::Uuid::parse_str(uuid).unwrap_or_else(|_| panic!("a uuid in {line:?}"));
    assert_eq!(parsed.get_version_num(), 4);
    (head, uuid)
}

#[tokio::test]
async fn a_person_with_nc_can_chat() {
    let server = start_ephemeral(&[TEXT, Dialect::Fishchat]).await;
    let text = endpoint(&server, TEXT, "text");
    assert_eq!(server.client_address(TEXT), Some(text.to_string()));

    let mut alice = Raw::lines(text).await;
    // The text endpoint is its own msg_server: it names itself and keeps the connection.
    alice.send_bytes(b"REQ_MSG_SERVER\n").await;
    assert_eq!(
        alice.recv_line().await,
        format!("SELECT_MSG_SERVER_FOR_CLIENT {text}")
    );
    alice.send_bytes(b"SEND_CLIENT_ID alice\n").await;
    let mut bob = Raw::lines(text).await;
    // Any case, CRLF, extra blanks and blank lines are fine.
    bob.send_bytes(b"\r\n  send_client_id\tbob \r\n").await;
    wait_online(&server, &UserId::from("alice")).await;
    wait_online(&server, &UserId::from("bob")).await;

    alice
        .send_bytes(b"SEND_MESSAGE_P2P bob \"hello there\" alice\n")
        .await;
    let line = bob.recv_line().await;
    let (head, uuid) = split_p2p_line(&line);
    assert_eq!(head, "RESP_MESSAGE_P2P \"hello there\" alice");
    bob.send_bytes(format!("P2P_ACK bob {uuid}\n").as_bytes())
        .await;
    wait_pending(&server, 0).await;

    // A line that does not parse is ignored; the connection stays.
    alice
        .send_bytes(b"SEND_MESSAGE_P2P bob \"unterminated\n")
        .await;

    // Topics.
    alice.send_bytes(b"CREATE_TOPIC room\n").await;
    alice.send_bytes(b"JOIN_TOPIC room alice\n").await;
    assert_eq!(
        alice.recv_line().await,
        format!("LOCATE_TOPIC_MSG_ADDR {text} room")
    );
    bob.send_bytes(b"JOIN_TOPIC room bob\n").await;
    assert_eq!(
        bob.recv_line().await,
        format!("LOCATE_TOPIC_MSG_ADDR {text} room")
    );
    alice
        .send_bytes(b"SEND_MESSAGE_TOPIC room \"hi <all>\\nsecond line\"\n")
        .await;
    for member in [&mut alice, &mut bob] {
        assert_eq!(
            member.recv_line().await,
            "RESP_MESSAGE_TOPIC room \"hi <all>\\nsecond line\" alice"
        );
    }

    // Across the two forms: carol speaks framed fishchat to the same hub.
    let mut carol = client(&server, Dialect::Fishchat, "carol").await;
    alice.send_bytes(b"SEND_MESSAGE_P2P carol hi alice\n").await;
    let message = next_delivery(&mut carol).await;
    assert_eq!(
        (message.content.as_str(), message.from.as_str()),
        ("hi", "alice")
    );
    carol.send(to_user("alice", "hi, nc user")).await.unwrap();
    let line = alice.recv_line().await;
    assert_eq!(
        split_p2p_line(&line).0,
        "RESP_MESSAGE_P2P \"hi, nc user\" carol"
    );

    // A command with too few arguments closes that connection alone.
    bob.send_bytes(b"SEND_CLIENT_ID\n").await;
    bob.expect_closed().await;
    carol.send(to_user("alice", "still here")).await.unwrap();
    let line = alice.recv_line().await;
    assert_eq!(
        split_p2p_line(&line).0,
        "RESP_MESSAGE_P2P \"still here\" carol"
    );

    // A command before SEND_CLIENT_ID closes too.
    let mut early = Raw::lines(text).await;
    early.send_bytes(b"SEND_PING PING\n").await;
    early.expect_closed().await;
}

#[tokio::test]
async fn drivers_chat_ack_and_get_unacked_and_offline_messages_back() {
    let server = start_ephemeral(&[TEXT]).await;
    let mut alice = client(&server, TEXT, "alice").await;
    let mut bob = client(&server, TEXT, "bob").await;

    alice.send(to_user("bob", "one")).await.unwrap();
    alice.send(to_user("bob", "two")).await.unwrap();
    let one = next_delivery(&mut bob).await;
    let two = next_delivery(&mut bob).await;
    assert_eq!((one.content.as_str(), two.content.as_str()), ("one", "two"));
    assert!(matches!(one.id, Some(MessageId::Text(_))));
    bob.send(Command::Ack {
        conversation: Conversation::User("alice".into()),
        id: two.id.clone().unwrap(),
    })
    .await
    .unwrap();
    bob.close().await;
    wait_offline(&server, &UserId::from("bob")).await;
    alice.send(to_user("bob", "three")).await.unwrap();
    wait_pending(&server, 2).await;

    let mut bob = client(&server, TEXT, "bob").await;
    let again = next_delivery(&mut bob).await;
    assert_eq!(again.content, "one");
    assert_eq!(again.id, one.id, "redelivered with its uuid");
    assert_eq!(next_delivery(&mut bob).await.content, "three");

    // Topics through the driver.
    let room = GroupId::from("room");
    alice
        .send(Command::CreateGroup {
            group: room.clone(),
        })
        .await
        .unwrap();
    alice
        .send(Command::JoinGroup {
            group: room.clone(),
        })
        .await
        .unwrap();
    let located = Event::GroupJoined {
        group: room.clone(),
        server: Some(endpoint(&server, TEXT, "text").to_string()),
    };
    assert_eq!(next_event(&mut alice).await, located);
    bob.send(Command::JoinGroup {
        group: room.clone(),
    })
    .await
    .unwrap();
    assert_eq!(next_event(&mut bob).await, located);
    bob.send(Command::Send {
        to: Conversation::Group(room.clone()),
        client_ref: String::new(),
        content: "hello room".into(),
    })
    .await
    .unwrap();
    for member in [&mut alice, &mut bob] {
        let message = next_delivery(member).await;
        assert_eq!(message.conversation, Conversation::Group(room.clone()));
        assert_eq!(message.from, UserId::from("bob"));
        assert_eq!(message.content, "hello room");
    }
}

#[tokio::test]
async fn a_silent_text_session_is_swept() {
    let mut config = ServerConfig::ephemeral(&[TEXT]);
    config.timers.fishchat_scan = Duration::from_millis(200);
    let server = start(config).await;
    let text = endpoint(&server, TEXT, "text");

    let mut pinger = Raw::lines(text).await;
    pinger.send_bytes(b"SEND_CLIENT_ID pinger\n").await;
    let mut sleepy = Raw::lines(text).await;
    sleepy.send_bytes(b"SEND_CLIENT_ID sleepy\n").await;
    wait_online(&server, &UserId::from("sleepy")).await;
    let pinging = async {
        loop {
            pinger.send_bytes(b"SEND_PING PING\n").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = pinging => unreachable!(),
        _ = sleepy.expect_closed() => {}
    }
    wait_offline(&server, &UserId::from("sleepy")).await;
    assert!(server.hub().is_online(&UserId::from("pinger")));
}
