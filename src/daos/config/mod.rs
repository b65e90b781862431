//! The DAOS configuration files: `daos_server.yml`, `daos_agent.yml`, `daos_control.yml`.
//!
//! Parsing is pure ([`parse_server`], [`parse_agent`], [`parse_control`]: text in, model
//! out) and version-aware: every key is known for the DAOS releases that accept it
//! (DAOS 2.0 to 2.8, from the `yaml:` tags of src/control/server/config/server.go,
//! server/engine/config.go, server/storage/config.go, security/config.go,
//! cmd/daos_agent/config.go and lib/control/config.go at each release tag).
//!
//! DAOS reads these files with go-yaml v2 `UnmarshalStrict`: an unknown key, a duplicate
//! key or a value of the wrong type is fatal. We report those as [`Issue`]s of severity
//! [`Severity::Error`] with the file, line and column, *and keep going*, so that the
//! other checks (hugepages, RAM-disk, cores) can still use what the file says. Only a
//! YAML syntax error (a tab in the indentation, a truncated file, a pasted shell
//! transcript) stops parsing: that is a [`ConfigError`].
//!
//! YAML library: `saphyr-parser` (pure Rust, maintained by the saphyr-rs project, YAML
//! 1.2, an event parser that gives the span of every event and precise scan errors; its
//! only dependencies are `arraydeque` and `thiserror`). `serde_yaml` is archived;
//! `serde_norway`/`serde_yaml_ng` are forks that keep `unsafe-libyaml` (C translated to
//! unsafe Rust) and, being serde-based, would map unknown keys to one error at a time
//! without the version-aware suggestions we want; `serde-saphyr` is serde-only too. A
//! positioned tree of our own ([`yaml`]) lets us judge the file key by key, as DAOS does.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::daos::DaosVersion;

pub mod agent;
pub mod control;
pub mod load;
pub mod server;
pub mod validate;
mod walk;
pub mod yaml;

pub use agent::{AgentConfig, parse_agent};
pub use control::{ControlConfig, parse_control};
pub use load::{ConfigPaths, FileLoad, FileRead, FileReads, LoadedConfigs, Role, RoleChoice};
pub use server::{EngineConfig, ServerConfig, StorageClass, StorageTier, parse_server};
pub use yaml::Pos;

/// How bad an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// DAOS accepts it (with a notice) or it is a risk DAOS does not check.
    Warning,
    /// DAOS refuses the file (or fails later because of it).
    Error,
}

/// Where in which file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// The file as named to the parser (`/etc/daos/daos_server.yml`).
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// When DAOS meets a problem: while loading the file (`parse`: YAML, strict keys, the
/// checks of `Load`), while validating it before touching hardware (`validate`:
/// `Validate`, `SetEngineAffinities`, the client `LoadConfig` checks), or only after
/// `daos_server` started, with the hardware in hand (`start`: hugepages, RAM-disk size,
/// fabric interfaces, fault-domain callbacks, storage prepare).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DaosStage {
    /// `yaml.UnmarshalStrict` and the checks of `Load`/`LoadConfig`.
    Parse,
    /// The validation DAOS runs before it touches hardware.
    Validate,
    /// Only after the daemon started (not seen by `daos_server` before it runs).
    Start,
}

impl DaosStage {
    /// The name used in reports (`parse`, `validate`, `start`).
    pub fn as_str(self) -> &'static str {
        match self {
            DaosStage::Parse => "parse",
            DaosStage::Validate => "validate",
            DaosStage::Start => "start",
        }
    }
}

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// Error (DAOS refuses) or warning.
    pub severity: Severity,
    /// Where, when known.
    pub location: Option<Location>,
    /// The key path (`engines[0].storage[1].bdev_list`), empty for the whole file.
    pub key: String,
    /// What is wrong, in one line.
    pub message: String,
    /// The DAOS fault code that DAOS would report (`code.ServerConfigBadProvider`).
    pub fault: Option<String>,
    /// How to fix it, when there is one precise edit.
    pub fix: Option<String>,
    /// When DAOS would meet it.
    pub stage: DaosStage,
    /// Raised by one of DAOS's own YAML decoders (an `UnmarshalYAML` method: storage
    /// class, `bdev_list`, `bdev_busid_range`, `bdev_roles`, `acceleration`). go-yaml v2
    /// stops at such an error and drops the type errors it had collected
    /// (decode.go `callUnmarshaler` → `fail`), so DAOS reports the first of these
    /// before any other parse error.
    #[serde(skip)]
    pub decoder: bool,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(code) = &self.fault {
            write!(f, " [{code}]")?;
        }
        Ok(())
    }
}

/// A file that is not YAML DAOS could read at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file as named to the parser.
    pub file: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What the YAML parser (or the top-level shape check) said.
    pub message: String,
    /// Our reading of the likely cause (a tab, a truncated file, a pasted shell line).
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A parsed file: the model and the issues found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// What the file says (defaults where it says nothing, as DAOS would fill them).
    pub config: T,
    /// Unknown keys, wrong types, deprecated spellings.
    pub issues: Vec<Issue>,
}

/// TLS settings shared by the three files (`transport_config`, security/config.go).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TransportConfig {
    /// `allow_insecure`: no TLS between DAOS components.
    pub allow_insecure: bool,
    /// `client_cert_dir` (server only).
    pub client_cert_dir: Option<String>,
    /// `ca_cert`.
    pub ca_cert: Option<String>,
    /// `cert`.
    pub cert: Option<String>,
    /// `key`.
    pub key: Option<String>,
}

/// The default system name (src/control/build/variables.go `DefaultSystemName`).
pub const DEFAULT_SYSTEM_NAME: &str = "daos_server";
/// The default control port (src/control/build/variables.go `DefaultControlPort`).
pub const DEFAULT_CONTROL_PORT: i64 = 10001;
/// Longest system name DAOS accepts (src/include/daos_types.h `DAOS_SYS_NAME_MAX`, used by
/// src/control/lib/daos/system_prop.go `SystemNameIsValid`).
pub const SYSTEM_NAME_MAX: usize = 15;

/// Strips a `:port` suffix from a host (`node0:10001` → `node0`; `[::1]:10001` → `::1`).
pub fn host_of(addr: &str) -> &str {
    let a = addr.trim();
    if let Some(rest) = a.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match a.rsplit_once(':') {
        // one colon: host:port; more: a bare IPv6 address
        Some((h, p)) if !h.contains(':') && p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => a,
    }
}

/// Expands a DAOS host list entry with ranges (`node[1-3,5]` → node1 node2 node3 node5),
/// as `dmg -l` and `hostlist:` accept (src/control/lib/hostlist). Malformed ranges are
/// kept as written.
pub fn expand_hostlist(entry: &str) -> Vec<String> {
    let Some(open) = entry.find('[') else {
        return vec![entry.to_string()];
    };
    let Some(close_rel) = entry[open..].find(']') else {
        return vec![entry.to_string()];
    };
    let close = open + close_rel;
    let (prefix, body, suffix) = (&entry[..open], &entry[open + 1..close], &entry[close + 1..]);
    let mut out = Vec::new();
    for part in body.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((lo, hi)) => {
                let (Ok(l), Ok(h)) = (lo.parse::<u64>(), hi.parse::<u64>()) else {
                    return vec![entry.to_string()];
                };
                if h < l || h - l > 100_000 {
                    return vec![entry.to_string()];
                }
                for n in l..=h {
                    // keep zero padding: node[01-03]
                    let s = format!("{n:0width$}", width = lo.len());
                    out.extend(expand_hostlist(&format!("{prefix}{s}{suffix}")));
                }
            }
            None => out.extend(expand_hostlist(&format!("{prefix}{part}{suffix}"))),
        }
    }
    out
}

/// Edit distance with adjacent transpositions (optimal string alignment), for "did you
/// mean" suggestions: `targest` → `targets` is 1, `enable_vmd` → `disable_vmd` is 3.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate to `word`, when it is close enough to be a plausible typo or
/// a renamed key (`enable_vmd` → `disable_vmd`: distance 3).
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let limit = (w.chars().count() / 3).clamp(1, 4);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&w, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Which DAOS releases accept a key: `since..=until` (inclusive; `None`: still current).
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// The key.
    pub name: &'static str,
    /// First release with it.
    pub since: DaosVersion,
    /// Last release with it.
    pub until: Option<DaosVersion>,
}

/// Shorthand for a table row.
pub(crate) const fn key(
    name: &'static str,
    since: DaosVersion,
    until: Option<DaosVersion>,
) -> KeySpec {
    KeySpec { name, since, until }
}

impl KeySpec {
    /// True when `version` accepts this key.
    pub fn known_in(&self, version: DaosVersion) -> bool {
        version >= self.since && self.until.is_none_or(|u| version <= u)
    }

    /// `DAOS 2.0–2.2`, `DAOS 2.8`, `DAOS 2.4 and later`.
    pub fn releases(&self) -> String {
        match self.until {
            None if self.since == DaosVersion::V2_0 => "every DAOS 2.x".to_string(),
            None => format!("DAOS {} and later", self.since),
            Some(u) if u == self.since => format!("DAOS {u} only"),
            Some(u) => format!("DAOS {}–{}", self.since, u),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_renamed_keys() {
        assert_eq!(edit_distance("enable_vmd", "disable_vmd"), 3);
        assert_eq!(
            suggest("enable_vmd", ["disable_vmd", "disable_vfio", "engines"]),
            Some("disable_vmd")
        );
        assert_eq!(
            suggest("targest", ["targets", "nr_xs_helpers"]),
            Some("targets")
        );
        assert_eq!(edit_distance("rma", "ram"), 1);
        assert_eq!(suggest("zzzzzz", ["targets"]), None);
    }

    #[test]
    fn hosts_and_ranges() {
        assert_eq!(host_of("node0:10001"), "node0");
        assert_eq!(host_of("node0"), "node0");
        assert_eq!(host_of("[fe80::1]:10001"), "fe80::1");
        assert_eq!(host_of("fe80::1"), "fe80::1");
        assert_eq!(
            expand_hostlist("node[0-2,5]"),
            ["node0", "node1", "node2", "node5"]
        );
        assert_eq!(expand_hostlist("n[01-02]-ib"), ["n01-ib", "n02-ib"]);
        assert_eq!(expand_hostlist("node[a-b]"), ["node[a-b]"]);
    }
}
