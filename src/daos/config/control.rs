//! `daos_control.yml`, read by `dmg` (src/control/lib/control/config.go `Config`, go-yaml
//! v2 `UnmarshalStrict`; the key set is the same in DAOS 2.0 to 2.8).

use serde::{Deserialize, Serialize};

use super::server::transport;
use super::walk::{Walker, parse_root};
use super::yaml::Pos;
use super::{ConfigError, KeySpec, Parsed, TransportConfig, key};
use crate::daos::DaosVersion;
use crate::daos::DaosVersion::V2_0;

const CONTROL_KEYS: &[KeySpec] = &[
    key("name", V2_0, None),
    key("port", V2_0, None),
    key("hostlist", V2_0, None),
    key("transport_config", V2_0, None),
];

/// What `daos_control.yml` says.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ControlConfig {
    /// `name`: the DAOS system (must equal the server's).
    pub name: Option<String>,
    /// Where `name` is in the file.
    pub name_pos: Option<Pos>,
    /// `port`: control port (default 10001).
    pub port: Option<i64>,
    /// `hostlist`: the servers `dmg` talks to (ranges like `node[0-3]` allowed).
    pub hostlist: Vec<String>,
    /// Where `hostlist` is in the file.
    pub hostlist_pos: Option<Pos>,
    /// `transport_config`.
    pub transport: TransportConfig,
}

impl ControlConfig {
    /// The system name `dmg` will use.
    pub fn system_name(&self) -> &str {
        self.name.as_deref().unwrap_or(super::DEFAULT_SYSTEM_NAME)
    }
}

/// Parses `daos_control.yml` under the rules of `version`.
pub fn parse_control(
    text: &str,
    file_name: &str,
    version: DaosVersion,
) -> Result<Parsed<ControlConfig>, ConfigError> {
    let mut w = Walker::new(file_name, version);
    let mut cfg = ControlConfig::default();
    // lib/control/config.go LoadConfig refuses a file of zero bytes before parsing (a
    // file of comments or blank lines loads: the defaults apply)
    if text.is_empty() {
        w.push(
            super::Severity::Error,
            Some(Pos { line: 1, column: 1 }),
            "",
            "the file is empty (0 bytes): dmg refuses an empty daos_control.yml".into(),
            Some("write at least `name:`, `port:` and `hostlist:`, or remove the file to use dmg's defaults".into()),
        );
    }
    let Some(root) = parse_root(text, file_name, &mut w)? else {
        return Ok(Parsed {
            config: cfg,
            issues: w.issues,
        });
    };
    for (name, k, v) in w.entries(&root, "") {
        let p = name.to_string();
        if !w.known(CONTROL_KEYS, name) {
            w.unknown_key(k, name, "", CONTROL_KEYS, &[]);
            continue;
        }
        match name {
            "name" => {
                // a null value zeroes the field in go-yaml v2: the name becomes ""
                cfg.name = if v.is_null() {
                    Some(String::new())
                } else {
                    w.string(v, &p)
                };
                cfg.name_pos = Some(v.pos);
            }
            "port" => cfg.port = w.int(v, &p),
            "hostlist" => {
                cfg.hostlist = w.strings(v, &p);
                cfg.hostlist_pos = Some(v.pos);
            }
            _ => cfg.transport = transport(&mut w, v, &p),
        }
    }
    let (issues, _positions) = w.into_issues();
    Ok(Parsed {
        config: cfg,
        issues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_keys() {
        let p = parse_control(
            "name: x\nhostlist: ['node[0-1]']\nhost_list: []\n",
            "c.yml",
            DaosVersion::V2_6,
        )
        .unwrap();
        assert_eq!(p.config.hostlist, ["node[0-1]"]);
        assert_eq!(p.issues.len(), 1);
        let s = p.issues[0].to_string();
        assert!(s.starts_with("c.yml:3:1: unknown key \"host_list\""), "{s}");
        assert!(s.contains("did you mean \"hostlist\"?"), "{s}");
    }
}
