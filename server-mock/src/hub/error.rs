//! What the hub refuses, precisely enough for a listener to answer with its dialect's error
//! or to close only the offending connection.

use imkit_protocols::{Conversation, GroupId, SessionId, UserId};

use super::ConnId;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    /// The connection is not (or no longer) attached: detached, or dropped as a slow
    /// consumer or by chaos. Its task should close the socket.
    #[error("connection {0} is closed")]
    ConnectionClosed(ConnId),
    /// The command needs a logged-in user.
    #[error("not logged in")]
    NotLoggedIn,
    /// No such account (and accounts come from a file, so it is not created on first use).
    #[error("unknown user {0}")]
    UnknownUser(UserId),
    #[error("wrong password for user {0}")]
    WrongPassword(UserId),
    /// A resume or token login with a token the hub did not issue to this user.
    #[error("bad token for user {0}")]
    BadToken(UserId),
    #[error("unknown session {0}")]
    UnknownSession(SessionId),
    /// The session existed but ended (its partner left); the sender was told with
    /// `Event::PartnerLeft`, the message is not accepted.
    #[error("session {0} has ended")]
    SessionEnded(SessionId),
    #[error("unknown group {0}")]
    UnknownGroup(GroupId),
    /// The user is not a participant of the conversation.
    #[error("user {user} is not in {conversation}")]
    NotMember {
        user: UserId,
        conversation: Conversation,
    },
    /// The message names a sender other than the logged-in user.
    #[error("message claims to be from {claimed} but the connection is logged in as {actual}")]
    SenderMismatch { claimed: UserId, actual: UserId },
    /// Opening a session with oneself.
    #[error("cannot open a session with oneself")]
    SelfSession,
    /// A receiver's offline store is full: the message is refused rather than dropped.
    #[error("the mailbox of user {0} is full")]
    MailboxFull(UserId),
}
