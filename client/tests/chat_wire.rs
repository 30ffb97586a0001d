//! imchat's worker and `update` against a scripted chat-json v1 broker on a real WebSocket
//! (127.0.0.1, port 0): the exact frames the client puts on the wire, a line too long for
//! v1 that never reaches it, and the new account v1 makes on a reconnect.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Session;
use common::client::Client;
use futures_util::{SinkExt, StreamExt};
use imkit_client::net::NetWorker;
use imkit_client::state::Link;
use imkit_protocols::{Connection, Dialect, DriverConfig, ReconnectPolicy};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;

const WAIT: Duration = Duration::from_secs(20);

type Peer = WebSocketStream<TcpStream>;

async fn accept(listener: &TcpListener) -> Peer {
    let (tcp, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
    tokio_tungstenite::accept_async(tcp).await.unwrap()
}

async fn next_text(peer: &mut Peer) -> String {
    loop {
        let frame = timeout(WAIT, peer.next())
            .await
            .expect("the client sent nothing")
            .expect("the client hung up")
            .unwrap();
        match frame {
            WsMessage::Text(text) => return text.as_str().to_owned(),
            WsMessage::Pong(_) | WsMessage::Ping(_) => continue,
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

async fn say(peer: &mut Peer, json: &str) {
    peer.send(WsMessage::text(json)).await.unwrap();
}

#[tokio::test]
async fn v1_frames_the_size_limit_and_a_new_account_after_a_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    let dial: imkit_client::net::Dial = Arc::new(|mut config: DriverConfig| {
        config.reconnect = ReconnectPolicy {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            max_attempts: Some(50),
        };
        Box::pin(Connection::connect(config))
    });
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let mut session = Session::new(Dialect::ChatJson, "alice");
    session.state.target.as_mut().unwrap().address = url;
    // The Start effect still names the default address: take the state's target instead.
    session.take();
    let mut client = Client {
        session,
        worker: NetWorker::spawn_with(tx, dial),
        actions: rx,
    };
    client
        .worker
        .connect(client.session.state.target.clone().unwrap());

    let mut peer = accept(&listener).await;
    assert_eq!(
        next_text(&mut peer).await,
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#
    );
    say(
        &mut peer,
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":10}"#,
    )
    .await;
    client
        .until("online", |s| s.state.link == Link::Online)
        .await;

    client.say("/match");
    assert_eq!(
        next_text(&mut peer).await,
        r#"{"cmd":"MATCH","accountId":10}"#
    );
    say(
        &mut peer,
        r#"{"cmd":"MATCH","partnerId":11,"partnerName":"bob","sessionId":12,"code":0}"#,
    )
    .await;
    client
        .until("the match", |s| s.state.rooms.len() == 2)
        .await;

    // 600 bytes of text would close the socket on a v1 broker: it never reaches the wire;
    // the next frame is the short line typed after it.
    client.say(&"x".repeat(600));
    assert!(
        client
            .session
            .lines(1)
            .last()
            .unwrap()
            .contains("too long for chat-json v1")
    );
    client.session.state.input.clear();
    client.say("short");
    let frame = next_text(&mut peer).await;
    assert!(
        frame.starts_with(r#"{"cmd":"DIALOGUE","requestId":""#)
            && frame.ends_with(r#"","senderId":10,"sessionId":12,"content":"short"}"#),
        "{frame}"
    );

    // The broker goes away; v1 has no resume, so the driver registers again and gets a new
    // account. The session of the old one is over, and the screen says so.
    drop(peer);
    let mut peer = accept(&listener).await;
    assert_eq!(
        next_text(&mut peer).await,
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice"}"#
    );
    say(
        &mut peer,
        r#"{"cmd":"CRT_ACCOUNT","nickName":"alice","accountId":31}"#,
    )
    .await;
    client
        .until("the new account", |s| {
            s.state.rooms[1].ended.is_some() && s.state.link == Link::Online
        })
        .await;
    let lines = client.session.lines(1);
    assert!(
        lines.contains(
            &"-- this conversation ended: after the reconnect the server gave you a new \
              account, and your partner cannot reach it; /match for a new partner"
                .to_owned()
        ),
        "{lines:#?}"
    );
    client.say("/match");
    assert_eq!(
        next_text(&mut peer).await,
        r#"{"cmd":"MATCH","accountId":31}"#,
        "the new account asks"
    );
    client.worker.close().await;
}
