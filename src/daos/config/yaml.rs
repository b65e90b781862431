//! A small YAML document tree with source positions, built from `saphyr-parser` events.
//!
//! DAOS reads its files with go-yaml v2 `UnmarshalStrict` into Go structs. To judge a
//! file the way DAOS does *and* point at the exact line and column of every problem, we
//! keep the whole document as a tree of [`Node`]s, each with the position it starts at,
//! and let the schema walkers (`server.rs`, `agent.rs`, `control.rs`) interpret scalars
//! by the type DAOS expects. Only the first document of a stream is used, as go-yaml's
//! `Unmarshal` does.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde::{Deserialize, Serialize};

/// A position in the source: line and column, both counted from 1 (as editors show them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pos {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

impl Pos {
    fn of(span: &Span) -> Pos {
        Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        }
    }
}

/// What a node holds.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// A scalar as written. `plain` is true for an unquoted scalar: only those can be
    /// `null`, booleans or numbers in YAML.
    Scalar {
        /// The text of the scalar (after unescaping and folding).
        value: String,
        /// Written without quotes or block indicators.
        plain: bool,
    },
    /// A sequence (`- a` or `[a, b]`).
    Seq(Vec<Node>),
    /// A mapping, entries in file order (duplicates are kept for the walker to report).
    Map(Vec<(Node, Node)>),
}

/// A node of the document with the position where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The content.
    pub kind: NodeKind,
    /// Where it starts.
    pub pos: Pos,
}

impl Node {
    /// True for an absent value: an empty plain scalar, `~`, `null` (YAML 1.1 as go-yaml).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { value, plain: true }
            if value.is_empty() || value == "~" || value == "null" || value == "Null" || value == "NULL")
    }

    /// The scalar text, if this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A short description of the node's type for error messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "nothing (null)",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser stopped.
    pub pos: Pos,
    /// The parser's message.
    pub message: String,
    /// True when the error is at the very end of the input (a truncated file, an
    /// unclosed quote or bracket).
    pub at_end: bool,
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    Map(Pos, usize, Vec<(Node, Node)>, Option<Node>),
}

/// Parses the first document of `text`. `Ok(None)` for an empty stream or a document
/// holding only comments.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let total_chars = text.chars().count();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut in_document = false;
    while let Some(item) = parser.next_event() {
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            SyntaxError {
                pos: Pos {
                    line: m.line(),
                    column: m.col() + 1,
                },
                message: e.info().to_string(),
                at_end: m.index() >= total_chars,
            }
        })?;
        let pos = Pos::of(&span);
        let finished: Option<(Node, usize)> = match event {
            Event::StreamStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    // go-yaml's Unmarshal reads only the first document.
                    break;
                }
                in_document = true;
                None
            }
            Event::DocumentEnd => {
                if in_document && root.is_some() {
                    break;
                }
                None
            }
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| SyntaxError {
                    pos,
                    message: "unknown anchor".to_string(),
                    at_end: false,
                })?;
                Some((Node { pos, ..node }, 0))
            }
            Event::Scalar(value, style, anchor, _tag) => Some((
                Node {
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    pos,
                },
                anchor,
            )),
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq(pos, anchor, Vec::new()));
                None
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map(pos, anchor, Vec::new(), None));
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(p, anchor, items)) => Some((
                    Node {
                        kind: NodeKind::Seq(items),
                        pos: p,
                    },
                    anchor,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(p, anchor, entries, _)) => Some((
                    Node {
                        kind: NodeKind::Map(entries),
                        pos: p,
                    },
                    anchor,
                )),
                _ => None,
            },
        };
        if let Some((node, anchor)) = finished {
            if anchor != 0 {
                anchors.insert(anchor, node.clone());
            }
            match stack.last_mut() {
                None => root = Some(node),
                Some(Frame::Seq(_, _, items)) => items.push(node),
                Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                    None => *pending = Some(node),
                    Some(key) => entries.push((key, node)),
                },
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based() {
        let doc = parse("a: 1\nb:\n  - x\n  - y\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &doc.kind else {
            panic!("{doc:?}")
        };
        assert_eq!(entries[1].0.pos, Pos { line: 2, column: 1 });
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!()
        };
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        assert_eq!(items[1].as_scalar(), Some("y"));
    }

    #[test]
    fn comments_only_is_empty_and_errors_have_positions() {
        assert_eq!(parse("# nothing\n\n").unwrap(), None);
        let e = parse("a: [1, 2\n").unwrap_err();
        assert!(e.at_end, "{e:?}");
        let e = parse("a:\n\tb: 1\n").unwrap_err();
        assert_eq!(e.pos.line, 2, "{e:?}");
    }

    #[test]
    fn aliases_resolve_and_only_first_document_counts() {
        let doc = parse("a: &x [1]\nb: *x\n---\nc: 2\n").unwrap().unwrap();
        let NodeKind::Map(entries) = &doc.kind else {
            panic!()
        };
        assert_eq!(entries.len(), 2);
        assert!(matches!(entries[1].1.kind, NodeKind::Seq(_)));
    }
}
