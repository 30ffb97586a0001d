//! The proto3 schema of package `rpc` (eutamias.md §3), derived by hand with prost (the
//! original's `.proto` files compile to exactly these tags and types).

/// The envelope's `Cmd` (`BaseDefine.proto`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MsgCmd {
    CDefault = 0,
    CHeartbeat = 1,
    CMsgdata = 2,
    CMsgack = 3,
    CLogin = 4,
    CLogout = 5,
    CNinforeq = 6,
    CNinfoupd = 7,
    CSendmsg = 8,
    CCreatesession = 9,
    CClosesession = 10,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum OnlineStatus {
    OsOnline = 0,
    OsLeave = 1,
    OsBusy = 2,
    OsOffline = 3,
}

/// Beware: success is `RcOk = 1`, not 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ResultCode {
    RcDefault = 0,
    RcOk = 1,
    RcWrongpw = 2,
    RcServerError = 3,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct HeartBeat {}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ServerTimeReq {}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct ServerTimeRsp {
    #[prost(uint64, tag = "1")]
    pub server_time: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LoginReq {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub passwd: String,
    /// The original's spelling (`online_statue`).
    #[prost(enumeration = "OnlineStatus", tag = "3")]
    pub online_statue: i32,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LoginRsp {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(enumeration = "ResultCode", tag = "2")]
    pub result_code: i32,
    #[prost(string, tag = "3")]
    pub result_str: String,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogoutReq {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct LogoutRsp {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(enumeration = "ResultCode", tag = "2")]
    pub result_code: i32,
    #[prost(string, tag = "3")]
    pub result_str: String,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SendMsgReq {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub peerid: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct SendMsgRsp {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub peerid: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MsgData {
    /// The sender.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(uint64, tag = "2")]
    pub session_id: u64,
    #[prost(string, tag = "3")]
    pub content: String,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct MsgDataReadAck {
    #[prost(enumeration = "ResultCode", tag = "1")]
    pub result_code: i32,
    #[prost(string, tag = "2")]
    pub result_str: String,
    #[prost(string, tag = "3")]
    pub sip: String,
    #[prost(uint64, tag = "4")]
    pub sport: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct UnreadMsgReq {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct UnreadMsgInfo {
    #[prost(uint64, tag = "1")]
    pub fromid: u64,
    #[prost(uint64, tag = "2")]
    pub session_id: u64,
    #[prost(string, tag = "3")]
    pub content: String,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct UnreadMsgRsp {
    #[prost(enumeration = "ResultCode", tag = "1")]
    pub result_code: i32,
    #[prost(string, tag = "2")]
    pub result_str: String,
    #[prost(message, repeated, tag = "3")]
    pub unread_msg_list: Vec<UnreadMsgInfo>,
    #[prost(uint64, tag = "4")]
    pub msg_count: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CreateSessionReq {
    #[prost(uint64, tag = "1")]
    pub fromid: u64,
    #[prost(uint64, tag = "2")]
    pub peerid: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CreateSessionRsp {
    #[prost(uint64, tag = "1")]
    pub fromid: u64,
    #[prost(uint64, tag = "2")]
    pub peerid: u64,
    #[prost(uint64, tag = "3")]
    pub session_id: u64,
    #[prost(enumeration = "ResultCode", tag = "4")]
    pub result_code: i32,
    #[prost(string, tag = "5")]
    pub result_str: String,
    /// The switcher's IP (the original's `Sip`).
    #[prost(string, tag = "6")]
    pub sip: String,
    /// The switcher's port (the original's `Sport`).
    #[prost(uint64, tag = "7")]
    pub sport: u64,
}

#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CloseSessionReq {
    #[prost(uint64, tag = "1")]
    pub fromid: u64,
    #[prost(uint64, tag = "2")]
    pub peerid: u64,
    #[prost(uint64, tag = "3")]
    pub session_id: u64,
}

/// The original's name (sic: `Rsq`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct CloseSessionRsq {
    #[prost(enumeration = "ResultCode", tag = "1")]
    pub result_code: i32,
    #[prost(string, tag = "2")]
    pub result_str: String,
}

/// A notificer's registration at the dispatcher (`DNmsg.proto`).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct Ninfo {
    #[prost(string, tag = "1")]
    pub ip: String,
    #[prost(uint64, tag = "2")]
    pub port: u64,
    #[prost(uint64, tag = "3")]
    pub max_conn: u64,
    #[prost(uint64, tag = "4")]
    pub cur_conn: u64,
    #[prost(string, tag = "5")]
    pub hostname: String,
}

/// The gRPC lookup request (`RpcService.proto`): `Id` is the user id.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct NinfoReq {
    #[prost(uint64, tag = "1")]
    pub id: u64,
}

/// The gRPC lookup answer: the notificer to connect to.
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct NinfoRsp {
    #[prost(uint64, tag = "1")]
    pub id: u64,
    #[prost(string, tag = "2")]
    pub nip: String,
    #[prost(uint64, tag = "3")]
    pub nport: u64,
    #[prost(enumeration = "ResultCode", tag = "4")]
    pub rc: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn golden_payloads_from_the_note() {
        let login = LoginReq {
            id: 234,
            passwd: "pw".into(),
            online_statue: OnlineStatus::OsOnline as i32,
        };
        assert_eq!(
            login.encode_to_vec(),
            [0x08, 0xea, 0x01, 0x12, 0x02, 0x70, 0x77]
        );
        let rsp = LoginRsp {
            id: 234,
            result_code: ResultCode::RcOk as i32,
            result_str: String::new(),
        };
        assert_eq!(rsp.encode_to_vec(), [0x08, 0xea, 0x01, 0x10, 0x01]);
        assert!(HeartBeat {}.encode_to_vec().is_empty());
    }

    #[test]
    fn enum_values_match_the_schema() {
        assert_eq!(MsgCmd::CClosesession as i32, 10);
        assert_eq!(MsgCmd::try_from(9), Ok(MsgCmd::CCreatesession));
        assert_eq!(ResultCode::RcOk as i32, 1);
        assert_eq!(ResultCode::RcWrongpw as i32, 2);
        assert_eq!(OnlineStatus::OsOffline as i32, 3);
    }
}
