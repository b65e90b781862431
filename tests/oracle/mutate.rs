//! Seeded, deterministic mutations of real DAOS config files: the mistakes a person
//! makes when editing daos_server.yml, daos_agent.yml or daos_control.yml. No rand
//! crate: a SplitMix64 generator, seeded per (release, index), so a failing case is
//! reproduced from its seed alone.

use super::values::{BAD_PCI, BOUNDARY_NUMBERS, UNKNOWN_KEYS, values_for};

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// A YAML key line: indentation, key, rest (after the colon).
fn split_key(line: &str) -> Option<(usize, &str, &str)> {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    let t2 = t.strip_prefix("- ").unwrap_or(t);
    if t2.starts_with('#') {
        return None;
    }
    let colon = t2.find(':')?;
    let key = &t2[..colon];
    if key.is_empty() || key.contains(' ') || key.contains('"') || key.contains('\'') {
        return None;
    }
    Some((indent, key, &t2[colon + 1..]))
}

/// Environment variable lines inside env_vars, e.g. `- DD_MASK=all`.
fn env_var(line: &str) -> Option<&str> {
    let t = line.trim_start().strip_prefix("- ")?;
    let eq = t.find('=')?;
    let k = &t[..eq];
    k.chars()
        .all(|c| c.is_ascii_uppercase() || c == '_')
        .then_some(k)
}

fn indent_of(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

/// The end (exclusive) of the block a key line at `at` opens: the lines indented deeper
/// (and, for a key not in a list item, the `- ` items at the same indentation).
fn block_end(lines: &[&str], at: usize, indent: usize, dash: bool) -> usize {
    let mut end = at + 1;
    while end < lines.len() {
        let l = lines[end];
        let ind = indent_of(l);
        if l.trim().is_empty()
            || l.trim_start().starts_with('#')
            || ind > indent
            || (ind == indent && l.trim_start().starts_with("- ") && !dash)
            || (ind == indent && l.trim() == "-" && !dash)
        {
            end += 1;
        } else {
            break;
        }
    }
    end
}

/// The list items under a `key:` line whose key is `list_key`: (start, end) ranges.
fn list_items(lines: &[&str], list_key: &str) -> Vec<(usize, usize)> {
    let Some(k) = lines.iter().position(|l| {
        split_key(l).is_some_and(|(_, key, rest)| key == list_key && rest.trim().is_empty())
    }) else {
        return Vec::new();
    };
    let kind = indent_of(lines[k]);
    let end = block_end(lines, k, kind, false);
    let starts: Vec<usize> = (k + 1..end)
        .filter(|&i| {
            let t = lines[i].trim_start();
            (t == "-" || t.starts_with("- "))
                && (k + 1..i).all(|j| {
                    let tj = lines[j].trim_start();
                    !(tj == "-" || tj.starts_with("- "))
                        || indent_of(lines[j]) >= indent_of(lines[i])
                })
        })
        .collect();
    let Some(&first) = starts.first() else {
        return Vec::new();
    };
    let item_ind = indent_of(lines[first]);
    let starts: Vec<usize> = starts
        .into_iter()
        .filter(|&i| indent_of(lines[i]) == item_ind)
        .collect();
    let mut out = Vec::new();
    for (n, &s) in starts.iter().enumerate() {
        let e = starts.get(n + 1).copied().unwrap_or(end);
        out.push((s, e));
    }
    out
}

/// A misspelling of `key`: the typos people make.
fn misspell(key: &str, rng: &mut Rng) -> String {
    let c: Vec<char> = key.chars().collect();
    match rng.below(6) {
        0 if c.len() > 2 => {
            let i = rng.below(c.len() - 1);
            let mut d = c.clone();
            d.swap(i, i + 1);
            d.into_iter().collect()
        }
        1 if c.len() > 2 => {
            let i = rng.below(c.len());
            c.iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, x)| x)
                .collect()
        }
        2 => key.replace('_', "-"),
        3 => key.to_ascii_uppercase(),
        4 => format!("{key}s"),
        _ => key.replace('_', ""),
    }
}

/// One mutated copy of `text` and a label of what was done.
pub fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let keyed: Vec<usize> = (0..lines.len())
        .filter(|&i| split_key(lines[i]).is_some())
        .collect();
    let op = rng.below(20);
    if keyed.is_empty() || op == 19 && rng.below(6) == 0 {
        return match rng.below(4) {
            0 => (String::new(), "empty file".into()),
            1 => ("# nothing\n".into(), "comment only".into()),
            2 => ("---\n".into(), "document marker only".into()),
            _ => ("~\n".into(), "null document".into()),
        };
    }
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let at = *rng.pick(&keyed);
    let (indent, key, rest) = split_key(lines[at]).unwrap();
    let dash = lines[at].trim_start().starts_with("- ");
    let prefix = &lines[at][..indent];
    let d = if dash { "- " } else { "" };
    let label;
    match op {
        0 | 1 => {
            // drop the key line and its indented block
            let end = block_end(&lines, at, indent, dash);
            if dash {
                out.drain(at + 1..end);
                out[at] = format!("{prefix}-");
                label = format!("drop list item key {key}");
            } else {
                out.drain(at..end);
                label = format!("drop {key}");
            }
        }
        2..=5 => {
            let v = rng.pick(values_for(key));
            let end = block_end(&lines, at, indent, dash);
            out.drain(at + 1..end);
            out[at] = format!("{prefix}{d}{key}: {v}");
            label = format!("{key}: {v}");
        }
        6 => {
            let u = rng.pick(UNKNOWN_KEYS);
            let pad = " ".repeat(indent + if dash { 2 } else { 0 });
            let top = rng.below(2) == 0;
            let pos = if top { out.len() } else { at + 1 };
            let block: Vec<String> = u
                .lines()
                .map(|l| {
                    if top {
                        l.to_string()
                    } else {
                        format!("{pad}{l}")
                    }
                })
                .collect();
            let pos = if top || !rest.trim().is_empty() {
                pos
            } else {
                block_end(&lines, at, indent, dash)
            };
            for (k, l) in block.into_iter().enumerate() {
                out.insert(pos + k, l);
            }
            label = format!(
                "insert {} {}",
                if top { "at top" } else { "beside" },
                u.lines().next().unwrap()
            );
        }
        7 => {
            let m = misspell(key, rng);
            out[at] = format!("{prefix}{d}{m}:{rest}");
            label = format!("misspell {key} -> {m}");
        }
        8 => {
            let v = rest.trim();
            if v.starts_with('[') && v.ends_with(']') && v.len() > 2 {
                // duplicate an entry of an inline list
                let inner = &v[1..v.len() - 1];
                let items: Vec<&str> = inner.split(',').map(str::trim).collect();
                let x = *rng.pick(&items);
                out[at] = format!("{prefix}{d}{key}: [{inner}, {x}]");
                label = format!("duplicate list entry {key}: {x}");
            } else {
                // duplicated key (or block list entry)
                out.insert(at + 1, lines[at].to_string());
                label = format!("duplicate line {key}");
            }
        }
        9 => {
            // env vars: masks
            let envs: Vec<usize> = (0..lines.len())
                .filter(|&i| env_var(lines[i]).is_some())
                .collect();
            if envs.is_empty() {
                let v = rng.pick(values_for("log_mask"));
                out[at] = format!("{prefix}{d}log_mask: {v}");
                label = format!("{key} -> log_mask: {v}");
            } else {
                let e = *rng.pick(&envs);
                let name = *rng.pick(&[
                    "DD_MASK",
                    "DD_SUBSYS",
                    "D_LOG_MASK",
                    "CRT_TIMEOUT",
                    "FI_OFI_RXM_USE_SRX",
                    "D_LOG_FILE",
                ]);
                let v = rng.pick(values_for(name));
                let p = &lines[e][..indent_of(lines[e])];
                if rng.below(4) == 0 {
                    out.insert(e + 1, format!("{p}- {name}={v}"));
                } else {
                    out[e] = format!("{p}- {name}={v}");
                }
                label = format!("env {name}={v}");
            }
        }
        10 => {
            // extra engine(s), or one fewer
            let items = list_items(&lines, "engines");
            if items.is_empty() {
                out[at] = format!("{prefix}{d}{key}:{rest}{rest}");
                label = format!("{key} value doubled");
            } else if rng.below(3) == 0 {
                let (s, e) = *rng.pick(&items);
                out.drain(s..e);
                label = format!("remove engine at line {}", s + 1);
            } else {
                let (s, e) = *rng.pick(&items);
                let item: Vec<String> = lines[s..e].iter().map(|s| s.to_string()).collect();
                let times = 1 + rng.below(3);
                let pos = items.last().unwrap().1;
                for t in 0..times {
                    for (k, l) in item.iter().enumerate() {
                        out.insert(pos + t * item.len() + k, l.clone());
                    }
                }
                label = format!("{times} extra engine(s)");
            }
        }
        11 | 12 => {
            // boundary numbers for a number-valued key (or any key)
            let v = rng.pick(BOUNDARY_NUMBERS);
            let numeric: Vec<usize> = keyed
                .iter()
                .copied()
                .filter(|&i| {
                    let r = split_key(lines[i]).unwrap().2;
                    let r = r.split('#').next().unwrap().trim();
                    !r.is_empty() && r.parse::<f64>().is_ok()
                })
                .collect();
            let i = if numeric.is_empty() {
                at
            } else {
                *rng.pick(&numeric)
            };
            let (ind, k, _) = split_key(lines[i]).unwrap();
            let dd = if lines[i].trim_start().starts_with("- ") {
                "- "
            } else {
                ""
            };
            out[i] = format!("{}{dd}{k}: {v}", &lines[i][..ind]);
            label = format!("{k}: {v}");
        }
        13 => {
            // nulls and empty sections
            let end = block_end(&lines, at, indent, dash);
            let v = *rng.pick(&["", "~", "null", "{}", "[]", "''"]);
            out.drain(at + 1..end);
            out[at] = format!("{prefix}{d}{key}: {v}").trim_end().to_string();
            label = format!("{key}: {v:?} (null/empty)");
        }
        14 => {
            // swapped storage classes of two tiers, or one tier's class changed
            let classes: Vec<usize> = keyed
                .iter()
                .copied()
                .filter(|&i| split_key(lines[i]).unwrap().1 == "class")
                .collect();
            if classes.len() >= 2 {
                let a = *rng.pick(&classes);
                let b = *rng.pick(&classes);
                let va = split_key(lines[a]).unwrap().2.to_string();
                let vb = split_key(lines[b]).unwrap().2.to_string();
                let pa = lines[a].replacen(&format!("class:{va}"), &format!("class:{vb}"), 1);
                let pb = lines[b].replacen(&format!("class:{vb}"), &format!("class:{va}"), 1);
                out[a] = pa;
                out[b] = pb;
                label = format!(
                    "swap storage classes at lines {} and {}:{va} <->{vb}",
                    a + 1,
                    b + 1
                );
            } else {
                let v = rng.pick(values_for("class"));
                let i = classes.first().copied().unwrap_or(at);
                let (ind, k, _) = split_key(lines[i]).unwrap();
                let dd = if lines[i].trim_start().starts_with("- ") {
                    "- "
                } else {
                    ""
                };
                out[i] = format!("{}{dd}{k}: {v}", &lines[i][..ind]);
                label = format!("{k}: {v}");
            }
        }
        15 => {
            // a broken PCI address in bdev_list (or wherever an address is)
            let pci: Vec<usize> = (0..lines.len())
                .filter(|&i| {
                    let l = lines[i];
                    l.contains("0000:") || l.contains("bdev_list") || l.contains("bdev_exclude")
                })
                .collect();
            let bad = rng.pick(BAD_PCI);
            if let Some(&i) = pci.get(rng.below(pci.len().max(1))) {
                let l = lines[i];
                let nl = match l.find("0000:") {
                    Some(s) => {
                        let e = l[s..]
                            .find(|c: char| !(c.is_ascii_hexdigit() || c == ':' || c == '.'))
                            .map_or(l.len(), |e| s + e);
                        format!("{}{bad}{}", &l[..s], &l[e..])
                    }
                    None => {
                        let (ind, k, _) = split_key(l).unwrap_or((indent_of(l), "bdev_list", ""));
                        let dd = if l.trim_start().starts_with("- ") {
                            "- "
                        } else {
                            ""
                        };
                        format!("{}{dd}{k}: [\"{bad}\"]", &l[..ind])
                    }
                };
                out[i] = nl;
                label = format!("PCI address {bad:?} at line {}", i + 1);
            } else {
                out[at] = format!("{prefix}{d}{key}: [\"{bad}\"]");
                label = format!("{key}: [{bad:?}]");
            }
        }
        16 => {
            // a list key given one scalar, a scalar given a list or a map: wrong types
            let v = rest.trim();
            let nv = if v.starts_with('[') {
                v.trim_matches(|c| c == '[' || c == ']').to_string()
            } else if v.is_empty() {
                "x".into()
            } else if rng.below(2) == 0 {
                format!("[{v}]")
            } else {
                format!("{{a: {v}}}")
            };
            let end = if v.is_empty() {
                block_end(&lines, at, indent, dash)
            } else {
                at + 1
            };
            out.drain(at + 1..end);
            out[at] = format!("{prefix}{d}{key}: {nv}");
            label = format!("retype {key}: {nv}");
        }
        17 => {
            // the key moved one level in or out (wrong indentation of a whole line)
            let shift = if indent >= 2 && rng.below(2) == 0 {
                out[at] = lines[at][2..].to_string();
                "out"
            } else {
                out[at] = format!("  {}", lines[at]);
                "in"
            };
            label = format!("indent {key} {shift}");
        }
        _ => {
            // a second mutation of the same key's value type: a quoted or boolean number
            let v = rest.trim();
            let nv = match rng.below(4) {
                0 => format!("\"{v}\""),
                1 => "true".to_string(),
                2 => format!("{v} {v}"),
                _ => format!("{v},"),
            };
            out[at] = format!("{prefix}{d}{key}: {nv}");
            label = format!("{key}: {nv}");
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    (s, label)
}
