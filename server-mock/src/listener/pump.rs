//! The loop every connection runs once its handshake is done: commands from the client
//! into the hub, events from the hub out to the client (in batches), the idle timeout, the
//! dialect's own timer (chat ping, heartbeat checks), and the shutdown (the hub closes the
//! queue: what it held is written, then the connection closes). A listener implements
//! [`Wire`] for its framing and calls [`pump`].

use std::future::Future;
use std::time::Duration;

use imkit_protocols::Command;
use tokio::time::{Instant, sleep_until};

use super::{HubConn, ListenContext};
use crate::hub::{CloseReason, HubError, Outbound, Outgoing};

/// Events written per batch (one flush each).
const BATCH: usize = 64;

/// Room for commands kept between reads: a busy client's usual batch is read without an
/// allocation of its own, and an idle connection keeps at most this much.
const COMMANDS_KEPT: usize = 16;

/// A dialect's side of a live connection.
pub trait Wire: Send {
    /// Read the next commands from the client into `commands` (empty, and left empty for
    /// input the dialect ignores: the originals ignore unknown commands); `Ok(false)` when
    /// the client closed. An error ends the connection. Must be cancel safe: nothing is
    /// pushed before the last await. The vector is the pump's, used again for every read.
    fn read(
        &mut self,
        commands: &mut Vec<Command>,
    ) -> impl Future<Output = imkit_protocols::Result<bool>> + Send;

    /// Write `items` in order, then flush. A wire may take them out of the vector (to own
    /// an event's strings); the pump clears what is left.
    fn write(
        &mut self,
        items: &mut Vec<Outgoing>,
    ) -> impl Future<Output = imkit_protocols::Result<()>> + Send;

    /// The hub refused `command` (see [`Command::kind`]), at `position` in the batch `read`
    /// returned: answer in the dialect's words and go on (`Ok(true)`), or end the
    /// connection (`Ok(false)`, the default).
    fn refused(
        &mut self,
        command: &'static str,
        position: usize,
        error: &HubError,
    ) -> impl Future<Output = imkit_protocols::Result<bool>> + Send {
        let _ = (command, position, error);
        async { Ok(false) }
    }

    /// Whether events can still be written. A wire that has read the peer's close says no,
    /// so what the hub queued stays in its queue (kept for the user at detach) rather
    /// than being taken out and lost.
    fn writable(&self) -> bool {
        true
    }

    /// When the dialect's own timer fires next, if it has one.
    fn next_timer(&self) -> Option<Instant> {
        None
    }

    /// That timer fired (send a ping, log out a silent client via `conn.hub().logout`…).
    fn on_timer(
        &mut self,
        conn: &HubConn,
    ) -> impl Future<Output = imkit_protocols::Result<()>> + Send {
        let _ = conn;
        async { Ok(()) }
    }

    /// The end: close politely where the dialect can (a close frame). Called once.
    fn close(&mut self, end: &End) -> impl Future<Output = ()> + Send {
        let _ = end;
        async {}
    }
}

/// Why a connection's loop ended.
#[derive(Debug)]
pub enum End {
    /// The client closed.
    PeerClosed,
    /// Nothing from the client for the idle timeout.
    Idle,
    /// The hub closed the queue (slow consumer, chaos, shutdown) and it was written out.
    Closed(CloseReason),
    /// The hub refused a command and the dialect has no way to say so.
    Refused(HubError),
    /// Reading or writing failed, or the client sent what the dialect cannot take.
    Wire(imkit_protocols::Error),
}

/// A wire call that writes, but not forever: a client that stops reading would otherwise
/// hold its connection (and an open file) for good. The timer is only armed when the write
/// has to wait.
async fn within<T>(
    limit: Duration,
    write: impl Future<Output = imkit_protocols::Result<T>>,
) -> imkit_protocols::Result<T> {
    tokio::time::timeout(limit, write)
        .await
        .unwrap_or(Err(imkit_protocols::Error::Timeout {
            what: "the client to take what we wrote",
            after: limit,
        }))
}

/// Run the connection until it ends; returns why (also logged).
pub async fn pump<W: Wire>(
    wire: &mut W,
    conn: &HubConn,
    mut outbound: Outbound,
    context: &ListenContext,
) -> End {
    // A deadline far enough away to stand for "never" without overflowing Instant.
    let never = || Instant::now() + Duration::from_secs(86_400 * 365);
    let idle = context.limits.idle_timeout;
    let write_timeout = context.limits.write_timeout;
    // The timers live across iterations: making (and registering, and dropping) them in
    // every turn of the loop cost about as much as a small message. The shutdown is not
    // waited for here: the hub closes every queue when it starts, and a token polled at
    // each wake-up of each connection costs a lock all connections share.
    let mut last_read = Instant::now();
    let idle_sleep = sleep_until(idle.map_or_else(never, |d| last_read + d));
    let timer_sleep = sleep_until(never());
    tokio::pin!(idle_sleep, timer_sleep);
    let mut timer_at = None;
    // Grown on first use: BATCH items up front would cost every idle connection memory.
    let mut batch = Vec::new();
    // The same for commands; kept small between reads (see below).
    let mut commands = Vec::new();
    let end = 'serve: loop {
        let timer = wire.next_timer();
        if timer != timer_at {
            timer_at = timer;
            if let Some(at) = timer {
                timer_sleep.as_mut().reset(at);
            }
        }
        tokio::select! {
            // Writing first keeps the queue short under load.
            biased;
            event = outbound.recv(), if wire.writable() => {
                let Some(event) = event else {
                    break 'serve End::Closed(outbound.close_reason().unwrap_or(CloseReason::Detached));
                };
                batch.push(event);
                outbound.try_recv_many(&mut batch, BATCH - 1);
                let written = within(write_timeout, wire.write(&mut batch)).await;
                batch.clear();
                if let Err(e) = written {
                    break 'serve End::Wire(e);
                }
            }
            read = wire.read(&mut commands) => {
                match read {
                    Ok(true) => {}
                    Ok(false) => break 'serve End::PeerClosed,
                    Err(e) => break 'serve End::Wire(e),
                }
                if idle.is_some() {
                    last_read = Instant::now();
                }
                // A PONG, an ignored frame: nothing for the hub.
                if commands.is_empty() {
                    continue 'serve;
                }
                // Under one hub lock per run of accepted commands.
                let mut run = commands.drain(..).enumerate();
                while let Some((position, kind, error)) = conn.handle_until_refused(&mut run) {
                    // Dropped by the hub: its queue says why at the next recv.
                    if matches!(error, HubError::ConnectionClosed(_)) {
                        break;
                    }
                    // The replies to the commands before it go out first.
                    if wire.writable() && outbound.try_recv_many(&mut batch, BATCH) > 0 {
                        let written = within(write_timeout, wire.write(&mut batch)).await;
                        batch.clear();
                        if let Err(e) = written {
                            break 'serve End::Wire(e);
                        }
                    }
                    match within(write_timeout, wire.refused(kind, position, &error)).await {
                        Ok(true) => {}
                        Ok(false) => break 'serve End::Refused(error),
                        Err(e) => break 'serve End::Wire(e),
                    }
                }
                drop(run);
                // A rare long batch does not leave its room to the connection for good.
                if commands.capacity() > COMMANDS_KEPT {
                    commands.shrink_to(COMMANDS_KEPT);
                }
                // Let the tasks that are ready run before this one writes: what they queue
                // for this connection (a partner's message beside our own reply) then goes
                // out in the same write.
                tokio::task::yield_now().await;
            }
            // The deadline moves with every read; the timer is only moved when it fires.
            _ = &mut idle_sleep => {
                let deadline = idle.map_or_else(never, |d| last_read + d);
                if Instant::now() >= deadline {
                    break 'serve End::Idle;
                }
                idle_sleep.as_mut().reset(deadline);
            }
            _ = &mut timer_sleep, if timer.is_some() => {
                // Set again at the next turn, even to the same instant (as before: a timer
                // that does not move on fires again).
                timer_at = None;
                if let Err(e) = within(write_timeout, wire.on_timer(conn)).await {
                    break 'serve End::Wire(e);
                }
            }
        }
    };
    match &end {
        End::PeerClosed | End::Closed(CloseReason::Shutdown) => {
            tracing::debug!(dialect = %context.dialect, conn = %conn.id(), ?end, "connection ended")
        }
        _ => {
            tracing::info!(dialect = %context.dialect, conn = %conn.id(), ?end, "connection closed")
        }
    }
    wire.close(&end).await;
    end
}
