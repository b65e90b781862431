//! Host access: the only code in daos-preflight that reads files or makes syscalls.
//!
//! A [`Host`] is rooted at `/` (the live machine) or at a captured tree (`--root DIR`:
//! a fixture, an hwloc tarball, a VM's sysfs). Every path handed to it is the path *on
//! the host* (`/sys/class/iommu`), and every error carries the full path that failed and
//! keeps NotFound, PermissionDenied and EINVAL apart, because the checks map them to
//! different statuses (`skip`, `error` with "run as root", ...).
//!
//! Facts that only exist on a running kernel (adjtimex, getifaddrs, rlimits, uid) are
//! `None` when the host is not live: a captured tree can't answer them and we never guess.

use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

pub mod caps;
pub mod failpoint;
pub mod hugetlb;
pub mod local;
pub mod net_probe;
pub mod safe_path;
pub mod syscalls;
pub mod write;
#[cfg(test)]
mod write_tests;

pub use syscalls::{AddressFamily, InterfaceAddress, MemlockLimit, TimeSyncState};

/// What kind of failure a host read hit. The distinction drives check statuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostErrorKind {
    /// ENOENT / ENOTDIR: the file is not there (a feature absent, a container without /sys).
    NotFound,
    /// EACCES / EPERM: the file is there but this user may not read it.
    PermissionDenied,
    /// EINVAL and friends: sysfs attributes that exist but refuse to be read
    /// (e.g. `speed` of a link that is down).
    InvalidInput,
    /// A path `fix` refuses to go through (a symbolic link, a directory of another
    /// user on the way to someone else's file), with the reason.
    Unsafe(String),
    /// Anything else, with the OS message.
    Other(String),
}

/// A failed host read, with the path that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// The full path that was accessed (including `--root`).
    pub path: PathBuf,
    /// What went wrong.
    pub kind: HostErrorKind,
}

impl HostError {
    fn from_io(path: PathBuf, err: &io::Error) -> Self {
        let kind = match err.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => HostErrorKind::NotFound,
            io::ErrorKind::PermissionDenied => HostErrorKind::PermissionDenied,
            io::ErrorKind::InvalidInput => HostErrorKind::InvalidInput,
            _ => match err.raw_os_error() {
                Some(libc::ENOENT) | Some(libc::ENOTDIR) => HostErrorKind::NotFound,
                Some(libc::EACCES) | Some(libc::EPERM) => HostErrorKind::PermissionDenied,
                Some(libc::EINVAL) | Some(libc::ENODEV) | Some(libc::EOPNOTSUPP) => {
                    HostErrorKind::InvalidInput
                }
                _ => HostErrorKind::Other(err.to_string()),
            },
        };
        HostError { path, kind }
    }

    /// True when the file simply does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == HostErrorKind::NotFound
    }

    /// True when the file exists but this user may not read it.
    pub fn is_permission_denied(&self) -> bool {
        self.kind == HostErrorKind::PermissionDenied
    }

    /// Short machine-readable name of the kind (`not_found`, `permission_denied`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            HostErrorKind::NotFound => "not_found",
            HostErrorKind::PermissionDenied => "permission_denied",
            HostErrorKind::InvalidInput => "invalid_input",
            HostErrorKind::Unsafe(_) => "unsafe_path",
            HostErrorKind::Other(_) => "other",
        }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        match &self.kind {
            HostErrorKind::NotFound => write!(f, "{p}: not found"),
            HostErrorKind::PermissionDenied => write!(f, "{p}: permission denied (run as root)"),
            HostErrorKind::InvalidInput => write!(f, "{p}: invalid argument (EINVAL) on read"),
            HostErrorKind::Unsafe(m) => write!(f, "{p}: unsafe path: {m}"),
            HostErrorKind::Other(m) => write!(f, "{p}: {m}"),
        }
    }
}

impl std::error::Error for HostError {}

/// Metadata of a file on the host, as much as the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Size in bytes (sysfs attributes report 4096 or 0; ACPI tables their real size).
    pub size: u64,
    /// Permission bits and file type (`st_mode`).
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Owner gid.
    pub gid: u32,
    /// A directory.
    pub is_dir: bool,
    /// A regular file.
    pub is_file: bool,
    /// A block device.
    pub is_block_device: bool,
}

/// Upper bound for any single file we read. sysfs attributes are one page, ACPI tables
/// are at most a few hundred KiB; a runaway read (a device node, /proc/kcore) must not
/// eat the memory of a storage server.
const MAX_READ: u64 = 64 * 1024 * 1024;

/// Reads a file named on the command line (not a host path: it is not put under
/// `--root`), bounded like every host read and with the same error kinds.
pub fn read_local_file(path: &Path) -> Result<Vec<u8>, HostError> {
    let file = std::fs::File::open(path).map_err(|e| HostError::from_io(path.to_path_buf(), &e))?;
    let mut buf = Vec::new();
    file.take(MAX_READ)
        .read_to_end(&mut buf)
        .map_err(|e| HostError::from_io(path.to_path_buf(), &e))?;
    Ok(buf)
}

/// Reads a regular file named on the command line, bounded like [`read_local_file`];
/// anything else (a FIFO, a device, a socket, a directory) is refused without blocking:
/// the file is opened with `O_NONBLOCK` (a FIFO without a writer would otherwise hang
/// the open) and judged by `fstat` of what was opened, so a swap between a check and
/// the open cannot slip a FIFO in.
pub fn read_local_regular(path: &Path) -> Result<Vec<u8>, HostError> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let err = |e: &io::Error| HostError::from_io(path.to_path_buf(), e);
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| err(&e))?;
    let ft = file.metadata().map_err(|e| err(&e))?.file_type();
    if !ft.is_file() {
        let what = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_block_device() || ft.is_char_device() {
            "a device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a plain file"
        };
        return Err(HostError {
            path: path.to_path_buf(),
            kind: HostErrorKind::Other(format!("not a regular file ({what})")),
        });
    }
    let len = file.metadata().map_err(|e| err(&e))?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(HostError {
            path: path.to_path_buf(),
            kind: HostErrorKind::Other(format!(
                "{len} bytes: larger than any DAOS configuration or certificate (limit {MAX_CONFIG_BYTES} bytes); is this the right file?"
            )),
        });
    }
    let mut buf = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| err(&e))?;
    Ok(buf)
}

/// The largest DAOS file (configuration, CA certificate) read: real ones are a few KiB;
/// anything above 1 MiB is the wrong file and is refused before parsing.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a path named on the command line cannot be a DAOS configuration file: missing,
/// or not a regular file (a FIFO would block the ExecStartPre= hook, a directory or a
/// device is a wrong path). Stat only: nothing is opened.
pub fn config_path_problem(path: &Path) -> Option<String> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some("not found".into()),
        Err(e) => Some(e.to_string()),
        Ok(m) => {
            let ft = m.file_type();
            let what = if ft.is_file() && m.len() > MAX_CONFIG_BYTES {
                return Some(format!(
                    "{} bytes: larger than any DAOS configuration (limit {MAX_CONFIG_BYTES} bytes); is this the right file?",
                    m.len()
                ));
            } else if ft.is_file() {
                return None;
            } else if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_dir() {
                "a directory"
            } else if ft.is_block_device() || ft.is_char_device() {
                "a device"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "not a plain file"
            };
            Some(format!("not a regular file ({what})"))
        }
    }
}

/// A one-value attribute without surrounding whitespace and NUL bytes.
pub fn trim_attr(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\0')
}

/// The machine being inspected: `/` or a captured tree.
#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
    live: bool,
}

impl Host {
    /// The running machine (`/`); live-only facts are available.
    pub fn live() -> Self {
        Host {
            root: PathBuf::from("/"),
            live: true,
        }
    }

    /// A captured tree rooted at `root`; live-only facts are `None`.
    ///
    /// `--root /` is treated as the live machine: the tree *is* this host.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        if root == Path::new("/") {
            return Host::live();
        }
        Host { root, live: false }
    }

    /// The root directory this host is read from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// True for the running machine (syscall-based facts are meaningful).
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// The real path of a host path: `/sys/x` under root `R` is `R/sys/x`.
    pub fn path(&self, host_path: &str) -> PathBuf {
        self.root.join(host_path.trim_start_matches('/'))
    }

    /// Reads a whole file as bytes.
    pub fn read_bytes(&self, host_path: &str) -> Result<Vec<u8>, HostError> {
        read_local_file(&self.path(host_path))
    }

    /// Reads a regular file (configuration, certificate) as bytes; a FIFO, device or
    /// directory is an error, never a blocking read ([`read_local_regular`]).
    pub fn read_regular(&self, host_path: &str) -> Result<Vec<u8>, HostError> {
        read_local_regular(&self.path(host_path))
    }

    /// Reads a whole file as text (invalid UTF-8 is replaced, never fatal: firmware
    /// strings in sysfs are not always UTF-8).
    pub fn read_string(&self, host_path: &str) -> Result<String, HostError> {
        let bytes = self.read_bytes(host_path)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Reads a one-value sysfs/procfs attribute, trimmed of surrounding whitespace and
    /// NUL bytes.
    ///
    /// NULs: captured trees are not always byte-exact copies of what the kernel printed.
    /// The hwloc test machines (`hwloc-gather-topology`) store many attributes with a
    /// trailing NUL (`0-31\n\0` in `node0/cpulist` of `linux_128arm-2pa2n8cluster4co`),
    /// and device-tree backed attributes are NUL-terminated strings on live systems too.
    /// A NUL is never part of a one-value attribute, so it is dropped rather than making
    /// the value unparsable.
    pub fn read_attr(&self, host_path: &str) -> Result<String, HostError> {
        Ok(trim_attr(&self.read_string(host_path)?).to_string())
    }

    /// Reads an attribute; absent or unreadable becomes `None` (for optional facts where
    /// the reason does not matter to any check).
    pub fn read_attr_opt(&self, host_path: &str) -> Option<String> {
        self.read_attr(host_path).ok()
    }

    /// Names in a directory, sorted (stable output for reports and tests).
    pub fn list_dir(&self, host_path: &str) -> Result<Vec<String>, HostError> {
        let path = self.path(host_path);
        let rd = std::fs::read_dir(&path).map_err(|e| HostError::from_io(path.clone(), &e))?;
        let mut names = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| HostError::from_io(path.clone(), &e))?;
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    /// True when the path exists (following symlinks).
    pub fn exists(&self, host_path: &str) -> bool {
        self.path(host_path).exists()
    }

    /// The target of a symlink, as stored.
    pub fn read_link(&self, host_path: &str) -> Result<PathBuf, HostError> {
        let path = self.path(host_path);
        std::fs::read_link(&path).map_err(|e| HostError::from_io(path.clone(), &e))
    }

    /// Resolves every symlink in `host_path`, component by component, to the host path
    /// it names (like `realpath`, but confined to the root: an absolute link target in a
    /// captured tree is taken relative to the tree, and `..` never leaves it). sysfs is
    /// links on links (`/sys/class/net/eth0` → `.../virtio2/net/eth0`, whose `device` →
    /// `../../../virtio2`), so each prefix must be resolved before the next component.
    pub fn canonical(&self, host_path: &str) -> Result<String, HostError> {
        let mut resolved: Vec<String> = Vec::new();
        let mut pending: Vec<String> = host_path
            .split('/')
            .filter(|c| !c.is_empty())
            .rev()
            .map(str::to_string)
            .collect();
        let mut hops = 0;
        while let Some(comp) = pending.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    resolved.pop();
                    continue;
                }
                _ => {}
            }
            resolved.push(comp);
            let current = format!("/{}", resolved.join("/"));
            let real = self.path(&current);
            let is_link = std::fs::symlink_metadata(&real)
                .map(|m| m.file_type().is_symlink())
                .map_err(|e| HostError::from_io(real.clone(), &e))?;
            if !is_link {
                continue;
            }
            hops += 1;
            if hops > 40 {
                return Err(HostError {
                    path: real,
                    kind: HostErrorKind::Other("too many levels of symbolic links".into()),
                });
            }
            let target =
                std::fs::read_link(&real).map_err(|e| HostError::from_io(real.clone(), &e))?;
            resolved.pop();
            if target.is_absolute() {
                resolved.clear();
            }
            let t = target.to_string_lossy();
            pending.extend(
                t.split('/')
                    .filter(|c| !c.is_empty())
                    .rev()
                    .map(str::to_string),
            );
        }
        Ok(format!("/{}", resolved.join("/")))
    }

    /// The last path component of a symlink target (`driver -> .../drivers/nvme` → `nvme`).
    pub fn link_basename(&self, host_path: &str) -> Option<String> {
        let target = self.read_link(host_path).ok()?;
        target.file_name().map(|n| n.to_string_lossy().into_owned())
    }

    /// File metadata (follows symlinks).
    pub fn metadata(&self, host_path: &str) -> Result<FileMeta, HostError> {
        use std::os::unix::fs::{FileTypeExt, MetadataExt};
        let path = self.path(host_path);
        let md = std::fs::metadata(&path).map_err(|e| HostError::from_io(path.clone(), &e))?;
        Ok(FileMeta {
            size: md.len(),
            mode: md.mode(),
            uid: md.uid(),
            gid: md.gid(),
            is_dir: md.is_dir(),
            is_file: md.is_file(),
            is_block_device: md.file_type().is_block_device(),
        })
    }

    /// Checks whether this process could open the file for reading, without reading
    /// it (ACPI tables are mode 0400: readable only by root).
    pub fn can_read(&self, host_path: &str) -> Result<bool, HostError> {
        let path = self.path(host_path);
        match std::fs::File::open(&path) {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = HostError::from_io(path, &e);
                if err.is_permission_denied() {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_kind_and_path() {
        let dir = std::env::temp_dir().join(format!("dp-host-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sys")).unwrap();
        let host = Host::at(&dir);
        let err = host.read_string("/sys/nope").unwrap_err();
        assert!(err.is_not_found());
        assert_eq!(err.path, dir.join("sys/nope"));
        assert!(err.to_string().contains("sys/nope"));
        // a directory read as a file is "other" (EISDIR), not NotFound
        let err = host.read_string("/sys").unwrap_err();
        assert!(!err.is_not_found());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn canonical_follows_links_on_links() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("dp-canon-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dev = dir.join("sys/devices/pci0000:00/0000:00:03.0/virtio2/net/eth0");
        std::fs::create_dir_all(&dev).unwrap();
        std::fs::create_dir_all(dir.join("sys/class/net")).unwrap();
        symlink(
            "../../devices/pci0000:00/0000:00:03.0/virtio2/net/eth0",
            dir.join("sys/class/net/eth0"),
        )
        .unwrap();
        symlink("../../../virtio2", dev.join("device")).unwrap();
        // an absolute link stays inside the tree
        symlink("/sys/devices", dir.join("sys/abs")).unwrap();
        let host = Host::at(&dir);
        assert_eq!(
            host.canonical("/sys/class/net/eth0/device").unwrap(),
            "/sys/devices/pci0000:00/0000:00:03.0/virtio2"
        );
        assert_eq!(host.canonical("/sys/abs/../class").unwrap(), "/sys/class");
        assert!(
            host.canonical("/sys/class/net/nope")
                .unwrap_err()
                .is_not_found()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn refused_reads_keep_their_kind() {
        // What sysfs answers for `speed`/`carrier` of a link that is down (EINVAL), of
        // a device without the attribute (ENODEV/EOPNOTSUPP), and for 0400 files.
        for (errno, kind) in [
            (libc::EINVAL, HostErrorKind::InvalidInput),
            (libc::ENODEV, HostErrorKind::InvalidInput),
            (libc::EOPNOTSUPP, HostErrorKind::InvalidInput),
            (libc::EACCES, HostErrorKind::PermissionDenied),
            (libc::ENOENT, HostErrorKind::NotFound),
        ] {
            let e = HostError::from_io(
                PathBuf::from("/sys/class/net/eth1/speed"),
                &io::Error::from_raw_os_error(errno),
            );
            assert_eq!(e.kind, kind, "errno {errno}");
            assert!(e.to_string().starts_with("/sys/class/net/eth1/speed: "));
        }
    }

    #[test]
    fn attributes_lose_trailing_nul() {
        // node0/cpulist of hwloc's linux_128arm-2pa2n8cluster4co tree (BSD-3-Clause,
        // open-mpi/hwloc tests/hwloc/linux): the value is followed by "\n\0".
        assert_eq!(trim_attr("0-31\n\0"), "0-31");
        assert_eq!(trim_attr("\0 up\n"), "up");
        assert_eq!(trim_attr("\n"), "");
        let dir = std::env::temp_dir().join(format!("dp-nul-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sys")).unwrap();
        std::fs::write(dir.join("sys/cpulist"), b"0-31\n\0").unwrap();
        assert_eq!(Host::at(&dir).read_attr("/sys/cpulist").unwrap(), "0-31");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn regular_reads_refuse_fifos_without_blocking() {
        let dir = std::env::temp_dir().join(format!("dp-fifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("etc/daos")).unwrap();
        let fifo = dir.join("etc/daos/daos_server.yml");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let host = Host::at(&dir);
        let e = host.read_regular("/etc/daos/daos_server.yml").unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: not a regular file (a FIFO)", fifo.display())
        );
        let e = host.read_regular("/etc").unwrap_err();
        assert!(
            e.to_string().ends_with("not a regular file (a directory)"),
            "{e}"
        );
        std::fs::write(dir.join("etc/hostname"), "node0\n").unwrap();
        assert_eq!(host.read_regular("/etc/hostname").unwrap(), b"node0\n");
        assert!(host.read_regular("/etc/nope").unwrap_err().is_not_found());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn root_slash_is_live() {
        assert!(Host::at("/").is_live());
        assert!(!Host::at("/tmp").is_live());
        assert_eq!(
            Host::at("/tmp/x").path("/sys/a"),
            PathBuf::from("/tmp/x/sys/a")
        );
    }
}
