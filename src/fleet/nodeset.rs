//! Host lists folded in ClusterShell nodeset syntax (`node[001-004,010]`), the spelling
//! `clush -w` and `pdsh -w` take back, and the natural order of host names.
//!
//! Names with several numbers are folded on one of them: among names of the same shape
//! (the same text between the numbers), the *last number that varies*, so
//! `da[1-3]-ib0` and `rack1-node[01-04],rack2-node[01-04]` (the last one when several
//! vary). The other numbers stay literal. Zero padding is kept: a range started by a
//! padded number continues only with numbers of that width (`node[01-10]`, but `node1`
//! and `node01` stay apart).

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A host name split around its last number: `("rack1-node", Some("007"), "-ib")`.
fn split_last_number(name: &str) -> (&str, Option<&str>, &str) {
    let b = name.as_bytes();
    let Some(end) = b.iter().rposition(u8::is_ascii_digit).map(|i| i + 1) else {
        return (name, None, "");
    };
    let start = b[..end]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    (&name[..start], Some(&name[start..end]), &name[end..])
}

/// Width a number is padded to: its length when it has a leading zero, else 0 (natural).
fn pad_width(digits: &str) -> usize {
    if digits.len() > 1 && digits.starts_with('0') {
        digits.len()
    } else {
        0
    }
}

fn format_padded(v: u128, width: usize) -> String {
    format!("{v:0width$}")
}

/// Natural order of host names: prefix, then the last number by value, then the rest
/// (`node2` before `node10`).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (pa, na, sa) = split_last_number(a);
    let (pb, nb, sb) = split_last_number(b);
    let value = |n: Option<&str>| n.and_then(|d| d.parse::<u128>().ok());
    pa.cmp(pb)
        .then_with(|| sa.cmp(sb))
        .then_with(|| value(na).cmp(&value(nb)))
        .then_with(|| a.cmp(b))
}

/// Byte ranges of the runs of digits in `name`.
fn digit_runs(name: &str) -> Vec<(usize, usize)> {
    let b = name.as_bytes();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    runs
}

/// The shape of a name: its text with every number replaced by `#`.
fn shape(name: &str, runs: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(name.len());
    let mut last = 0;
    for &(s, e) in runs {
        out.push_str(&name[last..s]);
        out.push('#');
        last = e;
    }
    out.push_str(&name[last..]);
    out
}

/// Splits each name around the number it is folded on (see the module docs).
fn split_for_folding<'a>(names: &[&'a str]) -> Vec<(&'a str, Option<&'a str>, &'a str)> {
    let runs: Vec<Vec<(usize, usize)>> = names.iter().map(|n| digit_runs(n)).collect();
    let shapes: Vec<String> = names.iter().zip(&runs).map(|(n, r)| shape(n, r)).collect();
    // per shape: the last number position whose digits are not the same in every name
    let mut first_seen: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut varying: BTreeMap<&str, Vec<bool>> = BTreeMap::new();
    for ((name, r), sh) in names.iter().zip(&runs).zip(&shapes) {
        let digits: Vec<&str> = r.iter().map(|&(s, e)| &name[s..e]).collect();
        match first_seen.get(sh.as_str()) {
            None => {
                varying.insert(sh, vec![false; digits.len()]);
                first_seen.insert(sh, digits);
            }
            Some(first) => {
                if let Some(v) = varying.get_mut(sh.as_str()) {
                    for (k, d) in digits.iter().enumerate() {
                        if first.get(k) != Some(d)
                            && let Some(flag) = v.get_mut(k)
                        {
                            *flag = true;
                        }
                    }
                }
            }
        }
    }
    names
        .iter()
        .zip(&runs)
        .zip(&shapes)
        .map(|((name, r), sh)| {
            let pos = varying
                .get(sh.as_str())
                .and_then(|v| v.iter().rposition(|&x| x))
                .or_else(|| r.len().checked_sub(1));
            match pos.and_then(|k| r.get(k)) {
                Some(&(s, e)) => (&name[..s], Some(&name[s..e]), &name[e..]),
                None => (*name, None, ""),
            }
        })
        .collect()
}

/// Folds host names into a nodeset (`node[001-004,010],login1`). Duplicates are
/// folded away; the order of groups is by prefix and suffix.
pub fn fold<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    // (prefix, suffix) → numbers as (value, digits); names without digits on their own
    let mut groups: BTreeMap<(&str, &str), Vec<(u128, &str)>> = BTreeMap::new();
    let mut plain: Vec<&str> = Vec::new();
    for (split, name) in split_for_folding(&names).into_iter().zip(&names) {
        match split {
            (prefix, Some(digits), suffix) => match digits.parse::<u128>() {
                Ok(v) => groups
                    .entry((prefix, suffix))
                    .or_default()
                    .push((v, digits)),
                Err(_) => plain.push(*name), // more digits than u128: leave as is
            },
            _ => plain.push(*name),
        }
    }
    let mut parts: Vec<(String, String)> = Vec::new(); // (sort key, text)
    for ((prefix, suffix), mut nums) in groups {
        nums.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.len().cmp(&b.1.len())));
        nums.dedup_by(|a, b| a.1 == b.1);
        let mut ranges: Vec<String> = Vec::new();
        let mut i = 0;
        while i < nums.len() {
            let (start, digits) = nums[i];
            let width = pad_width(digits);
            let mut end = start;
            let mut j = i + 1;
            while j < nums.len()
                && nums[j].0 == end + 1
                && format_padded(nums[j].0, width) == nums[j].1
            {
                end = nums[j].0;
                j += 1;
            }
            if end == start {
                ranges.push(digits.to_string());
            } else {
                ranges.push(format!(
                    "{}-{}",
                    format_padded(start, width),
                    format_padded(end, width)
                ));
            }
            i = j;
        }
        let text = if nums.len() == 1 {
            format!("{prefix}{}{suffix}", ranges[0])
        } else {
            format!("{prefix}[{}]{suffix}", ranges.join(","))
        };
        parts.push((format!("{prefix}\u{0}{suffix}"), text));
    }
    plain.sort_unstable();
    plain.dedup();
    for p in plain {
        parts.push((p.to_string(), p.to_string()));
    }
    parts.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> String {
        fold(names.iter().copied())
    }

    // Expected strings are what ClusterShell's `nodeset -f` prints for the same input
    // (ClusterShell 1.9 documentation, "nodeset folding").
    #[test]
    fn folds_ranges_and_keeps_padding() {
        assert_eq!(
            f(&["node001", "node002", "node003", "node004", "node010"]),
            "node[001-004,010]"
        );
        assert_eq!(f(&["node3", "node1", "node2"]), "node[1-3]");
        assert_eq!(f(&["node09", "node10", "node11"]), "node[09-11]");
        assert_eq!(f(&["node9", "node10"]), "node[9-10]");
        assert_eq!(f(&["node1", "node01"]), "node[1,01]");
        assert_eq!(f(&["node5"]), "node5");
        assert_eq!(f(&["node5", "node5"]), "node5");
        assert_eq!(f(&[]), "");
    }

    #[test]
    fn folds_on_the_last_number_with_several_groups() {
        assert_eq!(
            f(&["rack1-node01", "rack1-node02", "rack2-node01"]),
            "rack1-node[01-02],rack2-node01"
        );
        assert_eq!(f(&["da1-ib0", "da2-ib0", "da3-ib0"]), "da[1-3]-ib0");
        assert_eq!(
            f(&["r1n1", "r1n2", "r2n1", "r2n2"]),
            "r1n[1-2],r2n[1-2]",
            "several numbers vary: fold on the last"
        );
        assert_eq!(f(&["n1.ib", "n2.ib", "n4.ib"]), "n[1-2,4].ib");
    }

    #[test]
    fn names_without_numbers_and_mixed_prefixes() {
        assert_eq!(
            f(&["login", "node2", "io01", "node1", "io02"]),
            "io[01-02],login,node[1-2]"
        );
    }

    #[test]
    fn natural_order() {
        let mut v = vec!["node10", "node2", "node1", "io3"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["io3", "node1", "node2", "node10"]);
        assert_eq!(
            split_last_number("rack1-node007-ib"),
            ("rack1-node", Some("007"), "-ib")
        );
    }
}
