//! The gateway: `REQ_MSG_SERVER` → `SELECT_MSG_SERVER_FOR_CLIENT [msg_server addr]`, then
//! close (FIN), as the original does. Anything else is ignored and the connection kept, up to
//! the handshake timeout (the original keeps it open indefinitely). It holds no hub state.

use std::time::Duration;

use imkit_protocols::fishchat::Cmd;
use tokio::io::AsyncWriteExt;
use tokio::time::{Instant, sleep_until, timeout};

use super::advertised;
use super::frames::{Frame, Framing, Inbox, Outbox};
use crate::listener::Accepted;

/// Bounds writing the reply and closing (a client that does not read cannot hold us).
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) async fn serve(conn: Accepted) {
    let Accepted {
        mut stream,
        peer,
        context,
        ..
    } = conn;
    let Some(msg_server) = advertised(&context, super::MSG_SERVER, &stream) else {
        return;
    };
    let mut inbox = Inbox::new(Framing::Length, context.limits.max_frame);
    let deadline = Instant::now() + context.limits.handshake_timeout;
    loop {
        let frame = match inbox.decode() {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tokio::select! {
                    _ = context.shutdown.cancelled() => return,
                    _ = sleep_until(deadline) => {
                        tracing::debug!(%peer, "gateway: no REQ_MSG_SERVER within the handshake timeout");
                        return;
                    }
                    read = inbox.fill(&mut stream) => match read {
                        Ok(true) => continue,
                        Ok(false) => return,
                        Err(e) => {
                            tracing::debug!(%peer, "gateway: {e}");
                            return;
                        }
                    },
                }
            }
            Err(e) => {
                tracing::info!(%peer, "gateway: closing the connection: {e}");
                return;
            }
        };
        match frame {
            Frame::Cmd(Cmd::ReqMsgServer) => {
                let mut reply = Outbox::new(Framing::Length);
                reply.select_msg_server(&msg_server);
                let answer = async {
                    stream.write_all(&reply.bytes).await?;
                    stream.shutdown().await
                };
                if let Err(e) = timeout(REPLY_TIMEOUT, answer)
                    .await
                    .unwrap_or_else(|_| Err(std::io::Error::from(std::io::ErrorKind::TimedOut)))
                {
                    tracing::debug!(%peer, "gateway: the reply was not taken: {e}");
                }
                return;
            }
            // The gateway only knows REQ_MSG_SERVER; the original ignores the rest.
            other => tracing::debug!(%peer, ?other, "gateway: ignoring a frame"),
        }
    }
}
