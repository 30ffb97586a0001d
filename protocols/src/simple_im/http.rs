//! The HTTP "server picker" (protocol note §3, §4): form-urlencoded request bodies and the
//! one-line TOML response bodies, both directions.

use std::borrow::Cow;

use super::document::{Table, parse_document};
use crate::{Dialect, Error, Result};

/// `POST` path of the login (`phone=..&password=..`).
pub const LOGIN_PATH: &str = "/server/login";
/// `POST` path of the reconnect (`id=..&token=..`).
pub const RECONNECT_PATH: &str = "/server/reconnect";
/// `POST` path that reports an unreachable IM node (`token=..`).
pub const FAILED_PATH: &str = "/server/failed";
/// The request content type.
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::SimpleIm, reason)
}

fn encode(pairs: &[(&str, &str)]) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        form.append_pair(k, v);
    }
    form.finish()
}

fn field<'a>(pairs: &'a [(Cow<'a, str>, Cow<'a, str>)], key: &str) -> Result<String> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone().into_owned())
        .ok_or_else(|| malformed(format!("the form lacks {key:?}")))
}

/// `phone=<phone>&password=<urlencoded password>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginForm {
    pub phone: String,
    pub password: String,
}

impl LoginForm {
    pub fn encode(&self) -> String {
        encode(&[("phone", &self.phone), ("password", &self.password)])
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        let pairs: Vec<_> = form_urlencoded::parse(body).collect();
        Ok(LoginForm {
            phone: field(&pairs, "phone")?,
            password: field(&pairs, "password")?,
        })
    }
}

/// `id=<uid>&token=<urlencoded token>` (tokens are base64 and may hold `+ / =`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconnectForm {
    pub id: String,
    pub token: String,
}

impl ReconnectForm {
    pub fn encode(&self) -> String {
        encode(&[("id", &self.id), ("token", &self.token)])
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        let pairs: Vec<_> = form_urlencoded::parse(body).collect();
        Ok(ReconnectForm {
            id: field(&pairs, "id")?,
            token: field(&pairs, "token")?,
        })
    }
}

/// `token=<tok>`: the client cannot reach its IM node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedForm {
    pub token: String,
}

impl FailedForm {
    pub fn encode(&self) -> String {
        encode(&[("token", &self.token)])
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        let pairs: Vec<_> = form_urlencoded::parse(body).collect();
        Ok(FailedForm {
            token: field(&pairs, "token")?,
        })
    }
}

/// `[response.user]` of a successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseUser {
    /// 32 base64 characters in the original.
    pub token: String,
    pub id: i64,
}

/// Every HTTP answer of the picker (always HTTP 200, except 404 for an unknown path):
/// `[response] status = 0 server = "10.0.0.5" port = "1987" [response.user] token = ".." id = 1`.
/// `port` is a string on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// 0 ok; login: 1 wrong password, 2 unknown user / error; reconnect: 1 unknown token,
    /// 2 user mismatch; failed: 1 unknown token, 2 error, 3 the node is online; 404.
    pub status: i64,
    /// The IM node's address.
    pub server: Option<String>,
    pub port: Option<String>,
    /// `r`: the reason (`"IM is online"` with status 3).
    pub reason: Option<String>,
    pub user: Option<ResponseUser>,
}

impl Response {
    /// `[response] status = <status>` alone.
    pub fn status(status: i64) -> Self {
        Response {
            status,
            server: None,
            port: None,
            reason: None,
            user: None,
        }
    }

    /// `[response] status = 0 server = ".." port = ".."` (reconnect, failed).
    pub fn node(server: &str, port: u16) -> Self {
        Response {
            server: Some(server.into()),
            port: Some(port.to_string()),
            ..Response::status(0)
        }
    }

    /// The full login success.
    pub fn login_ok(server: &str, port: u16, token: &str, id: i64) -> Self {
        Response {
            user: Some(ResponseUser {
                token: token.into(),
                id,
            }),
            ..Response::node(server, port)
        }
    }

    /// `[response] status = 3 r = "IM is online"` (the failed-node report was wrong).
    pub fn im_online() -> Self {
        Response {
            reason: Some("IM is online".into()),
            ..Response::status(3)
        }
    }

    /// `host:port` of the IM node, when the response names one.
    pub fn node_address(&self) -> Option<String> {
        let server = self.server.as_deref()?;
        let port: u16 = self.port.as_deref()?.parse().ok()?;
        Some(if server.contains(':') {
            format!("[{server}]:{port}")
        } else {
            format!("{server}:{port}")
        })
    }

    pub fn to_table(&self) -> Table {
        let mut table = Table::new("response").with("status", self.status);
        for (key, value) in [
            ("server", &self.server),
            ("port", &self.port),
            ("r", &self.reason),
        ] {
            if let Some(value) = value {
                table = table.with(key, value.as_str());
            }
        }
        if let Some(user) = &self.user {
            table = table.with_table(
                Table::new("user")
                    .with("token", user.token.as_str())
                    .with("id", user.id),
            );
        }
        table
    }

    /// The body bytes, exactly as the original writes them.
    pub fn print(&self) -> Result<String> {
        self.to_table().print()
    }

    pub fn parse(body: &[u8]) -> Result<Self> {
        let table = parse_document(body)?;
        if table.name != "response" {
            return Err(malformed(format!(
                "expected [response], got [{}]",
                table.name
            )));
        }
        let text = |t: &Table, key: &str| -> Result<Option<String>> {
            match t.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_owned()))
                    .ok_or_else(|| malformed(format!("[{}] {key} must be a string", t.name))),
            }
        };
        let int = |t: &Table, key: &str| -> Result<i64> {
            t.get(key)
                .and_then(|v| v.as_int())
                .ok_or_else(|| malformed(format!("[{}] needs the integer {key}", t.name)))
        };
        let user = match table.table("user") {
            Some(user) => Some(ResponseUser {
                token: text(user, "token")?
                    .ok_or_else(|| malformed("[response.user] lacks the token"))?,
                id: int(user, "id")?,
            }),
            None => None,
        };
        Ok(Response {
            status: int(&table, "status")?,
            server: text(&table, "server")?,
            port: text(&table, "port")?,
            reason: text(&table, "r")?,
            user,
        })
    }
}
