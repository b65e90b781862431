//! The layers stay one-way (design.md §4): `host/` reads the machine, `facts/` and
//! `daos/` turn what it read into data, `checks/`, `fix/` and `fleet/` judge and act on
//! that data. Nothing below may import from above; a formatter both need lives in
//! `units`. This test reads the source tree, so a new upward import fails it.

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn lower_layers_do_not_import_the_judging_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut bad = Vec::new();
    for lower in ["host", "facts", "daos", "probe", "units.rs"] {
        let mut files = Vec::new();
        let p = src.join(lower);
        if p.is_dir() {
            rust_files(&p, &mut files);
        } else {
            files.push(p);
        }
        assert!(!files.is_empty(), "src/{lower} is missing");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                for upper in ["crate::checks", "crate::fix", "crate::fleet"] {
                    if line.contains(upper) {
                        bad.push(format!("{}:{}: {}", f.display(), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(bad.is_empty(), "upward imports:\n{}", bad.join("\n"));
}
