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
