//! The network worker: owns the [`Connection`], turns driver events into actions and
//! `Effect::Send` / `Effect::Connect` into driver calls. The UI never waits on the network.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use imkit_protocols::{Command, Connection, Credentials, DriverConfig, Event, UserId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::action::{Action, NetEvent};
use crate::effect::ConnectTarget;
use crate::explain;

/// The longest a whole connect (lookup, dial, login) may take before we call it failed.
const CONNECT_LIMIT: Duration = Duration::from_secs(30);
/// The longest a password command may run.
const PASSWORD_CMD_LIMIT: Duration = Duration::from_secs(60);
/// How long handing one command to the driver may wait.
const SEND_LIMIT: Duration = Duration::from_secs(5);
/// How long a polite close (logout) may take.
const CLOSE_LIMIT: Duration = Duration::from_secs(3);

#[derive(Debug)]
enum Request {
    Connect(ConnectTarget),
    Send(Command),
    Close,
}

/// How a connection is made: [`Connection::connect`], or in tests a driver over a fake link.
pub type Dial = Arc<
    dyn Fn(
            DriverConfig,
        ) -> Pin<Box<dyn Future<Output = imkit_protocols::Result<Connection>> + Send>>
        + Send
        + Sync,
>;

/// The handle the UI loop keeps.
#[derive(Debug)]
pub struct NetWorker {
    requests: mpsc::UnboundedSender<Request>,
    task: JoinHandle<()>,
}

impl NetWorker {
    /// Start the worker; what it learns arrives on `actions`.
    pub fn spawn(actions: mpsc::UnboundedSender<Action>) -> NetWorker {
        NetWorker::spawn_with(
            actions,
            Arc::new(|config| Box::pin(Connection::connect(config))),
        )
    }

    /// As [`NetWorker::spawn`], connecting with `dial`.
    pub fn spawn_with(actions: mpsc::UnboundedSender<Action>, dial: Dial) -> NetWorker {
        let (requests, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(rx, actions, dial));
        NetWorker { requests, task }
    }

    pub fn connect(&self, target: ConnectTarget) {
        let _ = self.requests.send(Request::Connect(target));
    }

    pub fn send(&self, command: Command) {
        let _ = self.requests.send(Request::Send(command));
    }

    /// Log out and stop, bounded in time.
    pub async fn close(self) {
        let _ = self.requests.send(Request::Close);
        let _ = tokio::time::timeout(CLOSE_LIMIT + Duration::from_secs(1), self.task).await;
    }
}

async fn run(
    mut requests: mpsc::UnboundedReceiver<Request>,
    actions: mpsc::UnboundedSender<Action>,
    dial: Dial,
) {
    let tell = |event: NetEvent| {
        let _ = actions.send(Action::Net(event));
    };
    let mut connection: Option<Connection> = None;
    loop {
        tokio::select! {
            request = requests.recv() => match request {
                None | Some(Request::Close) => {
                    if let Some(c) = connection.take() {
                        let _ = tokio::time::timeout(CLOSE_LIMIT, c.close()).await;
                    }
                    return;
                }
                Some(Request::Connect(target)) => {
                    if let Some(old) = connection.take() {
                        let _ = tokio::time::timeout(CLOSE_LIMIT, old.close()).await;
                    }
                    tell(NetEvent::Connecting);
                    match connect(&target, &dial).await {
                        Ok(c) => connection = Some(c),
                        Err(reason) => tell(NetEvent::ConnectFailed(reason)),
                    }
                }
                Some(Request::Send(command)) => {
                    let result = match &connection {
                        // Bounded: a driver stuck reconnecting must not stall this loop.
                        Some(c) => match tokio::time::timeout(SEND_LIMIT, c.send(command.clone())).await {
                            Ok(result) => result.map_err(|e| e.to_string()),
                            Err(_) => Err("the connection is not taking commands; try /reconnect".to_owned()),
                        },
                        None => Err("not connected; /reconnect first".to_owned()),
                    };
                    if let Err(reason) = result {
                        tracing::info!(kind = command.kind(), "send refused: {reason}");
                        tell(NetEvent::SendFailed { command, reason });
                    }
                }
            },
            event = next_event(&mut connection) => match event {
                Some(event) => {
                    tracing::debug!(kind = event.kind(), "event");
                    tell(NetEvent::Event(event));
                }
                // The driver stopped (it said why in its last event).
                None => connection = None,
            },
        }
    }
}

async fn next_event(connection: &mut Option<Connection>) -> Option<Event> {
    match connection {
        Some(c) => c.recv().await,
        None => std::future::pending().await,
    }
}

async fn connect(target: &ConnectTarget, dial: &Dial) -> Result<Connection, String> {
    let password = match (&target.password, &target.password_cmd) {
        (Some(p), _) => Some(p.clone()),
        (None, Some(cmd)) => Some(password_from_command(cmd).await?),
        (None, None) => None,
    };
    let config = driver_config(target, password);
    tracing::info!(dialect = %target.dialect, address = %target.address, "connecting");
    match tokio::time::timeout(CONNECT_LIMIT, dial(config)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => {
            tracing::warn!("connect failed: {e}");
            Err(explain::connect_error(&e, target))
        }
        Err(_) => Err(format!(
            "Connecting to {} took longer than {}s. Is the server up and reachable?",
            target.address,
            CONNECT_LIMIT.as_secs()
        )),
    }
}

/// The driver's configuration for a target: a nick for dialects that register, else a login.
pub fn driver_config(target: &ConnectTarget, password: Option<String>) -> DriverConfig {
    let credentials = if target.registers() {
        Credentials {
            nick: target.user.clone(),
            ..Credentials::default()
        }
    } else {
        Credentials {
            user: target.user.as_deref().map(UserId::new),
            secret: password,
            ..Credentials::default()
        }
    };
    let mut config =
        DriverConfig::new(target.dialect, target.address.clone()).with_credentials(credentials);
    config.chat_v2 = target.chat_v2;
    config
}

/// Run `sh -c CMD` and take the first line of what it prints.
pub async fn password_from_command(cmd: &str) -> Result<String, String> {
    let output = tokio::process::Command::new("sh")
        .args(["-c", cmd])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PASSWORD_CMD_LIMIT, output)
        .await
        .map_err(|_| {
            format!(
                "The password command did not finish within {}s.",
                PASSWORD_CMD_LIMIT.as_secs()
            )
        })?
        .map_err(|e| format!("Could not run the password command: {e}."))?;
    if !output.status.success() {
        return Err(format!(
            "The password command failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().next().unwrap_or("").to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use imkit_protocols::Dialect;

    fn target(dialect: Dialect) -> ConnectTarget {
        ConnectTarget {
            dialect,
            address: dialect.default_client_address().into(),
            user: Some("alice".into()),
            password: Some("pw".into()),
            password_cmd: None,
            chat_v2: false,
        }
    }

    #[test]
    fn chat_registers_a_nick_others_log_in() {
        let chat = driver_config(&target(Dialect::ChatJson), None);
        assert_eq!(chat.credentials.nick.as_deref(), Some("alice"));
        assert_eq!(chat.credentials.user, None);
        let simple = driver_config(&target(Dialect::SimpleIm), Some("pw".into()));
        assert_eq!(simple.credentials.user, Some(UserId::new("alice")));
        assert_eq!(simple.credentials.secret.as_deref(), Some("pw"));
    }

    #[tokio::test]
    async fn password_command_gives_its_first_line() {
        assert_eq!(
            password_from_command("printf 'secret\\nrest\\n'").await,
            Ok("secret".into())
        );
        let err = password_from_command("echo nope >&2; exit 3")
            .await
            .unwrap_err();
        assert!(err.contains("nope"), "{err}");
    }

    #[tokio::test]
    async fn a_refused_connect_comes_back_as_plain_words() {
        // A port nobody listens on: bind, note the port, close.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let worker = NetWorker::spawn(tx);
        let mut t = target(Dialect::ChatJson);
        t.address = format!("ws://127.0.0.1:{port}/ws");
        worker.connect(t);
        let first = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap();
        assert_eq!(first, Some(Action::Net(NetEvent::Connecting)));
        let second = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap();
        match second {
            Some(Action::Net(NetEvent::ConnectFailed(reason))) => {
                assert_eq!(
                    reason,
                    format!(
                        "Nothing is listening at ws://127.0.0.1:{port}/ws. Is the chat-json \
                         server running? Check the address and port."
                    )
                );
            }
            other => panic!("expected a connect failure, got {other:?}"),
        }
        worker.send(Command::Match);
        let third = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap();
        assert!(matches!(
            third,
            Some(Action::Net(NetEvent::SendFailed {
                command: Command::Match,
                ..
            }))
        ));
        worker.close().await;
    }
}
