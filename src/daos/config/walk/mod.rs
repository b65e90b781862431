//! Walking a positioned YAML tree against a version-aware key table, collecting
//! [`Issue`]s the way go-yaml v2 `UnmarshalStrict` would fail (unknown key, duplicate
//! key, wrong type), but without stopping at the first one.

use std::collections::BTreeMap;

use super::yaml::{Node, NodeKind, Pos};
use super::{ConfigError, Issue, KeySpec, Location, Severity, suggest};

mod values;
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
            decoder: false,
        });
    }

    pub fn error(&mut self, pos: Pos, key: &str, message: String) {
        self.push(Severity::Error, Some(pos), key, message, None);
    }

    /// An error of one of DAOS's own YAML decoders ([`super::Issue::decoder`]).
    pub fn decode_error(&mut self, pos: Pos, key: &str, message: String) {
        self.error(pos, key, message);
        if let Some(i) = self.issues.last_mut() {
            i.decoder = true;
        }
    }

    /// The entries of a mapping as (key text, key node, value node), as go-yaml v2
    /// strict mode decodes them into a struct (decode.go `mappingStruct`):
    /// - a key is the text of a scalar key (`"port"` and `port` are the same key; a null
    ///   key is the empty name); a list or mapping as a key is an error;
    /// - a key set twice in one mapping is reported ("field ... already set") and the
    ///   second one skipped;
    /// - a merge key (`<<: *anchor`, `<<: [*a, *b]`) brings in the entries of the merged
    ///   mappings, overriding what was set before it and overridden by what follows
    ///   (earlier mappings of a merge list win), never a duplicate;
    /// - a null value (an empty section) is no entries; anything else is a type error.
    pub fn entries<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
    ) -> Vec<(&'n str, &'n Node, &'n Node)> {
        let mut out = Vec::new();
        match &node.get().kind {
            NodeKind::Map(_) => self.collect_entries(node.get(), path, &mut out, 0),
            _ if node.is_null() => {}
            _ => self.error(
                node.pos,
                path,
                format!("expected a mapping of keys, found {}", node.type_name()),
            ),
        }
        out
    }

    fn collect_entries<'n>(
        &mut self,
        map: &'n Node,
        path: &str,
        out: &mut Vec<(&'n str, &'n Node, &'n Node)>,
        depth: usize,
    ) {
        let NodeKind::Map(entries) = &map.kind else {
            return;
        };
        let mut seen: BTreeMap<&str, Pos> = BTreeMap::new();
        for (k, v) in entries {
            if is_merge_key(k) {
                self.merge(k, v, path, out, depth);
                continue;
            }
            let Some(s) = k.scalar() else {
                self.error(
                    k.pos,
                    path,
                    format!("a key must be a plain word, found {}", k.type_name()),
                );
                continue;
            };
            let name = if k.is_null() { "" } else { s.value };
            if let Some(first) = seen.get(name) {
                let message = format!(
                    "duplicate key {name:?} (first set at line {}): DAOS refuses a key set twice",
                    first.line
                );
                self.error(k.pos, &join(path, name), message);
                continue;
            }
            seen.insert(name, k.pos);
            // a merged value set earlier is overridden
            out.retain(|(n, _, _)| *n != name);
            out.push((name, k, v));
        }
    }

    /// `<<: value` (decode.go `merge`): a mapping, an alias to one, or a list of them.
    fn merge<'n>(
        &mut self,
        key: &'n Node,
        value: &'n Node,
        path: &str,
        out: &mut Vec<(&'n str, &'n Node, &'n Node)>,
        depth: usize,
    ) {
        // a chain of merges through aliases is bounded by the alias budget; this only
        // keeps the walk's own recursion small
        if depth >= 32 {
            self.error(
                key.pos,
                path,
                "merges (<<) nested more than 32 deep".to_string(),
            );
            return;
        }
        let bad = |w: &mut Self, n: &Node| {
            w.error(
                n.pos,
                path,
                "a merge (<<) takes a mapping or a list of mappings: DAOS refuses the file (map merge requires map or sequence of maps as the value)".to_string(),
            )
        };
        let mut merged: Vec<(&'n str, &'n Node, &'n Node)> = Vec::new();
        match &value.get().kind {
            NodeKind::Map(_) => self.collect_entries(value.get(), path, &mut merged, depth + 1),
            NodeKind::Seq(items) => {
                for it in items.iter().rev() {
                    if matches!(it.get().kind, NodeKind::Map(_)) {
                        let mut one = Vec::new();
                        self.collect_entries(it.get(), path, &mut one, depth + 1);
                        for e in one {
                            merged.retain(|(n, _, _)| *n != e.0);
                            merged.push(e);
                        }
                    } else {
                        bad(self, it);
                    }
                }
            }
            _ => bad(self, value),
        }
        for e in merged {
            out.retain(|(n, _, _)| *n != e.0);
            out.push(e);
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

    pub(crate) fn note_pos(&mut self, path: &str, node: &Node) {
        self.positions.insert(path.to_string(), node.pos);
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

/// True for a merge key: a plain `<<` or a `!!merge` tag (decode.go `isMerge`).
fn is_merge_key(k: &Node) -> bool {
    k.scalar().is_some_and(|s| {
        s.value == "<<"
            && ((s.plain && s.tag.is_none()) || s.tag == Some("tag:yaml.org,2002:merge"))
    })
}

/// Parses `text` into its top-level node, turning YAML syntax errors into a precise
/// [`ConfigError`] with a hint about the usual causes. A document that is not a mapping
/// (a pasted command line is a valid YAML string!) is an error too, and so is an empty
/// document (`---` alone: go-yaml zeroes the config). `Ok(None)`: an empty file or
/// comments only (no document: DAOS keeps its defaults). Refusals of go-yaml that are
/// not syntax (excessive aliasing, depth) keep their own message and hint.
pub(crate) fn parse_root(
    text: &str,
    file: &str,
    w: &mut Walker<'_>,
) -> Result<Option<Node>, ConfigError> {
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
    let parsed = super::yaml::parse_first(text).map(|d| {
        if let Some(at) = d.trailing {
            ignored_rest(w, &lines, at);
        }
        d.root
    });
    match parsed {
        Err(e) if !e.syntax => Err(ConfigError {
            file: file.to_string(),
            line: e.pos.line,
            column: e.pos.column,
            message: e.message,
            hint: e.hint,
        }),
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
        Ok(Some(n)) => match &n.get().kind {
            NodeKind::Map(_) => Ok(Some(n)),
            // decode.go: a null document sets the zero value of the whole config (not
            // its defaults): no system name, port 0, no provider. DAOS 2.4 and later
            // refuse it at load ("invalid system name"), earlier releases start with
            // nothing configured; either way the file is not what the admin meant.
            _ if n.is_null() => Err(ConfigError {
                file: file.to_string(),
                line: n.pos.line,
                column: n.pos.column,
                message: "the file holds an empty YAML document (`---`, `~` or `null` alone)".to_string(),
                hint: Some("DAOS's YAML parser then resets every setting to zero instead of its default (the system name becomes empty and DAOS refuses the file with invalid system name \"\"): remove the line, or write the settings after it".to_string()),
            }),
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

/// A warning for the part of the file after the first YAML document, which DAOS never
/// reads (see [`super::yaml::FirstDocument`]): which lines, which settings they hold.
fn ignored_rest(w: &mut Walker<'_>, lines: &[&str], at: Pos) {
    let rest = lines.get(at.line.saturating_sub(1)..).unwrap_or(&[]);
    let last = rest
        .iter()
        .rposition(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map_or(at.line, |i| at.line + i);
    let mut keys: Vec<&str> = Vec::new();
    for l in rest {
        let t = l.trim_start();
        if t.starts_with('#') || t.starts_with('-') || l.len() - t.len() > 2 {
            continue;
        }
        if let Some((k, _)) = t.split_once(':') {
            let k = k.trim();
            if !k.is_empty() && !k.contains(' ') && !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    let shown = if keys.is_empty() {
        String::new()
    } else {
        let mut v: Vec<String> = keys.iter().take(6).map(|k| format!("`{k}`")).collect();
        if keys.len() > 6 {
            v.push(format!("{} more", keys.len() - 6));
        }
        format!(" (setting {})", v.join(", "))
    };
    let second = lines
        .get(at.line.saturating_sub(1))
        .is_some_and(|l| l.trim_start().starts_with("---"));
    let (why, fix) = if second {
        (
            "a second YAML document starts here",
            "DAOS reads only the first document of the file: move these settings above the `---` line, or delete them",
        )
    } else {
        (
            "the first YAML document ends before this line (the lines above are indented more than this one)",
            "DAOS reads only the first document of the file: start every top-level key in column 1",
        )
    };
    let lines_shown = if last > at.line {
        format!("lines {}-{last}", at.line)
    } else {
        format!("line {}", at.line)
    };
    w.push(
        Severity::Warning,
        Some(at),
        "",
        format!("{why}: DAOS's YAML parser (go-yaml v2) ignores {lines_shown}{shown} and runs with its defaults for them"),
        Some(fix.to_string()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_lines() {
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
