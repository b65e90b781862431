//! Path safety for `fix`: every path it writes through is walked from the trusted root
//! (`/` or `--root`) one component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)`,
//! and the change is made on the file descriptor that walk opened (`fchownat` with
//! `AT_EMPTY_PATH`, `fchmod`, `ftruncate`, `mkdirat`, `renameat`, `unlinkat`), never by
//! path. Two things are refused, naming the component:
//!
//! - a symbolic link anywhere outside `/sys` and `/proc` (a service account that plants
//!   `/var/lib/daos/x -> /etc` must not get root to chown `/etc` for it). Kernel
//!   filesystems are the exception: `/sys/bus/pci/devices/<addr>` and `.../driver` are
//!   links only the kernel makes; they are followed, but resolved inside the root, so a
//!   link in a captured tree can never lead out of it;
//! - an "unsafe path transition" (systemd's rule, src/basic/chase.c `unsafe_transition`:
//!   from a directory owned by a non-root user to an entry owned by someone else), e.g. a
//!   root-owned file reached through `/var/lib/daos`, which the service user owns and can
//!   rearrange between two system calls.
//!
//! A swap made while the walk runs (a directory replaced by a link after its parent was
//! opened) makes `openat(O_NOFOLLOW)` fail with ELOOP, so it is refused the same way; a
//! swap after the final open changes nothing, because the change is made through the
//! descriptor of what was checked.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::failpoint;
use super::{Host, HostError, HostErrorKind};

/// Symbolic links followed in one walk of a kernel path (Linux's own limit, MAXSYMLINKS).
const MAX_LINKS: u32 = 40;

/// A directory reached by a safe walk, open.
#[derive(Debug)]
pub struct SafeDir {
    /// The open directory.
    pub fd: OwnedFd,
    /// Its host path (`/var/log/daos`).
    pub host_path: String,
    /// Its owner.
    pub uid: u32,
    /// The walk created it (the last component only).
    pub created: bool,
}

/// What to do with a missing directory on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// A missing component is NotFound.
    Fail,
    /// Missing components are created (`mkdirat`, mode 0755, owned by whoever runs fix).
    Create,
}

/// Links are followed (inside the root) only on the kernel's own filesystems.
fn follows_links(host_path: &str) -> bool {
    host_path.starts_with("/sys/") || host_path.starts_with("/proc/")
}

/// The components of a host path; `..` is refused (a host path names one file, and a
/// lexical `..` after a link would not mean what it says).
fn components(host_path: &str) -> Result<Vec<String>, String> {
    let mut v = Vec::new();
    for c in host_path.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("`..` in a path fix writes to".into()),
            c => v.push(c.to_string()),
        }
    }
    Ok(v)
}

fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

impl Host {
    pub(crate) fn errno_err(&self, host_path: &str, what: &str, e: Errno) -> HostError {
        let path = self.path(host_path);
        let kind = match e {
            Errno::ENOENT | Errno::ENOTDIR => HostErrorKind::NotFound,
            Errno::EACCES | Errno::EPERM => HostErrorKind::PermissionDenied,
            Errno::EINVAL | Errno::ENODEV | Errno::EOPNOTSUPP => HostErrorKind::InvalidInput,
            e => HostErrorKind::Other(format!("{what}: {}", e.desc())),
        };
        HostError { path, kind }
    }

    pub(crate) fn unsafe_err(&self, host_path: &str, why: String) -> HostError {
        HostError {
            path: self.path(host_path),
            kind: HostErrorKind::Unsafe(why),
        }
    }

    /// "daos_server (uid 990)", from the host's `/etc/passwd` when it names the uid.
    pub fn describe_uid(&self, uid: u32) -> String {
        let name = self.read_string("/etc/passwd").ok().and_then(|t| {
            t.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        });
        match name {
            Some(n) => format!("{n} (uid {uid})"),
            None => format!("uid {uid}"),
        }
    }

    /// The trusted root, open. The root itself is trusted as named (`/`, or the `--root`
    /// the administrator gave).
    fn open_root(&self) -> Result<SafeDir, HostError> {
        let fd = nix::fcntl::open(
            self.root(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| self.errno_err("/", "open", e))?;
        let st = nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err("/", "fstat", e))?;
        Ok(SafeDir {
            fd,
            host_path: "/".into(),
            uid: st.st_uid,
            created: false,
        })
    }

    /// systemd's rule: leaving a root-owned directory is always fine; from a directory
    /// owned by a user, only entries of that same user may be entered or changed.
    pub(crate) fn check_transition(
        &self,
        parent: &SafeDir,
        child: &str,
        st: &FileStat,
    ) -> Result<(), HostError> {
        if parent.uid == 0 || parent.uid == st.st_uid {
            return Ok(());
        }
        Err(self.unsafe_err(
            child,
            format!(
                "unsafe path transition: {} is owned by {}, who could replace {child} (owned by {}) at any moment; refusing to go through it",
                parent.host_path,
                self.describe_uid(parent.uid),
                self.describe_uid(st.st_uid)
            ),
        ))
    }

    /// Creating an entry that will be owned by `owner_uid` inside `parent`: the same
    /// rule as entering one (a root-owned entry in a user's directory is one the user
    /// can swap for anything).
    pub(crate) fn check_create(
        &self,
        parent: &SafeDir,
        child: &str,
        owner_uid: u32,
    ) -> Result<(), HostError> {
        if parent.uid == 0 || parent.uid == owner_uid {
            return Ok(());
        }
        Err(self.unsafe_err(
            child,
            format!(
                "unsafe path transition: {} is owned by {}; refusing to create {child} (owned by {}) in it",
                parent.host_path,
                self.describe_uid(parent.uid),
                self.describe_uid(owner_uid)
            ),
        ))
    }

    /// Refuses a symbolic link met on a path where links are not followed.
    pub(crate) fn link_refusal(&self, parent: &SafeDir, host_path: &str, name: &str) -> HostError {
        let target = nix::fcntl::readlinkat(&parent.fd, name)
            .map(|t| t.to_string_lossy().into_owned())
            .unwrap_or_else(|_| "?".into());
        let owner = nix::sys::stat::fstatat(&parent.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map(|st| format!(", owned by {}", self.describe_uid(st.st_uid)))
            .unwrap_or_default();
        self.unsafe_err(
            host_path,
            format!(
                "is a symbolic link (to {target}{owner}): fix does not follow links outside /sys and /proc; name the real path in the configuration"
            ),
        )
    }

    /// Walks to `host_path` and opens its last component with `flags` (plus
    /// `O_NOFOLLOW | O_CLOEXEC`), `mode` when it is created. Returns the parent
    /// directory, the last component's name (after links were resolved, for kernel paths)
    /// and what was opened.
    fn walk(
        &self,
        host_path: &str,
        flags: OFlag,
        mode: Mode,
        missing: Missing,
    ) -> Result<(SafeDir, String, OwnedFd), HostError> {
        let follow = follows_links(host_path);
        let mut todo: VecDeque<String> = components(host_path)
            .map_err(|e| self.unsafe_err(host_path, e))?
            .into();
        if todo.is_empty() {
            return Err(self.unsafe_err(host_path, "not a file below the root".into()));
        }
        let mut stack = vec![self.open_root()?];
        let mut links = 0;
        while let Some(name) = todo.pop_front() {
            if name == ".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            if name == "." {
                continue;
            }
            let last = todo.is_empty();
            let parent = stack.last().expect("the root is never popped");
            let here = join(&parent.host_path, &name);
            failpoint::hit("walk.component", &here);
            let open_flags = if last {
                flags
            } else {
                OFlag::O_RDONLY | OFlag::O_DIRECTORY
            } | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC;
            let mut created = false;
            let opened = match nix::fcntl::openat(&parent.fd, name.as_str(), open_flags, mode) {
                Err(Errno::ENOENT) if !last && missing == Missing::Create => {
                    self.check_create(parent, &here, nix::unistd::geteuid().as_raw())?;
                    match nix::sys::stat::mkdirat(
                        &parent.fd,
                        name.as_str(),
                        Mode::from_bits_truncate(0o755),
                    ) {
                        Ok(()) => created = true,
                        Err(Errno::EEXIST) => {}
                        Err(e) => return Err(self.errno_err(&here, "mkdir", e)),
                    }
                    nix::fcntl::openat(&parent.fd, name.as_str(), open_flags, mode)
                }
                r => r,
            };
            // O_PATH | O_NOFOLLOW opens a link itself instead of failing with ELOOP
            let opened = match opened {
                Ok(fd)
                    if is_link(
                        &nix::sys::stat::fstat(&fd)
                            .map_err(|e| self.errno_err(&here, "fstat", e))?,
                    ) =>
                {
                    Err(Errno::ELOOP)
                }
                r => r,
            };
            let fd = match opened {
                Ok(fd) => fd,
                Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => {
                    let st = nix::sys::stat::fstatat(
                        &parent.fd,
                        name.as_str(),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(|e| self.errno_err(&here, "stat", e))?;
                    if !is_link(&st) {
                        return Err(self.errno_err(&here, "open", Errno::ENOTDIR));
                    }
                    if !follow {
                        return Err(self.link_refusal(parent, &here, &name));
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(self.errno_err(&here, "open", Errno::ELOOP));
                    }
                    let target = nix::fcntl::readlinkat(&parent.fd, name.as_str())
                        .map_err(|e| self.errno_err(&here, "readlink", e))?;
                    let target = target.to_string_lossy().into_owned();
                    if target.starts_with('/') {
                        // absolute: from the root of the tree, never the machine's
                        stack.truncate(1);
                    }
                    for c in target.split('/').rev().filter(|c| !c.is_empty()) {
                        todo.push_front(c.to_string());
                    }
                    continue;
                }
                Err(e) => return Err(self.errno_err(&here, "open", e)),
            };
            let st = nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err(&here, "fstat", e))?;
            self.check_transition(parent, &here, &st)?;
            if last {
                let parent = stack.pop().expect("a parent");
                return Ok((parent, name, fd));
            }
            stack.push(SafeDir {
                fd,
                host_path: here,
                uid: st.st_uid,
                created,
            });
        }
        // the path ended in `..` or `.`
        Err(self.unsafe_err(host_path, "does not name a file".into()))
    }

    /// Opens the directory `host_path` safely (creating missing components with
    /// [`Missing::Create`]).
    pub fn open_dir_safe(&self, host_path: &str, missing: Missing) -> Result<SafeDir, HostError> {
        if components(host_path)
            .map_err(|e| self.unsafe_err(host_path, e))?
            .is_empty()
        {
            return self.open_root();
        }
        let (parent, name, fd) = match self.walk(
            host_path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY,
            Mode::empty(),
            missing,
        ) {
            Err(e) if e.is_not_found() && missing == Missing::Create => {
                // the last component is missing: create it in its (safe) parent
                let parent_path = host_path.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
                let name = host_path.rsplit('/').next().unwrap_or("").to_string();
                let parent = self.open_dir_safe(
                    if parent_path.is_empty() {
                        "/"
                    } else {
                        parent_path
                    },
                    missing,
                )?;
                let here = join(&parent.host_path, &name);
                self.check_create(&parent, &here, nix::unistd::geteuid().as_raw())?;
                let mut created = true;
                match nix::sys::stat::mkdirat(
                    &parent.fd,
                    name.as_str(),
                    Mode::from_bits_truncate(0o755),
                ) {
                    Ok(()) => failpoint::hit("dir.created", &here),
                    Err(Errno::EEXIST) => created = false,
                    Err(e) => return Err(self.errno_err(&here, "mkdir", e)),
                }
                let fd = nix::fcntl::openat(
                    &parent.fd,
                    name.as_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| match e {
                    Errno::ELOOP | Errno::ENOTDIR => self.link_refusal(&parent, &here, &name),
                    e => self.errno_err(&here, "open", e),
                })?;
                let st =
                    nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err(&here, "fstat", e))?;
                self.check_transition(&parent, &here, &st)?;
                return Ok(SafeDir {
                    fd,
                    host_path: here,
                    uid: st.st_uid,
                    created,
                });
            }
            r => r?,
        };
        let st = nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err(host_path, "fstat", e))?;
        Ok(SafeDir {
            fd,
            host_path: join(&parent.host_path, &name),
            uid: st.st_uid,
            created: false,
        })
    }

    /// Opens a file safely with `flags` (`O_NOFOLLOW` always added); returns its parent,
    /// the final name and the descriptor. Missing directories on the way are NotFound.
    pub fn open_file_safe(
        &self,
        host_path: &str,
        flags: OFlag,
        mode: u32,
    ) -> Result<(SafeDir, String, OwnedFd), HostError> {
        self.walk(
            host_path,
            flags,
            Mode::from_bits_truncate(mode),
            Missing::Fail,
        )
    }

    /// The parent directory of `host_path`, opened safely, and the final name.
    pub fn open_parent_safe(
        &self,
        host_path: &str,
        missing: Missing,
    ) -> Result<(SafeDir, String), HostError> {
        let parts = components(host_path).map_err(|e| self.unsafe_err(host_path, e))?;
        let Some((name, dirs)) = parts.split_last() else {
            return Err(self.unsafe_err(host_path, "not a file below the root".into()));
        };
        let dir = format!("/{}", dirs.join("/"));
        Ok((self.open_dir_safe(&dir, missing)?, name.clone()))
    }

    /// Metadata of `name` in an opened directory, not following a link.
    pub(crate) fn stat_in(&self, dir: &SafeDir, name: &str) -> Result<Option<FileStat>, HostError> {
        match nix::sys::stat::fstatat(&dir.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(self.errno_err(&join(&dir.host_path, name), "stat", e)),
        }
    }

    /// Changes the owner of what `fd` is (opened by a safe walk), never by path.
    pub(crate) fn fchown_fd(
        &self,
        fd: impl AsFd,
        host_path: &str,
        uid: u32,
        gid: u32,
    ) -> Result<(), HostError> {
        nix::unistd::fchownat(
            fd,
            "",
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
            AtFlags::AT_EMPTY_PATH,
        )
        .map_err(|e| self.errno_err(host_path, "chown", e))
    }
}

/// The host path a [`SafeDir`] entry has.
pub fn entry_path(dir: &SafeDir, name: &str) -> String {
    join(&dir.host_path, name)
}

fn is_link(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_refuse_dotdot() {
        assert_eq!(
            components("/var//log/./daos").unwrap(),
            ["var", "log", "daos"]
        );
        assert!(components("/var/../etc").is_err());
        assert!(follows_links("/sys/bus/pci/devices/x/driver/unbind"));
        assert!(!follows_links("/system"));
        assert!(!follows_links("/var/log"));
    }
}
