//! `probe serve` as a process, on loopback: `--duration` ends it on time, SIGTERM and
//! SIGINT end it cleanly (exit 0 with its summary line), a port already in use is
//! reported and skipped (the other listener keeps it), and as root it gives up every
//! privilege once bound (read back from the kernel's /proc/PID/status). The peer side
//! is the real `probe` command.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_daos-preflight");

/// A control port and a fabric base with its 2 + 1 + 0 = 3 context ports (1 target, no
/// helper: DAOS v2.6.0 engine/srv_internal.h DSS_CTX_NR_TOTAL), all free right now.
/// The tests of this binary run in parallel: each takes its own slice of the range
/// (a counter), so two never pick the same ports before either binds them.
fn free_ports() -> (u16, u16) {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let free = |p: u16| TcpListener::bind(("0.0.0.0", p)).is_ok();
    let slot = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let seed = (std::process::id() as u16 % 100) * 300 + slot * 20;
    for i in 0..1000u16 {
        let base = 20000 + (seed.wrapping_add(i.wrapping_mul(6007))) % 40000;
        let (c, f) = (base, base + 10);
        if free(c) && (f..f + 3).all(free) {
            return (c, f);
        }
    }
    panic!("no free ports on loopback");
}

struct Served {
    dir: std::path::PathBuf,
    cfg: String,
    control: u16,
    fabric: u16,
}

fn setup(name: &str) -> Served {
    let (control, fabric) = free_ports();
    let dir =
        std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("probe_serve_{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("daos_server.yml");
    std::fs::write(
        &cfg,
        format!(
            "name: daos_server\nport: {control}\naccess_points: ['localhost']\nprovider: ofi+tcp\n\
             engines:\n- targets: 1\n  nr_xs_helpers: 0\n  fabric_iface: lo\n  fabric_iface_port: {fabric}\n  \
             storage:\n  - class: ram\n    scm_mount: /mnt/daos\n"
        ),
    )
    .unwrap();
    Served {
        cfg: cfg.display().to_string(),
        dir,
        control,
        fabric,
    }
}

impl Served {
    fn spawn(&self, duration: u64) -> Child {
        Command::new(BIN)
            .args(["probe", "serve", "--duration", &duration.to_string()])
            .args(["--server-config", &self.cfg])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Waits until the first fabric port accepts (serve is bound and serving).
    fn wait_listening(&self, child: &mut Child) {
        let t = Instant::now();
        let a: SocketAddr = ([127, 0, 0, 1], self.fabric).into();
        while TcpStream::connect_timeout(&a, Duration::from_millis(100)).is_err() {
            if let Ok(Some(st)) = child.try_wait() {
                panic!("probe serve exited early: {st}: {}", stderr(child));
            }
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "serve never listened"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn probe(&self) -> serde_json::Value {
        let o = Command::new(BIN)
            .args([
                "probe",
                "127.0.0.1",
                "--format",
                "json",
                "--timeout-ms",
                "500",
            ])
            .args(["--server-config", &self.cfg])
            .output()
            .unwrap();
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn stderr(c: &mut Child) -> String {
    let mut s = String::new();
    if let Some(e) = c.stderr.as_mut() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

/// Waits for the child at most `limit`; kills it and fails beyond.
fn wait_within(c: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return (st, t.elapsed());
        }
        if t.elapsed() > limit {
            let _ = c.kill();
            let _ = c.wait();
            panic!("probe serve still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn duration_ends_it_on_time() {
    let s = setup("duration");
    let t = Instant::now();
    let mut c = s.spawn(2);
    let (st, _) = wait_within(&mut c, Duration::from_secs(6));
    let wall = t.elapsed();
    let err = stderr(&mut c);
    assert!(st.success(), "{st}: {err}");
    // 2 s of serving, plus process start and the config load; never much beyond
    assert!(
        wall >= Duration::from_secs(2) && wall < Duration::from_millis(3500),
        "ran {wall:?}: {err}"
    );
    assert!(err.contains("(duration elapsed)"), "{err}");
    assert!(err.contains("stopped after 2.0 s"), "{err}");
}

fn signal_ends_it(sig: &str, word: &str) {
    let s = setup(&format!("sig{sig}"));
    let mut c = s.spawn(60);
    s.wait_listening(&mut c);
    // one real handshake first, so the summary has something to count
    let v = s.probe();
    assert_eq!(v["summary"]["status"], "pass", "{v}");
    let t = Instant::now();
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &c.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let (st, _) = wait_within(&mut c, Duration::from_secs(3));
    let took = t.elapsed();
    let err = stderr(&mut c);
    assert_eq!(st.code(), Some(0), "{st}: {err}");
    assert!(took < Duration::from_secs(1), "{sig} took {took:?}");
    assert!(err.contains(&format!("({word})")), "{err}");
    // 4 paths answered (control + 3 fabric ports) plus the readiness connect
    assert!(err.contains("4 handshake(s) answered"), "{err}");
}

#[test]
fn sigterm_ends_it_cleanly() {
    signal_ends_it("TERM", "SIGTERM");
}

#[test]
fn sigint_ends_it_cleanly() {
    signal_ends_it("INT", "SIGINT");
}

#[test]
fn a_port_in_use_is_reported_and_skipped() {
    let s = setup("inuse");
    // "daos_server" already holds the control port (all addresses, as it binds it)
    let holder = TcpListener::bind(("0.0.0.0", s.control)).unwrap();
    let mut c = s.spawn(60);
    s.wait_listening(&mut c);
    let v = s.probe();
    let r = |port: u16| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["port"] == port)
            .unwrap_or_else(|| panic!("no {port} in {v}"))
            .clone()
    };
    // the holder accepted (the kernel's backlog) but never answers: not serve's handshake
    let ctl = r(s.control);
    assert_eq!(ctl["status"], "timeout", "{ctl}");
    assert!(
        ctl["detail"].as_str().unwrap().contains("no handshake"),
        "{ctl}"
    );
    for p in s.fabric..s.fabric + 3 {
        assert_eq!(r(p)["status"], "ok", "{}", r(p));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &c.id().to_string()])
        .status();
    let (st, _) = wait_within(&mut c, Duration::from_secs(3));
    let err = stderr(&mut c);
    assert!(st.success(), "{err}");
    assert!(
        err.contains(&format!(
            "control {} on 0.0.0.0: port already in use (daos_server running?): skipped",
            s.control
        )),
        "{err}"
    );
    assert!(err.contains("1 skipped"), "{err}");
    // never fought over: the holder still owns it
    assert!(TcpListener::bind(("0.0.0.0", s.control)).is_err());
    drop(holder);
}

/// `Name:\tvalue` of /proc/PID/status.
fn status_field(pid: u32, name: &str) -> String {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

#[test]
fn privileges_beyond_binding_are_dropped() {
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    if !root {
        assert!(std::env::var("CI").is_err(), "CI runs as root");
        eprintln!("SKIP: needs root to see privileges dropped");
        return;
    }
    let s = setup("privs");
    let mut c = s.spawn(60);
    s.wait_listening(&mut c);
    let pid = c.id();
    // the kernel's view of the serving process: uid/gid nobody (real, effective,
    // saved, fs), no supplementary group, no capability in any set, no_new_privs
    let nobody = |field: &str| {
        let v = status_field(pid, field);
        let ids: Vec<&str> = v.split_whitespace().collect();
        assert_eq!(ids.len(), 4, "{field}: {v}");
        assert!(
            ids.iter().all(|i| *i != "0" && *i == ids[0]),
            "{field}: {v}"
        );
    };
    nobody("Uid");
    nobody("Gid");
    assert_eq!(status_field(pid, "Groups"), "");
    for set in ["CapInh", "CapPrm", "CapEff", "CapAmb"] {
        assert_eq!(status_field(pid, set), "0000000000000000", "{set}");
    }
    assert_eq!(status_field(pid, "NoNewPrivs"), "1");
    // and it still answers
    assert_eq!(s.probe()["summary"]["status"], "pass");
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let (st, _) = wait_within(&mut c, Duration::from_secs(3));
    let err = stderr(&mut c);
    assert!(st.success(), "{err}");
    assert!(
        err.contains(
            "privileges dropped: uid 65534 gid 65534 (nobody), no capabilities, no_new_privs"
        ),
        "{err}"
    );
}
