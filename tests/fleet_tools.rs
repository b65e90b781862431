//! `fleet` fed by the tools fleets use, for real: ClusterShell's and pdsh's `exec`
//! workers run `daos-preflight check --root TREE/%h` per node name and their prefixed,
//! interleaved output is piped into `daos-preflight fleet -`. ClusterShell's `nodeset -f`
//! is the oracle of fleet's nodeset folding. clush, pdsh and nodeset are installed by
//! `.ci/fleet-deps.sh`; when they are missing these tests fail, they never skip.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_daos-preflight")
}

fn guide(variant: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/guide")
        .join(variant)
}

/// `tool args...` piped into `fleet - --format json`.
fn through_fleet(tool: &str, args: &[&str]) -> Value {
    let mut producer = Command::new(tool)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e} (install it with .ci/fleet-deps.sh)"));
    let out = Command::new(bin())
        .args(["fleet", "-", "--format", "json"])
        .stdin(producer.stdout.take().unwrap())
        .output()
        .unwrap();
    producer.wait().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("fleet json: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn nodeset_fold(names: &[String]) -> String {
    let out = Command::new("nodeset")
        .arg("-f")
        .args(names)
        .output()
        .expect("ClusterShell's nodeset (install it with .ci/fleet-deps.sh)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn clush_and_pdsh_exec_over_the_guide_trees() {
    let root = guide("ok");
    let cmd = format!("{} check --root {}/%h --format json", bin(), root.display());
    let words: Vec<&str> = cmd.split(' ').collect();
    let mut clush = vec!["-R", "exec", "-w", "node[0-2]"];
    clush.extend(&words);
    let mut pdsh = vec!["-R", "exec", "-w", "node[0-2]"];
    pdsh.extend(&words);
    for (tool, args) in [("clush", clush), ("pdsh", pdsh)] {
        let f = through_fleet(tool, &args);
        assert_eq!(f["hosts"], 3, "{tool}: {f}");
        assert_eq!(f["problems"].as_array().map(Vec::len), Some(0), "{tool}");
        // every host's own verdicts come through: the guide's client lacks its
        // agent interface here (nic.agent fails on node2 only)
        let nic_agent = f["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "nic.agent")
            .unwrap();
        assert_eq!(nic_agent["hosts"]["fail"], "node2", "{tool}");
        assert_eq!(nic_agent["hosts"]["skip"], "node[0-1]", "{tool}");
    }
}

/// Fleet's folded host lists equal `nodeset -f` of the same names, on names that fold
/// in several ways (ranges, gaps, zero padding, two prefixes, a name without digits).
#[test]
fn folding_matches_nodeset() {
    let names: Vec<String> = [
        "node1", "node2", "node3", "node7", "node10", "node11", "node12", "dn01", "dn02", "dn09",
        "login",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let base = std::env::temp_dir().join(format!("dp-fleet-tools-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap();
    for (i, n) in names.iter().enumerate() {
        // servers and clients alternate so that checks split the names
        let src = guide("ok").join(if i % 3 == 0 { "node2" } else { "node0" });
        let dst = base.join(n);
        assert!(
            Command::new("cp")
                .arg("-a")
                .arg(&src)
                .arg(&dst)
                .status()
                .unwrap()
                .success()
        );
        std::fs::write(dst.join("etc/hostname"), format!("{n}\n")).unwrap();
    }
    let cmd = format!("{} check --root {}/%h --format json", bin(), base.display());
    let list = names.join(",");
    let mut args = vec!["-R", "exec", "-w", &list];
    args.extend(cmd.split(' '));
    let f = through_fleet("clush", &args);
    assert_eq!(f["hosts"], names.len() as u64);
    // each host's own report says its status per check: group, fold with nodeset
    let mut compared = 0;
    for c in f["checks"].as_array().unwrap() {
        for (status, folded) in c["hosts"].as_object().unwrap() {
            let mut members = Vec::new();
            for n in &names {
                let out = Command::new(bin())
                    .args(["check", "--format", "json", "--only"])
                    .arg(c["id"].as_str().unwrap())
                    .arg("--root")
                    .arg(base.join(n))
                    .output()
                    .unwrap();
                let r: Value = serde_json::from_slice(&out.stdout).unwrap();
                if r["checks"][0]["status"] == *status {
                    members.push(n.clone());
                }
            }
            assert_eq!(
                folded.as_str().unwrap(),
                nodeset_fold(&members),
                "{} {status}",
                c["id"]
            );
            compared += 1;
        }
        if compared > 12 {
            break;
        }
    }
    assert!(compared > 3);
    std::fs::remove_dir_all(&base).unwrap();
}

/// `pipeline | daos-preflight fleet - --format json`, run by sh (the README's recipes).
fn sh_fleet(pipeline: &str) -> Value {
    let full = format!("{pipeline} | {} fleet - --format json", bin());
    let out = Command::new("sh").arg("-c").arg(&full).output().unwrap();
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{full}: {e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// The README's recipes, as written there, with the exec worker standing in for ssh:
/// an unreachable server (ssh's message, exit 255) is missing from the system and, with
/// stderr merged, listed with ssh's message.
#[test]
fn readme_recipes_an_unreachable_server_and_gathered_output() {
    let root = guide("ok");
    let check = format!("{} check --format json --root {}/%h", bin(), root.display());
    let node1_down = format!(
        "sh -c 'test %h = node1 && {{ echo ssh: connect to host %h port 22: No route to host >&2; exit 255; }}; {check}'"
    );
    for (tool, merged) in [
        ("clush", false),
        ("clush", true),
        ("pdsh", false),
        ("pdsh", true),
    ] {
        // clush hands its command to a shell as one string; pdsh runs its arguments
        let command = if tool == "clush" {
            format!("\"{node1_down}\"")
        } else {
            node1_down.clone()
        };
        let f = sh_fleet(&format!(
            "{tool} -R exec -w node[0-2] {command}{}",
            if merged { " 2>&1" } else { " 2>/dev/null" }
        ));
        let what = format!("{tool} merged={merged}");
        assert_eq!(f["hosts"], 2, "{what}: {f}");
        let s = &f["system"];
        assert_eq!(s["missing_servers"], serde_json::json!(["node1"]), "{what}");
        let control = s["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == "system.control")
            .unwrap();
        assert_eq!(control["status"], "warn", "{what}");
        assert!(
            control["summary"].as_str().unwrap().contains("node1"),
            "{what}"
        );
        let problems = f["problems"].as_array().unwrap();
        let ssh = problems.iter().any(|p| {
            p["host"] == "node1" && p["message"].as_str().unwrap().contains("No route to host")
        });
        assert_eq!(ssh, merged, "{what}: {problems:?}");
    }
    // the html recipe's input: plain (not -b) prefixed output of every node
    let f = sh_fleet(&format!(
        "clush -R exec -w node[0-2] \"{check}\" 2>/dev/null"
    ));
    assert_eq!(f["hosts"], 3, "{f}");
    assert_eq!(f["problems"].as_array().map(Vec::len), Some(0), "{f}");
    let ids: Vec<&str> = f["system"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"system.name") && ids.contains(&"system.time"),
        "{ids:?}"
    );
}
