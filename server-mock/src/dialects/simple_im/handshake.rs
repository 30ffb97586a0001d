//! A TCP connection to the IM node, from its first document to its end. The first document
//! must be `[r] t = "login"` or `"reconnect"` with `[r.user]` (the original's client
//! factory reads exactly that), within the handshake timeout:
//!
//! | first document | answer |
//! |---|---|
//! | login, token the picker issued to that user, known device | `[rr] id="a_01" t="login" s=0` (nothing if the seat already had this token) |
//! | login, unknown token | `[rr] id = "<id>" t = "login" s = 1 r = "Token error"`, close |
//! | login, device not android/iphone/ipad | `... r = "Wrong device"`, close |
//! | reconnect into the seat its token holds | nothing (success is silent) |
//! | reconnect: no seat / another token / bad device | `[rr] id = "<id>"t = "reconnect" s = 1 r = "offline"` / `"Token not match"` / `"Wrong device"`, close |
//! | anything else with an id | `[rr] id = "<id>" c = "Unknown request"`, close |
//! | anything else, or nothing in time | close |

use imkit_protocols::simple_im::message::{DEVICES, LOGIN, RECONNECT};
use imkit_protocols::simple_im::{ClientMessage, Document, Reply, Request, ServerMessage};
use imkit_protocols::{Command, UserId};
use std::time::Duration;

use bytes::BufMut;

use super::seats::{NoSeat, Seats};
use super::stream::{DocumentStream, Inbound};
use super::wire::{TomlWire, numeric_user};
use crate::listener::{Accepted, HubConn, pump};

/// How long a refused client gets to read its `[rr]` before the close.
const REFUSAL_FLUSH: Duration = Duration::from_secs(1);

/// A login or reconnect that passed: who, and what the hub's `LoggedIn` is answered with.
struct Admitted {
    user: UserId,
    device: String,
    greeting: Option<String>,
}

pub(super) async fn serve(conn: Accepted, seats: &Seats) {
    let (hub_conn, outbound) = conn.attach();
    let Accepted {
        stream,
        peer,
        context,
        ..
    } = conn;
    let mut docs = DocumentStream::new(stream, context.limits.max_frame);
    let limit = context.limits.handshake_timeout;
    let first = tokio::select! {
        first = tokio::time::timeout(limit, docs.next()) => first,
        _ = context.shutdown.cancelled() => return,
    };
    let first = match first {
        Ok(Ok(Some(first))) => first,
        Ok(Ok(None)) => return,
        Ok(Err(error)) => {
            tracing::info!(%peer, %error, "simple-im: closed before login");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, timeout = ?limit, "simple-im: no login in time: closed");
            return;
        }
    };
    let request = match first {
        Inbound::Message(ClientMessage::Request(request))
            if request.user.is_some() && (request.kind == LOGIN || request.kind == RECONNECT) =>
        {
            request
        }
        other => {
            match &other {
                Inbound::Broken { error, .. } => {
                    tracing::info!(%peer, %error, "simple-im: a broken first document")
                }
                Inbound::Message(_) => {
                    tracing::info!(%peer, id = ?other.id(), "simple-im: the first document is not a login")
                }
            }
            if let Some(id) = other.id() {
                refuse(&mut docs, Reply::UnknownRequest { id: id.to_owned() }).await;
            }
            return;
        }
    };
    let admitted = match admit(&request, &hub_conn, seats) {
        Ok(admitted) => admitted,
        Err(reason) => {
            tracing::info!(%peer, kind = %request.kind, reason, "simple-im: login refused");
            let id = request.id.clone();
            let reply = if request.kind == LOGIN {
                Reply::LoginFailed {
                    id,
                    reason: reason.into(),
                }
            } else {
                Reply::ReconnectFailed {
                    id,
                    reason: reason.into(),
                }
            };
            refuse(&mut docs, reply).await;
            return;
        }
    };
    let Admitted {
        user,
        device,
        greeting,
    } = admitted;
    tracing::debug!(%peer, %user, %device, kind = %request.kind, "simple-im: logged in");
    let mut wire = TomlWire::new(docs, user.clone(), device.clone(), greeting);
    pump(&mut wire, &hub_conn, outbound, &context).await;
    seats.leave(&user, &device, hub_conn.id());
}

/// Check the request, take the seat (closing the connection it replaces) and log in to the
/// hub; or the original's reason for refusing.
fn admit(request: &Request, conn: &HubConn, seats: &Seats) -> Result<Admitted, &'static str> {
    let login = request.kind == LOGIN;
    let Some(fields) = &request.user else {
        return Err("Unknown error");
    };
    let token_refused = if login {
        "Token error"
    } else {
        NoSeat::TokenNotMatch.reason()
    };
    let hub = conn.hub();
    // The original compares the token's user with the id as a decimal string.
    let user = numeric_user(&fields.id).ok_or(token_refused)?;
    let device = fields.device.as_str();
    let token = fields.token.as_str();
    if login && !hub.token_is_valid(&user, token) {
        return Err(token_refused);
    }
    if !DEVICES.contains(&device) {
        return Err("Wrong device");
    }
    let (replaced, greeting) = if login {
        let taken = seats.log_in(&user, device, token, conn.id());
        let greeting = if taken.same_token {
            None
        } else {
            Some(Reply::LoginOk.print().map_err(|_| "Unknown error")?)
        };
        (taken.replaced, greeting)
    } else {
        let replaced = seats
            .reconnect(&user, device, token, conn.id())
            .map_err(NoSeat::reason)?;
        // The seat remembers a token the hub has since dropped (a user with many logins).
        if !hub.token_is_valid(&user, token) {
            seats.leave(&user, device, conn.id());
            return Err(token_refused);
        }
        (replaced, None)
    };
    if let Some(old) = replaced {
        // "be_replaced": what the old connection had not read yet is kept for this one.
        tracing::debug!(%user, device, old = %old, new = %conn.id(), "simple-im: replacing the device's connection");
        hub.detach(old);
    }
    let resume = Command::Resume {
        user: user.clone(),
        token: token.to_owned(),
        device: Some(device.to_owned()),
    };
    if let Err(error) = conn.handle(resume) {
        tracing::debug!(%user, %error, "simple-im: the hub refused the login");
        seats.leave(&user, device, conn.id());
        return Err(token_refused);
    }
    Ok(Admitted {
        user,
        device: device.to_owned(),
        greeting,
    })
}

/// Send the refusal and close, as the original does.
async fn refuse(docs: &mut DocumentStream, reply: Reply) {
    match ServerMessage::Reply(reply).print() {
        Ok(line) => docs.out.put_slice(line.as_bytes()),
        Err(error) => tracing::debug!(%error, "simple-im: a refusal that cannot be printed"),
    }
    docs.finish(REFUSAL_FLUSH).await;
}
