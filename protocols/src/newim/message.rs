//! The protobuf messages of `entity_schema.proto` (proto2, package `im`), derived by hand so the
//! build needs no `protoc`, and a strict decoder that rejects what the Java `build()` rejects.
//!
//! prost encodes `required` fields unconditionally (also when zero), which is what the gateway
//! needs: a proto3-style encoder that skips `group = 0` or `op = JOIN` produces messages the
//! original drops. prost does not *check* presence when decoding, so [`decode_chat_message`]
//! scans the wire for every required tag itself.

use bytes::Buf;
use prost::Message as _;

use crate::{Dialect, Error, Result};

/// `ChatMessage.MessageType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum MessageType {
    SmallText = 0,
    LongText = 1,
    Audio = 2,
    Image = 3,
    Video = 4,
    File = 5,
    Link = 6,
    Sync = 7,
}

/// `ChatMessage.ChatOp`: what the gateway does with the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ChatOp {
    Join = 0,
    Quit = 1,
    Chat = 2,
    Ack = 3,
}

/// One message in a box (chat room), in both directions. Fields in tag order, as encoded.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChatMessage {
    /// The box (room) id, chosen by the clients.
    #[prost(string, required, tag = "1")]
    pub boxid: String,
    /// Carried along, never used for routing.
    #[prost(int32, required, tag = "2", default = "0")]
    pub group: i32,
    /// The server's message id (a decimal string) on delivered copies.
    #[prost(string, optional, tag = "3")]
    pub uuid: Option<String>,
    /// Overwritten by the gateway with the uid from the upgrade's cookie.
    #[prost(string, optional, tag = "4")]
    pub sender: Option<String>,
    /// Carried along, never used for routing.
    #[prost(string, optional, tag = "5")]
    pub receiver: Option<String>,
    #[prost(string, optional, tag = "6")]
    pub body: Option<String>,
    #[prost(enumeration = "MessageType", required, tag = "7", default = "Sync")]
    pub mtype: i32,
    #[prost(enumeration = "ChatOp", required, tag = "8", default = "Ack")]
    pub op: i32,
}

/// Defined by the schema, used by no code in the original.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ChatStatus {
    #[prost(string, required, tag = "1")]
    pub sender: String,
    #[prost(int32, required, tag = "2")]
    pub sync_mark: i32,
}

/// The internal chat-node → gateway push order (TCP 8181): push stored message `message_id` to
/// the listed connections.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ExchangeMessage {
    #[prost(string, required, tag = "1")]
    pub message_id: String,
    #[prost(string, optional, tag = "2")]
    pub message: Option<String>,
    #[prost(string, optional, tag = "3")]
    pub chat_path: Option<String>,
    #[prost(string, optional, tag = "4")]
    pub chat_room_id: Option<String>,
    #[prost(string, optional, tag = "5")]
    pub msg_path: Option<String>,
    /// proto2 `repeated int32` without `[packed = true]`: one key per element on the wire.
    #[prost(int32, repeated, packed = "false", tag = "6")]
    pub channel_id: Vec<i32>,
}

const CHAT_MESSAGE_REQUIRED: &[(u32, &str)] =
    &[(1, "boxid"), (2, "group"), (7, "mtype"), (8, "op")];
const CHAT_STATUS_REQUIRED: &[(u32, &str)] = &[(1, "sender"), (2, "syncMark")];
const EXCHANGE_MESSAGE_REQUIRED: &[(u32, &str)] = &[(1, "messageId")];

impl ChatMessage {
    /// The serialised message (what goes in one binary frame).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// Server side: the copy the gateway stores and pushes to every member of the box: the
    /// sender overwritten with the connection's uid (the cookie's, whatever the client wrote)
    /// and `uuid` set to the id the server assigned, in decimal.
    pub fn stored_copy(&self, sender: &crate::UserId, id: u64) -> ChatMessage {
        ChatMessage {
            sender: Some(sender.as_str().to_owned()),
            uuid: Some(id.to_string()),
            ..self.clone()
        }
    }

    /// The operation, `None` for a value outside the enum.
    pub fn chat_op(&self) -> Option<ChatOp> {
        ChatOp::try_from(self.op).ok()
    }

    /// The message type, `None` for a value outside the enum.
    pub fn message_type(&self) -> Option<MessageType> {
        MessageType::try_from(self.mtype).ok()
    }
}

/// Decode one `ChatMessage` the way the gateway's `parseFrom` + `build()` accept it: at most
/// `max_frame` bytes, valid protobuf, every required field present, enum values known (Java
/// proto2 files an unknown enum value under unknown fields, so the required field counts as
/// absent).
pub fn decode_chat_message(bytes: &[u8], max_frame: usize) -> Result<ChatMessage> {
    let message: ChatMessage = decode_required(bytes, max_frame, CHAT_MESSAGE_REQUIRED)?;
    if message.message_type().is_none() {
        return Err(malformed(format!(
            "unknown mtype value {} (the original treats it as a missing required field)",
            message.mtype
        )));
    }
    if message.chat_op().is_none() {
        return Err(malformed(format!(
            "unknown op value {} (the original treats it as a missing required field)",
            message.op
        )));
    }
    Ok(message)
}

/// Decode one `ChatStatus` (required: sender, syncMark).
pub fn decode_chat_status(bytes: &[u8], max_frame: usize) -> Result<ChatStatus> {
    decode_required(bytes, max_frame, CHAT_STATUS_REQUIRED)
}

/// Decode one `ExchangeMessage` (required: messageId).
pub fn decode_exchange_message(bytes: &[u8], max_frame: usize) -> Result<ExchangeMessage> {
    decode_required(bytes, max_frame, EXCHANGE_MESSAGE_REQUIRED)
}

fn decode_required<M: prost::Message + Default>(
    bytes: &[u8],
    max_frame: usize,
    required: &[(u32, &str)],
) -> Result<M> {
    if bytes.len() > max_frame {
        return Err(Error::FrameTooLarge {
            dialect: Dialect::Newim,
            len: bytes.len() as u64,
            limit: max_frame,
        });
    }
    let message = M::decode(bytes).map_err(|e| malformed(format!("bad protobuf: {e}")))?;
    // prost accepted the bytes, so walking the keys again cannot fail; stay total anyway.
    let present = present_tags(bytes)?;
    for (tag, name) in required {
        if !present.contains(tag) {
            return Err(malformed(format!(
                "required field {name} (tag {tag}) is missing"
            )));
        }
    }
    Ok(message)
}

/// The field numbers that occur on the wire (top level only).
fn present_tags(mut buf: &[u8]) -> Result<Vec<u32>> {
    let mut tags = Vec::new();
    while buf.has_remaining() {
        let (tag, wire_type) =
            prost::encoding::decode_key(&mut buf).map_err(|e| malformed(e.to_string()))?;
        prost::encoding::skip_field(
            wire_type,
            tag,
            &mut buf,
            prost::encoding::DecodeContext::default(),
        )
        .map_err(|e| malformed(e.to_string()))?;
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::Newim, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_zero_values_are_encoded() {
        let message = ChatMessage {
            boxid: String::new(),
            group: 0,
            mtype: MessageType::SmallText as i32,
            op: ChatOp::Join as i32,
            ..Default::default()
        };
        assert_eq!(
            message.to_bytes(),
            [0x0a, 0x00, 0x10, 0x00, 0x38, 0x00, 0x40, 0x00]
        );
    }

    #[test]
    fn schema_defaults() {
        let message = ChatMessage::default();
        assert_eq!(message.message_type(), Some(MessageType::Sync));
        assert_eq!(message.chat_op(), Some(ChatOp::Ack));
    }

    #[test]
    fn missing_required_field_is_named() {
        // boxid, group, mtype present; op missing.
        let err = decode_chat_message(&[0x0a, 0x01, 0x61, 0x10, 0x00, 0x38, 0x07], 1024)
            .unwrap_err()
            .to_string();
        assert!(err.contains("op (tag 8) is missing"), "{err}");
    }

    #[test]
    fn unknown_enum_value_is_an_error_not_a_panic() {
        let err = decode_chat_message(&[0x0a, 0x00, 0x10, 0x00, 0x38, 0x07, 0x40, 0x09], 1024)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown op value 9"), "{err}");
    }

    #[test]
    fn over_the_limit_before_parsing() {
        let bytes = [0u8; 10];
        assert!(matches!(
            decode_chat_message(&bytes, 9),
            Err(Error::FrameTooLarge {
                len: 10,
                limit: 9,
                ..
            })
        ));
    }
}
