//! What the hub knows about one attached connection.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use imkit_protocols::{Dialect, UserId};

use super::envelope::IdStyle;
use super::mailbox::Device;
use super::outbound::OutboundQueue;

/// A connection attached to the hub (unique for the life of the hub).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// How the hub treats a connection; [`AttachOptions::for_dialect`] gives each dialect's
/// defaults, a listener may change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachOptions {
    /// The receiver acks deliveries (`Command::Ack`): what it has not acked is redelivered
    /// at its next login. Too many unacked messages make it a slow consumer.
    pub receiver_acks: bool,
    /// The user may be picked by another user's `Match` (chat).
    pub matchable: bool,
    /// Sending to a group joins it (creating it if needed) when accounts are not fixed by
    /// a file: for dialects that address groups but have no join command (simple-im).
    pub joins_by_sending: bool,
    /// `JoinGroup` on an unknown group creates it (newim boxes are named by the client).
    pub join_creates: bool,
    /// A client's dedicated message link (eutamias' switcher connection, beside its
    /// notificer one): while the user has such a link, messages go only to its links, not
    /// to its other connections; and logging in on it hands out no stored messages (the
    /// login on the main connection did).
    pub message_link: bool,
    /// The sender is told its message was accepted (`Event::Accepted`). Off where the
    /// dialect answers a send with silence (fishchat): nothing to queue, wake or render.
    pub accept_replies: bool,
}

impl AttachOptions {
    pub fn for_dialect(dialect: Dialect) -> Self {
        let caps = dialect.capabilities();
        AttachOptions {
            // Where the ack is part of the flow the notes describe (fishchat P2P_ACK,
            // eutamias MSGACK). newim's ACK is ignored by the original and simple-im's `[a]`
            // from a receiver too: their listeners may turn this on.
            receiver_acks: matches!(
                dialect,
                Dialect::Fishchat | Dialect::FishchatText | Dialect::Eutamias
            ),
            matchable: caps.match_partner,
            joins_by_sending: caps.send_to_group && !caps.join_group,
            join_creates: dialect == Dialect::Newim,
            message_link: false,
            accept_replies: caps.server_accept,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Connection {
    pub dialect: Dialect,
    pub peer: SocketAddr,
    pub user: Option<UserId>,
    pub device: Device,
    pub options: AttachOptions,
    pub style: IdStyle,
    pub queue: Arc<OutboundQueue>,
}
