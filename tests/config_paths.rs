//! A configuration path that is not a regular file is refused at once, in the same exit
//! class as a missing file (2), and never blocks: a FIFO would hang the ExecStartPre=
//! hook of daos_server.service. A file larger than any real configuration (1 MiB) is
//! refused before parsing. Issue 11, item 3.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run(flag: &str, path: &std::path::Path) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["check", "--only", "config", "--daos-version", "2.6", flag])
        .arg(path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (st.code().unwrap_or(-1), text);
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("{flag} {} hangs", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn fifo_directory_device_oversized_and_missing_are_one_class() {
    let dir = std::env::temp_dir().join(format!("dp-config-paths-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("a-directory")).unwrap();
    let fifo = dir.join("fifo.yml");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let big = dir.join("big.yml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    let cases: [(&std::path::Path, &str); 5] = [
        (&fifo, "not a regular file (a FIFO)"),
        (&dir.join("a-directory"), "not a regular file (a directory)"),
        (
            std::path::Path::new("/dev/null"),
            "not a regular file (a device)",
        ),
        (&big, "larger than any DAOS configuration"),
        (&dir.join("missing.yml"), "not found"),
    ];
    for flag in ["--server-config", "--agent-config", "--control-config"] {
        for (p, why) in &cases {
            let (code, text) = run(flag, p);
            assert_eq!(code, 2, "{flag} {}: {text}", p.display());
            assert!(
                text.contains(why) && text.contains(&p.display().to_string()),
                "{flag} {}: expected {why:?} naming the path in {text}",
                p.display()
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
