//! Splits a byte stream into JSON documents, line by line, without holding more than the
//! documents still being assembled.
//!
//! Accepted shapes, mixed freely:
//! - one JSON document per line (JSON lines) or pretty-printed documents one after the
//!   other (`check --format json` output concatenated);
//! - `clush`/`pdsh` output, where every line carries a `host: ` prefix — one-line
//!   documents and pretty-printed ones alike, with the lines of different hosts
//!   interleaved: lines are grouped per prefix, each group assembling its own document;
//! - the header blocks of `clush -b` (a line of dashes, `node[01-03] (3)`, dashes),
//!   which are skipped.
//!
//! A document ends when its braces balance (strings and escapes are tracked). A line
//! starting with `{` in the first column while a document of the same group is still
//! open starts a new document and the open one is reported truncated (pretty-printed
//! documents indent every inner brace, and JSON lines have a whole document per line).

use std::collections::HashMap;

/// What the splitter found.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A complete document (braces balanced), for the group `prefix` (`None`: no
    /// `host: ` prefix), starting at `line` of the input.
    Document {
        /// The `host` of a `host: ` prefix.
        prefix: Option<&'a str>,
        /// First line of the document (1-based).
        line: u64,
        /// The document's bytes.
        bytes: &'a [u8],
    },
    /// Input that is not (part of) a document, or a document cut short.
    Problem {
        /// The `host` of a `host: ` prefix.
        prefix: Option<&'a str>,
        /// Line of the input (1-based).
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// A document being assembled.
#[derive(Debug, Default)]
struct Pending {
    buf: Vec<u8>,
    depth: u32,
    in_string: bool,
    escaped: bool,
    start_line: u64,
}

impl Pending {
    fn is_open(&self) -> bool {
        !self.buf.is_empty()
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
    }

    /// Feeds bytes; returns the index just past the byte that closed the document.
    fn scan(&mut self, bytes: &[u8]) -> Option<usize> {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // most of a report's bytes are inside strings: jump to the next quote or
                // backslash instead of looking at every byte
                match memchr::memchr2(b'"', b'\\', &bytes[i..]) {
                    None => return None,
                    Some(k) => {
                        i += k;
                        if bytes[i] == b'\\' {
                            self.escaped = true;
                        } else {
                            self.in_string = false;
                        }
                        i += 1;
                        continue;
                    }
                }
            }
            match bytes[i] {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        None
    }
}

/// The `host` of a `host: rest` line, and `rest`. Host names are letters, digits, `.`,
/// `-` and `_`, starting with a letter or digit (what clush and pdsh print).
pub fn split_prefix(line: &[u8]) -> Option<(&str, &[u8])> {
    let colon = line.iter().position(|&c| c == b':')?;
    let host = &line[..colon];
    let first = *host.first()?;
    if !first.is_ascii_alphanumeric()
        || !host
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
    {
        return None;
    }
    let rest = &line[colon + 1..];
    let rest = rest.strip_prefix(b" ").unwrap_or(rest);
    // `host:` then text: a host. (A JSON line starts with `{`, never with a host name.)
    Some((std::str::from_utf8(host).ok()?, rest))
}

/// `clush -b` header lines: `-----`, `node[01-03] (3)`.
fn is_clush_header(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if !t.is_empty() && t.iter().all(|&c| c == b'-') {
        return true;
    }
    // `nodeset (count)`
    if let Some(open) = t.iter().rposition(|&c| c == b'(') {
        let (set, count) = t.split_at(open);
        return t.ends_with(b")")
            && count.len() > 2
            && count[1..count.len() - 1].iter().all(u8::is_ascii_digit)
            && set.ends_with(b" ")
            && !set.trim_ascii().is_empty()
            && !set.trim_ascii().contains(&b' ')
            && !set.contains(&b'{')
            && !set.contains(&b'"');
    }
    false
}

/// Line splitter: feed it lines, it calls back with documents and problems.
#[derive(Debug, Default)]
pub struct Splitter {
    unprefixed: Pending,
    prefixed: HashMap<String, Pending>,
    line: u64,
}

impl Splitter {
    /// A splitter at line 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one line (without its `\n`; a trailing `\r` is ignored).
    pub fn line(&mut self, raw: &[u8], mut out: impl FnMut(Piece<'_>)) {
        self.line += 1;
        let line_no = self.line;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        // inside an unprefixed pretty-printed document, lines belong to it (its own
        // `"key": value` lines would otherwise look like prefixes) unless a new
        // document starts in column 0
        if self.unprefixed.is_open() && !raw.starts_with(b"{") {
            feed(&mut self.unprefixed, None, raw, line_no, &mut out);
            return;
        }
        match split_prefix(raw) {
            Some((host, rest)) if !raw.starts_with(b"{") => {
                if !self.prefixed.contains_key(host) {
                    self.prefixed.insert(host.to_string(), Pending::default());
                }
                if let Some(pending) = self.prefixed.get_mut(host) {
                    feed(pending, Some(host), rest, line_no, &mut out);
                }
            }
            _ => {
                if !self.unprefixed.is_open() && is_clush_header(raw) {
                    return;
                }
                feed(&mut self.unprefixed, None, raw, line_no, &mut out);
            }
        }
    }

    /// End of input: documents still open are truncated.
    pub fn finish(&mut self, mut out: impl FnMut(Piece<'_>)) {
        if self.unprefixed.is_open() {
            out(truncated(None, &self.unprefixed));
            self.unprefixed.reset();
        }
        let mut open: Vec<(&String, &Pending)> =
            self.prefixed.iter().filter(|(_, p)| p.is_open()).collect();
        open.sort_by(|a, b| a.0.cmp(b.0));
        for (host, p) in open {
            out(truncated(Some(host), p));
        }
        self.prefixed.clear();
    }
}

fn truncated<'a>(prefix: Option<&'a str>, p: &Pending) -> Piece<'a> {
    Piece::Problem {
        prefix,
        line: p.start_line,
        message: format!(
            "truncated report: input ended after {} bytes with {} unclosed bracket(s)",
            p.buf.len(),
            p.depth
        ),
    }
}

/// Feeds a line's payload to one group's pending document.
fn feed(
    p: &mut Pending,
    prefix: Option<&str>,
    mut payload: &[u8],
    line_no: u64,
    out: &mut impl FnMut(Piece<'_>),
) {
    if p.is_open() && payload.starts_with(b"{") {
        out(truncated(prefix, p));
        p.reset();
    }
    loop {
        if !p.is_open() {
            let t = payload.trim_ascii_start();
            if t.is_empty() {
                return;
            }
            if !t.starts_with(b"{") {
                let text = String::from_utf8_lossy(t.trim_ascii_end());
                let shown: String = text.chars().take(120).collect();
                out(Piece::Problem {
                    prefix,
                    line: line_no,
                    message: format!("not a JSON report: {shown:?}"),
                });
                return;
            }
            payload = t;
            p.start_line = line_no;
        }
        match p.scan(payload) {
            Some(end) => {
                p.buf.extend_from_slice(&payload[..end]);
                out(Piece::Document {
                    prefix,
                    line: p.start_line,
                    bytes: &p.buf,
                });
                p.reset();
                payload = &payload[end..];
            }
            None => {
                p.buf.extend_from_slice(payload);
                p.buf.push(b'\n');
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (prefix, line, document text or "!problem")
    fn split(input: &str) -> Vec<(Option<String>, u64, String)> {
        let mut s = Splitter::new();
        let mut got = Vec::new();
        let mut push = |p: Piece<'_>| match p {
            Piece::Document {
                prefix,
                line,
                bytes,
            } => got.push((
                prefix.map(String::from),
                line,
                String::from_utf8_lossy(bytes).into_owned(),
            )),
            Piece::Problem {
                prefix,
                line,
                message,
            } => got.push((prefix.map(String::from), line, format!("!{message}"))),
        };
        for l in input.split('\n') {
            s.line(l.as_bytes(), &mut push);
        }
        s.finish(&mut push);
        got
    }

    #[test]
    fn json_lines_and_pretty_documents() {
        let got = split("{\"a\":1}\n{\"b\":\"}{\"}\n{\n  \"c\": {\n    \"d\": [1]\n  }\n}\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (None, 1, "{\"a\":1}".into()));
        assert_eq!(got[1], (None, 2, "{\"b\":\"}{\"}".into()));
        assert_eq!(got[2].1, 3);
        let v: serde_json::Value = serde_json::from_str(&got[2].2).unwrap();
        assert_eq!(v["c"]["d"][0], 1);
    }

    #[test]
    fn prefixed_lines_are_grouped_per_host_even_interleaved() {
        let input = "n01: {\nn02: {\"x\": 2}\nn01:   \"k\": \"v: w\",\nn03: ssh: connect to host n03 port 22: Connection refused\nn01:   \"n\": 1\nn01: }\n";
        let got = split(input);
        assert_eq!(got[0], (Some("n02".into()), 2, "{\"x\": 2}".into()));
        assert_eq!(got[1].0.as_deref(), Some("n03"));
        assert!(got[1].2.starts_with("!not a JSON report"), "{:?}", got[1]);
        assert_eq!(got[2].0.as_deref(), Some("n01"));
        assert_eq!(got[2].1, 1);
        let v: serde_json::Value = serde_json::from_str(&got[2].2).unwrap();
        assert_eq!(v["k"], "v: w");
        assert_eq!(got.len(), 3);
    }

    #[test]
    fn truncated_documents_are_reported_and_do_not_swallow_the_next() {
        let got =
            split("{\"a\":[1,2\n{\"b\":1}\nn1: {\"c\":\nn1: {\"d\":1}\nn2: {\"e\": \"unterminated");
        let problems: Vec<_> = got.iter().filter(|g| g.2.starts_with('!')).collect();
        let docs: Vec<_> = got.iter().filter(|g| !g.2.starts_with('!')).collect();
        assert_eq!(docs.len(), 2, "{got:?}");
        assert_eq!(docs[0].2, "{\"b\":1}");
        assert_eq!(docs[1].2, "{\"d\":1}");
        assert_eq!(problems.len(), 3, "{got:?}");
        assert!(problems.iter().all(|p| p.2.contains("truncated")));
        assert_eq!(problems[2].0.as_deref(), Some("n2"));
    }

    #[test]
    fn clush_gathered_headers_are_skipped() {
        let got = split("---------------\nnode[01-02] (2)\n---------------\n{\"a\":1}\n");
        assert_eq!(got, vec![(None, 4, "{\"a\":1}".into())]);
        assert!(is_clush_header(b"node01 (1)"));
        assert!(!is_clush_header(b"\"a\": (1)"));
    }

    #[test]
    fn prefixes() {
        assert_eq!(split_prefix(b"node01: {}"), Some(("node01", &b"{}"[..])));
        assert_eq!(split_prefix(b"  \"a\": 1"), None);
        assert_eq!(split_prefix(b"{\"a\": 1}"), None);
        assert_eq!(split_prefix(b"a.b-c_d:x"), Some(("a.b-c_d", &b"x"[..])));
    }
}
