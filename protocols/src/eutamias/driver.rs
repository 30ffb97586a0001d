//! The client driver: gRPC lookup at the dispatcher (D), login at the notificer (N), then a
//! second gob connection to the switcher (S) once a `CreateSessionRsp` names it.
//!
//! No pipelining, per connection: the original reads one message per fresh `gob.Decoder`
//! over a throw-away `bufio.Reader`, so a second message in the same TCP read is lost. A
//! command that gets an answer waits for it ([`Ready::AwaitingReply`]); one that gets none
//! (heartbeat, logout, ack) is followed by a short pause ([`Ready::At`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::codec::ClientCodec;
use super::grpc::DispatcherClient;
use super::mapping::{Awaiting, ClientContext, Request};
use super::message::{ClientMessage, Frame, ServerMessage};
use super::proto::{LoginReq, NinfoReq, OnlineStatus, ResultCode};
use crate::driver::{ConnectTimings, Connector, Link, Ready};
use crate::{Command, Dialect, DriverConfig, Error, Event, Result, UserId};

/// The heartbeat interval (the original's unused `HEARTBEAT_DURATION = 3000` ms).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
/// The pause after a message that gets no answer, so the next one lands in another read.
pub const DEFAULT_PAUSE: Duration = Duration::from_millis(5);

type Connection = Framed<TcpStream, ClientCodec>;
type Opening = Pin<Box<dyn Future<Output = Result<Connection>> + Send>>;

/// `host:port`, bracketing IPv6 hosts.
pub fn host_port(ip: &str, port: u64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// What opening a gob connection needs; shared by the connector and its links.
#[derive(Debug, Clone)]
struct Dial {
    user: u64,
    secret: String,
    config: DriverConfig,
}

impl Dial {
    /// Connect to N or S and log in there (`Seq = 1`); the login answer must be RC_OK.
    async fn open(&self, address: &str) -> Result<Connection> {
        let config = &self.config;
        let stream =
            crate::net::connect_tcp(address, config.local_addr, config.connect_timeout).await?;
        let mut conn = Framed::with_capacity(
            stream,
            ClientCodec::new(config.max_frame),
            crate::net::LINK_BUFFER,
        );
        let login = LoginReq {
            id: self.user,
            passwd: self.secret.clone(),
            online_statue: OnlineStatus::OsOnline as i32,
        };
        conn.send(Frame::new(1, ClientMessage::Login(login)))
            .await?;
        let reply = tokio::time::timeout(config.reply_timeout, conn.next())
            .await
            .map_err(|_| Error::Timeout {
                what: "the login answer (LoginRsp)",
                after: config.reply_timeout,
            })?
            .ok_or(Error::Closed)??;
        let ServerMessage::Login(rsp) = reply.message else {
            return Err(Error::malformed(
                Dialect::Eutamias,
                format!(
                    "expected a LoginRsp from {address}, got {:?}",
                    reply.message
                ),
            ));
        };
        if rsp.result_code == ResultCode::RcOk as i32 {
            return Ok(conn);
        }
        let reason = match ResultCode::try_from(rsp.result_code) {
            Ok(ResultCode::RcWrongpw) => format!(
                "wrong password for user {} (check the secret you log in with)",
                self.user
            ),
            _ if !rsp.result_str.is_empty() => rsp.result_str,
            _ => format!("result code {}", rsp.result_code),
        };
        Err(Error::Refused {
            dialect: Dialect::Eutamias,
            operation: "log in",
            reason,
        })
    }
}

/// Makes [`EutamiasLink`]s: lookup, notificer login, and (on reconnect) the switcher link
/// the previous link had.
#[derive(Debug)]
pub struct EutamiasConnector {
    dial: Arc<Dial>,
    pause: Duration,
    /// The switcher the last link used, reopened on reconnect.
    switcher: Arc<Mutex<Option<String>>>,
    timings: ConnectTimings,
}

impl EutamiasConnector {
    /// Needs a numeric `credentials.user`; `credentials.secret` is the password.
    pub fn new(config: &DriverConfig) -> Result<Self> {
        let user = config
            .credentials
            .user
            .as_ref()
            .and_then(UserId::as_u64)
            .ok_or_else(|| {
                Error::unsupported(
                    Dialect::Eutamias,
                    "log in without a numeric user id (give --user <number>)",
                )
            })?;
        Ok(EutamiasConnector {
            dial: Arc::new(Dial {
                user,
                secret: config.credentials.secret.clone().unwrap_or_default(),
                config: config.clone(),
            }),
            pause: DEFAULT_PAUSE,
            switcher: Arc::new(Mutex::new(None)),
            timings: ConnectTimings::default(),
        })
    }

    /// The pause after a message that gets no answer (default [`DEFAULT_PAUSE`]).
    pub fn with_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    fn remembered_switcher(&self) -> Option<String> {
        self.switcher.lock().map(|s| s.clone()).unwrap_or(None)
    }
}

impl Connector for EutamiasConnector {
    type Link = EutamiasLink;

    async fn connect(
        &mut self,
        config: &DriverConfig,
        reconnect: bool,
    ) -> Result<(EutamiasLink, Vec<Event>)> {
        let user = self.dial.user;
        let lookup_started = Instant::now();
        let mut dispatcher = DispatcherClient::connect(
            &config.address,
            config.local_addr,
            config.connect_timeout,
            config.reply_timeout,
        )
        .await?;
        let found = dispatcher.get_my_nserver(NinfoReq { id: user }).await?;
        drop(dispatcher); // the README's "short connection" to D
        if found.rc != ResultCode::RcOk as i32 || found.nip.is_empty() || found.nport == 0 {
            return Err(Error::Refused {
                dialect: Dialect::Eutamias,
                operation: "look up a notificer",
                reason: format!(
                    "the dispatcher named no notificer (rc {}, address {:?}:{}); is one registered?",
                    found.rc, found.nip, found.nport
                ),
            });
        }
        let notificer_address = host_port(&found.nip, found.nport);
        let lookup = lookup_started.elapsed();
        let mut events = vec![Event::LookedUp {
            address: notificer_address.clone(),
        }];
        // The notificer's LOGIN is the login (its dial included: `open` does both).
        let login_started = Instant::now();
        let notificer = self.dial.open(&notificer_address).await?;
        self.timings = ConnectTimings {
            lookup: Some(lookup),
            login: Some(login_started.elapsed()),
        };
        events.push(Event::LoggedIn {
            user: UserId::from(user),
            token: None,
        });

        let mut switcher = None;
        if let Some(address) = self.remembered_switcher().filter(|_| reconnect) {
            match self.dial.open(&address).await {
                Ok(conn) => switcher = Some((address, conn)),
                Err(e) => {
                    if let Ok(mut remembered) = self.switcher.lock() {
                        *remembered = None;
                    }
                    events.push(Event::Error {
                        code: None,
                        message: format!("cannot reopen the switcher link to {address}: {e}"),
                    });
                }
            }
        }
        let link = EutamiasLink {
            dial: Arc::clone(&self.dial),
            context: ClientContext::new(user),
            notificer,
            switcher,
            opening: None,
            remembered: Arc::clone(&self.switcher),
            next_seq: 2,
            pause: self.pause,
            paused_until: None,
        };
        Ok((link, events))
    }

    fn timings(&self) -> ConnectTimings {
        self.timings
    }
}

/// One logged-in client: the notificer connection and, once known, the switcher's.
pub struct EutamiasLink {
    dial: Arc<Dial>,
    context: ClientContext,
    notificer: Connection,
    switcher: Option<(String, Connection)>,
    /// A switcher link being opened (kept here so `recv` stays cancel safe).
    opening: Option<(String, Opening)>,
    remembered: Arc<Mutex<Option<String>>>,
    next_seq: u64,
    pause: Duration,
    paused_until: Option<Instant>,
}

impl std::fmt::Debug for EutamiasLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EutamiasLink")
            .field("context", &self.context)
            .field("switcher", &self.switcher.as_ref().map(|(a, _)| a))
            .field("opening", &self.opening.as_ref().map(|(a, _)| a))
            .finish_non_exhaustive()
    }
}

/// The next frame of an optional connection (never, when there is none).
async fn next_frame(conn: Option<&mut Connection>) -> Option<Result<Frame<ServerMessage>>> {
    match conn {
        Some(conn) => conn.next().await,
        None => std::future::pending().await,
    }
}

/// The end of an optional switcher opening (never, when there is none).
async fn finish_opening(opening: Option<&mut Opening>) -> Result<Connection> {
    match opening {
        Some(opening) => opening.as_mut().await,
        None => std::future::pending().await,
    }
}

/// What one `recv` round saw.
enum Received {
    Notificer(Option<Result<Frame<ServerMessage>>>),
    Switcher(Option<Result<Frame<ServerMessage>>>),
    Opened(Result<Connection>),
}

impl EutamiasLink {
    fn start_switcher(&mut self, address: String) {
        let known = self.switcher.as_ref().map(|(a, _)| a);
        let opening = self.opening.as_ref().map(|(a, _)| a);
        if known == Some(&address) || opening == Some(&address) {
            return;
        }
        // Remembered now, not once open: the session exists, so a reconnect must reopen it
        // even if this link is lost while the switcher link is still being opened.
        if let Ok(mut remembered) = self.remembered.lock() {
            *remembered = Some(address.clone());
        }
        let dial = Arc::clone(&self.dial);
        let target = address.clone();
        self.opening = Some((address, Box::pin(async move { dial.open(&target).await })));
    }

    fn on_frame(&mut self, frame: Frame<ServerMessage>) -> Vec<Event> {
        let event = self.context.event_from_wire(&frame);
        if self.context.answers(&frame) {
            self.context.awaiting = None;
        }
        if let ServerMessage::CreateSession(rsp) = &frame.message
            && rsp.result_code == ResultCode::RcOk as i32
            && !rsp.sip.is_empty()
            && rsp.sport != 0
        {
            self.start_switcher(host_port(&rsp.sip, rsp.sport));
        }
        vec![event]
    }
}

impl Link for EutamiasLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        let frame = self.context.command_to_wire(&command, self.next_seq)?;
        // Heartbeats and acks carry their own Seq and leave the counter alone.
        if frame.seq == self.next_seq {
            self.next_seq += 1;
        }
        let seq = frame.seq;
        let conn = match (&frame.message, self.switcher.as_mut()) {
            (ClientMessage::MsgData(_), Some((_, s))) => s,
            (ClientMessage::MsgData(_), None) => {
                return Err(Error::unsupported(
                    Dialect::Eutamias,
                    "send before a session names the switcher (open the session first)",
                ));
            }
            (ClientMessage::MsgAck(_), Some((_, s))) => s,
            _ => &mut self.notificer,
        };
        conn.send(frame).await?;
        match Request::of(&command) {
            Some(request) => self.context.awaiting = Some(Awaiting { seq, request }),
            None => self.paused_until = Some(Instant::now() + self.pause),
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<Vec<Event>> {
        let received = {
            let notificer = &mut self.notificer;
            let switcher = self.switcher.as_mut().map(|(_, c)| c);
            let opening = self.opening.as_mut().map(|(_, f)| f);
            tokio::select! {
                r = notificer.next() => Received::Notificer(r),
                r = next_frame(switcher) => Received::Switcher(r),
                r = finish_opening(opening) => Received::Opened(r),
            }
        };
        match received {
            Received::Notificer(Some(frame)) | Received::Switcher(Some(frame)) => {
                Ok(self.on_frame(frame?))
            }
            Received::Notificer(None) => Err(Error::Closed),
            Received::Switcher(None) => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the switcher closed the connection",
            ))),
            Received::Opened(result) => {
                let Some((address, _)) = self.opening.take() else {
                    return Ok(Vec::new());
                };
                match result {
                    Ok(conn) => {
                        self.switcher = Some((address, conn));
                        Ok(Vec::new())
                    }
                    Err(e) => {
                        if let Ok(mut remembered) = self.remembered.lock()
                            && remembered.as_deref() == Some(address.as_str())
                        {
                            *remembered = None;
                        }
                        Ok(vec![Event::Error {
                            code: None,
                            message: format!("cannot open the switcher link to {address}: {e}"),
                        }])
                    }
                }
            }
        }
    }

    fn ready(&self) -> Ready {
        if self.opening.is_some() || self.context.awaiting.is_some() {
            return Ready::AwaitingReply;
        }
        match self.paused_until {
            Some(at) if at > Instant::now() => Ready::At(at),
            _ => Ready::Now,
        }
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        Some(HEARTBEAT_INTERVAL)
    }

    /// A `C_HEARTBEAT` (`Seq = 0`, no payload) on every open connection.
    async fn heartbeat(&mut self) -> Result<()> {
        self.notificer
            .send(Frame::new(0, ClientMessage::Heartbeat))
            .await?;
        if let Some((_, s)) = self.switcher.as_mut() {
            s.send(Frame::new(0, ClientMessage::Heartbeat)).await?;
        }
        self.paused_until = Some(Instant::now() + self.pause);
        Ok(())
    }

    async fn close(&mut self) -> Result<()> {
        if let Some((_, mut s)) = self.switcher.take() {
            let _ = s.close().await;
        }
        self.notificer.close().await
    }
}
