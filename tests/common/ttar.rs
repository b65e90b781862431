//! A reader for "ttar" plain-text archives (github.com/ideaship/ttar, Apache-2.0), the
//! form in which the Prometheus projects keep their sysfs/procfs fixtures.
//!
//! The format, as the `ttar` script writes it: a `# ...` comment line opens the archive
//! and separates records; a record is
//! - `Directory: <path>` then `Mode: <octal>`;
//! - `Path: <path>` then `Lines: <n>`, the n lines of content, then `Mode: <octal>`;
//! - `Path: <path>` then `SymlinkTo: <target>` (no mode).
//!
//! Content lines are escaped: a NUL byte is written `NULLBYTE`, a last line without a
//! newline ends with `EOF`, and literal occurrences of those words in the file are
//! written `\NULLBYTE` and `\EOF`. Paths are relative to the directory the archive was
//! made in.

use std::collections::BTreeMap;
use std::path::{Component, Path};

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory, with its mode.
    Dir(u32),
    /// A regular file: contents and mode.
    File(Vec<u8>, u32),
    /// A symbolic link and its target, as stored.
    Symlink(String),
}

/// A parsed archive: path → member, in path order.
#[derive(Debug, Default)]
pub struct Archive {
    pub entries: BTreeMap<String, Entry>,
}

/// Unescapes one content line; returns its bytes and whether the original line ended
/// with a newline (`false` for the `EOF`-marked last line).
fn unescape(line: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(line.len());
    let mut newline = true;
    let mut i = 0;
    while i < line.len() {
        let rest = &line[i..];
        if rest.starts_with(b"\\NULLBYTE") {
            out.extend_from_slice(b"NULLBYTE");
            i += 9;
        } else if rest.starts_with(b"\\EOF") {
            out.extend_from_slice(b"EOF");
            i += 4;
        } else if rest.starts_with(b"NULLBYTE") {
            out.push(0);
            i += 8;
        } else if rest.starts_with(b"EOF") {
            // only ever written at the end of the last line; the script drops any
            // unescaped EOF, so do the same
            if i + 3 == line.len() {
                newline = false;
            }
            i += 3;
        } else {
            out.push(line[i]);
            i += 1;
        }
    }
    (out, newline)
}

fn parse_mode(s: &str, line_no: usize) -> Result<u32, String> {
    u32::from_str_radix(s.trim(), 8).map_err(|_| format!("line {line_no}: bad mode {s:?}"))
}

/// A member path must stay inside the directory it is extracted to.
fn check_path(p: &str, line_no: usize) -> Result<String, String> {
    let path = Path::new(p);
    if p.is_empty()
        || path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!("line {line_no}: unsafe member path {p:?}"));
    }
    Ok(p.trim_end_matches('/').to_string())
}

impl Archive {
    /// Parses the archive text.
    pub fn parse(bytes: &[u8]) -> Result<Archive, String> {
        let mut lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        let mut archive = Archive::default();
        // the member a `Mode:`/`Lines:`/`SymlinkTo:` line belongs to
        let mut current: Option<String> = None;
        let mut i = 0;
        while i < lines.len() {
            let line_no = i + 1;
            let text = String::from_utf8_lossy(lines[i]).into_owned();
            i += 1;
            if text.starts_with('#') {
                current = None;
            } else if let Some(p) = text.strip_prefix("Directory: ") {
                let p = check_path(p, line_no)?;
                archive.entries.insert(p.clone(), Entry::Dir(0o755));
                current = Some(p);
            } else if let Some(p) = text.strip_prefix("Path: ") {
                current = Some(check_path(p, line_no)?);
            } else if let Some(n) = text.strip_prefix("Lines: ") {
                let path = current
                    .clone()
                    .ok_or_else(|| format!("line {line_no}: Lines: without Path:"))?;
                let n: usize = n
                    .trim()
                    .parse()
                    .map_err(|_| format!("line {line_no}: bad line count {n:?}"))?;
                if i + n > lines.len() {
                    return Err(format!("line {line_no}: {n} lines announced, archive ends"));
                }
                let mut content = Vec::new();
                for l in &lines[i..i + n] {
                    let (bytes, newline) = unescape(l);
                    content.extend_from_slice(&bytes);
                    if newline {
                        content.push(b'\n');
                    }
                }
                i += n;
                archive.entries.insert(path, Entry::File(content, 0o644));
            } else if let Some(t) = text.strip_prefix("SymlinkTo: ") {
                let path = current
                    .take()
                    .ok_or_else(|| format!("line {line_no}: SymlinkTo: without Path:"))?;
                archive.entries.insert(path, Entry::Symlink(t.to_string()));
            } else if let Some(m) = text.strip_prefix("Mode: ") {
                let path = current
                    .as_ref()
                    .ok_or_else(|| format!("line {line_no}: Mode: without a member"))?;
                let mode = parse_mode(m, line_no)?;
                match archive.entries.get_mut(path) {
                    Some(Entry::Dir(m)) | Some(Entry::File(_, m)) => *m = mode,
                    _ => return Err(format!("line {line_no}: Mode: of {path:?}, not a member")),
                }
            } else if text.is_empty() {
                continue;
            } else {
                return Err(format!("line {line_no}: unknown keyword: {text:?}"));
            }
        }
        Ok(archive)
    }

    /// Reads and parses an archive file.
    pub fn open(path: &Path) -> Archive {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Archive::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Writes the members under `dest`. Files get their archived mode; directories keep
    /// owner rwx on top of theirs so the tree can be filled and removed again.
    pub fn materialize(&self, dest: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        for (path, entry) in &self.entries {
            let target = dest.join(path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            match entry {
                Entry::Dir(mode) => {
                    std::fs::create_dir_all(&target)?;
                    std::fs::set_permissions(
                        &target,
                        std::fs::Permissions::from_mode(mode | 0o700),
                    )?;
                }
                Entry::File(content, mode) => {
                    std::fs::write(&target, content)?;
                    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(*mode))?;
                }
                Entry::Symlink(to) => std::os::unix::fs::symlink(to, &target)?,
            }
        }
        Ok(())
    }

    /// Resolves every symlink in a member path, like `realpath` inside the archive.
    /// `None` when a component is missing or a link leaves the archive.
    pub fn resolve(&self, path: &str) -> Option<String> {
        let mut resolved: Vec<String> = Vec::new();
        let mut pending: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut hops = 0;
        while let Some(c) = pending.pop() {
            match c.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop()?;
                    continue;
                }
                _ => resolved.push(c),
            }
            if let Entry::Symlink(to) = self.entries.get(&resolved.join("/"))? {
                hops += 1;
                if hops > 40 || to.starts_with('/') {
                    return None;
                }
                resolved.pop();
                pending.extend(
                    to.split('/')
                        .filter(|c| !c.is_empty())
                        .rev()
                        .map(str::to_string),
                );
            }
        }
        Some(resolved.join("/"))
    }

    /// The member a path names after following links.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(&self.resolve(path)?)
    }

    /// The contents of a file, trimmed of surrounding whitespace and NULs.
    pub fn text(&self, path: &str) -> Option<String> {
        match self.get(path)? {
            Entry::File(c, _) => Some(
                String::from_utf8_lossy(c)
                    .trim_matches(|ch: char| ch.is_whitespace() || ch == '\0')
                    .to_string(),
            ),
            _ => None,
        }
    }

    /// The last component of a symlink's stored target (`driver` → `nvme`), without
    /// following it (a driver link points outside most fixtures).
    pub fn link_name(&self, path: &str) -> Option<String> {
        let (dir, name) = path.rsplit_once('/')?;
        let real = format!("{}/{name}", self.resolve(dir)?);
        match self.entries.get(&real)? {
            Entry::Symlink(to) => to
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .map(str::to_string),
            _ => None,
        }
    }

    /// Names directly under a directory (after following links).
    pub fn children(&self, dir: &str) -> Vec<String> {
        let Some(real) = self.resolve(dir) else {
            return Vec::new();
        };
        let prefix = format!("{real}/");
        self.entries
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.contains('/'))
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive exercising every rule of the format, in the script's own layout.
    const SAMPLE: &[u8] = b"# Archive created by ttar -c -f x.ttar sys\n\
Directory: sys\n\
Mode: 755\n\
# ttar - - -\n\
Path: sys/plain\n\
Lines: 2\n\
first\n\
second\n\
Mode: 644\n\
# ttar - - -\n\
Path: sys/noeol\n\
Lines: 1\n\
mpathAEOF\n\
Mode: 444\n\
# ttar - - -\n\
Path: sys/nuls\n\
Lines: 1\n\
vimNULLBYTEtest.goNULLBYTE+10NULLBYTEEOF\n\
Mode: 644\n\
# ttar - - -\n\
Path: sys/words\n\
Lines: 2\n\
literal \\EOF and \\NULLBYTE\n\
NULLBYTENULLBYTE\n\
Mode: 644\n\
# ttar - - -\n\
Path: sys/empty\n\
Lines: 0\n\
Mode: 200\n\
# ttar - - -\n\
Path: sys/link\n\
SymlinkTo: ../sys/plain\n\
# ttar - - -\n";

    #[test]
    fn decodes_every_escape() {
        let a = Archive::parse(SAMPLE).unwrap();
        let file = |p: &str| match &a.entries[p] {
            Entry::File(c, m) => (c.clone(), *m),
            e => panic!("{p}: {e:?}"),
        };
        assert_eq!(a.entries["sys"], Entry::Dir(0o755));
        assert_eq!(file("sys/plain"), (b"first\nsecond\n".to_vec(), 0o644));
        assert_eq!(file("sys/noeol"), (b"mpathA".to_vec(), 0o444));
        assert_eq!(file("sys/nuls").0, b"vim\0test.go\0+10\0".to_vec());
        assert_eq!(
            file("sys/words").0,
            b"literal EOF and NULLBYTE\n\0\0\n".to_vec()
        );
        assert_eq!(file("sys/empty"), (Vec::new(), 0o200));
        assert_eq!(a.entries["sys/link"], Entry::Symlink("../sys/plain".into()));
        assert_eq!(a.resolve("sys/link").as_deref(), Some("sys/plain"));
        assert_eq!(a.text("sys/link").as_deref(), Some("first\nsecond"));
        assert_eq!(a.link_name("sys/link").as_deref(), Some("plain"));
        assert_eq!(a.resolve("sys/../.."), None);
        assert_eq!(a.children("sys").len(), 6);
    }

    #[test]
    fn rejects_malformed_archives() {
        assert!(Archive::parse(b"Lines: 1\nx\n").is_err());
        assert!(Archive::parse(b"Path: a\nLines: 3\nx\n").is_err());
        assert!(Archive::parse(b"Path: ../escape\nLines: 0\n").is_err());
        assert!(Archive::parse(b"Path: /abs\nLines: 0\n").is_err());
        assert!(Archive::parse(b"Bogus: 1\n").is_err());
    }

    #[test]
    fn materializes_files_dirs_and_links() {
        let a = Archive::parse(SAMPLE).unwrap();
        let dir = super::super::scratch("ttar-unit");
        a.materialize(&dir).unwrap();
        assert_eq!(
            std::fs::read(dir.join("sys/nuls")).unwrap(),
            b"vim\0test.go\0+10\0"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("sys/link")).unwrap(),
            "first\nsecond\n"
        );
        assert!(dir.join("sys").is_dir());
    }
}
