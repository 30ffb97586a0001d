//! The largest message a server takes. chat-json v1 closes the socket on any client frame
//! above 512 bytes (v2: 10 KiB), JSON and ids included, so a long line would cost the
//! connection: measure the exact frame, show the excess while typing, and refuse to send it.

use imkit_protocols::chat_json::{Context, Version, client_from_command, max_frame};
use imkit_protocols::{Command, Dialect};

use crate::state::State;

/// The frame `command` makes and the server's limit, when the frame is over it.
fn excess(state: &State, command: &Command) -> Option<(usize, usize, Version)> {
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
    (frame.len() > limit).then_some((frame.len(), limit, version))
}

/// Why `command` must not be sent as it is, in plain words; `None` when it fits.
pub fn refusal(state: &State, command: &Command) -> Option<String> {
    let (frame, limit, version) = excess(state, command)?;
    let name = match version {
        Version::V1 => "chat-json v1",
        Version::V2 => "chat-json v2",
    };
    Some(format!(
        "too long for {name}: it would make a {frame}-byte frame, and the server closes the \
         connection above {limit} bytes. Shorten it by at least {} bytes; it is back in \
         the input line.",
        frame - limit
    ))
}

/// Bytes the input line is over the limit, if sent in the active conversation now.
pub fn input_excess(state: &State) -> Option<usize> {
    let to = state.active_room().conversation.clone()?;
    let content = state.input.text();
    let content = content.strip_prefix('/').unwrap_or(&content).to_owned();
    let command = Command::Send {
        to,
        client_ref: state.client_ref(state.next_ref + 1),
        content,
    };
    excess(state, &command).map(|(frame, limit, _)| frame - limit)
}
