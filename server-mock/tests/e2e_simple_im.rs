//! simple-im end to end over real sockets on 127.0.0.1: the protocols driver as the client
//! (HTTP login at the picker, then the TCP node), raw sockets for the exact bytes of the
//! picker's and the node's answers and for bad input.

use std::net::SocketAddr;
use std::time::Duration;

use imkit_protocols::simple_im::Response;
use imkit_protocols::{
    Command, Connection, ConnectionState, Conversation, Credentials, Dialect, DriverConfig, Error,
    Event, GroupId, Message, MessageId, ReconnectPolicy, UserId,
};
use imkit_server_mock::hub::AccountsFile;
use imkit_server_mock::{HubConfig, Limits, Server, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// The bound on every wait (never an assertion on speed).
const WAIT: Duration = Duration::from_secs(10);

async fn start(config: ServerConfig) -> Server {
    Server::start(config).await.expect("server starts")
}

async fn start_default() -> Server {
    start(ServerConfig::ephemeral(&[Dialect::SimpleIm])).await
}

fn url(server: &Server) -> String {
    server
        .client_address(Dialect::SimpleIm)
        .expect("simple-im is served")
}

fn bound(server: &Server, role: &str) -> SocketAddr {
    server
        .bound()
        .iter()
        .find(|(d, r, _)| *d == Dialect::SimpleIm && *r == role)
        .map(|(_, _, a)| *a)
        .expect("endpoint bound")
}

fn driver_config(url: &str, phone: &str, password: &str, device: &str) -> DriverConfig {
    let mut config = DriverConfig::new(Dialect::SimpleIm, url).with_credentials(Credentials {
        user: Some(UserId::from(phone)),
        secret: Some(password.into()),
        device: Some(device.into()),
        nick: None,
    });
    config.reconnect = ReconnectPolicy::never();
    config
}

/// Log in with the driver; returns the connection and its login events (up to Online).
async fn log_in(url: &str, phone: &str, device: &str) -> (Connection, Vec<Event>) {
    connect(driver_config(url, phone, "pw", device)).await
}

async fn connect(config: DriverConfig) -> (Connection, Vec<Event>) {
    let mut conn = timeout(WAIT, Connection::connect(config))
        .await
        .expect("login in time")
        .expect("login succeeds");
    let mut events = Vec::new();
    loop {
        let event = next_any(&mut conn).await;
        let online = matches!(event, Event::Connection(ConnectionState::Online { .. }));
        events.push(event);
        if online {
            return (conn, events);
        }
    }
}

async fn next_any(conn: &mut Connection) -> Event {
    timeout(WAIT, conn.recv())
        .await
        .expect("an event in time")
        .expect("the driver is running")
}

/// The next event that is about messages (connection-state and login events skipped).
async fn next_event(conn: &mut Connection) -> Event {
    loop {
        match next_any(conn).await {
            Event::Connection(_) | Event::LookedUp { .. } | Event::LoggedIn { .. } => continue,
            event => return event,
        }
    }
}

async fn send(conn: &Connection, to: Conversation, client_ref: &str, content: &str) {
    conn.send(Command::Send {
        to,
        client_ref: client_ref.into(),
        content: content.into(),
    })
    .await
    .expect("queued");
}

fn user(id: u64) -> Conversation {
    Conversation::User(UserId::from(id))
}

fn group(name: &str) -> Conversation {
    Conversation::Group(GroupId::from(name))
}

async fn expect_accepted(conn: &mut Connection, client_ref: &str) {
    assert_eq!(
        next_event(conn).await,
        Event::Accepted {
            client_ref: Some(client_ref.into()),
            id: None
        }
    );
}

fn delivered(conversation: Conversation, from: u64, id: &str, content: &str) -> Event {
    Event::Delivered(Message {
        conversation,
        from: UserId::from(from),
        id: Some(MessageId::Text(id.into())),
        content: content.into(),
    })
}

// ---- raw sockets ----

/// One HTTP exchange on a fresh connection: the status code and the body.
async fn http(server: &Server, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut stream = timeout(WAIT, TcpStream::connect(bound(server, "http")))
        .await
        .expect("connect in time")
        .expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut answer))
        .await
        .expect("the picker answers and closes in time")
        .expect("read");
    let answer = String::from_utf8(answer).expect("utf-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, body.to_owned())
}

/// `POST /server/login`: the parsed answer (status 0 expected).
async fn http_login(server: &Server, phone: &str) -> Response {
    let (status, body) = http(
        server,
        "POST",
        "/server/login",
        &format!("phone={phone}&password=pw"),
    )
    .await;
    assert_eq!(status, 200);
    let response = Response::parse(body.as_bytes()).expect("a picker answer");
    assert_eq!(response.status, 0, "{body}");
    response
}

async fn tcp(server: &Server) -> TcpStream {
    timeout(WAIT, TcpStream::connect(bound(server, "tcp")))
        .await
        .expect("connect in time")
        .expect("connect")
}

async fn write(stream: &mut TcpStream, bytes: &str) {
    stream.write_all(bytes.as_bytes()).await.expect("write");
}

/// Read exactly `expected.len()` bytes and compare.
async fn expect_bytes(stream: &mut TcpStream, expected: &str) {
    let mut got = vec![0; expected.len()];
    timeout(WAIT, stream.read_exact(&mut got))
        .await
        .unwrap_or_else(|_| panic!("no {expected:?} in time"))
        .unwrap_or_else(|e| panic!("reading {expected:?}: {e}"));
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

/// The server closes the connection without sending anything more.
async fn expect_closed(stream: &mut TcpStream) {
    let mut rest = Vec::new();
    let read = timeout(WAIT, stream.read_to_end(&mut rest))
        .await
        .expect("the server closes in time");
    // A reset after the close counts as closed too.
    if read.is_ok() {
        assert_eq!(String::from_utf8_lossy(&rest), "", "nothing after the end");
    }
}

fn login_line(request_id: &str, user: &str, device: &str, token: &str) -> String {
    format!(
        r#"[r] id = "{request_id}" t = "login" [r.user] id = {user} device = "{device}" token = "{token}""#
    )
}

const LOGIN_OK: &str = r#"[rr] id="a_01" t="login" s=0"#;

/// HTTP login then TCP login over raw sockets; returns the socket and the token.
async fn raw_log_in(server: &Server, id: u64, device: &str) -> (TcpStream, String) {
    let response = http_login(server, &id.to_string()).await;
    let token = response.user.expect("[response.user]").token;
    let mut stream = tcp(server).await;
    write(
        &mut stream,
        &login_line("a_01", &id.to_string(), device, &token),
    )
    .await;
    expect_bytes(&mut stream, LOGIN_OK).await;
    (stream, token)
}

fn message_line(id: &str, content: &str, to: u64, from: u64) -> String {
    format!(
        r#"[m] id = "{id}" c = "{content}" [m.to] id = {to} [m.from] id = {from} device = "android""#
    )
}

/// A `[m]` as the server delivers it.
fn delivery_line(id: &str, content: &str, to: u64, from: u64) -> String {
    format!(
        r#"[m] id = "{id}" c = "{content}" [m.to] id = "{to}" [m.from] id = "{from}" device = "android""#
    )
}

async fn wait_offline(server: &Server, id: u64) {
    let user = UserId::from(id);
    for _ in 0..1000 {
        if !server.hub().is_online(&user) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("user {id} still online");
}

// ---- the flows ----

#[tokio::test]
async fn login_lookup_send_accept_and_delivery_to_every_device() {
    let server = start_default().await;
    let url = url(&server);
    let (mut alice, events) = log_in(&url, "1", "android").await;
    // The lookup hop names the TCP node; then the login.
    assert_eq!(
        events[0],
        Event::LookedUp {
            address: bound(&server, "tcp").to_string()
        }
    );
    assert!(events.iter().any(|e| matches!(e,
        Event::LoggedIn { user, token: Some(_) } if *user == UserId::from(1))));
    let (mut bob_phone, _) = log_in(&url, "2", "android").await;
    let (mut bob_tablet, _) = log_in(&url, "2", "ipad").await;

    send(&alice, user(2), "a_02", "hello bob").await;
    expect_accepted(&mut alice, "a_02").await;
    let expected = delivered(user(1), 1, "a_02", "hello bob");
    assert_eq!(next_event(&mut bob_phone).await, expected);
    assert_eq!(next_event(&mut bob_tablet).await, expected);

    // bob acks (ignored, as the original does) and answers; alice gets it.
    bob_phone
        .send(Command::Ack {
            conversation: user(1),
            id: MessageId::Text("a_02".into()),
        })
        .await
        .unwrap();
    send(&bob_phone, user(1), "b_01", "hi alice").await;
    expect_accepted(&mut bob_phone, "b_01").await;
    assert_eq!(
        next_event(&mut alice).await,
        delivered(user(2), 2, "b_01", "hi alice")
    );
    // bob's other device does not get what bob sent.
    send(&alice, user(2), "a_03", "second").await;
    expect_accepted(&mut alice, "a_03").await;
    assert_eq!(
        next_event(&mut bob_tablet).await,
        delivered(user(1), 1, "a_03", "second")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_node_answers_byte_for_byte_as_the_original() {
    let server = start_default().await;
    let tcp_port = bound(&server, "tcp").port();
    // The picker's login answer.
    let (status, body) = http(&server, "POST", "/server/login", "phone=1&password=pw").await;
    assert_eq!(status, 200);
    let prefix = format!(
        r#"[response] status = 0 server = "127.0.0.1" port = "{tcp_port}" [response.user] token = ""#
    );
    assert!(body.starts_with(&prefix), "{body}");
    assert!(body.ends_with(r#"" id = 1"#), "{body}");
    let token = &body[prefix.len()..body.len() - r#"" id = 1"#.len()];
    assert!(!token.is_empty() && !token.contains('"'));

    // The TCP login: the 28 bytes whatever the request id.
    let mut alice = tcp(&server).await;
    write(&mut alice, &login_line("x_9", "\"1\"", "iphone", token)).await;
    expect_bytes(&mut alice, LOGIN_OK).await;
    let (mut bob, _) = raw_log_in(&server, 2, "android").await;

    write(&mut alice, &message_line("a_02", "hi [gm] bob", 2, 1)).await;
    expect_bytes(&mut alice, r#"[a] id = "a_02""#).await;
    expect_bytes(&mut bob, &delivery_line("a_02", "hi [gm] bob", 2, 1)).await;

    // A request after login: "Unknown request", and the connection goes on.
    write(&mut alice, r#"[r] id = "q_1" t = "logout""#).await;
    expect_bytes(&mut alice, r#"[rr] id = "q_1" c = "Unknown request""#).await;
    // Two documents glued into one write, and one split over two writes.
    let glued = format!(
        "{}\n{}",
        message_line("a_03", "one", 2, 1),
        message_line("a_04", "two", 2, 1)
    );
    write(&mut alice, &glued).await;
    expect_bytes(&mut alice, r#"[a] id = "a_03"[a] id = "a_04""#).await;
    let split = message_line("a_05", "three", 2, 1);
    write(&mut alice, &split[..20]).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    write(&mut alice, &split[20..]).await;
    expect_bytes(&mut alice, r#"[a] id = "a_05""#).await;
    // The receiver's ack is accepted and ignored.
    write(&mut bob, r#"[a] id = "a_02""#).await;
    expect_bytes(
        &mut bob,
        &[
            delivery_line("a_03", "one", 2, 1),
            delivery_line("a_04", "two", 2, 1),
            delivery_line("a_05", "three", 2, 1),
        ]
        .concat(),
    )
    .await;
    // A message ending in a multi-digit integer is taken once the client is quiet.
    write(
        &mut bob,
        r#"[m] id = "b_1" c = "late" [m.from] device = "android" id = 2 [m.to] id = 10"#,
    )
    .await;
    expect_bytes(&mut bob, r#"[a] id = "b_1""#).await;
    server.shutdown().await;
}

#[tokio::test]
async fn logins_the_node_refuses_get_the_originals_answer_and_a_close() {
    let mut config = ServerConfig::ephemeral(&[Dialect::SimpleIm]);
    config.limits.handshake_timeout = Duration::from_millis(500);
    let server = start(config).await;
    let token = http_login(&server, "1").await.user.unwrap().token;

    let refused = [
        (
            login_line("a_01", "1", "android", "not-a-token"),
            r#"[rr] id = "a_01" t = "login" s = 1 r = "Token error""#,
        ),
        (
            // Someone else's token.
            login_line("a_07", "2", "android", &token),
            r#"[rr] id = "a_07" t = "login" s = 1 r = "Token error""#,
        ),
        (
            login_line("a_01", "1", "pc", &token),
            r#"[rr] id = "a_01" t = "login" s = 1 r = "Wrong device""#,
        ),
        (
            // Never logged in on TCP: no seat to return to.
            login_line("a_01", "1", "android", &token).replace("login", "reconnect"),
            r#"[rr] id = "a_01"t = "reconnect" s = 1 r = "offline""#,
        ),
        (
            message_line("m_1", "hi", 2, 1),
            r#"[rr] id = "m_1" c = "Unknown request""#,
        ),
        (
            r#"[r] id = "z" t = "login""#.to_owned(),
            r#"[rr] id = "z" c = "Unknown request""#,
        ),
        (
            r#"[r] id = "y" t = "register" [r.user] id = 1 device = "ipad" token = "t""#.to_owned(),
            r#"[rr] id = "y" c = "Unknown request""#,
        ),
    ];
    for (sent, answer) in refused {
        let mut stream = tcp(&server).await;
        write(&mut stream, &sent).await;
        expect_bytes(&mut stream, answer).await;
        expect_closed(&mut stream).await;
    }
    // Garbage, and silence: closed without a word.
    let mut garbage = tcp(&server).await;
    write(&mut garbage, "hello there\n").await;
    expect_closed(&mut garbage).await;
    let mut silent = tcp(&server).await;
    expect_closed(&mut silent).await;
    // The picker too cuts off a request that never ends.
    let mut trickle = TcpStream::connect(bound(&server, "http")).await.unwrap();
    write(&mut trickle, "POST /server/login HTTP/1.1\r\nHost: x\r\n").await;
    expect_closed(&mut trickle).await;

    // A seat taken by the TCP login; a reconnect with another token does not match it.
    let mut alice = tcp(&server).await;
    write(&mut alice, &login_line("a_01", "1", "android", &token)).await;
    expect_bytes(&mut alice, LOGIN_OK).await;
    let other = http_login(&server, "1").await.user.unwrap().token;
    let mut intruder = tcp(&server).await;
    let reconnect = login_line("a_02", "1", "android", &other).replace("login", "reconnect");
    write(&mut intruder, &reconnect).await;
    expect_bytes(
        &mut intruder,
        r#"[rr] id = "a_02"t = "reconnect" s = 1 r = "Token not match""#,
    )
    .await;
    expect_closed(&mut intruder).await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_picker_answers_reconnects_failures_and_bad_requests() {
    let server = start_default().await;
    let tcp_port = bound(&server, "tcp").port();
    let token = http_login(&server, "1").await.user.unwrap().token;
    let other = http_login(&server, "2").await.user.unwrap().token;
    let node = format!(r#"[response] status = 0 server = "127.0.0.1" port = "{tcp_port}""#);

    let form = |id: &str, token: &str| format!("id={id}&token={token}");
    let cases = [
        ("/server/reconnect", form("1", &token), 200, node.as_str()),
        (
            "/server/reconnect",
            form("1", "unknown"),
            200,
            "[response] status = 1",
        ),
        (
            "/server/reconnect",
            form("1", &other),
            200,
            "[response] status = 2",
        ),
        (
            "/server/failed",
            format!("token={token}"),
            200,
            r#"[response] status = 3 r = "IM is online""#,
        ),
        (
            "/server/failed",
            "token=unknown".into(),
            200,
            "[response] status = 1",
        ),
        (
            "/server/nothing",
            String::new(),
            404,
            "[response] status = 404",
        ),
        (
            "/server/login",
            format!("phone=1&password={}", "x".repeat(5000)),
            413,
            "[response] status = 413",
        ),
    ];
    for (path, body, status, answer) in cases {
        assert_eq!(
            http(&server, "POST", path, &body).await,
            (status, answer.to_owned()),
            "{path} {body}"
        );
    }
    assert_eq!(
        http(&server, "GET", "/server/login", "").await,
        (405, "[response] status = 405".to_owned())
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_new_login_on_the_same_device_replaces_the_old_connection() {
    let server = start_default().await;
    let url = url(&server);
    let (mut old_phone, _) = raw_log_in(&server, 2, "android").await;
    let (mut tablet, _) = raw_log_in(&server, 2, "ipad").await;
    let (mut new_phone, _) = log_in(&url, "2", "android").await;
    expect_closed(&mut old_phone).await;

    let (mut alice, _) = log_in(&url, "1", "iphone").await;
    send(&alice, user(2), "a_02", "which phone?").await;
    expect_accepted(&mut alice, "a_02").await;
    assert_eq!(
        next_event(&mut new_phone).await,
        delivered(user(1), 1, "a_02", "which phone?")
    );
    expect_bytes(&mut tablet, &delivery_line("a_02", "which phone?", 2, 1)).await;
    server.shutdown().await;
}

#[tokio::test]
async fn group_messages_reach_every_device_of_every_member_sender_included() {
    let server = start_default().await;
    let url = url(&server);
    let (mut alice_phone, _) = log_in(&url, "1", "android").await;
    let (mut alice_tablet, _) = log_in(&url, "1", "ipad").await;
    let (mut bob, _) = log_in(&url, "2", "android").await;
    let (mut carol, _) = log_in(&url, "3", "iphone").await;
    // Without an accounts file, sending to a group joins it.
    for (conn, id, name) in [(&mut bob, "b_1", 2), (&mut carol, "c_1", 3)] {
        send(conn, group("7"), id, "joining").await;
        expect_accepted(conn, id).await;
        assert_eq!(
            next_event(conn).await,
            delivered(group("7"), name, id, "joining")
        );
    }
    assert_eq!(
        next_event(&mut bob).await,
        delivered(group("7"), 3, "c_1", "joining")
    );

    send(&alice_phone, group("7"), "a_1", "hello group").await;
    expect_accepted(&mut alice_phone, "a_1").await;
    let expected = delivered(group("7"), 1, "a_1", "hello group");
    for conn in [&mut alice_phone, &mut alice_tablet, &mut bob, &mut carol] {
        assert_eq!(next_event(conn).await, expected);
    }
    server.shutdown().await;
}

#[tokio::test]
async fn messages_for_an_offline_user_wait_for_the_next_login() {
    let server = start_default().await;
    let url = url(&server);
    let (mut alice, _) = log_in(&url, "1", "android").await;
    for (id, text) in [("a_1", "first"), ("a_2", "second")] {
        send(&alice, user(2), id, text).await;
        expect_accepted(&mut alice, id).await;
    }
    let (mut bob, _) = log_in(&url, "2", "android").await;
    assert_eq!(
        next_event(&mut bob).await,
        delivered(user(1), 1, "a_1", "first")
    );
    assert_eq!(
        next_event(&mut bob).await,
        delivered(user(1), 1, "a_2", "second")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_reconnect_is_silent_and_brings_what_came_meanwhile() {
    let server = start_default().await;
    let tcp_port = bound(&server, "tcp").port();
    let (bob, token) = raw_log_in(&server, 2, "android").await;
    drop(bob);
    wait_offline(&server, 2).await;
    let (mut alice, _) = raw_log_in(&server, 1, "android").await;
    for id in ["a_1", "a_2"] {
        write(&mut alice, &message_line(id, "while away", 2, 1)).await;
        expect_bytes(&mut alice, &format!(r#"[a] id = "{id}""#)).await;
    }
    let (status, body) = http(
        &server,
        "POST",
        "/server/reconnect",
        &format!("id=2&token={token}"),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            format!(r#"[response] status = 0 server = "127.0.0.1" port = "{tcp_port}""#).as_str()
        )
    );
    let mut bob = tcp(&server).await;
    write(
        &mut bob,
        &login_line("a_01", "2", "android", &token).replace("login", "reconnect"),
    )
    .await;
    // No [rr]: the stored messages, in order.
    expect_bytes(
        &mut bob,
        &[
            delivery_line("a_1", "while away", 2, 1),
            delivery_line("a_2", "while away", 2, 1),
        ]
        .concat(),
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn the_idle_timeout_drops_the_silent_and_the_driver_resumes() {
    let mut config = ServerConfig::ephemeral(&[Dialect::SimpleIm]);
    config.limits.idle_timeout = Some(Duration::from_secs(1));
    let server = start(config).await;
    let url = url(&server);

    // A raw client that keeps sending `[a] id = "hb"` stays; a silent one is closed.
    let (mut keeper, _) = raw_log_in(&server, 3, "android").await;
    let (mut silent, _) = raw_log_in(&server, 4, "android").await;
    let beating = async {
        for _ in 0..12 {
            write(&mut keeper, r#"[a] id = "hb""#).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let ((), ()) = tokio::join!(beating, expect_closed(&mut silent));
    let (mut alice, _) = raw_log_in(&server, 1, "ipad").await;
    write(&mut alice, &message_line("a_1", "to the keeper", 3, 1)).await;
    expect_bytes(&mut alice, r#"[a] id = "a_1""#).await;
    expect_bytes(&mut keeper, &delivery_line("a_1", "to the keeper", 3, 1)).await;

    // The driver without a heartbeat is dropped too, and resumes on its own.
    let mut config = driver_config(&url, "2", "pw", "android");
    config.reconnect = ReconnectPolicy::default();
    let (mut bob, _) = connect(config).await;
    loop {
        if let Event::Connection(ConnectionState::Online { reconnect: true }) =
            next_any(&mut bob).await
        {
            break;
        }
    }
    let (mut alice, _) = raw_log_in(&server, 1, "ipad").await;
    write(&mut alice, &message_line("a_2", "still there?", 2, 1)).await;
    expect_bytes(&mut alice, r#"[a] id = "a_2""#).await;
    // Delivered live or kept across another drop, it arrives once.
    assert_eq!(
        next_event(&mut bob).await,
        delivered(user(1), 1, "a_2", "still there?")
    );
    server.shutdown().await;
}

fn accounts() -> AccountsFile {
    AccountsFile::parse(
        "accounts.toml",
        r#"
[[user]]
id = 1
password = "pw"
groups = ["lobby"]

[[user]]
id = 2
password = "pw"
groups = ["lobby"]

[[user]]
id = 3
password = "pw"
"#,
    )
    .expect("valid accounts")
}

#[tokio::test]
async fn with_accounts_wrong_passwords_unknown_users_and_outsiders_are_refused() {
    let server = start(ServerConfig {
        hub: HubConfig {
            accounts: Some(accounts()),
            ..HubConfig::default()
        },
        ..ServerConfig::ephemeral(&[Dialect::SimpleIm])
    })
    .await;
    let url = url(&server);
    assert_eq!(
        http(&server, "POST", "/server/login", "phone=1&password=nope").await,
        (200, "[response] status = 1".to_owned())
    );
    assert_eq!(
        http(&server, "POST", "/server/login", "phone=99&password=pw").await,
        (200, "[response] status = 2".to_owned())
    );
    match Connection::connect(driver_config(&url, "1", "wrong", "android")).await {
        Err(Error::Refused { reason, .. }) => assert!(reason.contains("wrong password")),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Groups come from the file: bob gets the lobby's messages without sending first.
    let (mut alice, _) = log_in(&url, "1", "android").await;
    let (mut bob, _) = log_in(&url, "2", "android").await;
    send(&alice, group("lobby"), "a_1", "welcome").await;
    expect_accepted(&mut alice, "a_1").await;
    let expected = delivered(group("lobby"), 1, "a_1", "welcome");
    assert_eq!(next_event(&mut alice).await, expected);
    assert_eq!(next_event(&mut bob).await, expected);

    // An outsider writing to the lobby, a message to an unknown user: that connection alone
    // is closed.
    let (mut carol, _) = raw_log_in(&server, 3, "android").await;
    write(
        &mut carol,
        r#"[gm] id = "c_1" c = "let me in" [gm.group] id = "lobby" [gm.user] id = 3 device = "android""#,
    )
    .await;
    expect_closed(&mut carol).await;
    let (mut carol, _) = raw_log_in(&server, 3, "android").await;
    write(&mut carol, &message_line("c_2", "anyone?", 99, 3)).await;
    expect_closed(&mut carol).await;

    send(&bob, user(1), "b_1", "still here").await;
    expect_accepted(&mut bob, "b_1").await;
    assert_eq!(
        next_event(&mut alice).await,
        delivered(user(2), 2, "b_1", "still here")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn bad_input_closes_only_the_offending_connection() {
    let server = start(ServerConfig {
        limits: Limits {
            max_frame: 1024,
            ..Limits::default()
        },
        ..ServerConfig::ephemeral(&[Dialect::SimpleIm])
    })
    .await;
    let url = url(&server);
    let (mut alice, _) = log_in(&url, "1", "android").await;
    let (mut bob, _) = log_in(&url, "2", "android").await;

    let offences = [
        // Claims to be alice.
        message_line("x_1", "spoofed", 2, 1),
        // Not a user id.
        message_line("x_2", "hi", 2, 5).replace("id = 2", r#"id = "bob""#),
        // Lacks [m.to].
        r#"[m] id = "x_3" c = "hi" [m.from] id = 5 device = "android""#.to_owned(),
        // Not a document.
        "}}} garbage {{{".to_owned(),
        // Larger than the frame limit.
        message_line("x_4", &"x".repeat(2000), 2, 5),
    ];
    for offence in offences {
        let (mut mallory, _) = raw_log_in(&server, 5, "android").await;
        write(&mut mallory, &offence).await;
        expect_closed(&mut mallory).await;
    }
    assert!(server.hub().is_online(&UserId::from(1)));

    send(&alice, user(2), "a_1", "still chatting").await;
    expect_accepted(&mut alice, "a_1").await;
    assert_eq!(
        next_event(&mut bob).await,
        delivered(user(1), 1, "a_1", "still chatting")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_binary_announces_its_url_and_serves_it() {
    use tokio::io::AsyncBufReadExt;

    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server-mock"))
        .args(["--listen", "simple-im=127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("run server-mock");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = timeout(WAIT, lines.next_line())
        .await
        .expect("announced in time")
        .expect("read")
        .expect("a line");
    let url = line
        .strip_prefix("listening simple-im ")
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (mut alice, _) = log_in(&url, "1", "android").await;
    send(&alice, user(1), "a_1", "note to self").await;
    expect_accepted(&mut alice, "a_1").await;
    assert_eq!(
        next_event(&mut alice).await,
        delivered(user(1), 1, "a_1", "note to self")
    );
    child.kill().await.expect("stop server-mock");
}
