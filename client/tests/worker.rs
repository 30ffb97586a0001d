//! The network worker and `update` together, through the real driver loop of
//! `imkit-protocols` (reconnect with backoff, group rejoin), over an in-memory link that the
//! test plays the server on. What the dialect modules add (bytes on a socket) is not here.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Session;
use common::client::Client;
use imkit_client::net::NetWorker;
use imkit_client::state::{Delivery, LineBody, Link as LinkState};
use imkit_protocols::driver::{Connector, Link};
use imkit_protocols::{
    Command, Conversation, Dialect, DriverConfig, Error, Event, GroupId, Message, MessageId,
    ReconnectPolicy, Result, UserId,
};
use tokio::sync::mpsc;

const WAIT: Duration = Duration::from_secs(20);

/// The server's end of one fake connection.
struct ServerSide {
    events: mpsc::UnboundedSender<Vec<Event>>,
    commands: mpsc::UnboundedReceiver<Command>,
}

struct FakeLink {
    events: mpsc::UnboundedReceiver<Vec<Event>>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Link for FakeLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        self.commands.send(command).map_err(|_| Error::Closed)
    }
    async fn recv(&mut self) -> Result<Vec<Event>> {
        self.events.recv().await.ok_or(Error::Closed)
    }
}

/// Every connect hands the test a new [`ServerSide`].
struct FakeConnector {
    accepted: mpsc::UnboundedSender<ServerSide>,
}

impl Connector for FakeConnector {
    type Link = FakeLink;
    async fn connect(&mut self, _: &DriverConfig, _: bool) -> Result<(FakeLink, Vec<Event>)> {
        let (etx, erx) = mpsc::unbounded_channel();
        let (ctx, crx) = mpsc::unbounded_channel();
        self.accepted
            .send(ServerSide {
                events: etx,
                commands: crx,
            })
            .map_err(|_| Error::Closed)?;
        let login = vec![Event::LoggedIn {
            user: UserId::new("7"),
            token: None,
        }];
        Ok((
            FakeLink {
                events: erx,
                commands: ctx,
            },
            login,
        ))
    }
}

async fn next_command(side: &mut ServerSide) -> Command {
    tokio::time::timeout(WAIT, side.commands.recv())
        .await
        .expect("a command in time")
        .expect("link open")
}

#[tokio::test]
async fn messages_acks_reconnect_rejoin_and_the_offline_queue() {
    let (accepted_tx, mut accepted) = mpsc::unbounded_channel();
    let dial: imkit_client::net::Dial = Arc::new(move |mut config: DriverConfig| {
        config.reconnect = ReconnectPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            max_attempts: Some(50),
        };
        let connector = FakeConnector {
            accepted: accepted_tx.clone(),
        };
        Box::pin(imkit_protocols::driver::start(config, connector))
    });
    let (tx, rx) = mpsc::unbounded_channel();
    let mut client = Client {
        session: Session::new(Dialect::Fishchat, "7"),
        worker: NetWorker::spawn_with(tx, dial),
        actions: rx,
    };
    let start = client.session.take();
    client.perform(start);
    let mut server = tokio::time::timeout(WAIT, accepted.recv())
        .await
        .unwrap()
        .unwrap();
    client
        .until("online", |s| s.state.link == LinkState::Online)
        .await;
    assert!(
        client
            .session
            .lines(0)
            .contains(&"-- logged in as 7".to_string())
    );

    // A message in: shown, and acknowledged on the wire (fishchat acks deliveries).
    let from_8 = Conversation::User(UserId::new("8"));
    server
        .events
        .send(vec![Event::Delivered(Message {
            conversation: from_8.clone(),
            from: UserId::new("8"),
            id: Some(MessageId::Text("m-1".into())),
            content: "hi 7".into(),
        })])
        .unwrap();
    client
        .until("the message", |s| s.state.rooms.len() == 2)
        .await;
    assert_eq!(client.session.lines(1), ["8: hi 7"]);
    assert_eq!(
        next_command(&mut server).await,
        Command::Ack {
            conversation: from_8.clone(),
            id: MessageId::Text("m-1".into())
        }
    );

    // Join a group, so that the driver rejoins it after the reconnect.
    let fx = client.session.say("/join ops");
    client.session.take();
    client.perform(fx);
    assert_eq!(
        next_command(&mut server).await,
        Command::JoinGroup {
            group: GroupId::new("ops")
        }
    );

    // The server drops the link: the driver reconnects; what is typed meanwhile waits.
    drop(server);
    client
        .until("the loss", |s| !matches!(s.state.link, LinkState::Online))
        .await;
    client
        .session
        .key(imkit_client::keys::KeyAction::PrevConversation);
    let fx = client.session.say("while away");
    assert_eq!(fx, [], "nothing goes out while offline");
    client.session.take();
    let room = client.session.state.active;
    let mut server = tokio::time::timeout(WAIT, accepted.recv())
        .await
        .unwrap()
        .unwrap();
    client
        .until("back online", |s| s.state.link == LinkState::Online)
        .await;
    assert_eq!(
        next_command(&mut server).await,
        Command::JoinGroup {
            group: GroupId::new("ops")
        },
        "the driver rejoins first"
    );
    match next_command(&mut server).await {
        Command::Send { to, content, .. } => {
            assert_eq!(to, from_8);
            assert_eq!(content, "while away");
        }
        other => panic!("expected the queued message, got {other:?}"),
    }
    let lines = client.session.lines(room);
    assert!(
        lines.contains(&"-- connection lost: connection closed by peer".to_string()),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap(), "-- reconnected");
    let own = client.session.state.rooms[room]
        .lines
        .iter()
        .find_map(|l| match &l.body {
            LineBody::Message { own: Some(o), .. } => Some(o.delivery.clone()),
            _ => None,
        });
    assert_eq!(own, Some(Delivery::Sent));

    drop(server);
    client.worker.close().await;
}
