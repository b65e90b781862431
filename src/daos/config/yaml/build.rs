//! Building the [`Node`] tree from `saphyr-parser` events, with go-yaml v2's limits.
//!
//! Nothing here recurses: the tree is built with an explicit stack, aliases become
//! [`NodeKind::Shared`] references to the anchored node, and the alias budget is kept
//! as the events arrive.
//!
//! The alias budget is decode.go's rule (`allowedAliasRatio`, checked in
//! `decoder.unmarshal`): go-yaml counts one "decode" per node it unmarshals, in document
//! order, and counts as "alias decodes" those made while expanding an alias; once more
//! than 1,000 decodes and 100 alias decodes were made, the share of alias decodes may not
//! exceed 99% (documents up to 400,000 decodes), falling linearly to 10% at 4,000,000.
//! Here every node of the tree counts as go-yaml would count it if the whole document
//! were decoded, and an alias counts one decode plus the full expanded size of its
//! target (known, because a target is complete before it can be aliased) — so the rule
//! is checked in O(1) per event without expanding anything. Within one alias expansion
//! the ratio only grows, so checking at the end of each expansion finds the same
//! documents go-yaml's per-decode check finds. DAOS decodes into typed structs, so it
//! may stop earlier (an unknown key is not decoded): such documents are refused by DAOS
//! for that reason instead, and refused here as excessive aliasing; both refuse.

use std::collections::HashMap;
use std::sync::Arc;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::{Node, NodeKind, Pos, SyntaxError};

/// decode.go `alias_ratio_range_low`.
const RATIO_LOW: u64 = 400_000;
/// decode.go `alias_ratio_range_high`.
const RATIO_HIGH: u64 = 4_000_000;
/// scannerc.go `max_indents` / `max_flow_level`.
pub(crate) const MAX_DEPTH: usize = 10_000;

/// decode.go `allowedAliasRatio`.
fn allowed_alias_ratio(decodes: u64) -> f64 {
    if decodes <= RATIO_LOW {
        0.99
    } else if decodes >= RATIO_HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decodes - RATIO_LOW) as f64 / (RATIO_HIGH - RATIO_LOW) as f64)
    }
}

/// The decode counters of decode.go.
#[derive(Debug, Default)]
struct Budget {
    decodes: u64,
    alias_decodes: u64,
}

impl Budget {
    fn exceeded(&self) -> bool {
        self.alias_decodes > 100
            && self.decodes > 1000
            && self.alias_decodes as f64 / self.decodes as f64 > allowed_alias_ratio(self.decodes)
    }
}

/// The expanded size of a node: how many decodes go-yaml makes to unmarshal it.
type Size = u64;

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
        size: Size,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        size: Size,
    },
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: span.start.line(),
        column: span.start.col() + 1,
    }
}

fn tag_text(tag: Option<std::borrow::Cow<'_, Tag>>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

fn refused(pos: Pos, message: String, hint: &str) -> SyntaxError {
    SyntaxError {
        pos,
        message,
        at_end: false,
        syntax: false,
        hint: Some(hint.to_string()),
    }
}

/// Parses the first document of `text`. `Ok(None)`: no document at all (an empty
/// stream, comments only); a document with nothing in it (`---`, `~`) is `Some` of a
/// null scalar, as go-yaml sees it.
pub fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    parse_first(text).map(|d| d.root)
}

/// The first document of a stream, and where the text DAOS does not read begins.
#[derive(Debug)]
pub struct FirstDocument {
    /// The root node (`None`: no document at all).
    pub root: Option<Node>,
    /// Where something follows the first document: a second document (`---`) or
    /// content that cannot continue the first one (a top-level key indented less than
    /// the first line's). go-yaml v2's `Unmarshal` (yaml.go `unmarshal` → decode.go
    /// `parser.parse`) builds one document node and returns: it never asks the parser
    /// for the next document, so what follows is neither decoded nor checked.
    pub trailing: Option<Pos>,
}

/// [`parse`], also telling where the ignored rest of the stream begins.
pub fn parse_first(text: &str) -> Result<FirstDocument, SyntaxError> {
    let total_chars = text.chars().count();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    // anchor id -> (shared node, expanded size); an id is absent until its node is
    // complete, so `&a [*a]` is refused as go-yaml refuses it
    let mut anchors: HashMap<usize, (Arc<Node>, Size)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut budget = Budget::default();
    let mut trailing = None;
    while let Some(item) = parser.next_event() {
        if root.is_some() {
            // saphyr checks the token after an implicit document end ("did not find
            // expected <document start>") where go-yaml's parse_document_end only peeks
            // at it: once the first document is complete, a parser refusal of what
            // follows is what go-yaml never sees. (A scanner error on that very token
            // is seen by both: its message differs.)
            if let Err(e) = &item
                && e.info() == "did not find expected <document start>"
            {
                let m = e.marker();
                trailing = Some(Pos {
                    line: m.line(),
                    column: m.col() + 1,
                });
                break;
            }
        }
        let (event, span) = item.map_err(|e| {
            let m = e.marker();
            SyntaxError {
                pos: Pos {
                    line: m.line(),
                    column: m.col() + 1,
                },
                message: e.info().to_string(),
                at_end: m.index() >= total_chars,
                syntax: true,
                hint: None,
            }
        })?;
        let pos = pos_of(&span);
        // a key `<<` (a merge) is not itself decoded by go-yaml
        let is_key = matches!(stack.last(), Some(Frame::Map { key: None, .. }));
        let finished: Option<(Node, usize, Size)> = match event {
            Event::StreamStart | Event::Nothing => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                if root.is_some() {
                    // go-yaml's Unmarshal reads only the first document
                    trailing = Some(pos);
                    break;
                }
                budget.decodes = 1; // the document node
                None
            }
            Event::DocumentEnd => None,
            Event::Alias(id) => {
                let Some((target, size)) = anchors.get(&id) else {
                    return Err(refused(
                        pos,
                        "an alias refers to the anchor that contains it".to_string(),
                        "go-yaml refuses a value that contains itself (\"anchor value contains itself\"): use a copy instead of the alias",
                    ));
                };
                budget.decodes += 1 + size;
                budget.alias_decodes += size;
                if budget.exceeded() {
                    return Err(refused(
                        pos,
                        "document contains excessive aliasing".to_string(),
                        "the aliases (*name) expand to far more values than the file holds, which DAOS's YAML parser (go-yaml v2) refuses as an alias bomb; no DAOS configuration needs this: write the values out",
                    ));
                }
                let node = Node {
                    kind: NodeKind::Shared(Arc::clone(target)),
                    pos,
                };
                Some((node, 0, 1 + size))
            }
            Event::Scalar(value, style, anchor, tag) => {
                let merge = is_key && style == ScalarStyle::Plain && value == "<<";
                let size = Size::from(!merge);
                budget.decodes += size;
                let node = Node {
                    kind: NodeKind::Scalar {
                        value: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                        tag: tag_text(tag),
                    },
                    pos,
                };
                Some((node, anchor, size))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(refused(
                        pos,
                        format!("exceeded max depth of {MAX_DEPTH}"),
                        "the file nests lists or mappings more than 10,000 levels deep, which DAOS's YAML parser refuses; a DAOS configuration nests a few levels",
                    ));
                }
                budget.decodes += 1;
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        pos,
                        anchor,
                        items: Vec::new(),
                        size: 1,
                    }
                } else {
                    Frame::Map {
                        pos,
                        anchor,
                        entries: Vec::new(),
                        key: None,
                        size: 1,
                    }
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq {
                    pos,
                    anchor,
                    items,
                    size,
                }) => Some((
                    Node {
                        kind: NodeKind::Seq(items),
                        pos,
                    },
                    anchor,
                    size,
                )),
                Some(Frame::Map {
                    pos,
                    anchor,
                    entries,
                    size,
                    ..
                }) => Some((
                    Node {
                        kind: NodeKind::Map(entries),
                        pos,
                    },
                    anchor,
                    size,
                )),
                None => None,
            },
        };
        let Some((mut node, anchor, size)) = finished else {
            continue;
        };
        if anchor != 0 {
            let shared = Arc::new(node);
            anchors.insert(anchor, (Arc::clone(&shared), size));
            let pos = shared.pos;
            node = Node {
                kind: NodeKind::Shared(shared),
                pos,
            };
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, size: s, .. }) => {
                *s = s.saturating_add(size);
                items.push(node);
            }
            Some(Frame::Map {
                entries,
                key,
                size: s,
                ..
            }) => {
                *s = s.saturating_add(size);
                match key.take() {
                    None => *key = Some(node),
                    Some(k) => entries.push((k, node)),
                }
            }
        }
    }
    Ok(FirstDocument { root, trailing })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `a: &a [x,x,...]`, `b: &b [*a,*a,...]`, ... : `levels` levels of `width`.
    pub(crate) fn bomb(levels: usize, width: usize) -> String {
        let names: Vec<String> = (0..levels).map(|i| format!("k{i}")).collect();
        let mut out = format!(
            "{}: &{} [{}]\n",
            names[0],
            names[0],
            vec!["x"; width].join(",")
        );
        for i in 1..levels {
            let refs = vec![format!("*{}", names[i - 1]); width].join(",");
            out.push_str(&format!("{}: &{} [{refs}]\n", names[i], names[i]));
        }
        out
    }

    #[test]
    fn ratio_matches_decode_go() {
        assert_eq!(allowed_alias_ratio(1000), 0.99);
        assert_eq!(allowed_alias_ratio(5_000_000), 0.10);
        let mid = allowed_alias_ratio(2_200_000);
        assert!((mid - 0.545).abs() < 1e-9, "{mid}");
    }

    #[test]
    fn alias_bomb_is_refused_where_it_explodes() {
        let e = parse(&bomb(9, 9)).unwrap_err();
        assert_eq!(e.message, "document contains excessive aliasing");
        assert!(!e.syntax);
        // 9 + 81 + 729 decodes: the fourth level tips the ratio over 99%
        assert_eq!(e.pos.line, 4, "{e:?}");
        // a few aliases in a real-sized file are fine
        assert!(parse(&bomb(3, 9)).is_ok());
    }

    #[test]
    fn self_reference_and_depth_are_refused() {
        let e = parse("a: &a [*a]\n").unwrap_err();
        assert!(e.message.contains("contains it"), "{e:?}");
        let deep = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        let e = parse(&deep).unwrap_err();
        assert_eq!(e.message, "exceeded max depth of 10000");
        let ok = "- ".repeat(MAX_DEPTH - 1) + "x\n";
        assert!(parse(&ok).unwrap().is_some());
    }
}
