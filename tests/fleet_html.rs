//! `fleet --format html` rendered in a real headless chromium: real `check --root`
//! reports of fixture trees (one host renamed to an XSS-ish name), `--dump-dom` and a
//! screenshot kept in the target dir. In CI (CI=true) a missing chromium fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
}

fn report(tree: &str, hostname: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(tree);
    let out = bin()
        .args(["check", "--format", "json", "--root"])
        .arg(&root)
        .output()
        .expect("run check");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("report json");
    v["host"]["hostname"] = serde_json::Value::String(hostname.into());
    serde_json::to_string(&v).unwrap()
}

fn chromium() -> Option<String> {
    for c in ["chromium", "chromium-browser"] {
        if Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            return Some(c.into());
        }
    }
    assert!(
        std::env::var("CI").is_err(),
        "chromium missing in CI (.ci/html-deps.sh installs it)"
    );
    eprintln!("SKIP: chromium not installed");
    None
}

fn run_chromium(c: &str, profile: &Path, extra: &[&str], page: &Path) -> std::process::Output {
    Command::new(c)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            // any network request would go to a proxy that does not exist
            "--proxy-server=127.0.0.1:9",
            "--proxy-bypass-list=<-loopback>",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium")
}

#[test]
fn fleet_page_renders_in_chromium() {
    let evil = "<script>alert(1)</script>\"'&";
    let input = [
        report("daos-server-ib", "node0"),
        report("daos-server-ib", "node1"),
        report("client", "node2"),
        report("client", evil),
    ]
    .join("\n");
    let mut child = bin()
        .args(["fleet", "--format", "html", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(!html.contains("<script"), "unescaped host name");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"));
    for bad in [
        "http://", "https://", "src=", "href=", "url(", "@import", "//",
    ] {
        assert!(!html.contains(bad), "page may fetch: {bad}");
    }
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet_html");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("fleet.html");
    std::fs::write(&page, &html).unwrap();
    let Some(c) = chromium() else { return };
    let dom = run_chromium(&c, &dir.join("p1"), &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert!(dom.contains("id=\"verdict\""), "{dom}");
    assert!(dom.contains("system: "), "{dom}");
    assert!(dom.contains("node[0-1]") || dom.contains("node0"), "{dom}");
    assert!(dom.contains("id=\"grid\""));
    assert!(dom.contains("&lt;script&gt;"), "host name rendered as text");
    assert!(!dom.contains("<script>alert"));
    let png = dir.join("fleet.png");
    let shot = format!("--screenshot={}", png.display());
    let o = run_chromium(
        &c,
        &dir.join("p2"),
        &[&shot, "--window-size=1400,1000"],
        &page,
    );
    let bytes = std::fs::read(&png).unwrap_or_else(|e| {
        panic!(
            "no screenshot ({e}): {}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
        "{} bytes",
        bytes.len()
    );
    println!("screenshot: {}", png.display());
}

/// The network section on the reports of a three-namespace run (tests/fixtures/probe-netns:
/// `probe` and `check` of node0..2 as tests/probe_netns.rs makes them, node1 dropping
/// 10001 and rejecting 31416, node2's /etc/hosts with a stale second line for node1),
/// node2's handshake offsets to node1 moved 5 s ahead to stand for a skewed clock.
#[test]
fn network_matrix_and_clocks_render_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/probe-netns");
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fleet_html_net");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(out.join("reports")).unwrap();
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
        if p.ends_with("probe-node2.json") {
            for r in v["results"].as_array_mut().unwrap() {
                if r["peer_hostname"] == "node1" {
                    let o = r["clock_offset_ms"].as_f64().unwrap();
                    r["clock_offset_ms"] = serde_json::json!(o + 5000.0);
                }
            }
        }
        std::fs::write(
            out.join("reports").join(p.file_name().unwrap()),
            v.to_string(),
        )
        .unwrap();
    }
    let o = bin()
        .args(["fleet", "--format", "html"])
        .arg(out.join("reports"))
        .output()
        .unwrap();
    let html = String::from_utf8(o.stdout).unwrap();
    for bad in ["http://", "https://", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(bad), "page may fetch: {bad}");
    }
    let page = out.join("fleet.html");
    std::fs::write(&page, &html).unwrap();
    let Some(c) = chromium() else { return };
    let dom = run_chromium(&c, &out.join("p1"), &["--dump-dom"], &page);
    let dom = String::from_utf8_lossy(&dom.stdout).to_string();
    // the cell node2 -> node1 lists each failed port with its status, the cause on hover
    let cell = |from: &str, to: &str| -> String {
        let k = format!("data-from=\"{from}\" data-to=\"{to}\"");
        let i = dom.find(&k).unwrap_or_else(|| panic!("no cell {k}: {dom}"));
        let start = dom[..i].rfind("<td").unwrap();
        let end = i + dom[i..].find("</td>").unwrap();
        dom[start..end].to_string()
    };
    let c21 = cell("node2", "node1");
    assert!(c21.contains("class=\"m fail\""), "{c21}");
    assert!(c21.contains("10001/control timeout"), "{c21}");
    assert!(c21.contains("31416/fabric refused"), "{c21}");
    assert!(c21.contains("31421/fabric wrong-host"), "{c21}");
    assert!(c21.contains("a firewall DROP rule on node1"), "{c21}");
    assert!(
        c21.contains("node1 resolves on node2 to 198.51.100.10, which is node0"),
        "{c21}"
    );
    let c01 = cell("node0", "node1");
    assert!(
        c01.contains("10001/control timeout") && !c01.contains("wrong-host"),
        "{c01}"
    );
    let c20 = cell("node2", "node0");
    assert!(
        c20.contains("class=\"m pass\"") && c20.ends_with(">ok"),
        "{c20}"
    );
    assert!(dom.contains("id=\"failures\""), "{dom}");
    // clocks: node1 5 s ahead of node2, beyond the 1 s tolerance
    let i = dom.find("id=\"skew\"").expect("skew line");
    let skew = &dom[dom[..i].rfind('<').unwrap()..i + dom[i..].find("</p>").unwrap()];
    assert!(skew.contains("verdict fail"), "{skew}");
    assert!(skew.contains("node1 ahead of node2"), "{skew}");
    assert!(skew.contains("max skew 50"), "{skew}");
    assert!(dom.contains("id=\"clocks\""));
    // the system verdict leads with system.network and system.time failing
    assert!(dom.contains("system.network"), "{dom}");
    let png = out.join("fleet-network.png");
    let shot = format!("--screenshot={}", png.display());
    run_chromium(
        &c,
        &out.join("p2"),
        &[&shot, "--window-size=1400,1800"],
        &page,
    );
    let bytes = std::fs::read(&png).expect("screenshot");
    assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000);
    println!("screenshot: {}", png.display());
}
