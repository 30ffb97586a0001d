//! The five dialects (six names: fishchat also has its human line form).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Capabilities;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Dialect {
    /// vearne/chat: JSON over WebSocket (v1 names; v2 selectable in the driver options).
    ChatJson,
    /// wudixiaotie/simple_im: HTTP login, then one-line "TOML" over raw TCP.
    SimpleIm,
    /// oikomi/FishChatServer: u32 BE length + JSON `{"CmdName","Args"}` over TCP.
    Fishchat,
    /// FishChatServer's commands as the README writes them: one text line per command.
    FishchatText,
    /// yamingd/NewIM: protobuf proto2 over WebSocket binary frames.
    Newim,
    /// yummyliu/Eutamias: gRPC lookup, then Go-gob envelopes carrying protobuf over TCP.
    Eutamias,
}

impl Dialect {
    pub const ALL: [Dialect; 6] = [
        Dialect::ChatJson,
        Dialect::SimpleIm,
        Dialect::Fishchat,
        Dialect::FishchatText,
        Dialect::Newim,
        Dialect::Eutamias,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::ChatJson => "chat-json",
            Dialect::SimpleIm => "simple-im",
            Dialect::Fishchat => "fishchat",
            Dialect::FishchatText => "fishchat-text",
            Dialect::Newim => "newim",
            Dialect::Eutamias => "eutamias",
        }
    }

    /// What the dialect can express.
    pub fn capabilities(self) -> Capabilities {
        match self {
            Dialect::ChatJson => crate::chat_json::CAPABILITIES,
            Dialect::SimpleIm => crate::simple_im::CAPABILITIES,
            Dialect::Fishchat | Dialect::FishchatText => crate::fishchat::CAPABILITIES,
            Dialect::Newim => crate::newim::CAPABILITIES,
            Dialect::Eutamias => crate::eutamias::CAPABILITIES,
        }
    }

    /// The address a client dials first, as the originals default it (DESIGN.md §3).
    pub fn default_client_address(self) -> &'static str {
        match self {
            Dialect::ChatJson => "ws://127.0.0.1:18224/ws",
            Dialect::SimpleIm => "http://127.0.0.1:8080",
            Dialect::Fishchat => "127.0.0.1:17000",
            // Not an original: the line form gets its own port beside fishchat's.
            Dialect::FishchatText => "127.0.0.1:17001",
            Dialect::Newim => "ws://127.0.0.1:8180/websocket",
            Dialect::Eutamias => "http://127.0.0.1:54321",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown dialect {0:?}; expected one of: chat-json, simple-im, fishchat, fishchat-text, newim, eutamias"
)]
pub struct UnknownDialect(pub String);

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Dialect::ALL
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownDialect(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for d in Dialect::ALL {
            assert_eq!(d.name().parse::<Dialect>(), Ok(d));
        }
        assert!("irc".parse::<Dialect>().is_err());
    }
}
