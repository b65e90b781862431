//! DAOS's own config loader (../shared/oracles/daos-config: DAOS's Go Load + Validate
//! built at v2.6.0 and v2.8.0), run on one file.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The oracle binary of release `rel` (`2.6`, `2.8`); panics when it is missing, since
/// a test that needs it must fail, not skip.
pub fn oracle_bin(rel: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../shared/oracles/daos-config/daos-config-oracle-{rel}"
    ));
    assert!(
        p.is_file(),
        "DAOS oracle {} missing: the test needs ../shared/oracles beside the checkout",
        p.display()
    );
    p
}

/// The oracle's one JSON line for `file` loaded as `kind` (`server`, `agent`,
/// `control`): `ok`, `stage`, `error`, `cause`, `fault_code` ...
pub fn oracle_json(rel: &str, kind: &str, file: &Path) -> Value {
    let out = Command::new(oracle_bin(rel))
        .args(["--kind", kind])
        .arg(file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "oracle output for {}: {e}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        )
    })
}
