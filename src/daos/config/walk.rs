//! Walking a positioned YAML tree against a version-aware key table, collecting
//! [`Issue`]s the way go-yaml v2 `UnmarshalStrict` would fail (unknown key, duplicate
//! key, wrong type), but without stopping at the first one.

use std::collections::BTreeMap;

use super::yaml::{Node, NodeKind, Pos};
use super::{ConfigError, Issue, KeySpec, Location, Severity, suggest};
use crate::daos::DaosVersion;

/// A key that was renamed between releases: `old` in earlier releases, `new` later.
pub(crate) struct Rename {
    /// The older spelling.
    pub old: &'static str,
    /// The newer spelling.
    pub new: &'static str,
    /// Extra words about the value (`the value is inverted`).
    pub note: &'static str,
}

/// Collects issues and positions while a file is interpreted.
pub(crate) struct Walker<'a> {
    /// File name for locations.
    pub file: &'a str,
    /// Rules profile.
    pub version: DaosVersion,
    /// What was found.
    pub issues: Vec<Issue>,
    /// Position of every value read, by key path.
    pub positions: BTreeMap<String, Pos>,
}

/// `path.key`, or `key` at the top.
pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// True when a line of text looks like a shell prompt or command rather than YAML
/// (`[root@node0 ~]# cat ...`, `$ sudo vi ...`, `root@node0:~# ...`).
pub(crate) fn looks_like_shell(line: &str) -> bool {
    let t = line.trim_start();
    let prompt_bracket =
        t.starts_with('[') && t.contains('@') && (t.contains("]#") || t.contains("]$"));
    let prompt_user = t
        .split_whitespace()
        .next()
        .is_some_and(|w| w.contains('@') && (w.ends_with('#') || w.ends_with('$')));
    let dollar = t.starts_with("$ ") || t.starts_with("# sudo ") || t.starts_with("# cat ");
    let commands = [
        "sudo ",
        "cat ",
        "vi ",
        "vim ",
        "nano ",
        "systemctl ",
        "dmg ",
        "daos_server ",
        "echo ",
        "cp ",
        "scp ",
    ];
    prompt_bracket || prompt_user || dollar || commands.iter().any(|c| t.starts_with(c))
}

impl<'a> Walker<'a> {
    /// The issues, in file order (issues without a position last).
    pub fn into_issues(mut self) -> (Vec<Issue>, BTreeMap<String, Pos>) {
        self.issues.sort_by_key(|i| {
            i.location
                .as_ref()
                .map_or((usize::MAX, 0), |l| (l.line, l.column))
        });
        (self.issues, self.positions)
    }

    pub fn new(file: &'a str, version: DaosVersion) -> Self {
        Walker {
            file,
            version,
            issues: Vec::new(),
            positions: BTreeMap::new(),
        }
    }

    pub fn loc(&self, pos: Pos) -> Location {
        Location {
            file: self.file.to_string(),
            line: pos.line,
            column: pos.column,
        }
    }

    pub fn push(
        &mut self,
        severity: Severity,
        pos: Option<Pos>,
        key: &str,
        message: String,
        fix: Option<String>,
    ) {
        let location = pos.map(|p| self.loc(p));
        self.issues.push(Issue {
            severity,
            location,
            key: key.to_string(),
            message,
            fault: None,
            fix,
            stage: super::DaosStage::Parse,
        });
    }

    pub fn error(&mut self, pos: Pos, key: &str, message: String) {
        self.push(Severity::Error, Some(pos), key, message, None);
    }

    /// The entries of a mapping as (key text, key node, value node). A null value (an
    /// empty section) is an empty mapping; anything else is a type error. Duplicate keys
    /// are reported (go-yaml v2 strict mode: "key already set in map") and skipped.
    pub fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Vec<(&'n str, &'n Node, &'n Node)> {
        match &node.kind {
            NodeKind::Map(entries) => {
                let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
                let mut out = Vec::new();
                for (k, v) in entries {
                    let Some(name) = k.as_scalar() else {
                        self.error(
                            k.pos,
                            path,
                            format!("a key must be a plain word, found {}", k.type_name()),
                        );
                        continue;
                    };
                    if let Some(first) = seen.get(name) {
                        let message = format!(
                            "duplicate key {name:?} (first set at line {}): DAOS refuses a key set twice",
                            first.line
                        );
                        self.error(k.pos, &join(path, name), message);
                        continue;
                    }
                    seen.insert(name, k.pos);
                    out.push((name, k, v));
                }
                out
            }
            _ if node.is_null() => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("expected a mapping of keys, found {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    /// Reports a key that this release does not accept. `specs` is the key table of the
    /// section: a key of another release gets the releases that know it, any key gets the
    /// closest key of this release as a suggestion.
    pub fn unknown_key(
        &mut self,
        key_node: &Node,
        name: &str,
        path: &str,
        specs: &[KeySpec],
        renames: &[Rename],
    ) {
        let v = self.version;
        let full = join(path, name);
        let section = if path.is_empty() {
            "the top level".to_string()
        } else {
            path.to_string()
        };
        let other = specs.iter().find(|s| s.name == name);
        let rename = renames.iter().find(|r| r.old == name || r.new == name);
        let mut message = match other {
            Some(s) => format!(
                "{name:?} is not a DAOS {v} key in {section} (it exists in {}): daos_server {v} refuses the file",
                s.releases()
            ),
            None => format!("unknown key {name:?} in {section}: DAOS {v} refuses unknown keys"),
        };
        let mut fix = None;
        if let Some(r) = rename {
            let (from, to) = if r.old == name {
                (r.old, r.new)
            } else {
                (r.new, r.old)
            };
            let to_known = specs.iter().any(|s| s.name == to && s.known_in(v));
            if to_known {
                message.push_str(&format!("; DAOS {v} spells it {to:?}{}", r.note));
                fix = Some(format!("rename {from:?} to {to:?}{}", r.note));
            }
        }
        if fix.is_none() {
            let current = specs.iter().filter(|s| s.known_in(v)).map(|s| s.name);
            if let Some(s) = suggest(name, current) {
                message.push_str(&format!("; did you mean {s:?}?"));
                fix = Some(format!("replace {name:?} with {s:?}"));
            }
        }
        if looks_like_shell(name) {
            message.push_str("; this looks like a shell command or prompt pasted into the file");
            fix = Some("delete the pasted shell line".to_string());
        }
        self.push(Severity::Error, Some(key_node.pos), &full, message, fix);
    }

    /// True when `name` is in the table and accepted by this release.
    pub fn known(&self, specs: &[KeySpec], name: &str) -> bool {
        specs
            .iter()
            .any(|s| s.name == name && s.known_in(self.version))
    }

    fn note_pos(&mut self, path: &str, node: &Node) {
        self.positions.insert(path.to_string(), node.pos);
    }

    /// A string value. Any scalar is accepted (go-yaml converts numbers to strings).
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.note_pos(path, node);
        if node.is_null() {
            return None;
        }
        match node.as_scalar() {
            Some(s) => Some(s.to_string()),
            None => {
                self.error(
                    node.pos,
                    path,
                    format!("{path}: expected a string, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// An integer value (decimal, or 0x/0o/0b as YAML allows).
    pub fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        self.note_pos(path, node);
        if node.is_null() {
            return None;
        }
        let parsed = match &node.kind {
            NodeKind::Scalar { value, plain: true } => parse_int(value),
            _ => None,
        };
        if parsed.is_none() {
            let shown = node
                .as_scalar()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| node.type_name().to_string());
            self.error(
                node.pos,
                path,
                format!("{path}: expected a whole number, found {shown}"),
            );
        }
        parsed
    }

    /// A boolean (YAML 1.1 spellings, as go-yaml v2: true/false, yes/no, on/off).
    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.note_pos(path, node);
        if node.is_null() {
            return None;
        }
        let parsed = match &node.kind {
            NodeKind::Scalar { value, plain: true } => match value.as_str() {
                "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "y" | "Y" | "on" | "On"
                | "ON" => Some(true),
                "false" | "False" | "FALSE" | "no" | "No" | "NO" | "n" | "N" | "off" | "Off"
                | "OFF" => Some(false),
                _ => None,
            },
            _ => None,
        };
        if parsed.is_none() {
            let shown = node
                .as_scalar()
                .map(|s| format!("{s:?}"))
                .unwrap_or_else(|| node.type_name().to_string());
            self.error(
                node.pos,
                path,
                format!("{path}: expected true or false, found {shown}"),
            );
        }
        parsed
    }

    /// A list of strings; null is an empty list.
    pub fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        self.note_pos(path, node);
        match &node.kind {
            NodeKind::Seq(items) => {
                let mut out = Vec::new();
                for (i, it) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if let Some(s) = self.string(it, &p) {
                        out.push(s);
                    }
                }
                out
            }
            _ if node.is_null() => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!(
                        "{path}: expected a list (`[a, b]` or `- a` lines), found {}",
                        node.type_name()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// The items of a list of sections; null is empty.
    pub fn items<'n>(&mut self, node: &'n Node, path: &str) -> Vec<&'n Node> {
        self.note_pos(path, node);
        match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            _ if node.is_null() => Vec::new(),
            _ => {
                self.error(
                    node.pos,
                    path,
                    format!("{path}: expected a list, found {}", node.type_name()),
                );
                Vec::new()
            }
        }
    }

    /// Walks a nested section whose keys we only validate (acceleration, spdk_rpc_server
    /// ...): unknown keys are reported, values are not interpreted.
    pub fn section_keys(&mut self, node: &Node, path: &str, specs: &[KeySpec]) {
        self.note_pos(path, node);
        for (name, k, _v) in self.entries(node, path) {
            if !self.known(specs, name) {
                self.unknown_key(k, name, path, specs, &[]);
            }
        }
    }
}

/// Parses `text` into its top-level node, turning YAML syntax errors into a precise
/// [`ConfigError`] with a hint about the usual causes. A document that is not a mapping
/// (a pasted command line is a valid YAML string!) is an error too. `Ok(None)`: an empty
/// file or comments only (DAOS then uses its defaults).
pub(crate) fn parse_root(text: &str, file: &str) -> Result<Option<Node>, ConfigError> {
    let lines: Vec<&str> = text.lines().collect();
    let shell_line = lines
        .iter()
        .enumerate()
        .find(|(_, l)| looks_like_shell(l))
        .map(|(i, l)| (i + 1, l.trim().to_string()));
    let shell_hint = |upto: usize| {
        shell_line
            .as_ref()
            .filter(|(n, _)| *n <= upto.max(1) + 1)
            .map(|(n, l)| {
                let shown: String = l.chars().take(60).collect();
                format!("line {n} looks like a shell prompt or command pasted into the file ({shown:?}): delete it")
            })
    };
    match super::yaml::parse(text) {
        Err(e) => {
            let line_text = lines
                .get(e.pos.line.saturating_sub(1))
                .copied()
                .unwrap_or("");
            let tab_col = line_text
                .find('\t')
                .map(|b| line_text[..b].chars().count() + 1);
            let hint = if let Some(h) = shell_hint(e.pos.line) {
                Some(h)
            } else if let Some(c) = tab_col {
                Some(format!(
                    "line {} has a TAB at column {c}: YAML indentation must be spaces",
                    e.pos.line
                ))
            } else if e.at_end {
                Some("the file ends in the middle of a value: was it truncated or cut while copying?".to_string())
            } else {
                None
            };
            let (line, column) = match (tab_col, &hint) {
                (Some(c), Some(h)) if h.contains("TAB") => (e.pos.line, c),
                _ => (e.pos.line, e.pos.column),
            };
            Err(ConfigError {
                file: file.to_string(),
                line,
                column,
                message: format!("YAML syntax error: {}", e.message),
                hint,
            })
        }
        Ok(None) => Ok(None),
        Ok(Some(n)) => match &n.kind {
            NodeKind::Map(_) => Ok(Some(n)),
            _ if n.is_null() => Ok(None),
            _ => Err(ConfigError {
                file: file.to_string(),
                line: n.pos.line,
                column: n.pos.column,
                message: format!(
                    "expected a mapping of `key: value` lines, found {}",
                    n.type_name()
                ),
                hint: shell_hint(n.pos.line),
            }),
        },
    }
}

/// Parses an integer as YAML 1.1 / go-yaml does for plain scalars.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit()) {
        return None;
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_and_shell_lines() {
        assert_eq!(parse_int("31416"), Some(31416));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("four"), None);
        assert_eq!(parse_int("4.5"), None);
        assert!(looks_like_shell(
            "[root@node0 ~]# cat /etc/daos/daos_server.yml"
        ));
        assert!(looks_like_shell("$ sudo vi /etc/daos/daos_server.yml"));
        assert!(looks_like_shell(
            "root@node0:~# systemctl start daos_server"
        ));
        assert!(!looks_like_shell("name: daos_server"));
        assert!(!looks_like_shell("  - FI_SOCKETS_MAX_CONN_RETRY=1"));
    }
}
