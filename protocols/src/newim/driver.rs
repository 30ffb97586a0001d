//! The client driver: a WebSocket upgrade carrying `Cookie: sid=<uid>` is the whole login;
//! then binary frames both ways, and text frames as the application ping (the gateway echoes
//! them). No heartbeat in the original (and no idle timeout on the gateway); a reconnect is a
//! new upgrade, after which the driver loop sends the JOINs again.

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;

use super::frame::{Frame, cookie_for};
use super::mapping::Context;
use crate::driver::{ConnectTimings, Connector, Link};
use crate::net::{WsStream, connect_ws};
use crate::{Command, Dialect, DriverConfig, Error, Event, Result, UserId};

/// Connects as `credentials.user`.
#[derive(Debug, Clone)]
pub struct NewimConnector {
    uid: UserId,
    timings: ConnectTimings,
}

impl NewimConnector {
    /// Checks that the uid survives the gateway's cookie parsing (`split("=")[1]`): an
    /// empty uid or one containing `=` would come out as someone else.
    pub fn new(config: &DriverConfig) -> Result<Self> {
        let refuse = |reason: &str| Error::Refused {
            dialect: Dialect::Newim,
            operation: "log in",
            reason: reason.to_owned(),
        };
        let uid = config.credentials.user.clone().ok_or_else(|| {
            refuse("no user id given: set the user (newim sends it as the cookie `sid=<user>`)")
        })?;
        if uid.0.is_empty() || uid.0.contains('=') {
            return Err(refuse(
                "the user id must be non-empty and contain no '=' (the gateway splits the cookie on '=')",
            ));
        }
        Ok(NewimConnector {
            uid,
            timings: ConnectTimings::default(),
        })
    }
}

impl Connector for NewimConnector {
    type Link = NewimLink;

    async fn connect(
        &mut self,
        config: &DriverConfig,
        _reconnect: bool,
    ) -> Result<(NewimLink, Vec<Event>)> {
        let started = std::time::Instant::now();
        let ws = connect_ws(
            &config.address,
            &[("Cookie", cookie_for(&self.uid))],
            config.local_addr,
            config.connect_timeout,
            config.max_frame,
        )
        .await?;
        let link = NewimLink {
            ws,
            context: Context::new(self.uid.clone()),
            max_frame: config.max_frame,
        };
        // The completed upgrade is the only sign of a successful login.
        self.timings = ConnectTimings {
            lookup: None,
            login: Some(started.elapsed()),
        };
        let events = vec![Event::LoggedIn {
            user: self.uid.clone(),
            token: None,
        }];
        Ok((link, events))
    }

    fn timings(&self) -> ConnectTimings {
        self.timings
    }
}

/// One logged-in gateway connection.
#[derive(Debug)]
pub struct NewimLink {
    ws: WsStream,
    context: Context,
    max_frame: usize,
}

impl Link for NewimLink {
    async fn send(&mut self, command: Command) -> Result<()> {
        if command == Command::Logout {
            // Closing is the logout: the gateway drops the connection from its table.
            return self.close().await;
        }
        if let Some(frame) = self.context.command_to_frame(&command)? {
            self.ws.send(frame.to_ws()).await?;
        }
        Ok(())
    }

    async fn recv(&mut self) -> Result<Vec<Event>> {
        loop {
            // `next()` on the stream is cancel safe: a dropped poll loses no message.
            let message = match self.ws.next().await {
                Some(message) => message?,
                None => return Err(Error::Closed),
            };
            if let WsMessage::Close(_) = message {
                return Err(Error::Closed);
            }
            let frame = match Frame::decode(&message, self.max_frame) {
                Ok(Some(frame)) => frame,
                // WebSocket pings are answered by tungstenite itself.
                Ok(None) => continue,
                // One bad frame costs only itself, as on the gateway.
                Err(e) => {
                    tracing::debug!("newim: dropping a bad frame: {e}");
                    return Ok(vec![bad_frame(e)]);
                }
            };
            match self.context.frame_to_event(frame) {
                Ok(Some(event)) => return Ok(vec![event]),
                Ok(None) => continue,
                Err(e) => return Ok(vec![bad_frame(e)]),
            }
        }
    }

    async fn close(&mut self) -> Result<()> {
        match self.ws.close(None).await {
            Ok(()) => Ok(()),
            Err(e) => {
                tracing::debug!("newim: close: {e}");
                Ok(())
            }
        }
    }
}

fn bad_frame(e: Error) -> Event {
    Event::Error {
        code: None,
        message: format!("ignored a frame from the server: {e}"),
    }
}
