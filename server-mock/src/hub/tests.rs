//! The hub through its public API: commands in, events out of the outbound queues.

use std::collections::HashMap;
use std::net::SocketAddr;

use imkit_protocols::{
    Command, Conversation, Dialect, Event, GroupId, Message, MessageId, SessionId, UserId,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40000))
}

fn hub() -> Hub {
    Hub::new(HubConfig {
        seed: Some(42),
        ..HubConfig::default()
    })
}

/// Everything queued for a connection right now.
fn drain(out: &mut Outbound) -> Vec<Event> {
    take(out, usize::MAX)
}

/// Up to `max` of what is queued for a connection right now, as events.
fn take(out: &mut Outbound, max: usize) -> Vec<Event> {
    let mut items = Vec::new();
    out.try_recv_many(&mut items, max);
    items.into_iter().map(Outgoing::into_event).collect()
}

fn delivered(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Delivered(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn contents(events: &[Event]) -> Vec<String> {
    delivered(events).into_iter().map(|m| m.content).collect()
}

/// Log in; anything queued after `LoggedIn` (stored messages) stays in the queue.
fn login(hub: &Hub, dialect: Dialect, user: &str) -> (ConnId, Outbound) {
    let (conn, mut out) = hub.attach(dialect, peer());
    hub.handle(
        conn,
        Command::Login {
            user: UserId::from(user),
            secret: None,
            device: None,
        },
    )
    .unwrap();
    let first = take(&mut out, 1);
    assert!(
        matches!(&first[..], [Event::LoggedIn { user: u, .. }] if u.as_str() == user),
        "{first:?}"
    );
    (conn, out)
}

/// Log in on a simple-im device; anything queued after `LoggedIn` stays in the queue.
fn login_device(hub: &Hub, user: &str, device: &str) -> (ConnId, Outbound) {
    let (conn, mut out) = hub.attach(Dialect::SimpleIm, peer());
    hub.handle(
        conn,
        Command::Login {
            user: UserId::from(user),
            secret: Some("tok".into()),
            device: Some(device.into()),
        },
    )
    .unwrap();
    let first = take(&mut out, 1);
    assert!(matches!(first[..], [Event::LoggedIn { .. }]), "{first:?}");
    (conn, out)
}

fn send(hub: &Hub, conn: ConnId, to: Conversation, text: &str) -> Result<(), HubError> {
    hub.handle(
        conn,
        Command::Send {
            to,
            client_ref: format!("ref-{text}"),
            content: text.into(),
        },
    )
}

fn to_user(user: &str) -> Conversation {
    Conversation::User(UserId::from(user))
}

fn register(hub: &Hub, nick: &str) -> (ConnId, Outbound, UserId) {
    let (conn, mut out) = hub.attach(Dialect::ChatJson, peer());
    hub.handle(conn, Command::Register { nick: nick.into() })
        .unwrap();
    let events = drain(&mut out);
    let Event::Registered { user, token, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(token.as_ref().map(String::len), Some(30));
    (conn, out, user.clone())
}

#[test]
fn two_users_direct_message_with_increasing_ids() {
    let hub = hub();
    let (alice, mut a) = login(&hub, Dialect::Newim, "alice");
    let (_bob, mut b) = login(&hub, Dialect::Newim, "bob");
    send(&hub, alice, to_user("bob"), "one").unwrap();
    send(&hub, alice, to_user("bob"), "two").unwrap();
    assert_eq!(
        drain(&mut a),
        vec![
            Event::Accepted {
                client_ref: Some("ref-one".into()),
                id: Some(MessageId::Seq(1))
            },
            Event::Accepted {
                client_ref: Some("ref-two".into()),
                id: Some(MessageId::Seq(2))
            },
        ]
    );
    assert_eq!(
        drain(&mut b),
        vec![
            Event::Delivered(Message {
                conversation: to_user("alice"),
                from: UserId::from("alice"),
                id: Some(MessageId::Seq(1)),
                content: "one".into(),
            }),
            Event::Delivered(Message {
                conversation: to_user("alice"),
                from: UserId::from("alice"),
                id: Some(MessageId::Seq(2)),
                content: "two".into(),
            }),
        ]
    );
}

#[test]
fn commands_before_login_and_false_senders_are_refused() {
    let hub = hub();
    let (conn, mut out) = hub.attach(Dialect::Fishchat, peer());
    assert_eq!(
        send(&hub, conn, to_user("x"), "hi"),
        Err(HubError::NotLoggedIn)
    );
    assert_eq!(hub.handle(conn, Command::Match), Err(HubError::NotLoggedIn));
    assert!(drain(&mut out).is_empty());
    let (alice, _a) = login(&hub, Dialect::Fishchat, "alice");
    assert_eq!(hub.check_sender(alice, &UserId::from("alice")), Ok(()));
    assert_eq!(
        hub.check_sender(alice, &UserId::from("mallory")),
        Err(HubError::SenderMismatch {
            claimed: UserId::from("mallory"),
            actual: UserId::from("alice")
        })
    );
    hub.detach(alice);
    assert_eq!(
        hub.handle(alice, Command::Ping),
        Err(HubError::ConnectionClosed(alice))
    );
}

#[test]
fn chat_flow_match_dialogue_read_and_partner_exit() {
    let hub = hub();
    let (alice, mut a, alice_id) = register(&hub, "alice");
    let (bob, mut b, bob_id) = register(&hub, "bob");
    assert_eq!(alice_id, UserId::from(10));
    assert_eq!(bob_id, UserId::from(11));

    hub.handle(alice, Command::Match).unwrap();
    let session = SessionId(10);
    assert_eq!(
        drain(&mut b),
        vec![Event::SessionOpened {
            session,
            peer: alice_id.clone(),
            peer_name: Some("alice".into()),
            by_peer: true
        }]
    );
    assert_eq!(
        drain(&mut a),
        vec![Event::Matched {
            session,
            peer: bob_id.clone(),
            peer_name: Some("bob".into())
        }]
    );

    // Both are busy now: a third user finds nobody free.
    let (carol, mut c, _) = register(&hub, "carol");
    hub.handle(carol, Command::Match).unwrap();
    assert_eq!(drain(&mut c), vec![Event::NoPartner]);

    send(&hub, alice, Conversation::Session(session), "hi").unwrap();
    let accepted = drain(&mut a);
    assert_eq!(
        accepted,
        vec![Event::Accepted {
            client_ref: Some("ref-hi".into()),
            id: Some(MessageId::Seq(1))
        }]
    );
    assert_eq!(
        delivered(&drain(&mut b)),
        vec![Message {
            conversation: Conversation::Session(session),
            from: alice_id.clone(),
            id: Some(MessageId::Seq(1)),
            content: "hi".into()
        }]
    );

    hub.handle(
        bob,
        Command::Read {
            conversation: Conversation::Session(session),
            up_to: MessageId::Seq(1),
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut b),
        vec![Event::Done {
            operation: "read".into()
        }]
    );
    assert_eq!(
        drain(&mut a),
        vec![Event::ReadUpTo {
            conversation: Conversation::Session(session),
            reader: bob_id.clone(),
            up_to: MessageId::Seq(1)
        }]
    );

    // carol cannot talk into a session she is not in.
    assert!(matches!(
        send(&hub, carol, Conversation::Session(session), "x"),
        Err(HubError::NotMember { .. })
    ));

    // bob's socket closes: alice is told, and is free again.
    hub.detach(bob);
    assert_eq!(
        drain(&mut a),
        vec![Event::PartnerLeft {
            session,
            user: bob_id.clone()
        }]
    );
    assert_eq!(
        send(&hub, alice, Conversation::Session(session), "anyone?"),
        Err(HubError::SessionEnded(session))
    );
    assert_eq!(
        drain(&mut a),
        vec![Event::PartnerLeft {
            session,
            user: bob_id
        }]
    );
    hub.handle(carol, Command::Match).unwrap();
    assert!(matches!(
        drain(&mut c).as_slice(),
        [Event::Matched { peer, .. }] if *peer == alice_id
    ));
    assert_eq!(
        hub.handle(
            carol,
            Command::CloseSession {
                session: SessionId(999),
                peer: alice_id
            }
        ),
        Err(HubError::UnknownSession(SessionId(999)))
    );
}

/// Two MATCHes that cross: alice's picks a partner whose own MATCH is already on its way.
/// That MATCH is answered with alice's session, so nobody holds two partners and the third
/// user is still free.
#[test]
fn a_match_from_someone_already_matched_answers_with_their_partner() {
    let hub = hub();
    let (alice, mut a, alice_id) = register(&hub, "alice");
    let (bob, mut b, bob_id) = register(&hub, "bob");
    let (carol, mut c, carol_id) = register(&hub, "carol");
    hub.handle(alice, Command::Match).unwrap();
    let (session, picked) = match drain(&mut a).as_slice() {
        [Event::Matched { session, peer, .. }] => (*session, peer.clone()),
        other => panic!("{other:?}"),
    };
    let [(picked_conn, picked_out), (other_conn, other_out)] = if picked == bob_id {
        [(bob, &mut b), (carol, &mut c)]
    } else {
        assert_eq!(picked, carol_id);
        [(carol, &mut c), (bob, &mut b)]
    };
    drain(picked_out);
    hub.handle(picked_conn, Command::Match).unwrap();
    assert_eq!(
        drain(picked_out),
        vec![Event::Matched {
            session,
            peer: alice_id,
            peer_name: Some("alice".into())
        }]
    );
    assert_eq!(drain(other_out), vec![]);
    assert_eq!(drain(&mut a), vec![]);
    // The third user was never picked: free, and alone.
    hub.handle(other_conn, Command::Match).unwrap();
    assert_eq!(drain(other_out), vec![Event::NoPartner]);
}

#[test]
fn match_never_pairs_with_oneself_and_logout_frees_the_partner() {
    let hub = hub();
    let (alice, mut a, _) = register(&hub, "alice");
    hub.handle(alice, Command::Match).unwrap();
    assert_eq!(drain(&mut a), vec![Event::NoPartner]);

    let (bob, mut b, bob_id) = register(&hub, "bob");
    hub.handle(bob, Command::Match).unwrap();
    let session = match drain(&mut b).as_slice() {
        [Event::Matched { session, .. }] => *session,
        other => panic!("{other:?}"),
    };
    drain(&mut a);
    // Chat's logout on silence: the connection stays, the user is gone.
    hub.logout(bob).unwrap();
    assert_eq!(
        drain(&mut a),
        vec![Event::PartnerLeft {
            session,
            user: bob_id
        }]
    );
    assert_eq!(hub.user_of(bob), None);
    assert_eq!(hub.handle(bob, Command::Match), Err(HubError::NotLoggedIn));
}

#[test]
fn resume_with_the_registration_token() {
    let hub = hub();
    let (conn, mut out) = hub.attach(Dialect::ChatJson, peer());
    hub.handle(conn, Command::Register { nick: "al".into() })
        .unwrap();
    let Event::Registered { user, token, .. } = drain(&mut out).remove(0) else {
        panic!()
    };
    hub.detach(conn);
    let (again, mut out) = hub.attach(Dialect::ChatJson, peer());
    assert_eq!(
        hub.handle(
            again,
            Command::Resume {
                user: user.clone(),
                token: "not-it".into(),
                device: None
            }
        ),
        Err(HubError::BadToken(user.clone()))
    );
    hub.handle(
        again,
        Command::Resume {
            user: user.clone(),
            token: token.clone().unwrap(),
            device: None,
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut out),
        vec![Event::LoggedIn {
            user: user.clone(),
            token
        }]
    );
    assert!(hub.is_online(&user));
}

#[test]
fn eutamias_sessions_outlive_logout_and_deliver_unread_at_login() {
    let hub = hub();
    let (one, mut o) = login(&hub, Dialect::Eutamias, "1");
    hub.handle(
        one,
        Command::OpenSession {
            peer: UserId::from("2"),
        },
    )
    .unwrap();
    let session = match drain(&mut o).as_slice() {
        [
            Event::SessionOpened {
                session,
                by_peer: false,
                ..
            },
        ] => *session,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        hub.handle(
            one,
            Command::OpenSession {
                peer: UserId::from("1")
            }
        ),
        Err(HubError::SelfSession)
    );
    send(
        &hub,
        one,
        Conversation::Session(session),
        "while you were out",
    )
    .unwrap();
    let (two, mut t) = hub.attach(Dialect::Eutamias, peer());
    hub.handle(
        two,
        Command::Login {
            user: UserId::from("2"),
            secret: Some("pw".into()),
            device: None,
        },
    )
    .unwrap();
    let events = drain(&mut t);
    assert!(matches!(events[0], Event::LoggedIn { .. }));
    assert_eq!(contents(&events), vec!["while you were out"]);
    // Opening again reuses the session.
    hub.handle(
        two,
        Command::OpenSession {
            peer: UserId::from("1"),
        },
    )
    .unwrap();
    assert!(matches!(
        drain(&mut t).as_slice(),
        [Event::SessionOpened { session: s, by_peer: false, .. }] if *s == session
    ));
    hub.handle(
        two,
        Command::CloseSession {
            session,
            peer: UserId::from("1"),
        },
    )
    .unwrap();
    assert_eq!(drain(&mut t), vec![Event::SessionClosed { session }]);
    drain(&mut o);
    assert_eq!(
        send(&hub, one, Conversation::Session(session), "late"),
        Err(HubError::SessionEnded(session))
    );
}

#[test]
fn groups_fan_out_to_every_member_including_the_sender() {
    let hub = hub();
    let (alice, mut a) = login(&hub, Dialect::Fishchat, "alice");
    let (bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    let (carol, mut c) = login(&hub, Dialect::Fishchat, "carol");
    let t1 = GroupId::from("t1");
    assert_eq!(
        hub.handle(bob, Command::JoinGroup { group: t1.clone() }),
        Err(HubError::UnknownGroup(t1.clone()))
    );
    hub.handle(alice, Command::CreateGroup { group: t1.clone() })
        .unwrap();
    hub.handle(bob, Command::JoinGroup { group: t1.clone() })
        .unwrap();
    assert_eq!(
        drain(&mut a),
        vec![
            Event::GroupJoined {
                group: t1.clone(),
                server: None
            },
            Event::MemberJoined {
                group: t1.clone(),
                user: UserId::from("bob")
            }
        ]
    );
    assert_eq!(
        drain(&mut b),
        vec![Event::GroupJoined {
            group: t1.clone(),
            server: None
        }]
    );
    // carol is not a member: refused, nobody hears it.
    assert!(matches!(
        send(&hub, carol, Conversation::Group(t1.clone()), "not a member"),
        Err(HubError::NotMember { .. })
    ));
    send(&hub, alice, Conversation::Group(t1.clone()), "hey all").unwrap();
    let to_alice = drain(&mut a);
    // fishchat answers a send with silence: the hub queues no `Accepted` for it.
    assert_eq!(to_alice.len(), 1, "{to_alice:?}");
    assert_eq!(contents(&to_alice), vec!["hey all"]);
    let to_bob = delivered(&drain(&mut b));
    assert_eq!(to_bob.len(), 1);
    assert_eq!(to_bob[0].conversation, Conversation::Group(t1.clone()));
    assert_eq!(to_bob[0].from, UserId::from("alice"));
    // fishchat receivers see a uuid, and the same message has the same uuid for all.
    let uuid = to_bob[0].id.clone().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&uuid).is_ok(), "{uuid}");
    assert_eq!(delivered(&to_alice)[0].id, to_bob[0].id);
    assert!(drain(&mut c).is_empty());

    hub.handle(bob, Command::LeaveGroup { group: t1.clone() })
        .unwrap();
    let left = Event::MemberLeft {
        group: t1.clone(),
        user: UserId::from("bob"),
    };
    assert_eq!(drain(&mut b), vec![left.clone()]);
    assert_eq!(drain(&mut a), vec![left]);
    send(&hub, alice, Conversation::Group(t1.clone()), "bye").unwrap();
    assert!(drain(&mut b).is_empty());
    assert_eq!(
        hub.handle(bob, Command::LeaveGroup { group: t1 }),
        Err(HubError::NotMember {
            user: UserId::from("bob"),
            conversation: Conversation::Group(GroupId::from("t1"))
        })
    );
}

#[test]
fn simple_im_joins_a_group_by_sending_and_delivers_to_every_device() {
    let hub = hub();
    let (phone, mut p) = login_device(&hub, "1", "android");
    let (_tablet, mut t) = login_device(&hub, "1", "ipad");
    let (other, mut o) = login_device(&hub, "2", "iphone");
    send(&hub, other, to_user("1"), "to both").unwrap();
    // simple-im echoes the sender's own id.
    assert_eq!(
        drain(&mut o),
        vec![Event::Accepted {
            client_ref: Some("ref-to both".into()),
            id: Some(MessageId::Text("ref-to both".into()))
        }]
    );
    for out in [&mut p, &mut t] {
        let got = delivered(&drain(out));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, Some(MessageId::Text("ref-to both".into())));
    }
    let g = Conversation::Group(GroupId::from("g"));
    send(&hub, other, g.clone(), "first").unwrap();
    send(&hub, phone, g.clone(), "second").unwrap();
    assert_eq!(contents(&drain(&mut o)), vec!["first", "second"]);
    assert_eq!(contents(&drain(&mut p)), vec!["second"]);
    assert_eq!(contents(&drain(&mut t)), vec!["second"]);
}

#[test]
fn offline_messages_are_delivered_fifo_at_next_login() {
    let hub = hub();
    let (alice, mut a) = login(&hub, Dialect::SimpleIm, "alice");
    for text in ["one", "two", "three"] {
        send(&hub, alice, to_user("bob"), text).unwrap();
    }
    assert_eq!(drain(&mut a).len(), 3);
    assert_eq!(hub.stats().pending, 3);
    let (_bob, mut b) = hub.attach(Dialect::Newim, peer());
    hub.handle(
        _bob,
        Command::Login {
            user: UserId::from("bob"),
            secret: None,
            device: None,
        },
    )
    .unwrap();
    let events = drain(&mut b);
    assert!(matches!(events[0], Event::LoggedIn { .. }));
    assert_eq!(contents(&events), vec!["one", "two", "three"]);
    assert_eq!(hub.stats().pending, 0);
    // Delivered once: logging in again brings nothing back.
    let (_again, mut b2) = login(&hub, Dialect::Newim, "bob");
    assert!(drain(&mut b2).is_empty());
}

#[test]
fn unacked_messages_come_back_until_acked() {
    let hub = hub();
    let (alice, _a) = login(&hub, Dialect::Fishchat, "alice");
    let (bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    send(&hub, alice, to_user("bob"), "m1").unwrap();
    send(&hub, alice, to_user("bob"), "m2").unwrap();
    let first = delivered(&drain(&mut b));
    assert_eq!(first.len(), 2);
    // bob acks m1 by its uuid (fishchat P2P_ACK names no conversation), then drops.
    hub.handle(
        bob,
        Command::Ack {
            conversation: to_user("bob"),
            id: first[0].id.clone().unwrap(),
        },
    )
    .unwrap();
    hub.detach(bob);
    let (bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    let again = delivered(&drain(&mut b));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0], first[1]);
    hub.handle(
        bob,
        Command::Ack {
            conversation: to_user("alice"),
            id: again[0].id.clone().unwrap(),
        },
    )
    .unwrap();
    hub.detach(bob);
    let (_bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    assert!(drain(&mut b).is_empty());
    assert_eq!(hub.stats().pending, 0);
}

#[test]
fn sequence_acks_are_cumulative_within_the_conversation() {
    let hub = hub();
    let (one, _o) = login(&hub, Dialect::Eutamias, "1");
    let (two, mut t) = login(&hub, Dialect::Eutamias, "2");
    hub.handle(
        one,
        Command::OpenSession {
            peer: UserId::from("2"),
        },
    )
    .unwrap();
    let session = match drain(&mut t).as_slice() {
        [Event::SessionOpened { session, .. }] => *session,
        other => panic!("{other:?}"),
    };
    for text in ["a", "b", "c"] {
        send(&hub, one, Conversation::Session(session), text).unwrap();
    }
    send(&hub, one, to_user("2"), "direct").unwrap();
    assert_eq!(delivered(&drain(&mut t)).len(), 4);
    hub.handle(
        two,
        Command::Ack {
            conversation: Conversation::Session(session),
            id: MessageId::Seq(2),
        },
    )
    .unwrap();
    hub.detach(two);
    let (_two, mut t) = login(&hub, Dialect::Eutamias, "2");
    assert_eq!(contents(&drain(&mut t)), vec!["c", "direct"]);
}

#[test]
fn a_slow_consumer_is_dropped_and_its_queue_kept_for_later() {
    let hub = Hub::new(HubConfig {
        outbound_capacity: 4,
        seed: Some(1),
        ..HubConfig::default()
    });
    let (alice, mut a) = login(&hub, Dialect::Newim, "alice");
    let (bob, mut b) = login(&hub, Dialect::Newim, "bob");
    // bob reads nothing while alice sends 10: his queue holds 4, then he is dropped.
    let mut accepted = 0;
    for n in 0..10 {
        send(&hub, alice, to_user("bob"), &format!("m{n}")).unwrap();
        accepted += drain(&mut a).len();
    }
    assert_eq!(accepted, 10, "all ten were accepted");
    assert_eq!(b.close_reason(), Some(CloseReason::SlowConsumer));
    assert!(drain(&mut b).is_empty(), "the queue was taken back");
    assert_eq!(
        hub.handle(bob, Command::Ping),
        Err(HubError::ConnectionClosed(bob))
    );
    assert!(!hub.is_online(&UserId::from("bob")));
    assert_eq!(hub.stats().slow_consumers, 1);
    // At his next login he gets all ten, once, in order (beyond the queue's capacity).
    let (_bob, mut b) = login(&hub, Dialect::Newim, "bob");
    let expected: Vec<String> = (0..10).map(|n| format!("m{n}")).collect();
    assert_eq!(contents(&drain(&mut b)), expected);
    assert_eq!(hub.stats().pending, 0);
}

#[test]
fn a_receiver_that_never_acks_is_dropped_at_the_unacked_limit() {
    let hub = Hub::new(HubConfig {
        unacked_limit: 3,
        seed: Some(1),
        ..HubConfig::default()
    });
    let (alice, _a) = login(&hub, Dialect::Fishchat, "alice");
    let (_bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    for n in 0..3 {
        send(&hub, alice, to_user("bob"), &format!("m{n}")).unwrap();
    }
    // bob reads them but never acks: the fourth is one too many.
    assert_eq!(contents(&drain(&mut b)), vec!["m0", "m1", "m2"]);
    assert_eq!(b.close_reason(), None);
    for n in 3..5 {
        send(&hub, alice, to_user("bob"), &format!("m{n}")).unwrap();
    }
    assert_eq!(b.close_reason(), Some(CloseReason::SlowConsumer));
    assert!(drain(&mut b).is_empty());
    let (_bob, mut b) = login(&hub, Dialect::Fishchat, "bob");
    assert_eq!(contents(&drain(&mut b)), vec!["m0", "m1", "m2", "m3", "m4"]);
}

#[test]
fn a_full_mailbox_refuses_instead_of_dropping() {
    let hub = Hub::new(HubConfig {
        offline_limit: 2,
        seed: Some(1),
        ..HubConfig::default()
    });
    let (alice, mut a) = login(&hub, Dialect::Newim, "alice");
    send(&hub, alice, to_user("bob"), "1").unwrap();
    send(&hub, alice, to_user("bob"), "2").unwrap();
    assert_eq!(
        send(&hub, alice, to_user("bob"), "3"),
        Err(HubError::MailboxFull(UserId::from("bob")))
    );
    assert_eq!(drain(&mut a).len(), 2, "the refused one got no Accepted");
}

#[test]
fn accounts_from_a_file_refuse_strangers_and_wrong_passwords() {
    let file = AccountsFile::parse(
        "users.toml",
        "[[user]]\nid = 1\npassword = \"pw\"\ngroups = [\"ops\"]\n[[user]]\nid = 2\ngroups = [\"ops\"]\n",
    )
    .unwrap();
    let hub = Hub::new(HubConfig {
        accounts: Some(file),
        seed: Some(1),
        ..HubConfig::default()
    });
    let (conn, mut out) = hub.attach(Dialect::Eutamias, peer());
    let login = |user: u64, secret: &str| {
        hub.handle(
            conn,
            Command::Login {
                user: UserId::from(user),
                secret: Some(secret.into()),
                device: None,
            },
        )
    };
    assert_eq!(
        login(1, "nope"),
        Err(HubError::WrongPassword(UserId::from(1)))
    );
    assert_eq!(login(3, "pw"), Err(HubError::UnknownUser(UserId::from(3))));
    assert!(drain(&mut out).is_empty());
    login(1, "pw").unwrap();
    drain(&mut out);
    assert_eq!(
        send(&hub, conn, to_user("99"), "x"),
        Err(HubError::UnknownUser(UserId::from(99)))
    );
    // The file's groups exist with their members.
    send(
        &hub,
        conn,
        Conversation::Group(GroupId::from("ops")),
        "hello ops",
    )
    .unwrap();
    assert_eq!(contents(&drain(&mut out)), vec!["hello ops"]);
    let (two, mut t) = hub.attach(Dialect::Eutamias, peer());
    hub.handle(
        two,
        Command::Login {
            user: UserId::from(2),
            secret: Some("anything: 2 has no password".into()),
            device: None,
        },
    )
    .unwrap();
    assert_eq!(
        contents(&drain(&mut t)),
        vec!["hello ops"],
        "kept for user 2"
    );
    assert_eq!(
        hub.password_login("1", "pw", true)
            .map(|(u, t)| (u, t.len())),
        Ok((UserId::from(1), 30))
    );
    assert_eq!(
        hub.password_login("5", "pw", true),
        Err(HubError::UnknownUser(UserId::from("5")))
    );
}

#[test]
fn password_login_issues_a_token_for_the_tcp_login() {
    let file = AccountsFile::parse("u.toml", "[[user]]\nid = 1\npassword = \"pw\"\n").unwrap();
    let hub = Hub::new(HubConfig {
        accounts: Some(file),
        seed: Some(1),
        ..HubConfig::default()
    });
    let (user, token) = hub.password_login("1", "pw", true).unwrap();
    assert!(hub.token_is_valid(&user, &token));
    let (conn, mut out) = hub.attach(Dialect::SimpleIm, peer());
    hub.handle(
        conn,
        Command::Login {
            user: user.clone(),
            secret: Some(token),
            device: Some("android".into()),
        },
    )
    .unwrap();
    assert!(matches!(drain(&mut out)[0], Event::LoggedIn { .. }));
}

#[test]
fn chaos_drops_deliveries_at_about_the_configured_rate_and_deterministically() {
    let run = |seed: u64| {
        let hub = Hub::new(HubConfig {
            seed: Some(seed),
            chaos: ChaosConfig {
                drop_delivery: 0.2,
                ..ChaosConfig::default()
            },
            outbound_capacity: 100_000,
            ..HubConfig::default()
        });
        let (alice, _a) = login(&hub, Dialect::Newim, "alice");
        let (_bob, mut b) = login(&hub, Dialect::Newim, "bob");
        for n in 0..5000 {
            send(&hub, alice, to_user("bob"), &n.to_string()).unwrap();
        }
        let got = contents(&drain(&mut b));
        assert_eq!(
            hub.stats().chaos_dropped_deliveries as usize,
            5000 - got.len()
        );
        got
    };
    let got = run(9);
    let kept = got.len() as f64 / 5000.0;
    assert!((0.77..=0.83).contains(&kept), "kept {kept}");
    assert_eq!(got, run(9), "same seed, same losses");
    assert_ne!(got, run(10));
}

#[test]
fn chaos_drops_connections_but_keeps_their_messages() {
    let hub = Hub::new(HubConfig {
        seed: Some(3),
        chaos: ChaosConfig {
            drop_connection: 0.5,
            ..ChaosConfig::default()
        },
        ..HubConfig::default()
    });
    let mut dropped = 0;
    for _ in 0..40 {
        let (conn, out) = hub.attach(Dialect::Newim, peer());
        if hub.handle(conn, Command::Ping) == Err(HubError::ConnectionClosed(conn)) {
            assert_eq!(out.close_reason(), Some(CloseReason::Chaos));
            dropped += 1;
        }
    }
    assert!((8..=32).contains(&dropped), "{dropped}");
    assert_eq!(hub.stats().chaos_dropped_connections, dropped);
}

#[tokio::test]
async fn chaos_latency_delays_events_and_keeps_their_order() {
    let hub = Hub::new(HubConfig {
        seed: Some(3),
        chaos: ChaosConfig {
            latency: Some(crate::chaos::Latency {
                min: std::time::Duration::from_millis(30),
                max: std::time::Duration::from_millis(60),
            }),
            ..ChaosConfig::default()
        },
        ..HubConfig::default()
    });
    let (alice, mut a) = hub.attach(Dialect::Newim, peer());
    let start = tokio::time::Instant::now();
    hub.handle(
        alice,
        Command::Login {
            user: UserId::from("alice"),
            secret: None,
            device: None,
        },
    )
    .unwrap();
    for n in 0..20 {
        send(&hub, alice, to_user("alice"), &n.to_string()).unwrap();
    }
    assert!(matches!(
        a.recv().await.map(Outgoing::into_event),
        Some(Event::LoggedIn { .. })
    ));
    // A sleep never ends early: the first event cannot come before the minimum latency.
    assert!(start.elapsed() >= std::time::Duration::from_millis(30));
    let mut got = Vec::new();
    while got.len() < 20 {
        match a.recv().await.map(Outgoing::into_event) {
            Some(Event::Delivered(m)) => got.push(m.content),
            Some(_) => {}
            None => panic!("closed"),
        }
    }
    let expected: Vec<String> = (0..20).map(|n| n.to_string()).collect();
    assert_eq!(got, expected);
}

#[tokio::test]
async fn shutdown_hands_out_what_is_queued_then_ends() {
    let hub = hub();
    let (conn, mut out) = hub.attach(Dialect::Newim, peer());
    hub.handle(conn, Command::Ping).unwrap();
    hub.shutdown();
    assert_eq!(
        out.recv().await.map(Outgoing::into_event),
        Some(Event::Pong)
    );
    assert!(out.recv().await.is_none());
    assert_eq!(out.close_reason(), Some(CloseReason::Shutdown));
    let (_late, mut late) = hub.attach(Dialect::Newim, peer());
    assert!(late.recv().await.is_none());
}

/// The invariant, under random interleavings: every accepted message reaches each receiver
/// exactly once (receivers that do not ack) or at least once and never again after its ack
/// (receivers that ack), once everybody has logged in at the end. Connections come and go,
/// queues are tiny so receivers are regularly dropped as slow consumers.
#[test]
fn accepted_messages_are_never_lost_or_duplicated() {
    for seed in 0..40 {
        run_ledger(seed);
    }
}

fn run_ledger(seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let hub = Hub::new(HubConfig {
        outbound_capacity: 3,
        unacked_limit: 5,
        seed: Some(seed),
        ..HubConfig::default()
    });
    let users = ["u0", "u1", "u2", "u3"];
    // A user's dialect decides whether it acks: u0, u1 fishchat (ack); u2, u3 newim.
    let dialect = |user: &str| match user {
        "u0" | "u1" => Dialect::Fishchat,
        _ => Dialect::Newim,
    };
    let mut conns: HashMap<&str, (ConnId, Outbound)> = HashMap::new();
    // content -> how many times each receiver got it; and whether it was acked.
    let mut got: HashMap<(String, &str), u32> = HashMap::new();
    let mut acked: HashMap<(String, &str), bool> = HashMap::new();
    let mut accepted: Vec<(String, &str)> = Vec::new();
    let mut n = 0;

    let read = |user: &'static str,
                out: &mut Outbound,
                conn: ConnId,
                ack: bool,
                got: &mut HashMap<(String, &str), u32>,
                acked: &mut HashMap<(String, &str), bool>| {
        for m in delivered(&drain(out)) {
            let key = (m.content.clone(), user);
            assert!(
                !acked.get(&key).copied().unwrap_or(false),
                "seed {seed}: {key:?} came back after its ack"
            );
            *got.entry(key.clone()).or_default() += 1;
            if ack
                && hub
                    .handle(
                        conn,
                        Command::Ack {
                            conversation: m.conversation.clone(),
                            id: m.id.clone().unwrap(),
                        },
                    )
                    .is_ok()
            {
                acked.insert(key, true);
            }
        }
    };

    for _ in 0..400 {
        let user = users[rng.random_range(0..users.len())];
        match rng.random_range(0..10) {
            // log in (attach if needed)
            0 | 1 => {
                if !conns.contains_key(user) {
                    let (conn, out) = hub.attach(dialect(user), peer());
                    if hub
                        .handle(
                            conn,
                            Command::Login {
                                user: UserId::from(user),
                                secret: None,
                                device: None,
                            },
                        )
                        .is_ok()
                    {
                        conns.insert(user, (conn, out));
                    }
                }
            }
            // the socket goes away (without reading what is queued)
            2 => {
                if let Some((conn, _)) = conns.remove(user) {
                    hub.detach(conn);
                }
            }
            // read (and ack, for fishchat) what is there
            3 | 4 => {
                if let Some((conn, out)) = conns.get_mut(user) {
                    let ack = dialect(user) == Dialect::Fishchat && rng.random_bool(0.8);
                    read(user, out, *conn, ack, &mut got, &mut acked);
                }
            }
            // send to someone else
            _ => {
                if let Some((conn, out)) = conns.get_mut(user) {
                    if out.close_reason().is_some() {
                        let (conn, _) = conns.remove(user).unwrap();
                        hub.detach(conn);
                        continue;
                    }
                    let to = users[rng.random_range(0..users.len())];
                    n += 1;
                    let text = format!("{user}->{to}#{n}");
                    if send(&hub, *conn, to_user(to), &text).is_ok() {
                        accepted.push((text, to));
                    }
                }
            }
        }
        // Connections the hub dropped are noticed by their tasks: detach them.
        let closed: Vec<&str> = conns
            .iter()
            .filter(|(_, (_, out))| out.close_reason().is_some())
            .map(|(u, _)| *u)
            .collect();
        for user in closed {
            // What was handed out before the drop was read by the client.
            let (conn, mut out) = conns.remove(user).unwrap();
            read(user, &mut out, conn, false, &mut got, &mut acked);
            hub.detach(conn);
        }
    }
    // Everybody logs in once more and reads (and acks) everything.
    for (_, (conn, mut out)) in conns.drain() {
        let _ = &mut out;
        hub.detach(conn);
    }
    for user in users {
        let (conn, mut out) = hub.attach(dialect(user), peer());
        hub.handle(
            conn,
            Command::Login {
                user: UserId::from(user),
                secret: None,
                device: None,
            },
        )
        .unwrap();
        read(user, &mut out, conn, true, &mut got, &mut acked);
    }
    assert_eq!(hub.stats().pending, 0, "seed {seed}: everything settled");
    assert!(!accepted.is_empty());
    for key in &accepted {
        let times = got.get(key).copied().unwrap_or(0);
        if dialect(key.1) == Dialect::Fishchat {
            assert!(times >= 1, "seed {seed}: {key:?} was lost");
        } else {
            assert_eq!(times, 1, "seed {seed}: {key:?} arrived {times} times");
        }
    }
    assert_eq!(
        got.keys().filter(|k| !accepted.contains(k)).count(),
        0,
        "seed {seed}: something nobody sent arrived"
    );
}

#[test]
fn read_receipts_go_to_the_other_participants_and_are_remembered() {
    let hub = hub();
    let (alice, mut a) = login(&hub, Dialect::Newim, "alice");
    let (bob, mut b) = login(&hub, Dialect::Newim, "bob");
    let (carol, mut c) = login(&hub, Dialect::Newim, "carol");
    send(&hub, alice, to_user("bob"), "hi").unwrap();
    drain(&mut a);
    drain(&mut b);
    hub.handle(
        bob,
        Command::Read {
            conversation: to_user("alice"),
            up_to: MessageId::Seq(1),
        },
    )
    .unwrap();
    assert_eq!(
        drain(&mut b),
        vec![Event::Done {
            operation: "read".into()
        }]
    );
    // alice sees it under bob's name: the conversation as she names it.
    assert_eq!(
        drain(&mut a),
        vec![Event::ReadUpTo {
            conversation: to_user("bob"),
            reader: UserId::from("bob"),
            up_to: MessageId::Seq(1)
        }]
    );
    assert_eq!(
        hub.read_mark(&to_user("alice"), &UserId::from("bob")),
        Some(MessageId::Seq(1))
    );

    let g = GroupId::from("box");
    for conn in [alice, bob] {
        hub.handle(conn, Command::JoinGroup { group: g.clone() })
            .unwrap();
    }
    drain(&mut a);
    drain(&mut b);
    assert!(matches!(
        hub.handle(
            carol,
            Command::Read {
                conversation: Conversation::Group(g.clone()),
                up_to: MessageId::Seq(1)
            }
        ),
        Err(HubError::NotMember { .. })
    ));
    hub.handle(
        alice,
        Command::Read {
            conversation: Conversation::Group(g.clone()),
            up_to: MessageId::Seq(3),
        },
    )
    .unwrap();
    assert_eq!(drain(&mut a).len(), 1, "only Done for the reader");
    assert_eq!(
        drain(&mut b),
        vec![Event::ReadUpTo {
            conversation: Conversation::Group(g),
            reader: UserId::from("alice"),
            up_to: MessageId::Seq(3)
        }]
    );
    assert!(drain(&mut c).is_empty());
}

#[test]
fn a_message_link_takes_the_messages_and_replays_nothing_at_its_login() {
    let hub = hub();
    let (one, mut o) = login(&hub, Dialect::Eutamias, "1");
    let (main, mut m) = login(&hub, Dialect::Eutamias, "2");
    hub.handle(
        one,
        Command::OpenSession {
            peer: UserId::from("2"),
        },
    )
    .unwrap();
    let [Event::SessionOpened { session, .. }] = drain(&mut o)[..] else {
        panic!("no session");
    };
    drain(&mut m);
    send(&hub, one, Conversation::Session(session), "on the main").unwrap();
    assert_eq!(contents(&drain(&mut m)), vec!["on the main"]);

    // The switcher link logs in: the unacked message is not handed out again there.
    let options = AttachOptions {
        message_link: true,
        ..AttachOptions::for_dialect(Dialect::Eutamias)
    };
    let (link, mut l) = hub.attach_with(Dialect::Eutamias, peer(), options);
    hub.handle(
        link,
        Command::Login {
            user: UserId::from("2"),
            secret: None,
            device: None,
        },
    )
    .unwrap();
    assert!(matches!(drain(&mut l).as_slice(), [Event::LoggedIn { .. }]));

    // From now on messages go to the link only.
    send(&hub, one, Conversation::Session(session), "on the link").unwrap();
    assert_eq!(contents(&drain(&mut l)), vec!["on the link"]);
    assert!(drain(&mut m).is_empty());

    // Without the link, the main connection takes them again.
    hub.detach(link);
    send(
        &hub,
        one,
        Conversation::Session(session),
        "back on the main",
    )
    .unwrap();
    assert_eq!(contents(&drain(&mut m)), vec!["back on the main"]);
    hub.handle(
        main,
        Command::Ack {
            conversation: Conversation::Session(session),
            id: MessageId::Seq(3),
        },
    )
    .unwrap();
    assert_eq!(hub.stats().pending, 0);
}

#[test]
fn a_second_login_on_the_same_device_replaces_the_first_and_takes_its_queue() {
    let hub = hub();
    let (sender, mut s) = login_device(&hub, "2", "iphone");
    let (_old, mut old) = login_device(&hub, "1", "android");
    let (_tablet, mut tablet) = login_device(&hub, "1", "ipad");
    // Queued on the old connection, not read yet: the client is reconnecting.
    send(&hub, sender, to_user("1"), "before").unwrap();
    assert_eq!(contents(&drain(&mut tablet)), vec!["before"]);
    let (_new, mut new) = login_device(&hub, "1", "android");
    assert_eq!(old.close_reason(), Some(CloseReason::Replaced));
    assert!(
        drain(&mut old).is_empty(),
        "the old connection hands out nothing more"
    );
    assert_eq!(contents(&drain(&mut new)), vec!["before"]);
    // From now on one copy per device: the new connection and the other device.
    send(&hub, sender, to_user("1"), "after").unwrap();
    assert_eq!(contents(&drain(&mut new)), vec!["after"]);
    assert_eq!(contents(&drain(&mut tablet)), vec!["after"]);
    assert_eq!(drain(&mut s).len(), 2, "two accepts");
    // Nothing is left over for a later login of that device.
    let (_later, mut later) = login_device(&hub, "1", "android");
    assert!(contents(&drain(&mut later)).is_empty());
}
