//! The hwloc test machines (`shared/corpus/sysfs/hwloc`, from open-mpi/hwloc
//! `tests/hwloc/linux`, BSD-3-Clause): every tarball unpacked once per test binary, the
//! binary run on each tree once (`facts` and `check`), with the oracles next to it.
//!
//! Unpacking uses the `tar` command with bzip2 (`tar -xjf`, GNU tar and bzip2 are on
//! every Debian and EL system) rather than a new crate dependency.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::{Run, check_run, corpus, facts_run, run_cli, scratch};

/// One unpacked tree with what the binary and the oracles say about it.
#[derive(Debug)]
pub struct Tree {
    /// Tarball name without `.tar.bz2` (`linux_2pa-pcidomain32bits`).
    pub name: String,
    /// The directory to pass as `--root` (holds `sys/` and `proc/`).
    pub root: PathBuf,
    /// The tree's row of `INVENTORY.tsv` (column → value).
    pub inventory: BTreeMap<String, String>,
    /// `oracle-summary/<name>.summary.json` (lstopo 2.9.0 `--whole-io`).
    pub oracle: Value,
    /// `expected-upstream/<name>.console` (hwloc's own expected output), when the test
    /// of that exact tree is a console one.
    pub upstream_console: Option<String>,
    /// `facts --format json --root <root>`.
    pub facts: Run,
    /// `check --root <root> --format json`.
    pub check: Run,
    /// `facts --format text` and `check --format text` (the renderers must cope too).
    pub text: [Run; 2],
}

impl Tree {
    /// An `INVENTORY.tsv` count column.
    pub fn count(&self, column: &str) -> u64 {
        self.inventory
            .get(column)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{}: INVENTORY.tsv has no count {column}", self.name))
    }
}

/// The hwloc corpus directory.
pub fn hwloc_dir() -> PathBuf {
    corpus().join("sysfs/hwloc")
}

fn inventory() -> BTreeMap<String, BTreeMap<String, String>> {
    let path = hwloc_dir().join("INVENTORY.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .expect("INVENTORY header")
        .split('\t')
        .collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let row: BTreeMap<String, String> = header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["tarball"].clone(), row)
        })
        .collect()
}

/// The directory a tarball unpacked to: its single top-level folder, or that folder's
/// `fsroot/` (the `x86+linux_*` tests keep `cpuid/` dumps beside the file system).
fn tree_root(dest: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dest)
        .expect("read unpacked tarball")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(
        entries.len(),
        1,
        "{}: a tarball unpacks to one folder",
        dest.display()
    );
    let top = entries[0].clone();
    let fsroot = top.join("fsroot");
    if fsroot.is_dir() { fsroot } else { top }
}

/// One tarball of the corpus (`linux_2pa-pcidomain32bits`) unpacked on its own into a
/// scratch directory tagged `tag`, for tests that need one tree, not all of them: the
/// directory to pass as `--root`.
pub fn unpack(name: &str, tag: &str) -> PathBuf {
    unpack_parts(name, tag, &[])
}

/// [`unpack`] limited to the members matching `parts` (tar `--wildcards` patterns such as
/// `*/sys/devices/system/node/*`; all members when empty): a test that reads a few files
/// of each of the 44 trees need not create the 141,000 files of all of them.
pub fn unpack_parts(name: &str, tag: &str, parts: &[&str]) -> PathBuf {
    let tarball = hwloc_dir().join(format!("tarballs/{name}.tar.bz2"));
    let out_dir = scratch(tag).join(name);
    std::fs::create_dir_all(&out_dir).expect("create unpack dir");
    let mut tar = Command::new("tar");
    tar.arg("--exclude=*/sys/devices/system/cpu/cpu*/cache")
        .arg("-xjf")
        .arg(&tarball)
        .arg("-C")
        .arg(&out_dir);
    if !parts.is_empty() {
        tar.arg("--wildcards").args(parts);
    }
    let out = tar.output().expect("run tar (with bzip2)");
    // a pattern no member matches is tar's "Not found in archive" (exit 2): a tree
    // without, say, NUMA nodes is still a tree
    let stderr = String::from_utf8_lossy(&out.stderr);
    let only_unmatched = !parts.is_empty()
        && stderr
            .lines()
            .all(|l| l.contains("Not found in archive") || l.contains("due to previous errors"));
    assert!(
        out.status.success() || only_unmatched,
        "tar -xjf {}: {}: {stderr}",
        tarball.display(),
        out.status
    );
    tree_root(&out_dir)
}

fn unpack_and_run(
    tarball: &Path,
    dest: &Path,
    rows: &BTreeMap<String, BTreeMap<String, String>>,
) -> Tree {
    let name = tarball
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".tar.bz2"))
        .expect("tarball name")
        .to_string();
    let out_dir = dest.join(&name);
    std::fs::create_dir_all(&out_dir).expect("create unpack dir");
    // CPU cache descriptions are 40 % of the corpus's 141,000 files and nothing in
    // daos-preflight reads them; leaving them out keeps the unpacking time reasonable.
    let status = Command::new("tar")
        .arg("--exclude=*/sys/devices/system/cpu/cpu*/cache")
        .arg("-xjf")
        .arg(tarball)
        .arg("-C")
        .arg(&out_dir)
        .status()
        .expect("run tar (with bzip2)");
    assert!(status.success(), "tar -xjf {}: {status}", tarball.display());
    let root = tree_root(&out_dir);
    let oracle_path = hwloc_dir().join(format!("oracle-summary/{name}.summary.json"));
    let oracle: Value = serde_json::from_str(
        &std::fs::read_to_string(&oracle_path)
            .unwrap_or_else(|e| panic!("{}: {e}", oracle_path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", oracle_path.display()));
    let upstream_console =
        std::fs::read_to_string(hwloc_dir().join(format!("expected-upstream/{name}.console"))).ok();
    let inventory = rows
        .get(&name)
        .unwrap_or_else(|| panic!("{name}: not in INVENTORY.tsv"))
        .clone();
    let facts = facts_run(&root);
    let check = check_run(&root);
    let text = [
        run_cli([OsStr::new("facts"), OsStr::new("--root"), root.as_os_str()]),
        run_cli([
            OsStr::new("check"),
            OsStr::new("--root"),
            root.as_os_str(),
            OsStr::new("--color"),
            OsStr::new("always"),
        ]),
    ];
    Tree {
        name,
        root,
        inventory,
        oracle,
        upstream_console,
        facts,
        check,
        text,
    }
}

/// Every tree of the corpus, unpacked and run once for the whole test binary.
pub fn trees() -> &'static [Tree] {
    static TREES: OnceLock<Vec<Tree>> = OnceLock::new();
    TREES.get_or_init(|| {
        let dir = hwloc_dir().join("tarballs");
        let mut tarballs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".tar.bz2"))
            .collect();
        tarballs.sort();
        let rows = inventory();
        let dest = scratch("hwloc-trees");
        let next = AtomicUsize::new(0);
        let done: Mutex<Vec<Tree>> = Mutex::new(Vec::new());
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(2, 8);
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(t) = tarballs.get(i) else { break };
                        let tree = unpack_and_run(t, &dest, &rows);
                        done.lock().expect("results").push(tree);
                    }
                });
            }
        });
        let mut trees = done.into_inner().expect("results");
        assert_eq!(trees.len(), tarballs.len(), "a tarball failed to unpack");
        trees.sort_by(|a, b| a.name.cmp(&b.name));
        trees
    })
}
