//! The largest message a server takes. chat-json v1 closes the socket on any client frame
//! above 512 bytes (v2: 10 KiB), JSON and ids included, so a long line would cost the
//! connection: measure the exact frame before sending and keep the text if it is too big.

use imkit_protocols::chat_json::{Context, Version, client_from_command, max_frame};
use imkit_protocols::{Command, Dialect};

use crate::state::State;

/// Why `command` must not be sent as it is, in plain words; `None` when it fits.
pub fn refusal(state: &State, command: &Command) -> Option<String> {
    let target = state.target.as_ref()?;
    if target.dialect != Dialect::ChatJson || !matches!(command, Command::Send { .. }) {
        return None;
    }
    let version = if target.chat_v2 {
        Version::V2
    } else {
        Version::V1
    };
    // Before registration the id is unknown: assume the longest one.
    let account_id = state
        .me
        .as_ref()
        .and_then(|me| me.as_u64())
        .unwrap_or(u64::MAX);
    let frame = client_from_command(command, &Context::new(account_id, version))
        .and_then(|message| message.to_json(version))
        .ok()?;
    let limit = max_frame(version);
    let over = frame.len().checked_sub(limit).filter(|over| *over > 0)?;
    let name = match version {
        Version::V1 => "chat-json v1",
        Version::V2 => "chat-json v2",
    };
    Some(format!(
        "too long for {name}: it would make a {}-byte frame, and the server closes the \
         connection above {limit} bytes. Shorten it by at least {over} bytes; it is back in \
         the input line.",
        frame.len()
    ))
}
