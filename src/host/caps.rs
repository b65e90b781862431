//! Least privilege: a run keeps only the capabilities its job needs.
//!
//! `check`, `facts`, `acpi` only read: as root they keep CAP_DAC_READ_SEARCH (to read
//! files other users own, such as certificates under /etc/daos) and drop every other
//! capability from the effective, permitted and inheritable sets; `probe serve` also
//! keeps CAP_NET_BIND_SERVICE, CAP_SETUID and CAP_SETGID until its ports are bound and
//! it has become `nobody`. `fix` keeps what its
//! writes need (files in /etc, sysfs/procfs attributes, /dev/vfio ownership, hugepage
//! and module operations). Programs `fix` runs (modprobe, grubby, systemctl) are
//! executed as root by the kernel's rules and get root's capabilities back: they are the
//! distribution's own tools, trusted as such.

use caps::{CapSet, Capability, CapsHashSet};

use super::{Host, HostError, HostErrorKind};

/// What a run is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// Read the host.
    Read,
    /// Change the host (`fix`).
    Write,
    /// Read the host and bind its DAOS ports (`probe serve`: CAP_NET_BIND_SERVICE for a
    /// port below 1024, CAP_SETUID/CAP_SETGID to become `nobody`; everything goes once
    /// the ports are bound, host/net_probe.rs `drop_privileges`).
    Bind,
}

/// The capabilities kept for a privilege.
pub fn kept(p: Privilege) -> CapsHashSet {
    let mut set = CapsHashSet::new();
    set.insert(Capability::CAP_DAC_READ_SEARCH);
    if p == Privilege::Bind {
        // binding a port below 1024, then switching to `nobody` for good
        for c in [
            Capability::CAP_NET_BIND_SERVICE,
            Capability::CAP_SETUID,
            Capability::CAP_SETGID,
        ] {
            set.insert(c);
        }
    }
    if p == Privilege::Write {
        for c in [
            Capability::CAP_DAC_OVERRIDE,
            Capability::CAP_CHOWN,
            Capability::CAP_FOWNER,
            Capability::CAP_SYS_ADMIN,
            Capability::CAP_SYS_MODULE,
            Capability::CAP_SYS_RESOURCE,
            Capability::CAP_SETUID,
            Capability::CAP_SETGID,
        ] {
            set.insert(c);
        }
    }
    set
}

impl Host {
    /// Drops every capability beyond [`kept`]`(p)`, for the process (so also when it
    /// reads a captured tree). A no-op for a non-root process: it has none to drop.
    pub fn restrict_capabilities(&self, p: Privilege) -> Result<(), HostError> {
        if nix::unistd::geteuid().as_raw() != 0 {
            return Ok(());
        }
        let keep = kept(p);
        let err = |e: caps::errors::CapsError| HostError {
            path: "capabilities".into(),
            kind: HostErrorKind::Other(e.to_string()),
        };
        let current = caps::read(None, CapSet::Permitted).map_err(err)?;
        let keep: CapsHashSet = keep.intersection(&current).copied().collect();
        caps::set(None, CapSet::Effective, &keep).map_err(err)?;
        caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).map_err(err)?;
        caps::set(None, CapSet::Permitted, &keep).map_err(err)?;
        Ok(())
    }

    /// `CapEff` of this process from `/proc/self/status` (live only), as printed.
    pub fn effective_capabilities(&self) -> Option<String> {
        if !self.is_live() {
            return None;
        }
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .map(|v| v.trim().to_string())
    }
}
