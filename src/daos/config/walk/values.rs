//! Reading values into the types DAOS's Go structs have, with go-yaml v2's conversions
//! (the rules are in [`crate::daos::config::yaml::scalar`]).
//!
//! A null (`~`, `null`, nothing after the colon) gives the Go zero value, as go-yaml
//! does: `port: ~` is port 0, `name:` the empty name, `disable_vfio:` false. For a Go
//! pointer field (`*bool`, `*int`, `*uint`: `disable_vmd`, `bypass_health_chk`,
//! `first_core`, `pinned_numa_node`) null is "not set": use the `ptr_` readers.

use super::Walker;
use crate::daos::config::yaml::scalar::{self, IntType, Value};
use crate::daos::config::yaml::{Node, NodeKind};

/// How a scalar reads to go-yaml, for messages: `the quoted text "10001"`, `yes (a
/// boolean)`.
fn shown(node: &Node) -> String {
    let Some(s) = node.scalar() else {
        return node.type_name().to_string();
    };
    match scalar::resolve(s) {
        _ if !s.plain && s.tag.is_none() => format!("the quoted text {:?}", s.value),
        Ok(Value::Bool(_)) => format!("{} (a YAML boolean)", s.value),
        Ok(Value::Int(_)) => format!("{} (a whole number)", s.value),
        Ok(Value::Float(_)) => format!("{} (a YAML float)", s.value),
        _ => format!("{:?}", s.value),
    }
}

impl Walker<'_> {
    /// Resolves a scalar, reporting a fatal tag mismatch (`!!int x`).
    fn resolved(&mut self, node: &Node, path: &str) -> Option<Result<Value, ()>> {
        let s = node.scalar()?;
        Some(match scalar::resolve(s) {
            Ok(v) => Ok(v),
            Err(m) => {
                self.error(
                    node.pos,
                    path,
                    format!("{path}: {m}: DAOS refuses the file"),
                );
                Err(())
            }
        })
    }

    fn type_error(&mut self, node: &Node, path: &str, want: &str, hint: &str) {
        let quoted = node.scalar().is_some_and(|s| !s.plain && s.tag.is_none());
        let mut m = format!("{path}: expected {want}, found {}", shown(node));
        if quoted {
            m.push_str(": DAOS reads a quoted value as text; remove the quotes");
        } else if !hint.is_empty() {
            m.push_str(hint);
        }
        self.error(node.pos, path, m);
    }

    /// A Go `string` field: the text of any scalar (`name: yes` is "yes", `port` as
    /// text is "10001"); null is the empty string. `None` after a type error.
    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        self.note_pos(path, node);
        match self.resolved(node, path) {
            Some(Ok(Value::Null)) => Some(String::new()),
            Some(Ok(_)) => node.as_scalar().map(str::to_string),
            Some(Err(())) => None,
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

    /// A Go `int` field. Whole numbers in any YAML 1.1 notation (`10001`, `0x2711`,
    /// `023421`, `10_001`, `+10001`), and floats truncated as go-yaml does (`1e4`,
    /// `16.5` is 16). Null is 0.
    pub fn int(&mut self, node: &Node, path: &str) -> Option<i64> {
        self.int_as(node, path, IntType::Int)
    }

    /// An integer field of Go type `ty`, range checked as go-yaml does (a negative value
    /// in a `uint` field is a type error).
    pub fn int_as(&mut self, node: &Node, path: &str, ty: IntType) -> Option<i64> {
        // a uint64 above i64::MAX saturates: no DAOS limit comes near it
        self.int_exact(node, path, ty)
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX))
    }

    /// [`Walker::int_as`] without the saturation: the exact value (a Go `uint` up to
    /// 2^64 − 1, where DAOS's arithmetic on it wraps as Go's does).
    pub fn int_exact(&mut self, node: &Node, path: &str, ty: IntType) -> Option<i128> {
        self.note_pos(path, node);
        let v = match self.resolved(node, path) {
            Some(Ok(v)) => v,
            Some(Err(())) => return None,
            None => Value::Str,
        };
        match scalar::to_int(v, ty) {
            Some(n) => Some(n),
            None => {
                let what = if matches!(v, Value::Int(_) | Value::Float(_)) {
                    format!(
                        "a whole number in the range of a Go {} (DAOS refuses the file)",
                        ty.go_name()
                    )
                } else {
                    "a whole number".to_string()
                };
                self.type_error(node, path, &what, "");
                None
            }
        }
    }

    /// A Go `bool` field: true/false, yes/no, on/off, y/n, each in lower, Capitalized or
    /// UPPER case (yaml.v2's YAML 1.1 booleans). Null is false.
    pub fn bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        self.note_pos(path, node);
        let v = match self.resolved(node, path) {
            Some(Ok(v)) => v,
            Some(Err(())) => return None,
            None => Value::Str,
        };
        let parsed = scalar::to_bool(v);
        if parsed.is_none() {
            self.type_error(
                node,
                path,
                "true or false",
                " (DAOS's YAML parser also takes yes/no, on/off, y/n, in lower, Capitalized or UPPER case only)",
            );
        }
        parsed
    }

    /// A Go `*bool` field: null is not set.
    #[allow(dead_code)] // for the pointer fields of the schema walkers (server.rs)
    pub fn ptr_bool(&mut self, node: &Node, path: &str) -> Option<bool> {
        if node.is_null() {
            self.note_pos(path, node);
            return None;
        }
        self.bool(node, path)
    }

    /// A Go `*int` / `*uint` field: null is not set.
    #[allow(dead_code)] // for the pointer fields of the schema walkers (server.rs)
    pub fn ptr_int(&mut self, node: &Node, path: &str, ty: IntType) -> Option<i64> {
        if node.is_null() {
            self.note_pos(path, node);
            return None;
        }
        self.int_as(node, path, ty)
    }

    /// A Go `[]string` field; null is an empty list, a null item the empty string.
    pub fn strings(&mut self, node: &Node, path: &str) -> Vec<String> {
        self.note_pos(path, node);
        match &node.get().kind {
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

    /// The items of a list of sections; null is empty. An item may be an alias: its
    /// position is where the alias is written, its content the anchored node's.
    pub fn items<'n>(&mut self, node: &'n Node, path: &str) -> Vec<&'n Node> {
        self.note_pos(path, node);
        match &node.get().kind {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daos::DaosVersion;
    use crate::daos::config::yaml::parse;

    fn first_value(text: &str) -> Node {
        let doc = parse(text).unwrap().unwrap();
        let NodeKind::Map(e) = &doc.get().kind else {
            panic!()
        };
        e[0].1.clone()
    }

    #[test]
    fn values_as_go_yaml_stores_them() {
        let mut w = Walker::new("f.yml", DaosVersion::V2_6);
        assert_eq!(w.int(&first_value("p: 0x2711\n"), "p"), Some(10001));
        assert_eq!(w.int(&first_value("p: 10001.9\n"), "p"), Some(10001));
        assert_eq!(w.int(&first_value("p: ~\n"), "p"), Some(0));
        assert_eq!(w.int(&first_value("p: !!int '7'\n"), "p"), Some(7));
        assert_eq!(
            w.string(&first_value("p: yes\n"), "p").as_deref(),
            Some("yes")
        );
        assert_eq!(w.string(&first_value("p:\n"), "p").as_deref(), Some(""));
        assert_eq!(w.bool(&first_value("p: Off\n"), "p"), Some(false));
        assert_eq!(w.ptr_bool(&first_value("p: ~\n"), "p"), None);
        assert_eq!(w.strings(&first_value("p: [~, a]\n"), "p"), ["", "a"]);
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        assert_eq!(w.int(&first_value("p: \"10001\"\n"), "p"), None);
        assert_eq!(w.int_as(&first_value("p: -1\n"), "p", IntType::Uint), None);
        assert_eq!(w.bool(&first_value("p: 'yes'\n"), "p"), None);
        assert_eq!(w.bool(&first_value("p: yEs\n"), "p"), None);
        assert_eq!(w.int(&first_value("p: !!str 5\n"), "p"), None);
        assert_eq!(w.int(&first_value("p: !!int x\n"), "p"), None);
        assert_eq!(w.issues.len(), 6, "{:?}", w.issues);
        assert!(
            w.issues[0].message.contains("remove the quotes"),
            "{:?}",
            w.issues[0]
        );
    }
}
