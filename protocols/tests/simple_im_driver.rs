//! The simple-im driver against scripted peers on 127.0.0.1: an HTTP picker and an IM node
//! written here, checking the exact bytes the driver writes.

use std::time::Duration;

use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, MessageId, ReconnectPolicy,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "Xb3kq+/9AbCdEfGhIjKlMnOpQrStUv==";
const LOGIN: &str = r#"[r] id = "a_01" t = "login" [r.user] id = "1" device = "android" token = "Xb3kq+/9AbCdEfGhIjKlMnOpQrStUv==""#;
const RECONNECT: &str = r#"[r] id = "a_01" t = "reconnect" [r.user] id = "1" device = "android" token = "Xb3kq+/9AbCdEfGhIjKlMnOpQrStUv==""#;

/// One HTTP request as the picker saw it: path and body.
type Seen = (String, String);

/// A scripted HTTP picker: answers each path with the body `answer(path)` gives.
async fn picker(
    answer: impl Fn(&str) -> String + Send + 'static,
) -> (String, mpsc::UnboundedReceiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let (head_end, length) = loop {
                let mut chunk = [0u8; 1024];
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "request cut short");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                    assert!(head.contains("content-type: application/x-www-form-urlencoded"));
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length: "))
                        .map(|v| v.trim().parse::<usize>().unwrap())
                        .unwrap_or(0);
                    break (i + 4, length);
                }
            };
            while buf.len() < head_end + length {
                let mut chunk = [0u8; 1024];
                let n = socket.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
            }
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let path = head.split(' ').nth(1).unwrap().to_owned();
            assert!(head.starts_with("POST "), "{head}");
            let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned();
            let reply = answer(&path);
            let _ = tx.send((path, body));
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n\r\n{reply}",
                reply.len()
            );
            socket.write_all(response.as_bytes()).await.unwrap();
        }
    });
    (url, rx)
}

/// Read exactly `expected` from `socket` (a document has no terminator).
async fn expect_bytes(socket: &mut TcpStream, expected: &str) {
    let mut buf = vec![0u8; expected.len()];
    timeout(WAIT, socket.read_exact(&mut buf))
        .await
        .expect("the client writes in time")
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&buf), expected);
}

async fn next_event(connection: &mut Connection) -> Event {
    timeout(WAIT, connection.recv())
        .await
        .expect("an event in time")
        .expect("the driver is running")
}

/// Events until one matches `pred`, which is returned.
async fn event_where(connection: &mut Connection, pred: impl Fn(&Event) -> bool) -> Event {
    for _ in 0..50 {
        let event = next_event(connection).await;
        if pred(&event) {
            return event;
        }
    }
    panic!("no matching event in 50");
}

fn config(url: &str) -> DriverConfig {
    let mut config = DriverConfig::new(Dialect::SimpleIm, url).with_credentials(Credentials {
        user: Some("13800000001".into()),
        secret: Some("s3cret pw".into()),
        device: None,
        nick: None,
    });
    config.reconnect = ReconnectPolicy {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
        max_attempts: Some(20),
    };
    config
}

fn login_ok(port: u16) -> String {
    format!(
        r#"[response] status = 0 server = "127.0.0.1" port = "{port}" [response.user] token = "{TOKEN}" id = 1"#
    )
}

#[tokio::test]
async fn login_send_deliver_no_pipelining_and_silent_reconnect() {
    let im = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = im.local_addr().unwrap().port();
    let (url, mut seen) = picker(move |path| match path {
        "/server/login" => login_ok(port),
        "/server/reconnect" => {
            format!(r#"[response] status = 0 server = "127.0.0.1" port = "{port}""#)
        }
        _ => "[response] status = 404".into(),
    })
    .await;

    let node = tokio::spawn(async move {
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();

        // Two sends are queued at once: only the first may arrive before its [a].
        expect_bytes(
            &mut socket,
            r#"[m] id = "c1" c = "one" [m.to] id = "2" [m.from] id = "1" device = "android""#,
        )
        .await;
        let mut extra = [0u8; 64];
        let early = timeout(Duration::from_millis(150), socket.read(&mut extra)).await;
        assert!(early.is_err(), "the second message must wait for the ack");
        // The ack and a forwarded message glued into one write.
        socket
            .write_all(br#"[a] id = "c1"[m] id = "x9" c = "hey" [m.to] id = 1 [m.from] id = 2 device = "ipad""#)
            .await
            .unwrap();
        expect_bytes(
            &mut socket,
            r#"[gm] id = "c2" c = "two" [gm.group] id = "5" [gm.user] id = "1" device = "android""#,
        )
        .await;
        socket.write_all(br#"[a] id = "c2""#).await.unwrap();
        expect_bytes(&mut socket, r#"[a] id = "x9""#).await;
        drop(socket);

        // The reconnect: silent success, then business as usual.
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, RECONNECT).await;
        expect_bytes(
            &mut socket,
            r#"[m] id = "c3" c = "back" [m.to] id = "2" [m.from] id = "1" device = "android""#,
        )
        .await;
        socket.write_all(br#"[a] id = "c3""#).await.unwrap();
        socket
    });

    let mut connection = Connection::connect(config(&url)).await.expect("logs in");
    let (path, body) = seen.recv().await.unwrap();
    assert_eq!(path, "/server/login");
    assert_eq!(body, "phone=13800000001&password=s3cret+pw");
    assert_eq!(
        next_event(&mut connection).await,
        Event::LookedUp {
            address: format!("127.0.0.1:{port}")
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::LoggedIn {
            user: "1".into(),
            token: Some(TOKEN.into())
        }
    );
    assert_eq!(
        next_event(&mut connection).await,
        Event::Connection(ConnectionState::Online { reconnect: false })
    );

    for (to, id, content) in [
        (Conversation::User("2".into()), "c1", "one"),
        (Conversation::Group("5".into()), "c2", "two"),
    ] {
        connection
            .send(Command::Send {
                to,
                client_ref: id.into(),
                content: content.into(),
            })
            .await
            .unwrap();
    }
    assert_eq!(
        next_event(&mut connection).await,
        Event::Accepted {
            client_ref: Some("c1".into()),
            id: None
        }
    );
    let Event::Delivered(delivered) = next_event(&mut connection).await else {
        panic!("a delivery")
    };
    assert_eq!(delivered.from.as_str(), "2");
    assert_eq!(delivered.id, Some(MessageId::Text("x9".into())));
    assert_eq!(delivered.content, "hey");
    assert_eq!(
        next_event(&mut connection).await,
        Event::Accepted {
            client_ref: Some("c2".into()),
            id: None
        }
    );
    connection
        .send(Command::Ack {
            conversation: delivered.conversation.clone(),
            id: MessageId::Text("x9".into()),
        })
        .await
        .unwrap();

    // The node drops us: HTTP reconnect with id + token, then TCP t=reconnect.
    event_where(&mut connection, |e| {
        matches!(e, Event::Connection(ConnectionState::Lost { .. }))
    })
    .await;
    event_where(&mut connection, |e| {
        *e == Event::Connection(ConnectionState::Online { reconnect: true })
    })
    .await;
    let (path, body) = seen.recv().await.unwrap();
    assert_eq!(path, "/server/reconnect");
    assert_eq!(body, "id=1&token=Xb3kq%2B%2F9AbCdEfGhIjKlMnOpQrStUv%3D%3D");
    connection
        .send(Command::Send {
            to: Conversation::User("2".into()),
            client_ref: "c3".into(),
            content: "back".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        event_where(&mut connection, |e| matches!(e, Event::Accepted { .. })).await,
        Event::Accepted {
            client_ref: Some("c3".into()),
            id: None
        }
    );
    timeout(WAIT, node).await.unwrap().unwrap();
}

#[tokio::test]
async fn refused_reconnect_falls_back_to_a_full_login() {
    let im = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = im.local_addr().unwrap().port();
    let (url, mut seen) = picker(move |path| match path {
        "/server/login" => login_ok(port),
        _ => "[response] status = 1".into(),
    })
    .await;
    let node = tokio::spawn(async move {
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();
        drop(socket);
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();
        socket
    });
    let mut connection = Connection::connect(config(&url)).await.unwrap();
    event_where(&mut connection, |e| {
        *e == Event::Connection(ConnectionState::Online { reconnect: true })
    })
    .await;
    let paths: Vec<String> = (0..3).map(|_| seen.try_recv().unwrap().0).collect();
    assert_eq!(
        paths,
        ["/server/login", "/server/reconnect", "/server/login"]
    );
    let _socket = timeout(WAIT, node).await.unwrap().unwrap();
}

#[tokio::test]
async fn tcp_refusal_after_reconnect_falls_back_to_login() {
    let im = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = im.local_addr().unwrap().port();
    let (url, _seen) = picker(move |path| match path {
        "/server/login" => login_ok(port),
        _ => format!(r#"[response] status = 0 server = "127.0.0.1" port = "{port}""#),
    })
    .await;
    let node = tokio::spawn(async move {
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();
        drop(socket);
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, RECONNECT).await;
        socket
            .write_all(br#"[rr] id = "a_01"t = "reconnect" s = 1 r = "offline""#)
            .await
            .unwrap();
        drop(socket);
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();
        socket
    });
    let mut connection = Connection::connect(config(&url)).await.unwrap();
    event_where(&mut connection, |e| {
        *e == Event::Connection(ConnectionState::Online { reconnect: true })
    })
    .await;
    let _socket = timeout(WAIT, node).await.unwrap().unwrap();
}

#[tokio::test]
async fn wrong_password_and_token_error_are_refusals() {
    let (url, _seen) = picker(|_| "[response] status = 1".into()).await;
    let err = Connection::connect(config(&url)).await.unwrap_err();
    assert!(matches!(err, Error::Refused { .. }), "{err}");
    assert!(err.to_string().contains("wrong password"), "{err}");

    let im = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = im.local_addr().unwrap().port();
    let (url, _seen) = picker(move |_| login_ok(port)).await;
    tokio::spawn(async move {
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id = "a_01" t = "login" s = 1 r = "Token error""#)
            .await
            .unwrap();
    });
    let err = Connection::connect(config(&url)).await.unwrap_err();
    assert!(err.to_string().contains("Token error"), "{err}");
}

#[tokio::test]
async fn heartbeat_when_configured() {
    let im = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = im.local_addr().unwrap().port();
    let (url, _seen) = picker(move |_| login_ok(port)).await;
    let node = tokio::spawn(async move {
        let (mut socket, _) = im.accept().await.unwrap();
        expect_bytes(&mut socket, LOGIN).await;
        socket
            .write_all(br#"[rr] id="a_01" t="login" s=0"#)
            .await
            .unwrap();
        expect_bytes(&mut socket, r#"[a] id = "hb""#).await;
        expect_bytes(&mut socket, r#"[a] id = "hb""#).await;
    });
    let mut config = config(&url);
    config.heartbeat = Some(Duration::from_millis(30));
    let _connection = Connection::connect(config).await.unwrap();
    timeout(WAIT, node).await.unwrap().unwrap();
}
