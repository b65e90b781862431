//! The deployment guide's daos_server.yml (../shared/corpus/daos-config/seed) through
//! `daos-preflight check`: the issues come in the order DAOS meets them and the
//! headline is the error daos_server prints. Expected values are DAOS's, read from the
//! oracle (../shared/oracles/daos-config, README "Verification"): 2.6 and 2.8 stop at
//! parse on `line 16: field enable_vmd not found in type config.Server`; without that
//! line, validation refuses the even access-point count (code 706,
//! ServerConfigEvenAccessPoints); with one access point, `control_metadata.path`
//! without MD-on-SSD roles (code 317, BdevConfigControlMetadataNoRoles).

use std::path::Path;
use std::process::Command;

fn check(version: &str, format: &str) -> (String, String) {
    let tmp = std::env::temp_dir().join(format!(
        "dp-first-{}-{version}-{format}",
        std::process::id()
    ));
    std::fs::create_dir_all(&tmp).unwrap();
    let seed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/daos-config/seed/daos_server.yml");
    let file = tmp.join("daos_server.yml");
    std::fs::copy(&seed, &file).expect("the corpus beside the checkout");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args([
            "check",
            "--only",
            "config.server",
            "--color",
            "never",
            "--daos-version",
            version,
        ])
        .arg("--format")
        .arg(format)
        .arg("--root")
        .arg(&tmp)
        .arg("--server-config")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    let f = file.display().to_string();
    std::fs::remove_dir_all(&tmp).unwrap();
    (text.replace(&f, "F"), f)
}

#[test]
fn guide_server_file_leads_with_daos_first_error() {
    // the text screen: headline = the parse error at line 16, then one fix per issue in
    // DAOS's order (16: parse; 2: validate; 35: validate)
    let (text, _) = check("2.6", "text");
    let lines: Vec<&str> = text.lines().collect();
    let head = lines
        .iter()
        .position(|l| l.starts_with("FAIL   config.server  "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        lines[head].starts_with("FAIL   config.server  F:16:1: \"enable_vmd\""),
        "{text}"
    );
    assert!(
        lines[head].contains("(and 2 more error(s) DAOS reports once this is fixed)"),
        "{text}"
    );
    assert_eq!(lines[head + 1].trim(), "fix: edit F", "{text}");
    let fixes: Vec<&str> = lines[head + 2..head + 5].iter().map(|l| l.trim()).collect();
    assert!(
        fixes[0].starts_with("$ F:16:1: ") && fixes[0].contains("disable_vmd"),
        "{text}"
    );
    assert!(
        fixes[1].starts_with("$ F:2:16: ") && fixes[1].contains("access_points"),
        "{text}"
    );
    assert!(
        fixes[2].starts_with("$ F:35:4: ") && fixes[2].contains("bdev_roles"),
        "{text}"
    );

    // the JSON details: the stage of the first error, and what DAOS reveals later
    for v in ["2.6", "2.8"] {
        let (json, _) = check(v, "json");
        let r: serde_json::Value = serde_json::from_str(&json).unwrap();
        let c = &r["checks"][0];
        assert_eq!(c["details"]["daos_stage"], "parse", "{v}");
        let first = c["details"]["daos_reports_first"].as_str().unwrap();
        assert!(
            first.starts_with("F:16:1: ") && first.ends_with("(DAOS: parse)"),
            "{v} {first}"
        );
        let later: Vec<&str> = c["details"]["revealed_after_first_fix"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        assert_eq!(later.len(), 2, "{v} {later:?}");
        assert!(
            later[0].starts_with("F:2:16: ") && later[0].contains("[code.ServerConfigEven"),
            "{v} {later:?}"
        );
        assert!(
            later[1].contains("[code.BdevConfigControlMetadataNoRoles]"),
            "{v} {later:?}"
        );
        // DAOS's first error carries no fault code: the finding claims none
        assert!(c["daos_fault_code"].is_null(), "{v} {c}");
        let issues = c["details"]["issues"].as_array().unwrap().len();
        assert_eq!(
            c["remediation"]["actions"].as_array().unwrap().len(),
            issues,
            "{v}: one fix per issue"
        );
    }
}
