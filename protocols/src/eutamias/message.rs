//! Typed messages mirroring the wire: the gob [`Envelope`] and, inside it, the protobuf
//! payload that `Cmd` names, in each direction ([`ClientMessage`], [`ServerMessage`]).

use bytes::Bytes;
use prost::Message as _;

use super::proto::*;
use crate::{Dialect, Error, Result};

/// The Go struct `Message{Cmd int, Seq uint, Msg []byte}` exactly as on the wire. `cmd` is
/// an `rpc.MsgCmd` value, kept raw so unknown commands survive decoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Envelope {
    pub cmd: i32,
    pub seq: u64,
    /// The protobuf encoding of the payload `cmd` names.
    pub msg: Bytes,
}

/// A typed payload with its envelope `Seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<M> {
    pub seq: u64,
    pub message: M,
}

impl<M> Frame<M> {
    pub fn new(seq: u64, message: M) -> Self {
        Frame { seq, message }
    }
}

/// A payload type that knows its `Cmd` and how to read itself from an envelope.
pub trait WireMessage: Sized {
    fn cmd(&self) -> i32;
    fn encode_payload(&self) -> Vec<u8>;
    /// Decode the payload of `cmd`. An unknown `cmd` is a value (`Unknown`), not an error:
    /// the original logs "wrong cmd id" and keeps the connection. A payload that is not the
    /// protobuf `cmd` names is [`Error::Malformed`].
    fn from_envelope(envelope: &Envelope) -> Result<Self>;

    fn to_envelope(&self, seq: u64) -> Envelope {
        Envelope {
            cmd: self.cmd(),
            seq,
            msg: Bytes::from(self.encode_payload()),
        }
    }
}

impl<M: WireMessage> Frame<M> {
    pub fn to_envelope(&self) -> Envelope {
        self.message.to_envelope(self.seq)
    }

    pub fn from_envelope(envelope: &Envelope) -> Result<Self> {
        Ok(Frame {
            seq: envelope.seq,
            message: M::from_envelope(envelope)?,
        })
    }
}

fn payload<T: prost::Message + Default>(envelope: &Envelope, what: &str) -> Result<T> {
    T::decode(envelope.msg.as_ref()).map_err(|e| {
        Error::malformed(
            Dialect::Eutamias,
            format!("Cmd {} carries no valid {what}: {e}", envelope.cmd),
        )
    })
}

/// What a client sends: to the notificer (N), to the switcher (S), or (for `NinfoUpd`) what
/// a notificer sends the dispatcher's TCP port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `C_HEARTBEAT`, `HeartBeat{}` (empty, so `Msg` is omitted).
    Heartbeat,
    /// `C_LOGIN` to N, and the identification on S.
    Login(LoginReq),
    /// `C_LOGOUT`.
    Logout(LogoutReq),
    /// `C_SENDMSG`: the original logs it only; no imkit flow uses it.
    SendMsg(SendMsgReq),
    /// `C_CREATESESSION` to N.
    CreateSession(CreateSessionReq),
    /// `C_CLOSESESSION` to N.
    CloseSession(CloseSessionReq),
    /// `C_MSGDATA` to S: a chat message into a session.
    MsgData(MsgData),
    /// `C_MSGACK`: the receiver acknowledges a delivered `C_MSGDATA`.
    MsgAck(MsgDataReadAck),
    /// `C_NINFOREQ` (dead code in the original: the lookup is gRPC).
    NinfoReq(NinfoReq),
    /// `C_NINFOUPD`: a notificer registers at the dispatcher.
    NinfoUpd(Ninfo),
    /// Any other `Cmd` (the original answers nothing and keeps the connection).
    Unknown { cmd: i32, msg: Bytes },
}

impl WireMessage for ClientMessage {
    fn cmd(&self) -> i32 {
        let cmd = match self {
            ClientMessage::Heartbeat => MsgCmd::CHeartbeat,
            ClientMessage::Login(_) => MsgCmd::CLogin,
            ClientMessage::Logout(_) => MsgCmd::CLogout,
            ClientMessage::SendMsg(_) => MsgCmd::CSendmsg,
            ClientMessage::CreateSession(_) => MsgCmd::CCreatesession,
            ClientMessage::CloseSession(_) => MsgCmd::CClosesession,
            ClientMessage::MsgData(_) => MsgCmd::CMsgdata,
            ClientMessage::MsgAck(_) => MsgCmd::CMsgack,
            ClientMessage::NinfoReq(_) => MsgCmd::CNinforeq,
            ClientMessage::NinfoUpd(_) => MsgCmd::CNinfoupd,
            ClientMessage::Unknown { cmd, .. } => return *cmd,
        };
        cmd as i32
    }

    fn encode_payload(&self) -> Vec<u8> {
        match self {
            ClientMessage::Heartbeat => HeartBeat {}.encode_to_vec(),
            ClientMessage::Login(m) => m.encode_to_vec(),
            ClientMessage::Logout(m) => m.encode_to_vec(),
            ClientMessage::SendMsg(m) => m.encode_to_vec(),
            ClientMessage::CreateSession(m) => m.encode_to_vec(),
            ClientMessage::CloseSession(m) => m.encode_to_vec(),
            ClientMessage::MsgData(m) => m.encode_to_vec(),
            ClientMessage::MsgAck(m) => m.encode_to_vec(),
            ClientMessage::NinfoReq(m) => m.encode_to_vec(),
            ClientMessage::NinfoUpd(m) => m.encode_to_vec(),
            ClientMessage::Unknown { msg, .. } => msg.to_vec(),
        }
    }

    fn from_envelope(e: &Envelope) -> Result<Self> {
        Ok(match MsgCmd::try_from(e.cmd) {
            Ok(MsgCmd::CHeartbeat) => {
                let _: HeartBeat = payload(e, "HeartBeat")?;
                ClientMessage::Heartbeat
            }
            Ok(MsgCmd::CLogin) => ClientMessage::Login(payload(e, "LoginReq")?),
            Ok(MsgCmd::CLogout) => ClientMessage::Logout(payload(e, "LogoutReq")?),
            Ok(MsgCmd::CSendmsg) => ClientMessage::SendMsg(payload(e, "SendMsgReq")?),
            Ok(MsgCmd::CCreatesession) => {
                ClientMessage::CreateSession(payload(e, "CreateSessionReq")?)
            }
            Ok(MsgCmd::CClosesession) => {
                ClientMessage::CloseSession(payload(e, "CloseSessionReq")?)
            }
            Ok(MsgCmd::CMsgdata) => ClientMessage::MsgData(payload(e, "MsgData")?),
            Ok(MsgCmd::CMsgack) => ClientMessage::MsgAck(payload(e, "MsgDataReadAck")?),
            Ok(MsgCmd::CNinforeq) => ClientMessage::NinfoReq(payload(e, "NinfoReq")?),
            Ok(MsgCmd::CNinfoupd) => ClientMessage::NinfoUpd(payload(e, "Ninfo")?),
            Ok(MsgCmd::CDefault) | Err(_) => ClientMessage::Unknown {
                cmd: e.cmd,
                msg: e.msg.clone(),
            },
        })
    }
}

/// What a server (N or S) sends a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMessage {
    /// `C_HEARTBEAT` (no imkit flow sends it; a client reports it as a pong).
    Heartbeat,
    /// `C_LOGIN`: the answer to a login on N or the identification on S.
    Login(LoginRsp),
    /// `C_LOGOUT` (no imkit flow sends it: logout has no reply).
    Logout(LogoutRsp),
    /// `C_SENDMSG` (never sent; kept for completeness of the schema).
    SendMsg(SendMsgRsp),
    /// `C_CREATESESSION`: the answer to our request, or the notice that a peer opened one.
    CreateSession(CreateSessionRsp),
    /// `C_CLOSESESSION`: the answer to our close.
    CloseSession(CloseSessionRsq),
    /// `C_MSGDATA`: a message delivered to us (`Seq` = the server's message id).
    MsgData(MsgData),
    /// `C_MSGACK`: S accepted (or refused) our `C_MSGDATA`.
    MsgAck(MsgDataReadAck),
    Unknown {
        cmd: i32,
        msg: Bytes,
    },
}

impl WireMessage for ServerMessage {
    fn cmd(&self) -> i32 {
        let cmd = match self {
            ServerMessage::Heartbeat => MsgCmd::CHeartbeat,
            ServerMessage::Login(_) => MsgCmd::CLogin,
            ServerMessage::Logout(_) => MsgCmd::CLogout,
            ServerMessage::SendMsg(_) => MsgCmd::CSendmsg,
            ServerMessage::CreateSession(_) => MsgCmd::CCreatesession,
            ServerMessage::CloseSession(_) => MsgCmd::CClosesession,
            ServerMessage::MsgData(_) => MsgCmd::CMsgdata,
            ServerMessage::MsgAck(_) => MsgCmd::CMsgack,
            ServerMessage::Unknown { cmd, .. } => return *cmd,
        };
        cmd as i32
    }

    fn encode_payload(&self) -> Vec<u8> {
        match self {
            ServerMessage::Heartbeat => HeartBeat {}.encode_to_vec(),
            ServerMessage::Login(m) => m.encode_to_vec(),
            ServerMessage::Logout(m) => m.encode_to_vec(),
            ServerMessage::SendMsg(m) => m.encode_to_vec(),
            ServerMessage::CreateSession(m) => m.encode_to_vec(),
            ServerMessage::CloseSession(m) => m.encode_to_vec(),
            ServerMessage::MsgData(m) => m.encode_to_vec(),
            ServerMessage::MsgAck(m) => m.encode_to_vec(),
            ServerMessage::Unknown { msg, .. } => msg.to_vec(),
        }
    }

    fn from_envelope(e: &Envelope) -> Result<Self> {
        Ok(match MsgCmd::try_from(e.cmd) {
            Ok(MsgCmd::CHeartbeat) => {
                let _: HeartBeat = payload(e, "HeartBeat")?;
                ServerMessage::Heartbeat
            }
            Ok(MsgCmd::CLogin) => ServerMessage::Login(payload(e, "LoginRsp")?),
            Ok(MsgCmd::CLogout) => ServerMessage::Logout(payload(e, "LogoutRsp")?),
            Ok(MsgCmd::CSendmsg) => ServerMessage::SendMsg(payload(e, "SendMsgRsp")?),
            Ok(MsgCmd::CCreatesession) => {
                ServerMessage::CreateSession(payload(e, "CreateSessionRsp")?)
            }
            Ok(MsgCmd::CClosesession) => {
                ServerMessage::CloseSession(payload(e, "CloseSessionRsq")?)
            }
            Ok(MsgCmd::CMsgdata) => ServerMessage::MsgData(payload(e, "MsgData")?),
            Ok(MsgCmd::CMsgack) => ServerMessage::MsgAck(payload(e, "MsgDataReadAck")?),
            _ => ServerMessage::Unknown {
                cmd: e.cmd,
                msg: e.msg.clone(),
            },
        })
    }
}
