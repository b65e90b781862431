//! A small YAML document tree with source positions, built from `saphyr-parser` events.
//!
//! DAOS reads its files with go-yaml v2 `UnmarshalStrict` into Go structs. To judge a
//! file the way DAOS does *and* point at the exact line and column of every problem, we
//! keep the whole document as a tree of [`Node`]s, each with the position it starts at,
//! and let the schema walkers (`server.rs`, `agent.rs`, `control.rs`) interpret scalars
//! by the type DAOS expects ([`scalar`] holds go-yaml's YAML 1.1 resolution).
//!
//! What this layer mirrors of go-yaml v2 (gopkg.in/yaml.v2 v2.4.0, vendored by DAOS in
//! src/control/vendor/gopkg.in/yaml.v2; decode.go, resolve.go, scannerc.go):
//! - only the first document of a stream is read (`Unmarshal` decodes one document);
//! - a document that holds only `---`, `~` or `null` is a document with a null root
//!   (go-yaml then zeroes the whole target struct), which is not the same as a stream
//!   with no document at all (empty file, comments only: the defaults stay);
//! - anchors and aliases are shared, never copied ([`NodeKind::Shared`]): the tree stays
//!   the size of the file whatever the aliases expand to, and the alias-ratio rule of
//!   decode.go ("document contains excessive aliasing") is applied while the tree is
//!   built ([`build`]), so an alias bomb costs milliseconds and kilobytes;
//! - nesting deeper than 10,000 levels is refused ("exceeded max depth of 10000",
//!   scannerc.go `max_indents`/`max_flow_level`).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod build;
pub mod scalar;

pub use build::{FirstDocument, parse, parse_first};

/// A position in the source: line and column, both counted from 1 (as editors show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar as written. `plain` is true for an unquoted scalar: only those can be
    /// `null`, booleans or numbers in YAML (unless a tag says so).
    Scalar {
        /// The text of the scalar (after unescaping and folding).
        value: String,
        /// Written without quotes or block indicators.
        plain: bool,
        /// An explicit tag, resolved (`!!int` is `tag:yaml.org,2002:int`).
        tag: Option<String>,
    },
    /// A sequence (`- a` or `[a, b]`).
    Seq(Vec<Node>),
    /// A mapping, entries in file order (duplicates are kept for the walker to report).
    Map(Vec<(Node, Node)>),
    /// An anchored node (`&a ...`) or an alias to one (`*a`): the content is shared by
    /// every use, never copied. [`Node::get`] looks through it.
    Shared(Arc<Node>),
}

/// A node of the document with the position where it starts (for an alias, where the
/// alias is written).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The content.
    pub kind: NodeKind,
    /// Where it starts.
    pub pos: Pos,
}

/// A scalar's text, style and tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScalarRef<'a> {
    /// The text.
    pub value: &'a str,
    /// Unquoted.
    pub plain: bool,
    /// Explicit tag.
    pub tag: Option<&'a str>,
}

impl Node {
    /// The node itself, or what an anchor/alias shares.
    pub fn get(&self) -> &Node {
        let mut n = self;
        while let NodeKind::Shared(target) = &n.kind {
            n = target;
        }
        n
    }

    /// The scalar, if this is one (through aliases).
    pub fn scalar(&self) -> Option<ScalarRef<'_>> {
        match &self.get().kind {
            NodeKind::Scalar { value, plain, tag } => Some(ScalarRef {
                value,
                plain: *plain,
                tag: tag.as_deref(),
            }),
            _ => None,
        }
    }

    /// True for an absent value as go-yaml v2 resolves it: an empty plain scalar, `~`,
    /// `null`, `Null`, `NULL` (unquoted), or a `!!null` tag.
    pub fn is_null(&self) -> bool {
        self.scalar()
            .is_some_and(|s| matches!(scalar::resolve(s), Ok(scalar::Value::Null)))
    }

    /// The scalar text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        self.scalar().map(|s| s.value)
    }

    /// A short description of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.get().kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Shared(_) => "an alias",
        }
    }
}

/// Dropping a tree never recurses: a file nested 10,000 levels deep (or a chain of
/// aliases) must not overflow the stack of a checker thread.
impl Drop for Node {
    fn drop(&mut self) {
        fn detach(kind: &mut NodeKind, out: &mut Vec<Node>) {
            match kind {
                NodeKind::Scalar { .. } => {}
                NodeKind::Seq(items) => out.append(items),
                NodeKind::Map(entries) => {
                    for (k, v) in entries.drain(..) {
                        out.push(k);
                        out.push(v);
                    }
                }
                NodeKind::Shared(_) => {
                    if let NodeKind::Shared(arc) =
                        std::mem::replace(kind, NodeKind::Seq(Vec::new()))
                        && let Ok(node) = Arc::try_unwrap(arc)
                    {
                        out.push(node);
                    }
                }
            }
        }
        let mut pending = Vec::new();
        detach(&mut self.kind, &mut pending);
        while let Some(mut n) = pending.pop() {
            detach(&mut n.kind, &mut pending);
        }
    }
}

/// Why a text is not a YAML document DAOS could read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
    /// True when the error is at the very end of the input (a truncated file, an
    /// unclosed quote or bracket).
    pub at_end: bool,
    /// False when the text is well-formed YAML that go-yaml refuses for another reason
    /// (excessive aliasing, too deep, an alias to an unfinished anchor).
    pub syntax: bool,
    /// What to do about it, when we know.
    pub hint: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(n: &Node) -> &Vec<(Node, Node)> {
        match &n.get().kind {
            NodeKind::Map(e) => e,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a: 1\nb:\n  - x\n  - y\n").unwrap().unwrap();
        let entries = map(&doc);
        assert_eq!(entries[1].0.pos, Pos { line: 2, column: 1 });
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        assert_eq!(items[1].as_scalar(), Some("y"));
    }

    #[test]
    fn comments_only_is_no_document_and_dashes_a_null_one() {
        assert_eq!(parse("# nothing\n\n").unwrap(), None);
        assert_eq!(parse("").unwrap(), None);
        for t in ["---\n", "--- ~\n", "~\n", "null\n", "---\n...\n"] {
            let d = parse(t).unwrap().expect(t);
            assert!(d.is_null(), "{t:?}: {d:?}");
        }
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.at_end, "{e:?}");
        let e = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{e:?}");
    }

    #[test]
    fn aliases_are_shared_and_only_first_document_counts() {
        let doc = parse("a: &x [1]\nb: *x\n---\nc: 2\n").unwrap().unwrap();
        let entries = map(&doc);
        assert_eq!(entries.len(), 2);
        assert!(matches!(entries[1].1.get().kind, NodeKind::Seq(_)));
        assert_eq!(entries[1].1.pos, Pos { line: 2, column: 4 });
        let (NodeKind::Shared(a), NodeKind::Shared(b)) = (&entries[0].1.kind, &entries[1].1.kind)
        else {
            panic!()
        };
        assert!(Arc::ptr_eq(a, b));
    }

    #[test]
    fn what_follows_the_first_document_is_not_read() {
        // a first key indented more than the next one ends the document (go-yaml never
        // asks for the next one); so does an explicit second document, however broken
        let d = parse_first("  name: a\nport: 1\n").unwrap();
        assert_eq!(map(d.root.as_ref().unwrap()).len(), 1);
        assert_eq!(d.trailing, Some(Pos { line: 2, column: 1 }));
        let d = parse_first("name: a\n---\nport: [1\n").unwrap();
        assert_eq!(d.trailing, Some(Pos { line: 2, column: 1 }));
        let d = parse_first("name: a\n...\n# end\n").unwrap();
        assert_eq!(d.trailing, None);
        // an error inside the first document stays an error
        assert!(parse_first("name: a\n  port: 1\n").is_err());
    }

    #[test]
    fn tags_are_kept() {
        let doc = parse("a: !!int '5'\nb: !!str 5\n").unwrap().unwrap();
        let e = map(&doc);
        assert_eq!(e[0].1.scalar().unwrap().tag, Some("tag:yaml.org,2002:int"));
        assert_eq!(e[1].1.scalar().unwrap().tag, Some("tag:yaml.org,2002:str"));
    }
}
