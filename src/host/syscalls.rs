//! Live-only facts that come from syscalls, not files: the kernel clock discipline
//! (adjtimex), interface addresses (getifaddrs), rlimits, uid and hostname.
//!
//! Every function here is reached through [`Host`](super::Host) and answers `None` when
//! the host is a captured tree: a tree has no running kernel to ask.

use std::net::IpAddr;

use super::{Host, HostError, HostErrorKind};

/// The kernel's clock-discipline state as `adjtimex(2)` reports it (read-only call,
/// `modes = 0`, allowed without CAP_SYS_TIME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeSyncState {
    /// Return value of adjtimex: 0 TIME_OK, 1 INS, 2 DEL, 3 OOP, 4 WAIT, 5 TIME_ERROR.
    pub clock_state: i32,
    /// `timex.status` bit field (STA_UNSYNC = 0x40 means "not synchronised").
    pub status: i32,
    /// Maximum error in microseconds (`timex.maxerror`).
    pub max_error_us: i64,
    /// Estimated error in microseconds (`timex.esterror`).
    pub est_error_us: i64,
}

/// `STA_UNSYNC` from <linux/timex.h>: the clock is not synchronised.
pub const STA_UNSYNC: i32 = 0x0040;
/// `TIME_ERROR` from <linux/timex.h>: the clock is not synchronised.
pub const TIME_ERROR: i32 = 5;

/// Address family of an interface address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// IPv4
    Inet,
    /// IPv6
    Inet6,
}

/// One address of a network interface, from getifaddrs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name (`eth0`, `ib0`).
    pub interface: String,
    /// The address.
    pub address: IpAddr,
    /// Prefix length when the netmask is contiguous.
    pub prefix_len: Option<u8>,
    /// The interface is a loopback one (`IFF_LOOPBACK`, `lo`).
    pub loopback: bool,
}

impl InterfaceAddress {
    /// IPv4 or IPv6.
    pub fn family(&self) -> AddressFamily {
        match self.address {
            IpAddr::V4(_) => AddressFamily::Inet,
            IpAddr::V6(_) => AddressFamily::Inet6,
        }
    }
}

/// The memlock rlimit of this process, in bytes; `None` = unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemlockLimit {
    /// Soft limit (`None` = RLIM_INFINITY).
    pub soft: Option<u64>,
    /// Hard limit (`None` = RLIM_INFINITY).
    pub hard: Option<u64>,
}

fn syscall_error(what: &str, errno: nix::errno::Errno) -> HostError {
    let kind = match errno {
        nix::errno::Errno::EPERM | nix::errno::Errno::EACCES => HostErrorKind::PermissionDenied,
        nix::errno::Errno::ENOSYS => HostErrorKind::NotFound,
        e => HostErrorKind::Other(e.desc().to_string()),
    };
    HostError {
        path: what.into(),
        kind,
    }
}

impl Host {
    /// The kernel clock state; `None` under `--root`.
    pub fn time_sync_state(&self) -> Option<Result<TimeSyncState, HostError>> {
        if !self.is_live() {
            return None;
        }
        // SAFETY: a zeroed timex with modes = 0 asks the kernel to read, not set, the
        // clock state; the struct is plain old data owned by this frame.
        let mut tx: libc::timex = unsafe { std::mem::zeroed() };
        tx.modes = 0;
        let rc = unsafe { libc::adjtimex(&mut tx) };
        if rc < 0 {
            return Some(Err(syscall_error("adjtimex(2)", nix::errno::Errno::last())));
        }
        Some(Ok(TimeSyncState {
            clock_state: rc,
            status: tx.status,
            max_error_us: tx.maxerror,
            est_error_us: tx.esterror,
        }))
    }

    /// All interface addresses; `None` under `--root`.
    pub fn interface_addresses(&self) -> Option<Result<Vec<InterfaceAddress>, HostError>> {
        if !self.is_live() {
            return None;
        }
        let addrs = match nix::ifaddrs::getifaddrs() {
            Ok(a) => a,
            Err(e) => return Some(Err(syscall_error("getifaddrs(3)", e))),
        };
        let mut out = Vec::new();
        for ifa in addrs {
            let Some(addr) = ifa.address else { continue };
            let (ip, prefix) = if let Some(v4) = addr.as_sockaddr_in() {
                let mask = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map(|m| m.ip());
                (
                    IpAddr::V4(v4.ip()),
                    mask.map(|m| u32::from(m).count_ones() as u8),
                )
            } else if let Some(v6) = addr.as_sockaddr_in6() {
                let mask = ifa
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map(|m| m.ip());
                (
                    IpAddr::V6(v6.ip()),
                    mask.map(|m| u128::from(m).count_ones() as u8),
                )
            } else {
                continue;
            };
            out.push(InterfaceAddress {
                interface: ifa.interface_name,
                address: ip,
                prefix_len: prefix,
                loopback: ifa
                    .flags
                    .contains(nix::net::if_::InterfaceFlags::IFF_LOOPBACK),
            });
        }
        Some(Ok(out))
    }

    /// This process's RLIMIT_MEMLOCK; `None` under `--root`.
    pub fn memlock_limit(&self) -> Option<MemlockLimit> {
        if !self.is_live() {
            return None;
        }
        let (soft, hard) =
            nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_MEMLOCK).ok()?;
        let conv = |v: u64| (v != libc::RLIM_INFINITY).then_some(v);
        Some(MemlockLimit {
            soft: conv(soft),
            hard: conv(hard),
        })
    }

    /// Space available to unprivileged users on the filesystem holding `host_path`
    /// (statvfs(3) `f_bavail × f_frsize`), bytes; `None` under `--root` (a captured
    /// tree's filesystem is not the host's) or when statvfs fails.
    pub fn fs_free_bytes(&self, host_path: &str) -> Option<u64> {
        if !self.is_live() {
            return None;
        }
        let st = nix::sys::statvfs::statvfs(&self.path(host_path)).ok()?;
        #[allow(clippy::unnecessary_cast)] // the field types differ between libcs
        Some(st.blocks_available() as u64 * st.fragment_size() as u64)
    }

    /// Effective uid of this process; `None` under `--root`.
    pub fn effective_uid(&self) -> Option<u32> {
        self.is_live().then(|| nix::unistd::geteuid().as_raw())
    }

    /// The hostname: the kernel's for the live host; for a tree, `/etc/hostname` (what
    /// the captured machine sets at boot, hostname(5): comments and blank lines ignored),
    /// else `/proc/sys/kernel/hostname` (a capture of the running kernel's).
    pub fn hostname(&self) -> Option<String> {
        if self.is_live()
            && let Ok(h) = nix::unistd::gethostname()
        {
            return Some(h.to_string_lossy().into_owned());
        }
        self.read_string("/etc/hostname")
            .ok()
            .and_then(|t| crate::facts::names::parse_etc_hostname(&t))
            .or_else(|| {
                self.read_attr_opt("/proc/sys/kernel/hostname")
                    .filter(|h| !h.is_empty())
            })
    }

    /// The IPv4 and IPv6 addresses of every interface except loopback ones (getifaddrs;
    /// `IFF_LOOPBACK` interfaces and loopback addresses are left out),
    /// each once, in the kernel's order; `None` under `--root` or when getifaddrs fails.
    pub fn addresses(&self) -> Option<Vec<IpAddr>> {
        let all = self.interface_addresses()?.ok()?;
        let mut out: Vec<IpAddr> = Vec::new();
        for a in all {
            if !a.loopback && !a.address.is_loopback() && !out.contains(&a.address) {
                out.push(a.address);
            }
        }
        Some(out)
    }
}
