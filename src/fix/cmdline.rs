//! Pure edits of the persistent kernel command line: `GRUB_CMDLINE_LINUX` in
//! `/etc/default/grub` and the `options` of BLS entries / `kernelopts` of grubenv.
//!
//! Rules (what an admin would do by hand): a wanted `key=value` replaces the first
//! occurrence of `key` in place (so `intel_iommu=off` becomes `intel_iommu=on` where it
//! stood), later duplicates of `key` are dropped (the kernel takes the last one, so a
//! stale duplicate would silently win), and a missing key is appended. Nothing else in
//! the file changes, byte for byte. Text that can't be edited safely (a line continuation,
//! an unterminated quote, command substitution) is an error naming the line: we never
//! guess at shell syntax in a file that decides whether the machine boots.

use std::fmt;

/// A kernel parameter we want on the command line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelArg {
    /// Parameter name (`intel_iommu`).
    pub key: String,
    /// Value (`on`); `None` for a bare flag.
    pub value: Option<String>,
}

impl KernelArg {
    /// Parses `key=value` or `key`.
    pub fn parse(s: &str) -> KernelArg {
        match s.split_once('=') {
            Some((k, v)) => KernelArg {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => KernelArg {
                key: s.to_string(),
                value: None,
            },
        }
    }
}

impl fmt::Display for KernelArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={}", self.key, v),
            None => f.write_str(&self.key),
        }
    }
}

/// Why a file could not be edited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

impl fmt::Display for EditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for EditError {}

fn key_of(token: &str) -> &str {
    token.split_once('=').map(|(k, _)| k).unwrap_or(token)
}

/// Applies `want` to a whitespace-separated argument string. Returns the new string, or
/// `None` when it already holds every wanted argument exactly once.
pub fn edit_args(args: &str, want: &[KernelArg]) -> Option<String> {
    let mut tokens: Vec<String> = args.split_whitespace().map(str::to_string).collect();
    let mut changed = false;
    for w in want {
        let wanted = w.to_string();
        let positions: Vec<usize> = tokens
            .iter()
            .enumerate()
            .filter(|(_, t)| key_of(t) == w.key)
            .map(|(i, _)| i)
            .collect();
        match positions.first() {
            None => {
                tokens.push(wanted);
                changed = true;
            }
            Some(&first) => {
                if tokens[first] != wanted {
                    tokens[first] = wanted;
                    changed = true;
                }
                for &i in positions[1..].iter().rev() {
                    tokens.remove(i);
                    changed = true;
                }
            }
        }
    }
    changed.then(|| tokens.join(" "))
}

/// The arguments a key currently has in an argument string (all occurrences, in order).
pub fn values_of<'a>(args: &'a str, key: &str) -> Vec<&'a str> {
    args.split_whitespace()
        .filter(|t| key_of(t) == key)
        .collect()
}

/// One shell assignment `NAME=value` found in a file, with how its value was quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Assignment {
    line: usize,
    prefix: String,
    quote: Option<char>,
    value: String,
    suffix: String,
}

fn parse_assignment(
    line_no: usize,
    line: &str,
    name: &str,
) -> Result<Option<Assignment>, EditError> {
    let trimmed = line.trim_start();
    let lead = &line[..line.len() - trimmed.len()];
    let rest = trimmed
        .strip_prefix("export ")
        .map(str::trim_start)
        .unwrap_or(trimmed);
    let Some(after) = rest.strip_prefix(name).and_then(|r| r.strip_prefix('=')) else {
        return Ok(None);
    };
    let prefix = format!("{}{}=", lead, &trimmed[..trimmed.len() - after.len() - 1]);
    let err = |reason: &str| EditError {
        line: line_no,
        reason: format!("{name}: {reason}; edit it by hand"),
    };
    if line.trim_end().ends_with('\\') {
        return Err(err("line continuation is not supported"));
    }
    if after.contains("$(") || after.contains('`') {
        return Err(err("command substitution in the value"));
    }
    let (quote, value, suffix) = match after.chars().next() {
        Some(q @ ('"' | '\'')) => {
            let body = &after[1..];
            let end = body.find(q).ok_or_else(|| err("unterminated quote"))?;
            let value = &body[..end];
            if q == '"' && value.ends_with('\\') {
                return Err(err("escaped quote in the value"));
            }
            (Some(q), value.to_string(), body[end + 1..].to_string())
        }
        _ => {
            let end = after.find(char::is_whitespace).unwrap_or(after.len());
            (None, after[..end].to_string(), after[end..].to_string())
        }
    };
    Ok(Some(Assignment {
        line: line_no,
        prefix,
        quote,
        value,
        suffix,
    }))
}

/// Edits `/etc/default/grub`: applies `want` to the last `GRUB_CMDLINE_LINUX=` (the one
/// the shell ends up with). Without one, appends `GRUB_CMDLINE_LINUX="..."`. Returns
/// `Ok(None)` when nothing needs to change.
pub fn edit_default_grub(text: &str, want: &[KernelArg]) -> Result<Option<String>, EditError> {
    const NAME: &str = "GRUB_CMDLINE_LINUX";
    let mut last: Option<Assignment> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        if let Some(a) = parse_assignment(i + 1, line, NAME)? {
            last = Some(a);
        }
    }
    match last {
        None => {
            let args: Vec<String> = want.iter().map(KernelArg::to_string).collect();
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{NAME}=\"{}\"\n", args.join(" ")));
            Ok(Some(out))
        }
        Some(a) => {
            let Some(new_value) = edit_args(&a.value, want) else {
                return Ok(None);
            };
            let q = a.quote.unwrap_or('"');
            if new_value.contains(q) {
                return Err(EditError {
                    line: a.line,
                    reason: format!("{NAME}: the new value would need escaping; edit it by hand"),
                });
            }
            let new_line = format!("{}{q}{new_value}{q}{}", a.prefix, a.suffix);
            let mut out = String::with_capacity(text.len() + 32);
            for (i, line) in text.split_inclusive('\n').enumerate() {
                if i + 1 == a.line {
                    out.push_str(&new_line);
                    if line.ends_with('\n') {
                        out.push('\n');
                    }
                } else {
                    out.push_str(line);
                }
            }
            Ok(Some(out))
        }
    }
}

/// The kernel arguments of a BLS entry (`options ...` line of
/// `/boot/loader/entries/*.conf`), with `$kernelopts` expanded from grubenv when given.
pub fn bls_options(entry: &str, kernelopts: Option<&str>) -> Option<String> {
    let line = entry
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("options"))?;
    let expanded: Vec<&str> = line
        .split_whitespace()
        .flat_map(|t| match (t, kernelopts) {
            ("$kernelopts", Some(k)) => k.split_whitespace().collect::<Vec<_>>(),
            _ => vec![t],
        })
        .collect();
    Some(expanded.join(" "))
}

/// The `kernelopts=` value of a grubenv file (EL8 before 8.? kept the command line there).
pub fn grubenv_kernelopts(grubenv: &str) -> Option<String> {
    grubenv
        .lines()
        .find_map(|l| l.strip_prefix("kernelopts="))
        .map(|s| s.trim_end_matches('#').trim().to_string())
}

/// A unified diff of two texts, whole-file context-free (for `fix --dry-run`): lines
/// removed with `-`, added with `+`, unchanged ones omitted except around changes.
pub fn line_diff(path: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // common prefix/suffix are enough for the edits we make (one line changed or added)
    let pre = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let mut out = format!("--- {path}\n+++ {path} (new)\n@@ line {} @@\n", pre + 1);
    if pre > 0 {
        out.push_str(&format!(" {}\n", a[pre - 1]));
    }
    for l in &a[pre..a.len() - suf] {
        out.push_str(&format!("-{l}\n"));
    }
    for l in &b[pre..b.len() - suf] {
        out.push_str(&format!("+{l}\n"));
    }
    if suf > 0 {
        out.push_str(&format!(" {}\n", a[a.len() - suf]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(s: &str) -> Vec<KernelArg> {
        s.split_whitespace().map(KernelArg::parse).collect()
    }

    #[test]
    fn args_replace_in_place_dedupe_and_append() {
        assert_eq!(
            edit_args(
                "ro quiet intel_iommu=off rhgb",
                &want("intel_iommu=on iommu=pt")
            )
            .as_deref(),
            Some("ro quiet intel_iommu=on rhgb iommu=pt")
        );
        assert_eq!(
            edit_args("intel_iommu=on ro intel_iommu=on", &want("intel_iommu=on")).as_deref(),
            Some("intel_iommu=on ro")
        );
        assert_eq!(
            edit_args(
                "ro intel_iommu=on iommu=pt",
                &want("iommu=pt intel_iommu=on")
            ),
            None
        );
        // the kernel takes the last occurrence: a trailing off must not survive
        assert_eq!(
            edit_args("intel_iommu=on intel_iommu=off", &want("intel_iommu=on")).as_deref(),
            Some("intel_iommu=on")
        );
        assert_eq!(values_of("a=1 b a=2", "a"), vec!["a=1", "a=2"]);
    }

    /// tests/fixtures/grub/<case>/{before,after,error}: hand-written expectations.
    #[test]
    fn default_grub_golden_cases() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/grub");
        let mut cases = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let case = entry.unwrap().path();
            if !case.is_dir() {
                continue;
            }
            cases += 1;
            let before = std::fs::read_to_string(case.join("before")).unwrap();
            let result = edit_default_grub(&before, &want("intel_iommu=on iommu=pt"));
            let name = case.display();
            if let Ok(err) = std::fs::read_to_string(case.join("error")) {
                let e = result.expect_err(&format!("{name}: must be refused"));
                assert!(e.to_string().contains(err.trim()), "{name}: {e}");
            } else if let Ok(after) = std::fs::read_to_string(case.join("after")) {
                let got = result
                    .unwrap()
                    .unwrap_or_else(|| panic!("{name}: unchanged"));
                assert_eq!(got, after, "{name}");
                // idempotent: applying again changes nothing
                assert_eq!(
                    edit_default_grub(&got, &want("intel_iommu=on iommu=pt")).unwrap(),
                    None,
                    "{name}"
                );
            } else {
                assert_eq!(result.unwrap(), None, "{name}: must be left unchanged");
            }
        }
        assert!(cases >= 8, "found {cases} cases");
    }

    #[test]
    fn bls_and_grubenv() {
        let entry = "title AlmaLinux (4.18.0-513.5.1.el8_9.x86_64) 8.9\nversion 4.18.0-513.5.1.el8_9.x86_64\nlinux /vmlinuz-4.18.0-513.5.1.el8_9.x86_64\ninitrd /initramfs-4.18.0-513.5.1.el8_9.x86_64.img $tuned_initrd\noptions $kernelopts $tuned_params\nid almalinux-20231113\n";
        let env = "# GRUB Environment Block\nsaved_entry=x\nkernelopts=root=/dev/mapper/almalinux-root ro crashkernel=auto rhgb quiet \n################";
        let k = grubenv_kernelopts(env).unwrap();
        assert_eq!(
            k,
            "root=/dev/mapper/almalinux-root ro crashkernel=auto rhgb quiet"
        );
        assert_eq!(
            bls_options(entry, Some(&k)).unwrap(),
            "root=/dev/mapper/almalinux-root ro crashkernel=auto rhgb quiet $tuned_params"
        );
        assert_eq!(bls_options("title x\n", None), None);
    }

    #[test]
    fn diff_shows_the_changed_line_with_context() {
        let d = line_diff("/etc/default/grub", "A=1\nB=2\nC=3\n", "A=1\nB=3\nC=3\n");
        assert_eq!(
            d,
            "--- /etc/default/grub\n+++ /etc/default/grub (new)\n@@ line 2 @@\n A=1\n-B=2\n+B=3\n C=3\n"
        );
    }
}
