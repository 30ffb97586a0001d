//! Connection errors in plain words, with what to try.

use imkit_protocols::{Dialect, Error};

use crate::effect::ConnectTarget;

pub fn connect_error(error: &Error, target: &ConnectTarget) -> String {
    let address = &target.address;
    let dialect = target.dialect;
    match error {
        Error::Io(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "Nothing is listening at {address}. Is the {dialect} server running? Check the address and port."
        ),
        Error::Io(e) => {
            format!("Could not reach {address}: {e}. Check the address and your network.")
        }
        Error::Timeout { after, .. } => format!(
            "{address} did not answer within {}s. Is the server up, and is it a {dialect} server?",
            after.as_secs()
        ),
        Error::BadAddress { reason, .. } => format!(
            "The address {address:?} cannot be used: {reason}. A {dialect} address looks like {}.",
            dialect.default_client_address()
        ),
        Error::Refused { reason, .. } => format!(
            "The server refused the login: {reason}. Check the user{}.",
            if dialect.capabilities().password {
                " and password"
            } else {
                ""
            }
        ),
        Error::Closed => format!(
            "{address} closed the connection during login. Is it a {dialect} server? Check the dialect."
        ),
        Error::Malformed { .. } | Error::FrameTooLarge { .. } => format!(
            "{address} answered, but not in the {dialect} protocol ({error}). Check the dialect."
        ),
        other => format!("Could not connect to {address}: {other}."),
    }
}

/// The hint shown when a dialect needs something the user left out.
pub fn missing_user(dialect: Dialect) -> String {
    if dialect.capabilities().register {
        "Give a nickname with --nick NAME.".into()
    } else {
        format!("The {dialect} dialect logs in: give --user ID (and --password or --password-cmd).")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> ConnectTarget {
        ConnectTarget {
            dialect: Dialect::ChatJson,
            address: "ws://127.0.0.1:1/ws".into(),
            user: Some("alice".into()),
            password: None,
            password_cmd: None,
            chat_v2: false,
        }
    }

    #[test]
    fn refused_connections_say_what_to_check() {
        let e = Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            connect_error(&e, &target()),
            "Nothing is listening at ws://127.0.0.1:1/ws. Is the chat-json server running? Check the address and port."
        );
    }
}
