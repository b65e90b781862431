//! Resolving an access-point or hostlist entry to a host of the fleet (see the module
//! doc of [`super`] for the matching rules). One index of every host name is built per
//! judgement, and each distinct entry is expanded once: a fleet of 10,000 clients whose
//! dmg hostlist is `node[001-128]` costs a hash lookup per server name, not a scan of
//! the fleet.

use std::collections::HashMap;
use std::rc::Rc;

use super::{Str, SysHost};
use crate::daos::config::{expand_hostlist, host_of};

/// How an entry resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// Server `i` of the host list, on `port`.
    Server(usize, u16),
    /// A host of the fleet that is not a server.
    NotServer(usize),
    /// No report names this host.
    Unknown(String),
}

/// One host of an expanded entry.
#[derive(Debug)]
struct Part {
    /// As written (`:port` stripped).
    host: String,
    /// Lower case.
    lower: String,
    /// `localhost` or loopback: the host holding the file.
    local: bool,
    /// Port written with it.
    port: Option<u16>,
}

/// Resolves entries against the hosts of one judgement.
pub(crate) struct Resolver<'a> {
    /// The hosts.
    pub hosts: &'a [SysHost],
    /// Every name and address → the first host holding it.
    by_name: HashMap<&'a str, usize>,
    /// Expanded entries.
    parts: HashMap<Str, Rc<[Part]>>,
    /// (entry, default port) known to name only reported servers on their control
    /// port, with no `localhost` (whose meaning depends on the holder).
    clean: HashMap<(Str, u16), bool>,
}

impl<'a> Resolver<'a> {
    /// Indexes the names of `hosts`.
    pub fn new(hosts: &'a [SysHost]) -> Self {
        let mut by_name = HashMap::with_capacity(hosts.len() * 4);
        for (i, h) in hosts.iter().enumerate() {
            for n in &h.names {
                by_name.entry(&**n).or_insert(i);
            }
        }
        Resolver {
            hosts,
            by_name,
            parts: HashMap::new(),
            clean: HashMap::new(),
        }
    }

    fn parts(&mut self, entry: &Str) -> Rc<[Part]> {
        if let Some(p) = self.parts.get(entry) {
            return p.clone();
        }
        let p: Rc<[Part]> = expand_hostlist(entry)
            .iter()
            .map(|e| {
                let host = host_of(e);
                let lower = host.to_ascii_lowercase();
                let port = e
                    .trim()
                    .strip_prefix(host)
                    .and_then(|r| r.trim_start_matches(']').strip_prefix(':'))
                    .and_then(|p| p.parse().ok());
                let local = matches!(lower.as_str(), "localhost" | "127.0.0.1" | "::1")
                    || lower.starts_with("localhost.");
                Part {
                    host: host.to_string(),
                    lower,
                    local,
                    port,
                }
            })
            .collect();
        self.parts.insert(entry.clone(), p.clone());
        p
    }

    /// `entry` with default `port` names only reported servers on their control port,
    /// whoever holds it: nothing to say about it (10,000 clients with one hostlist are
    /// one resolution).
    pub fn is_clean(&mut self, entry: &Str, port: u16) -> bool {
        if let Some(&c) = self.clean.get(&(entry.clone(), port)) {
            return c;
        }
        let parts = self.parts(entry);
        let c = !parts.iter().any(|e| e.local)
            && self.resolve(0, entry, port).iter().all(|t| match t {
                Target::Server(i, p) => self.hosts[*i].server.as_ref().map(|s| s.port) == Some(*p),
                _ => false,
            });
        self.clean.insert((entry.clone(), port), c);
        c
    }

    /// Resolves `entry` (written in a file of host `holder`, default port `port`).
    pub fn resolve(&mut self, holder: usize, entry: &Str, port: u16) -> Vec<Target> {
        let hosts = self.hosts;
        self.parts(entry)
            .iter()
            .map(|e| {
                let p = e.port.unwrap_or(port);
                let found = if e.local {
                    Some(holder)
                } else {
                    self.by_name.get(e.lower.as_str()).copied()
                };
                match found {
                    Some(i) if hosts[i].server.is_some() => Target::Server(i, p),
                    Some(i) if hosts[i].has_daos => Target::NotServer(i),
                    _ => Target::Unknown(e.host.clone()),
                }
            })
            .collect()
    }
}
