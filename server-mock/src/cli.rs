//! What the command line says, turned into a [`ServerConfig`]'s addresses (here rather
//! than in `main.rs`, so it is tested).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

use imkit_protocols::Dialect;

use crate::config::default_port;

/// `--listen DIALECT=ADDR` or `--listen DIALECT.ROLE=ADDR`; ADDR is `IP:PORT`, `:PORT` or
/// `PORT` (on 127.0.0.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenSpec {
    pub dialect: Dialect,
    /// An endpoint other than the first (`simple-im.tcp`).
    pub role: Option<String>,
    pub address: SocketAddr,
}

impl FromStr for ListenSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, address) = text.split_once('=').ok_or_else(|| {
            format!("--listen wants DIALECT=ADDRESS (e.g. chat-json=127.0.0.1:18224), not {text:?}")
        })?;
        let (dialect, role) = match name.split_once('.') {
            Some((dialect, role)) => (dialect, Some(role.trim().to_owned())),
            None => (name, None),
        };
        let dialect: Dialect = dialect.trim().parse().map_err(|e| format!("{e}"))?;
        Ok(ListenSpec {
            dialect,
            role,
            address: parse_address(address.trim())?,
        })
    }
}

fn parse_address(text: &str) -> Result<SocketAddr, String> {
    let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
    if let Ok(port) = text.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::new(loopback, port));
    }
    text.parse().map_err(|_| {
        format!("{text:?} is not an address: write IP:PORT (127.0.0.1:18224), :PORT or PORT")
    })
}

/// Where each chosen dialect listens ([`crate::ServerConfig::listen`] and `endpoints`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenPlan {
    pub first: Vec<(Dialect, SocketAddr)>,
    pub others: Vec<(Dialect, String, SocketAddr)>,
}

/// Which dialects to serve where: the union of `--dialect` and `--listen`; nothing given
/// means every dialect at the originals' ports on 127.0.0.1.
pub fn listen_plan(dialects: &[Dialect], listens: &[ListenSpec]) -> ListenPlan {
    let chosen: Vec<Dialect> = if dialects.is_empty() && listens.is_empty() {
        Dialect::ALL.to_vec()
    } else {
        let mut chosen = Vec::new();
        for d in dialects
            .iter()
            .copied()
            .chain(listens.iter().map(|l| l.dialect))
        {
            if !chosen.contains(&d) {
                chosen.push(d);
            }
        }
        chosen
    };
    let first = chosen
        .into_iter()
        .map(|d| {
            let address = listens
                .iter()
                .rev()
                .find(|l| l.dialect == d && l.role.is_none())
                .map(|l| l.address)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], default_port(d))));
            (d, address)
        })
        .collect();
    let others = listens
        .iter()
        .filter_map(|l| l.role.clone().map(|role| (l.dialect, role, l.address)))
        .collect();
    ListenPlan { first, others }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listen_specs() {
        assert_eq!(
            "chat-json=127.0.0.1:0".parse::<ListenSpec>(),
            Ok(ListenSpec {
                dialect: Dialect::ChatJson,
                role: None,
                address: "127.0.0.1:0".parse().unwrap()
            })
        );
        assert_eq!(
            "simple-im.tcp=:1988".parse::<ListenSpec>(),
            Ok(ListenSpec {
                dialect: Dialect::SimpleIm,
                role: Some("tcp".into()),
                address: "127.0.0.1:1988".parse().unwrap()
            })
        );
        assert_eq!(
            "newim=9000".parse::<ListenSpec>().map(|l| l.address),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        assert!(
            "irc=1"
                .parse::<ListenSpec>()
                .unwrap_err()
                .contains("unknown dialect")
        );
        assert!(
            "newim"
                .parse::<ListenSpec>()
                .unwrap_err()
                .contains("DIALECT=ADDRESS")
        );
        assert!(
            "newim=here"
                .parse::<ListenSpec>()
                .unwrap_err()
                .contains("not an address")
        );
    }

    #[test]
    fn plans_which_dialects_listen_where() {
        let ListenPlan {
            first: all,
            others: none,
        } = listen_plan(&[], &[]);
        assert_eq!(all.len(), Dialect::ALL.len());
        assert!(all.contains(&(Dialect::Eutamias, "127.0.0.1:54321".parse().unwrap())));
        assert!(none.is_empty());

        let listens = vec![
            "fishchat=127.0.0.1:0".parse().unwrap(),
            "simple-im.tcp=127.0.0.1:0".parse().unwrap(),
        ];
        let ListenPlan { first, others } = listen_plan(&[Dialect::ChatJson], &listens);
        assert_eq!(
            first,
            vec![
                (Dialect::ChatJson, "127.0.0.1:18224".parse().unwrap()),
                (Dialect::Fishchat, "127.0.0.1:0".parse().unwrap()),
                (Dialect::SimpleIm, "127.0.0.1:8080".parse().unwrap()),
            ]
        );
        assert_eq!(
            others,
            vec![(
                Dialect::SimpleIm,
                "tcp".into(),
                "127.0.0.1:0".parse().unwrap()
            )]
        );
    }
}
