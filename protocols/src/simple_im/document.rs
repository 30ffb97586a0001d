//! The one-line "TOML" of simple_im: a lenient parser and a byte-exact printer.
//!
//! The original writes `[name] key = value ... [name.sub] key = value` on one line, which is
//! not valid TOML, so the `toml` crate cannot be used. Grammar (protocol note §2):
//!
//! ```text
//! doc   := table+            table := '[' name ('.' name)? ']' { pair }
//! pair  := key ws? '=' ws? value      value := '"' (any byte but '"')* '"' | integer
//! ws    := (' ' | '\t' | '\n' | '\r')+   -- between any tokens, and optional where a quote
//!                                         -- or '=' already separates them (`"b_01"t = ...`)
//! ```
//!
//! Printing follows `utility:tuple_to_toml`: `[name]`, then ` key = value` per scalar, then
//! the sub-tables in REVERSE order, each headed with only its direct parent (`[m.to]`).
//! Strings are printed without escaping (the original has none), so a string containing `"`
//! cannot be printed and is an error instead of a corrupt stream.

use crate::{Dialect, Error, Result};

/// A scalar value: the original has only integers and (binary) strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Int(i64),
    Str(String),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Int(_) => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            Value::Str(_) => None,
        }
    }

    /// The value as text: a string as is, an integer in decimal (ids may be either).
    pub fn to_text(&self) -> String {
        match self {
            Value::Int(n) => n.to_string(),
            Value::Str(s) => s.clone(),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

/// One table: its scalars in order, then its sub-tables in *term* order (the order the
/// original holds them in; the printer writes them reversed, the parser reverses them back).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub name: String,
    pub pairs: Vec<(String, Value)>,
    pub tables: Vec<Table>,
}

impl Table {
    pub fn new(name: impl Into<String>) -> Self {
        Table {
            name: name.into(),
            pairs: Vec::new(),
            tables: Vec::new(),
        }
    }

    /// Append a scalar (builder style).
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.pairs.push((key.into(), value.into()));
        self
    }

    /// Append a sub-table, in term order (builder style).
    pub fn with_table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// Print this table (and its sub-tables) in the original's one-line form.
    pub fn print(&self) -> Result<String> {
        let mut out = String::new();
        self.print_into(&mut out, None)?;
        Ok(out)
    }

    fn print_into(&self, out: &mut String, parent: Option<&str>) -> Result<()> {
        check_name(&self.name)?;
        out.push('[');
        if let Some(parent) = parent {
            out.push_str(parent);
            out.push('.');
        }
        out.push_str(&self.name);
        out.push(']');
        for (key, value) in &self.pairs {
            check_name(key)?;
            out.push(' ');
            out.push_str(key);
            out.push_str(" = ");
            print_value(out, value)?;
        }
        for table in self.tables.iter().rev() {
            out.push(' ');
            table.print_into(out, Some(&self.name))?;
        }
        Ok(())
    }
}

/// Append a value: integers bare, strings quoted without escaping (refused if they hold `"`).
pub fn print_value(out: &mut String, value: &Value) -> Result<()> {
    match value {
        Value::Int(n) => out.push_str(&n.to_string()),
        Value::Str(s) => {
            out.push('"');
            out.push_str(checked_str(s)?);
            out.push('"');
        }
    }
    Ok(())
}

/// The original cannot escape: a `"` inside a string would end it early on the wire.
pub fn checked_str(s: &str) -> Result<&str> {
    if s.contains('"') {
        return Err(Error::malformed(
            Dialect::SimpleIm,
            format!(
                "the string {s:?} contains a double quote, which simple-im cannot carry (it has no escaping)"
            ),
        ));
    }
    Ok(s)
}

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(is_bare) {
        return Err(Error::malformed(
            Dialect::SimpleIm,
            format!("{name:?} is not a valid key or table name (letters, digits, '_' and '-')"),
        ));
    }
    Ok(())
}

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

pub(crate) fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// One lexical token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// `[..]`: the bytes between the brackets.
    Header(&'a [u8]),
    /// A bare word: a key or an integer, depending on where it stands.
    Bare(&'a [u8]),
    Equals,
    /// `".."`: the bytes between the quotes.
    Str(&'a [u8]),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lexed<'a> {
    /// A token spanning `start..end`.
    Token {
        token: Token<'a>,
        start: usize,
        end: usize,
    },
    /// Only whitespace is left.
    End,
    /// A token starts but the buffer ends before it does (an open string or header).
    Incomplete,
    /// Bytes that start no token.
    Invalid { at: usize, reason: &'static str },
}

/// The next token at or after `pos`.
pub(crate) fn next_token(buf: &[u8], mut pos: usize) -> Lexed<'_> {
    while pos < buf.len() && is_ws(buf[pos]) {
        pos += 1;
    }
    let Some(&first) = buf.get(pos) else {
        return Lexed::End;
    };
    let start = pos;
    match first {
        b'=' => Lexed::Token {
            token: Token::Equals,
            start,
            end: pos + 1,
        },
        b'"' => match buf[pos + 1..].iter().position(|&b| b == b'"') {
            Some(len) => Lexed::Token {
                token: Token::Str(&buf[pos + 1..pos + 1 + len]),
                start,
                end: pos + len + 2,
            },
            None => Lexed::Incomplete,
        },
        b'[' => {
            let mut i = pos + 1;
            while i < buf.len() && (is_bare(buf[i]) || buf[i] == b'.') {
                i += 1;
            }
            match buf.get(i) {
                None => Lexed::Incomplete,
                Some(b']') => Lexed::Token {
                    token: Token::Header(&buf[pos + 1..i]),
                    start,
                    end: i + 1,
                },
                Some(_) => Lexed::Invalid {
                    at: i,
                    reason: "a table header holds only names and dots",
                },
            }
        }
        b if is_bare(b) => {
            let mut i = pos;
            while i < buf.len() && is_bare(buf[i]) {
                i += 1;
            }
            Lexed::Token {
                token: Token::Bare(&buf[pos..i]),
                start,
                end: i,
            }
        }
        _ => Lexed::Invalid {
            at: pos,
            reason: "unexpected byte (expected a table header, a key, '=' or a value)",
        },
    }
}

/// An integer as the original writes it: optional '-', decimal digits, no leading zeros.
pub(crate) fn parse_int(bytes: &[u8]) -> Option<i64> {
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if digits.len() > 1 && digits[0] == b'0' {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn malformed(reason: impl Into<String>) -> Error {
    Error::malformed(Dialect::SimpleIm, reason)
}

fn utf8(bytes: &[u8], what: &str) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed(format!("{what} is not UTF-8")))
}

/// Parse a complete buffer into its top-level tables (the stream splitter hands over one
/// document at a time; an HTTP body is one document too).
pub fn parse_tables(buf: &[u8]) -> Result<Vec<Table>> {
    enum Expect<'a> {
        KeyOrHeader,
        Equals(&'a [u8]),
        Value(&'a [u8]),
    }
    let mut tops: Vec<Table> = Vec::new();
    // Index of the sub-table being filled in the last top-level table, if any.
    let mut current_sub: Option<usize> = None;
    let mut expect = Expect::KeyOrHeader;
    let mut pos = 0;
    loop {
        let (token, end) = match next_token(buf, pos) {
            Lexed::Token { token, end, .. } => (token, end),
            Lexed::End => break,
            Lexed::Incomplete => return Err(malformed("the document ends inside a token")),
            Lexed::Invalid { at, reason } => {
                return Err(malformed(format!("{reason} at byte {at}")));
            }
        };
        pos = end;
        expect = match (expect, token) {
            (Expect::KeyOrHeader, Token::Header(path)) => {
                let path = utf8(path, "a table name")?;
                let mut parts = path.split('.');
                let (first, second, rest) = (parts.next(), parts.next(), parts.next());
                match (first, second, rest) {
                    (Some(name), None, None) if !name.is_empty() => {
                        tops.push(Table::new(name));
                        current_sub = None;
                    }
                    (Some(parent), Some(name), None) if !name.is_empty() => {
                        let top =
                            tops.last_mut()
                                .filter(|t| t.name == parent)
                                .ok_or_else(|| {
                                    malformed(format!(
                                        "sub-table [{path}] outside its parent table"
                                    ))
                                })?;
                        if top.table(name).is_some() {
                            return Err(malformed(format!("duplicate table [{path}]")));
                        }
                        top.tables.push(Table::new(name));
                        current_sub = Some(top.tables.len() - 1);
                    }
                    _ => return Err(malformed(format!("unsupported table name [{path}]"))),
                }
                Expect::KeyOrHeader
            }
            (Expect::KeyOrHeader, Token::Bare(key)) => {
                if tops.is_empty() {
                    return Err(malformed("a key before any table header"));
                }
                Expect::Equals(key)
            }
            (Expect::Equals(key), Token::Equals) => Expect::Value(key),
            (Expect::Value(key), Token::Str(s) | Token::Bare(s)) => {
                let value = if matches!(token, Token::Str(_)) {
                    Value::Str(utf8(s, "a string")?)
                } else {
                    Value::Int(parse_int(s).ok_or_else(|| {
                        malformed(format!(
                            "{:?} is neither a quoted string nor an integer",
                            String::from_utf8_lossy(s)
                        ))
                    })?)
                };
                let key = utf8(key, "a key")?;
                let top = tops.last_mut().expect("a key follows a header");
                let table = match current_sub {
                    Some(i) => &mut top.tables[i],
                    None => top,
                };
                if table.get(&key).is_some() {
                    return Err(malformed(format!(
                        "duplicate key {key:?} in [{}]",
                        table.name
                    )));
                }
                table.pairs.push((key, value));
                Expect::KeyOrHeader
            }
            (Expect::KeyOrHeader, _) => {
                return Err(malformed(format!(
                    "expected a key or a table header at byte {pos}"
                )));
            }
            (Expect::Equals(_), _) => {
                return Err(malformed(format!(
                    "expected '=' after a key, before byte {pos}"
                )));
            }
            (Expect::Value(_), _) => {
                return Err(malformed(format!(
                    "expected a value after '=', before byte {pos}"
                )));
            }
        };
    }
    if !matches!(expect, Expect::KeyOrHeader) {
        return Err(malformed("the document ends before a key's value"));
    }
    // The wire carries sub-tables reversed; store them in term order.
    for top in &mut tops {
        top.tables.reverse();
    }
    Ok(tops)
}

/// Parse exactly one top-level table (with its sub-tables).
pub fn parse_document(buf: &[u8]) -> Result<Table> {
    let mut tables = parse_tables(buf)?;
    match tables.len() {
        1 => Ok(tables.pop().expect("one table")),
        0 => Err(malformed("empty document")),
        n => Err(malformed(format!("{n} top-level tables in one document"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_subtables_reversed_with_direct_parent() {
        let t = Table::new("m")
            .with("id", "a_02")
            .with("c", "hi")
            .with_table(Table::new("from").with("id", 1).with("device", "android"))
            .with_table(Table::new("to").with("id", 2));
        let text = t.print().unwrap();
        assert_eq!(
            text,
            r#"[m] id = "a_02" c = "hi" [m.to] id = 2 [m.from] id = 1 device = "android""#
        );
        assert_eq!(parse_document(text.as_bytes()).unwrap(), t);
    }

    #[test]
    fn tolerates_odd_spacing() {
        let t = parse_document(br#"[rr] id = "b_01"t = "reconnect" s=1 r="offline""#).unwrap();
        assert_eq!(t.get("t"), Some(&Value::from("reconnect")));
        assert_eq!(t.get("s"), Some(&Value::Int(1)));
        let t = parse_document(b"[a]\n id\t=\r\n\"x\"\n").unwrap();
        assert_eq!(t.get("id"), Some(&Value::from("x")));
    }

    #[test]
    fn refuses_quotes_and_bad_ints() {
        assert!(Table::new("a").with("id", "x\"y").print().is_err());
        assert!(parse_document(b"[a] id = 01").is_err());
        assert!(parse_document(b"[a] id = 99999999999999999999").is_err());
        assert!(parse_document(b"[a] id = \"x\" id = \"y\"").is_err());
        assert!(parse_document(b"[a] id").is_err());
        assert!(parse_document(b"[a] [b]").is_err());
        assert!(parse_document(b"[a.b]").is_err());
    }
}
