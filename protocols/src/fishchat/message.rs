//! The commands, as the wire has them: [`CmdSimple`] is the Go struct (a name and string
//! arguments); [`Cmd`] is the same with the arguments named and counted, for both directions.

use crate::{Dialect, Error, Result};

/// The Go `CmdSimple` struct: `{"CmdName":…,"Args":[…]}` on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CmdSimple {
    pub name: String,
    pub args: Vec<String>,
}

impl CmdSimple {
    pub fn new(name: impl Into<String>, args: Vec<String>) -> Self {
        CmdSimple {
            name: name.into(),
            args,
        }
    }
}

/// Command names of the client-visible catalog (protocol note §3).
pub mod names {
    pub const REQ_MSG_SERVER: &str = "REQ_MSG_SERVER";
    pub const SELECT_MSG_SERVER_FOR_CLIENT: &str = "SELECT_MSG_SERVER_FOR_CLIENT";
    pub const SEND_CLIENT_ID: &str = "SEND_CLIENT_ID";
    pub const SEND_PING: &str = "SEND_PING";
    pub const SEND_MESSAGE_P2P: &str = "SEND_MESSAGE_P2P";
    pub const RESP_MESSAGE_P2P: &str = "RESP_MESSAGE_P2P";
    pub const P2P_ACK: &str = "P2P_ACK";
    pub const CREATE_TOPIC: &str = "CREATE_TOPIC";
    pub const JOIN_TOPIC: &str = "JOIN_TOPIC";
    pub const LOCATE_TOPIC_MSG_ADDR: &str = "LOCATE_TOPIC_MSG_ADDR";
    pub const SEND_MESSAGE_TOPIC: &str = "SEND_MESSAGE_TOPIC";
    pub const RESP_MESSAGE_TOPIC: &str = "RESP_MESSAGE_TOPIC";

    /// Every name [`super::Cmd`] knows.
    pub const ALL: [&str; 12] = [
        REQ_MSG_SERVER,
        SELECT_MSG_SERVER_FOR_CLIENT,
        SEND_CLIENT_ID,
        SEND_PING,
        SEND_MESSAGE_P2P,
        RESP_MESSAGE_P2P,
        P2P_ACK,
        CREATE_TOPIC,
        JOIN_TOPIC,
        LOCATE_TOPIC_MSG_ADDR,
        SEND_MESSAGE_TOPIC,
        RESP_MESSAGE_TOPIC,
    ];
}

/// The literal argument the reference client sends with `SEND_PING`.
pub const PING_ARG: &str = "PING";

/// A typed command, either direction ("C→" client to server, "→C" server to client).
///
/// Decoding from [`CmdSimple`] checks the argument count: too few is an error (the original
/// panics and takes its whole process down), extra arguments are ignored as the original does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    /// C→gateway: which msg_server should I use?
    ReqMsgServer,
    /// gateway→C: `[addr]`, then the gateway closes.
    SelectMsgServerForClient { addr: String },
    /// C→msg_server: `[clientID]`, register this socket; no reply but the offline messages.
    SendClientId { client_id: String },
    /// C→msg_server: `["PING"]` (an empty Args is accepted too); no reply.
    SendPing,
    /// C→msg_server: `[to, msg, from]`; nothing back to the sender.
    SendMessageP2p {
        to: String,
        msg: String,
        from: String,
    },
    /// msg_server→C: `[msg, from, uuid]`, the uuid assigned by the server.
    RespMessageP2p {
        msg: String,
        from: String,
        uuid: String,
    },
    /// C→msg_server: `[myID, uuid]`; informational only.
    P2pAck { client_id: String, uuid: String },
    /// C→msg_server: `[topic]`; no reply.
    CreateTopic { topic: String },
    /// C→msg_server: `[topic, clientID]` → `LOCATE_TOPIC_MSG_ADDR`.
    JoinTopic { topic: String, client_id: String },
    /// msg_server→C: `[msgServerAddr, topic]`.
    LocateTopicMsgAddr { addr: String, topic: String },
    /// C→msg_server: `[topic, msg]` → `RESP_MESSAGE_TOPIC` to every member.
    SendMessageTopic { topic: String, msg: String },
    /// msg_server→C: `[topic, msg, fromID]`.
    RespMessageTopic {
        topic: String,
        msg: String,
        from: String,
    },
    /// Any other name (the original ignores it).
    Unknown { name: String, args: Vec<String> },
}

/// How many arguments a known command reads (`None`: not a command the original knows);
/// too few is an error.
fn arity(name: &str, given: usize) -> Result<Option<usize>> {
    use names::*;
    let expected = match name {
        REQ_MSG_SERVER | SEND_PING => 0,
        SELECT_MSG_SERVER_FOR_CLIENT | SEND_CLIENT_ID | CREATE_TOPIC => 1,
        P2P_ACK | JOIN_TOPIC | LOCATE_TOPIC_MSG_ADDR | SEND_MESSAGE_TOPIC => 2,
        SEND_MESSAGE_P2P | RESP_MESSAGE_P2P | RESP_MESSAGE_TOPIC => 3,
        _ => return Ok(None),
    };
    if given < expected {
        return Err(Error::malformed(
            Dialect::Fishchat,
            format!("{name} needs {expected} argument(s), got {given}"),
        ));
    }
    Ok(Some(expected))
}

impl Cmd {
    /// The wire name.
    pub fn name(&self) -> &str {
        use names::*;
        match self {
            Cmd::ReqMsgServer => REQ_MSG_SERVER,
            Cmd::SelectMsgServerForClient { .. } => SELECT_MSG_SERVER_FOR_CLIENT,
            Cmd::SendClientId { .. } => SEND_CLIENT_ID,
            Cmd::SendPing => SEND_PING,
            Cmd::SendMessageP2p { .. } => SEND_MESSAGE_P2P,
            Cmd::RespMessageP2p { .. } => RESP_MESSAGE_P2P,
            Cmd::P2pAck { .. } => P2P_ACK,
            Cmd::CreateTopic { .. } => CREATE_TOPIC,
            Cmd::JoinTopic { .. } => JOIN_TOPIC,
            Cmd::LocateTopicMsgAddr { .. } => LOCATE_TOPIC_MSG_ADDR,
            Cmd::SendMessageTopic { .. } => SEND_MESSAGE_TOPIC,
            Cmd::RespMessageTopic { .. } => RESP_MESSAGE_TOPIC,
            Cmd::Unknown { name, .. } => name,
        }
    }

    /// Type a wire command. Names match exactly, as the original's `switch` does.
    pub fn from_simple(simple: CmdSimple) -> Result<Cmd> {
        let CmdSimple { name, args } = simple;
        match arity(&name, args.len())? {
            Some(expected) => Ok(Cmd::with_args(&name, args.into_iter().take(expected))),
            None => Ok(Cmd::Unknown { name, args }),
        }
    }

    /// [`Cmd::from_simple`] on a name and arguments borrowed from the frame: only the
    /// arguments the command keeps are copied.
    pub fn from_parts(name: &str, args: &[&str]) -> Result<Cmd> {
        match arity(name, args.len())? {
            Some(expected) => Ok(Cmd::with_args(name, args.iter().copied().take(expected))),
            None => Ok(Cmd::Unknown {
                name: name.to_owned(),
                args: args.iter().map(|a| (*a).to_owned()).collect(),
            }),
        }
    }

    /// A known command from enough arguments (extra ones are dropped: the original never
    /// reads them).
    fn with_args<A: Into<String>>(name: &str, mut args: impl Iterator<Item = A>) -> Cmd {
        use names::*;
        let mut next = || args.next().map(Into::into).unwrap_or_default();
        match name {
            REQ_MSG_SERVER => Cmd::ReqMsgServer,
            SELECT_MSG_SERVER_FOR_CLIENT => Cmd::SelectMsgServerForClient { addr: next() },
            SEND_CLIENT_ID => Cmd::SendClientId { client_id: next() },
            SEND_PING => Cmd::SendPing,
            SEND_MESSAGE_P2P => Cmd::SendMessageP2p {
                to: next(),
                msg: next(),
                from: next(),
            },
            RESP_MESSAGE_P2P => Cmd::RespMessageP2p {
                msg: next(),
                from: next(),
                uuid: next(),
            },
            P2P_ACK => Cmd::P2pAck {
                client_id: next(),
                uuid: next(),
            },
            CREATE_TOPIC => Cmd::CreateTopic { topic: next() },
            JOIN_TOPIC => Cmd::JoinTopic {
                topic: next(),
                client_id: next(),
            },
            LOCATE_TOPIC_MSG_ADDR => Cmd::LocateTopicMsgAddr {
                addr: next(),
                topic: next(),
            },
            SEND_MESSAGE_TOPIC => Cmd::SendMessageTopic {
                topic: next(),
                msg: next(),
            },
            _ => Cmd::RespMessageTopic {
                topic: next(),
                msg: next(),
                from: next(),
            },
        }
    }

    /// The wire form (`SEND_PING` carries the reference client's literal `"PING"`).
    pub fn to_simple(&self) -> CmdSimple {
        let mut args = Vec::with_capacity(3);
        self.for_each_arg(|a| args.push(a.to_owned()));
        CmdSimple::new(self.name(), args)
    }

    /// Each wire argument in order, as [`Cmd::to_simple`] has them (without copying them).
    pub fn for_each_arg(&self, mut f: impl FnMut(&str)) {
        match self {
            Cmd::ReqMsgServer => {}
            Cmd::SendPing => f(PING_ARG),
            Cmd::SelectMsgServerForClient { addr: a }
            | Cmd::SendClientId { client_id: a }
            | Cmd::CreateTopic { topic: a } => f(a),
            Cmd::P2pAck {
                client_id: a,
                uuid: b,
            }
            | Cmd::JoinTopic {
                topic: a,
                client_id: b,
            }
            | Cmd::LocateTopicMsgAddr { addr: a, topic: b }
            | Cmd::SendMessageTopic { topic: a, msg: b } => {
                f(a);
                f(b);
            }
            Cmd::SendMessageP2p {
                to: a,
                msg: b,
                from: c,
            }
            | Cmd::RespMessageP2p {
                msg: a,
                from: b,
                uuid: c,
            }
            | Cmd::RespMessageTopic {
                topic: a,
                msg: b,
                from: c,
            } => {
                f(a);
                f(b);
                f(c);
            }
            Cmd::Unknown { args, .. } => args.iter().for_each(|a| f(a)),
        }
    }

    /// Whether a client sends this (as opposed to a gateway or msg_server).
    /// [`Cmd::Unknown`] counts as neither.
    pub fn is_from_client(&self) -> bool {
        matches!(
            self,
            Cmd::ReqMsgServer
                | Cmd::SendClientId { .. }
                | Cmd::SendPing
                | Cmd::SendMessageP2p { .. }
                | Cmd::P2pAck { .. }
                | Cmd::CreateTopic { .. }
                | Cmd::JoinTopic { .. }
                | Cmd::SendMessageTopic { .. }
        )
    }

    /// Whether a gateway or msg_server sends this.
    pub fn is_from_server(&self) -> bool {
        matches!(
            self,
            Cmd::SelectMsgServerForClient { .. }
                | Cmd::RespMessageP2p { .. }
                | Cmd::LocateTopicMsgAddr { .. }
                | Cmd::RespMessageTopic { .. }
        )
    }
}

impl From<&Cmd> for CmdSimple {
    fn from(cmd: &Cmd) -> Self {
        cmd.to_simple()
    }
}

impl TryFrom<CmdSimple> for Cmd {
    type Error = Error;

    fn try_from(simple: CmdSimple) -> Result<Cmd> {
        Cmd::from_simple(simple)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple(name: &str, args: &[&str]) -> CmdSimple {
        CmdSimple::new(name, args.iter().map(|a| a.to_string()).collect())
    }

    #[test]
    fn too_few_args_is_an_error_not_a_panic() {
        for (name, needed) in [
            ("SEND_CLIENT_ID", 1),
            ("SEND_MESSAGE_P2P", 3),
            ("P2P_ACK", 2),
            ("JOIN_TOPIC", 2),
            ("RESP_MESSAGE_TOPIC", 3),
        ] {
            let err = Cmd::from_simple(simple(name, &vec!["x"; needed - 1])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }

    #[test]
    fn extra_args_are_ignored_and_empty_ping_is_a_ping() {
        assert_eq!(
            Cmd::from_simple(simple("SEND_CLIENT_ID", &["42", "extra"])).unwrap(),
            Cmd::SendClientId {
                client_id: "42".into()
            }
        );
        assert_eq!(
            Cmd::from_simple(simple("SEND_PING", &[])).unwrap(),
            Cmd::SendPing
        );
    }

    #[test]
    fn unknown_and_lowercase_names_stay_unknown() {
        assert_eq!(
            Cmd::from_simple(simple("send_ping", &["PING"])).unwrap(),
            Cmd::Unknown {
                name: "send_ping".into(),
                args: vec!["PING".into()]
            }
        );
    }
}
