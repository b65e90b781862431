//! Writable copies of the fixture trees for the `fix` tests, the real binary run on
//! them (with an environment, for failpoints), and snapshots of every file to tell
//! "nothing changed" and "back as it was" apart from what the binary says.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `tests/fixtures/<name>`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy (`cp -a`: owners and modes kept) of a fixture tree in a fresh temp dir.
pub fn copy_fixture(name: &str, tag: &str) -> PathBuf {
    let dst = std::env::temp_dir().join(format!("dp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dst);
    let ok = Command::new("cp")
        .args(["-a", fixture(name).to_str().unwrap(), dst.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    dst
}

/// Runs the binary with `env` set.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daos-preflight"));
    c.args(args)
        .env("NO_COLOR", "1")
        .env_remove("DAOS_PREFLIGHT_FAILPOINTS");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// Every file under `root` (path relative to it, content, mode, owner), the state of
/// `fix` itself (journal, lock) left out.
pub fn snapshot(root: &Path) -> Vec<(String, Vec<u8>, u32, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel.starts_with("var/lib/daos-preflight") || rel.starts_with("run/daos-preflight") {
                continue;
            }
            let md = std::fs::symlink_metadata(&p).unwrap();
            if md.is_dir() {
                out.push((rel + "/", Vec::new(), md.mode(), md.uid()));
                stack.push(p);
            } else if md.is_file() && md.len() > 1 << 20 {
                // a sparse bdev: its size and allocation, not gigabytes of zeros
                let desc = format!("{} bytes, {} blocks", md.len(), md.blocks());
                out.push((rel, desc.into_bytes(), md.mode(), md.uid()));
            } else if md.is_file() {
                let data = selected_word(std::fs::read(&p).unwrap());
                out.push((rel, data, md.mode(), md.uid()));
            } else {
                out.push((rel, Vec::new(), md.mode(), md.uid()));
            }
        }
    }
    out.sort();
    out
}

/// What differs between two snapshots, by path.
pub fn differences(
    a: &[(String, Vec<u8>, u32, u32)],
    b: &[(String, Vec<u8>, u32, u32)],
) -> Vec<String> {
    let mut d: Vec<String> = a
        .iter()
        .filter(|x| !b.contains(x))
        .map(|x| format!("-{} (mode {:o}, uid {})", x.0, x.2, x.3))
        .chain(
            b.iter()
                .filter(|x| !a.contains(x))
                .map(|x| format!("+{} (mode {:o}, uid {})", x.0, x.2, x.3)),
        )
        .collect();
    d.sort();
    d
}

/// The journal `fix` keeps in the tree (`null` when there is none).
pub fn journal(root: &Path) -> serde_json::Value {
    std::fs::read(root.join("var/lib/daos-preflight/journal.json"))
        .map(|b| serde_json::from_slice(&b).unwrap())
        .unwrap_or(serde_json::Value::Null)
}

/// A sysfs choice file (`[always] madvise never`) as the kernel would answer after a
/// write of one word: the selected word. A fixture tree is plain files, so writing
/// `always` back leaves `always` where the kernel would show the list again; both mean
/// the same setting.
fn selected_word(data: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8_lossy(&data);
    let line = text.trim();
    if line.lines().count() == 1
        && line.contains('[')
        && let Some(w) = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix('[').and_then(|w| w.strip_suffix(']')))
    {
        return format!("{w}\n").into_bytes();
    }
    data
}
