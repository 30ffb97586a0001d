//! The client driver: for `fishchat`, ask the gateway for a msg_server, connect to it and
//! send `SEND_CLIENT_ID`; for `fishchat-text`, connect to the text server directly and do the
//! same in lines. A reconnect repeats the whole bootstrap (the server then flushes the
//! offline messages). The heartbeat is `SEND_PING ["PING"]` every 20 s; nothing answers it.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use super::codec::Inbound;
use super::mapping::{Context, cmd_to_event, command_to_cmd};
use super::message::Cmd;
use super::wire::Codec;
use crate::driver::{ConnectTimings, Connector, Link};
use crate::net::connect_tcp;
use crate::{Command, Dialect, DriverConfig, Error, Event, Result};

/// The reference client's `HeartBeatTime`.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(20);

/// How many unrelated frames the gateway may send before its answer (it sends none).
const MAX_GATEWAY_FRAMES: usize = 16;

/// Makes [`FishchatLink`]s for both forms (chosen by `config.dialect`).
#[derive(Debug, Clone)]
pub struct FishchatConnector {
    dialect: Dialect,
    ctx: Context,
    timings: ConnectTimings,
}

impl FishchatConnector {
    /// Needs `config.credentials.user`: the client id to register (there is no password).
    pub fn new(config: &DriverConfig) -> Result<Self> {
        let dialect = match config.dialect {
            d @ (Dialect::Fishchat | Dialect::FishchatText) => d,
            _ => Dialect::Fishchat,
        };
        let user = config.credentials.user.clone().ok_or(Error::Unsupported {
            dialect,
            operation: "log in without a client id (set the user in the credentials)",
        })?;
        Ok(FishchatConnector {
            dialect,
            ctx: Context::new(user),
            timings: ConnectTimings::default(),
        })
    }
}

impl Connector for FishchatConnector {
    type Link = FishchatLink;

    async fn connect(
        &mut self,
        config: &DriverConfig,
        reconnect: bool,
    ) -> Result<(FishchatLink, Vec<Event>)> {
        let mut events = Vec::new();
        let mut timings = ConnectTimings::default();
        let server = match self.dialect {
            Dialect::FishchatText => config.address.clone(),
            _ => {
                let started = Instant::now();
                let addr = look_up(config).await?;
                timings.lookup = Some(started.elapsed());
                events.push(Event::LookedUp {
                    address: addr.clone(),
                });
                addr
            }
        };
        tracing::debug!(%server, reconnect, dialect = %self.dialect, "connecting to the msg_server");
        let stream = connect_tcp(&server, config.local_addr, config.connect_timeout).await?;
        let mut link = FishchatLink {
            framed: Framed::with_capacity(
                stream,
                Codec::for_dialect(self.dialect, config.max_frame),
                crate::net::LINK_BUFFER,
            ),
            ctx: self.ctx.clone(),
            write_timeout: config.reply_timeout,
        };
        // The original never answers SEND_CLIENT_ID: once it is written we are logged in.
        let user = self.ctx.me.clone();
        let started = Instant::now();
        link.write(Cmd::SendClientId {
            client_id: user.as_str().to_owned(),
        })
        .await?;
        timings.login = Some(started.elapsed());
        self.timings = timings;
        events.push(Event::LoggedIn { user, token: None });
        Ok((link, events))
    }

    fn timings(&self) -> ConnectTimings {
        self.timings
    }
}

/// The gateway hop: `REQ_MSG_SERVER` → `SELECT_MSG_SERVER_FOR_CLIENT [addr]`, then the gateway
/// closes. Returns the msg_server address.
async fn look_up(config: &DriverConfig) -> Result<String> {
    let stream = connect_tcp(&config.address, config.local_addr, config.connect_timeout).await?;
    let mut framed = Framed::with_capacity(
        stream,
        Codec::for_dialect(Dialect::Fishchat, config.max_frame),
        crate::net::LINK_BUFFER,
    );
    let exchange = async {
        framed.send(&Cmd::ReqMsgServer).await?;
        for _ in 0..MAX_GATEWAY_FRAMES {
            match framed.next().await {
                Some(Ok(Inbound::Cmd(Cmd::SelectMsgServerForClient { addr }))) => return Ok(addr),
                Some(Ok(other)) => tracing::debug!(?other, "ignoring a gateway frame"),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Err(Error::Refused {
            dialect: Dialect::Fishchat,
            operation: "name a msg_server",
            reason: "the gateway closed the connection without SELECT_MSG_SERVER_FOR_CLIENT".into(),
        })
    };
    tokio::time::timeout(config.reply_timeout, exchange)
        .await
        .map_err(|_| Error::Timeout {
            what: "the gateway's SELECT_MSG_SERVER_FOR_CLIENT",
            after: config.reply_timeout,
        })?
}

/// A logged-in connection to a msg_server (or text server).
#[derive(Debug)]
pub struct FishchatLink {
    framed: Framed<TcpStream, Codec>,
    ctx: Context,
    write_timeout: Duration,
}

impl FishchatLink {
    async fn write(&mut self, cmd: Cmd) -> Result<()> {
        tokio::time::timeout(self.write_timeout, self.framed.send(&cmd))
            .await
            .map_err(|_| Error::Timeout {
                what: "the server to take our data",
                after: self.write_timeout,
            })?
    }
}

impl Link for FishchatLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        let Some(cmd) = command_to_cmd(&command, &self.ctx)? else {
            return Ok(());
        };
        if let Cmd::SendClientId { client_id } = &cmd {
            self.ctx.me = client_id.clone().into();
        }
        match self.write(cmd).await {
            // The encoder refuses before writing anything: only this command fails.
            Err(Error::FrameTooLarge {
                dialect,
                len,
                limit,
            }) => Err(Error::malformed(
                dialect,
                format!("the command is {len} bytes, over the {limit}-byte frame limit"),
            )),
            other => other,
        }
    }

    async fn recv(&mut self) -> Result<Vec<Event>> {
        // Cancel safe: the only await is FramedRead::next.
        loop {
            let inbound = match self.framed.next().await {
                None => return Err(Error::Closed),
                Some(result) => result?,
            };
            let problem = match inbound {
                Inbound::Empty => continue,
                Inbound::Cmd(Cmd::Unknown { name, .. }) => {
                    // The original ignores unknown commands; so do we.
                    tracing::debug!(%name, "ignoring an unknown command");
                    continue;
                }
                Inbound::Cmd(cmd) => match cmd_to_event(cmd) {
                    Ok(event) => return Ok(vec![event]),
                    Err(e) => e,
                },
                Inbound::Invalid(e) => e,
            };
            tracing::debug!("bad frame from the server: {problem}");
            return Ok(vec![Event::Error {
                code: None,
                message: problem.to_string(),
            }]);
        }
    }

    fn heartbeat_interval(&self) -> Option<Duration> {
        Some(HEARTBEAT_INTERVAL)
    }

    async fn heartbeat(&mut self) -> Result<()> {
        self.write(Cmd::SendPing).await
    }

    async fn close(&mut self) -> Result<()> {
        // There is no logout command: just close our side.
        let shutdown = self.framed.get_mut().shutdown();
        let _ = tokio::time::timeout(self.write_timeout, shutdown).await;
        Ok(())
    }
}
