//! The sockets of `probe` and `probe serve`: name resolution (the system resolver via
//! std's `ToSocketAddrs`: /etc/hosts, then DNS), parallel bounded connects, the
//! listener with its bounded per-connection reads, clocks, and the capability drop
//! after binding.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::probe::plan::Target;
use crate::probe::protocol::{self, Hello};
use crate::probe::{ProbeResult, same_host};

/// Now, ns since the Unix epoch.
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i128)
        .unwrap_or(0)
}

/// `sha256:<hex>` of a file, `None` when it cannot be read.
pub fn file_digest(path: &str) -> Option<String> {
    // Regular files only, bounded: a FIFO named as the server file must not block serve.
    let bytes = super::read_local_regular(std::path::Path::new(path)).ok()?;
    Some(format!(
        "sha256:{}",
        crate::daos::digest::sha256_hex(&bytes)
    ))
}

/// IPv4 addresses of an interface (`getifaddrs`).
pub fn iface_addrs(iface: &str) -> Vec<std::net::IpAddr> {
    let Ok(it) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    it.filter(|a| a.interface_name == iface)
        .filter_map(|a| {
            a.address?
                .as_sockaddr_in()
                .map(|s| std::net::IpAddr::V4(s.ip()))
        })
        .collect()
}

/// Every local IPv4 address but loopback.
pub fn local_addrs() -> Vec<String> {
    let Ok(it) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    let mut v: Vec<String> = it
        .filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
        .filter(|ip| !ip.is_loopback())
        .map(|ip| ip.to_string())
        .collect();
    v.dedup();
    v
}

/// One listener `probe serve` holds.
#[derive(Debug)]
pub struct Bound {
    /// What it is (`control 10001 on 0.0.0.0`).
    pub what: String,
    /// The socket, `None` when the bind failed.
    pub listener: Option<TcpListener>,
    /// Why the bind failed.
    pub error: Option<String>,
}

/// Binds `addr`; a port in use is reported, never fought over (no SO_REUSEPORT).
pub fn bind(addr: SocketAddr, what: String) -> Bound {
    match TcpListener::bind(addr) {
        Ok(l) => {
            let _ = l.set_nonblocking(true);
            Bound {
                what,
                listener: Some(l),
                error: None,
            }
        }
        Err(e) => Bound {
            what,
            listener: None,
            error: Some(if e.kind() == std::io::ErrorKind::AddrInUse {
                "port already in use (daos_server running?): skipped".into()
            } else {
                e.to_string()
            }),
        },
    }
}

/// The unprivileged account `probe serve` continues as once its ports are bound.
const SERVE_USER: &str = "nobody";

/// Drops every privilege once the ports are bound (they are the only thing root may be
/// needed for: a port below 1024 needs CAP_NET_BIND_SERVICE). As root: supplementary
/// groups cleared, gid and uid switched to `nobody` (real, effective and saved, so
/// there is no way back; the kernel clears the capability sets on the uid change,
/// capabilities(7) "Effect of user ID changes"), then every capability set emptied and
/// `PR_SET_NO_NEW_PRIVS` set (no set-uid exec can give anything back). Not root: only
/// the capability sets and no_new_privs. Returns what was done, for the log line.
pub fn drop_privileges() -> Result<String, String> {
    use nix::unistd::{Gid, Uid, User, setgroups, setresgid, setresuid};
    let mut done = Vec::new();
    if Uid::effective().is_root() {
        let (uid, gid) = match User::from_name(SERVE_USER) {
            Ok(Some(u)) => (u.uid, u.gid),
            // no such account: the conventional overflow ids (65534)
            _ => (Uid::from_raw(65534), Gid::from_raw(65534)),
        };
        setgroups(&[]).map_err(|e| format!("setgroups: {e}"))?;
        setresgid(gid, gid, gid).map_err(|e| format!("setresgid({gid}): {e}"))?;
        setresuid(uid, uid, uid).map_err(|e| format!("setresuid({uid}): {e}"))?;
        done.push(format!("uid {uid} gid {gid} ({SERVE_USER})"));
    }
    let empty = caps::CapsHashSet::new();
    for set in [
        caps::CapSet::Effective,
        caps::CapSet::Inheritable,
        caps::CapSet::Permitted,
    ] {
        caps::set(None, set, &empty).map_err(|e| format!("capabilities: {e}"))?;
    }
    done.push("no capabilities".into());
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } == 0 {
        done.push("no_new_privs".into());
    }
    Ok(done.join(", "))
}

/// Why `serve` stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// `--duration` elapsed.
    Duration,
    /// SIGINT.
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl StopReason {
    /// For the summary line.
    pub fn text(self) -> &'static str {
        match self {
            StopReason::Duration => "duration elapsed",
            StopReason::Interrupt => "SIGINT",
            StopReason::Terminate => "SIGTERM",
        }
    }
}

/// What `serve` did.
#[derive(Debug, Clone)]
pub struct Served {
    /// Connections accepted.
    pub connections: u64,
    /// Handshakes answered.
    pub answered: u64,
    /// Why it stopped.
    pub reason: StopReason,
    /// How long it served.
    pub elapsed: Duration,
}

/// 0: running, else the signal number that stops the loop.
static STOP: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    STOP.store(sig, Ordering::SeqCst);
}

/// Serves the handshake on `listeners` for `duration` or until SIGINT/SIGTERM, whichever
/// comes first (checked every 2 ms: it never runs noticeably longer than asked).
/// Handshakes still in flight at the end are abandoned, not waited for.
pub fn serve(listeners: Vec<TcpListener>, duration: Duration, hello: Hello) -> Served {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let hello = Arc::new(hello);
    let active = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let answered = Arc::new(AtomicU64::new(0));
    let mut connections = 0;
    let reason = loop {
        match STOP.load(Ordering::SeqCst) {
            0 => {}
            libc::SIGINT => break StopReason::Interrupt,
            _ => break StopReason::Terminate,
        }
        if Instant::now() >= deadline {
            break StopReason::Duration;
        }
        let mut any = false;
        for l in &listeners {
            while let Ok((s, _)) = l.accept() {
                any = true;
                connections += 1;
                // bounded concurrency: beyond 256 handshakes in flight, close at once
                if active.load(Ordering::SeqCst) >= 256 {
                    continue;
                }
                let (h, a, n) = (hello.clone(), active.clone(), answered.clone());
                a.fetch_add(1, Ordering::SeqCst);
                let spawned = std::thread::Builder::new()
                    .stack_size(256 * 1024)
                    .spawn(move || {
                        if answer(s, &h) {
                            n.fetch_add(1, Ordering::SeqCst);
                        }
                        a.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    active.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        if !any {
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    Served {
        connections,
        answered: answered.load(Ordering::SeqCst),
        reason,
        elapsed: start.elapsed(),
    }
}

/// Answers one connection; true when it was a probe and the reply was sent.
fn answer(mut s: TcpStream, hello: &Hello) -> bool {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; protocol::MAX_REQUEST];
    let mut n = 0;
    while n < buf.len() {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => {
                n += k;
                if buf[..n].contains(&b'\n') {
                    break;
                }
            }
        }
    }
    let t2 = now_ns();
    if protocol::decode_request(&buf[..n]).is_none() {
        return false; // not a probe: answer nothing
    }
    let mut h = hello.clone();
    h.t2 = t2;
    h.t3 = now_ns();
    s.write_all(protocol::encode_reply(&h).as_bytes()).is_ok()
}

/// Resolves a peer name with the system resolver (getaddrinfo: /etc/hosts, then DNS),
/// every address it gives, in its order with IPv4 first, each once. DAOS's control
/// plane dials what Go's resolver returns and may use any of them, so a stale second
/// A record or /etc/hosts line is a real path to test.
pub fn resolve(peer: &str) -> Result<Vec<std::net::IpAddr>, String> {
    let all: Vec<std::net::IpAddr> = (peer, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip())
        .collect();
    let mut v: Vec<std::net::IpAddr> = Vec::new();
    for a in all {
        if !v.contains(&a) {
            v.push(a);
        }
    }
    v.sort_by_key(|a| a.is_ipv6());
    Ok(v)
}

/// Probes one (peer, address, port).
pub fn probe_one(peer: &str, addr: std::net::IpAddr, t: &Target, timeout: Duration) -> ProbeResult {
    let mut r = ProbeResult {
        peer: peer.into(),
        address: Some(addr.to_string()),
        port: t.port,
        purpose: t.purpose.into(),
        engine: t.engine,
        required: t.required,
        status: "error".into(),
        rtt_ms: None,
        clock_offset_ms: None,
        peer_hostname: None,
        peer_system_name: None,
        config_digest: None,
        detail: None,
    };
    let start = Instant::now();
    let sa = SocketAddr::new(addr, t.port);
    let mut s = match TcpStream::connect_timeout(&sa, timeout) {
        Ok(s) => s,
        Err(e) => {
            r.status = match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "refused",
                std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timeout",
                _ => "error",
            }
            .into();
            r.detail = Some(e.to_string());
            return r;
        }
    };
    let left = timeout
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(1));
    let _ = s.set_read_timeout(Some(left));
    let _ = s.set_write_timeout(Some(left));
    let t1 = now_ns();
    if let Err(e) = s.write_all(protocol::encode_request(t1).as_bytes()) {
        r.detail = Some(format!("send: {e}"));
        return r;
    }
    let mut buf = vec![0u8; protocol::MAX_REPLY];
    let mut n = 0;
    loop {
        match s.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => {
                n += k;
                if n == buf.len() || buf[..n].contains(&b'\n') {
                    break;
                }
            }
            Err(e) => {
                if n == 0 {
                    r.status = "timeout".into();
                    r.detail = Some(format!("connected, no handshake: {e}"));
                    return r;
                }
                break;
            }
        }
    }
    let t4 = now_ns();
    match protocol::decode_reply(&buf[..n]) {
        Ok(h) => {
            let (off, rtt) = protocol::offset_rtt(t1, h.t2, h.t3, t4);
            r.rtt_ms = Some(rtt as f64 / 1e6);
            r.clock_offset_ms = Some(off as f64 / 1e6);
            r.status = if same_host(peer, &h.hostname, h.fqdn.as_deref()) {
                "ok".into()
            } else {
                r.detail = Some(format!(
                    "{peer} resolved to {addr}, which is {}: stale /etc/hosts or DNS",
                    h.hostname
                ));
                "wrong-host".into()
            };
            r.peer_hostname = Some(h.hostname);
            r.peer_system_name = h.system_name;
            r.config_digest = h.config_digest;
        }
        Err(e) => r.detail = Some(e),
    }
    r
}

/// A path being probed, or already decided.
enum Job {
    Running(std::thread::JoinHandle<ProbeResult>),
    Done(Box<ProbeResult>),
}

/// A result without a connection (unresolved name, no thread).
fn no_path(
    peer: &str,
    addr: Option<String>,
    t: &Target,
    status: &str,
    detail: String,
) -> ProbeResult {
    ProbeResult {
        peer: peer.into(),
        address: addr,
        port: t.port,
        purpose: t.purpose.into(),
        engine: t.engine,
        required: t.required,
        status: status.into(),
        rtt_ms: None,
        clock_offset_ms: None,
        peer_hostname: None,
        peer_system_name: None,
        config_digest: None,
        detail: Some(detail),
    }
}

/// Probes every peer × resolved address × target in parallel (one thread per path),
/// each bounded by `timeout`. Results keep the peers' order, then the resolver's, then
/// the targets'.
pub fn probe_all(peers: &[String], targets: &[Target], timeout: Duration) -> Vec<ProbeResult> {
    let mut jobs = Vec::new();
    for p in peers {
        match resolve(p) {
            Ok(addrs) if !addrs.is_empty() => {
                for a in addrs {
                    for t in targets {
                        let (p2, t2) = (p.clone(), t.clone());
                        let spawned = std::thread::Builder::new()
                            .stack_size(256 * 1024)
                            .spawn(move || probe_one(&p2, a, &t2, timeout));
                        jobs.push(match spawned {
                            Ok(h) => Job::Running(h),
                            Err(e) => Job::Done(Box::new(no_path(
                                p,
                                Some(a.to_string()),
                                t,
                                "error",
                                format!("no thread for this path: {e}"),
                            ))),
                        });
                    }
                }
            }
            r => {
                let why = match &r {
                    Err(e) => e.clone(),
                    Ok(_) => "no address".into(),
                };
                for t in targets {
                    jobs.push(Job::Done(Box::new(no_path(
                        p,
                        None,
                        t,
                        "unresolved",
                        why.clone(),
                    ))));
                }
            }
        }
    }
    jobs.into_iter()
        .filter_map(|j| match j {
            Job::Running(h) => h.join().ok(),
            Job::Done(r) => Some(*r),
        })
        .collect()
}
