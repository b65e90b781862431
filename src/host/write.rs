//! Host writes, for `fix` only: sysfs/procfs attributes (read back), atomic file
//! replacement with a backup of the original, directories, a lock, and running the
//! distribution's tools (modprobe, grubby, grub2-mkconfig, systemctl). Every path goes
//! through the safe walk of [`super::safe_path`]: no link followed outside /sys and
//! /proc, no step through another user's directory, changes made on the descriptor.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, SFlag};

use super::failpoint;
use super::safe_path::{Missing, SafeDir, entry_path};
use super::{Host, HostError, HostErrorKind};

/// Where the lock lives (tmpfs: a lock is about this boot).
pub const LOCK_DIR: &str = "/run/daos-preflight";

/// What [`Host::prepare_directory`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirChange {
    /// The directory was created now.
    pub created: bool,
    /// Its (uid, gid) before a chown made now.
    pub original_owner: Option<(u32, u32)>,
}

fn is_regular(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
}

/// The temporary name a replacement of `name` is written under.
pub fn temp_name(name: &str) -> String {
    format!(".{name}.daos-preflight.tmp")
}

/// Suffix of the backup kept next to a replaced file. The backup is the file as it was
/// before daos-preflight first changed it; later changes keep that first backup.
pub const BACKUP_SUFFIX: &str = ".daos-preflight.bak";

/// An exclusive lock held for the duration of a `fix` run (released on drop).
#[derive(Debug)]
pub struct FixLock {
    _lock: nix::fcntl::Flock<File>,
    /// The lock file.
    pub path: PathBuf,
}

/// The output of a program run by `fix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutput {
    /// Exit status code (`None` when killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

fn io_err(path: &Path, e: &std::io::Error) -> HostError {
    HostError::from_io(path.to_path_buf(), e)
}

impl Host {
    /// Writes `value` to an existing attribute file (sysfs/procfs: never created) and
    /// returns what reading it back gives, trimmed. Reached by a safe walk: links are
    /// followed only in /sys and /proc, inside the root.
    pub fn write_attr(&self, host_path: &str, value: &str) -> Result<String, HostError> {
        self.write_trigger(host_path, &format!("{value}\n"))?;
        self.read_attr_safe(host_path)
    }

    /// Writes `value` to a write-only attribute (`unbind`, `drivers_probe`,
    /// `compact_memory`): no read-back is possible, the effect is verified elsewhere.
    pub fn write_trigger(&self, host_path: &str, value: &str) -> Result<(), HostError> {
        let (_, _, fd) = self.open_file_safe(host_path, OFlag::O_WRONLY | OFlag::O_TRUNC, 0)?;
        File::from(fd)
            .write_all(value.as_bytes())
            .map_err(|e| io_err(&self.path(host_path), &e))
    }

    /// Reads an attribute through a safe walk, trimmed (the read-back of a write).
    pub fn read_attr_safe(&self, host_path: &str) -> Result<String, HostError> {
        Ok(super::trim_attr(&self.read_string_safe(host_path)?).to_string())
    }

    /// Reads a file through a safe walk (the journal, a backup): never through a link
    /// outside /sys and /proc, never through another user's directory.
    pub fn read_string_safe(&self, host_path: &str) -> Result<String, HostError> {
        let (_, _, fd) = self.open_file_safe(host_path, OFlag::O_RDONLY, 0)?;
        let mut buf = Vec::new();
        File::from(fd)
            .take(64 << 20)
            .read_to_end(&mut buf)
            .map_err(|e| io_err(&self.path(host_path), &e))?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Changes the owner of a file or directory (the `/dev/vfio/<group>` node, a sparse
    /// bdev file) on the descriptor the safe walk opened (`O_PATH`: a device is not
    /// opened for I/O, which for a VFIO group would claim it).
    pub fn chown(&self, host_path: &str, uid: u32, gid: u32) -> Result<(), HostError> {
        let (_, _, fd) = self.open_file_safe(host_path, OFlag::O_PATH, 0)?;
        self.fchown_fd(&fd, host_path, uid, gid)
    }

    /// Creates a directory (and missing parents) and/or gives it to `owner`, through
    /// one safe walk: `mkdirat`, then `fchown` on the descriptor of the directory that
    /// was checked. Returns what it changed.
    pub fn prepare_directory(
        &self,
        host_path: &str,
        create: bool,
        owner: Option<(u32, u32)>,
    ) -> Result<DirChange, HostError> {
        let missing = if create {
            Missing::Create
        } else {
            Missing::Fail
        };
        let dir = self.open_dir_safe(host_path, missing)?;
        let st =
            nix::sys::stat::fstat(&dir.fd).map_err(|e| self.errno_err(host_path, "fstat", e))?;
        let mut change = DirChange {
            created: dir.created,
            original_owner: None,
        };
        if let Some((uid, gid)) = owner
            && (st.st_uid, st.st_gid) != (uid, gid)
        {
            failpoint::hit("dir.chown", host_path);
            self.fchown_fd(&dir.fd, host_path, uid, gid)?;
            change.original_owner = Some((st.st_uid, st.st_gid));
        }
        Ok(change)
    }

    /// Replaces (or creates) a regular file atomically, through a safe walk of its
    /// directory (missing directories are created): a temporary file in the same
    /// directory is written, fsynced, given the original's mode and owner (or `mode` for
    /// a new file), renamed over the target (`renameat`), and the directory fsynced. The
    /// original is kept as `<path>.daos-preflight.bak` (written the same way) unless a
    /// backup already exists. Returns the backup path when one was made now.
    pub fn replace_file(
        &self,
        host_path: &str,
        content: &str,
        mode: u32,
    ) -> Result<Option<String>, HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Create)?;
        let here = entry_path(&dir, &name);
        let original = match self.stat_in(&dir, &name)? {
            Some(st) if !is_regular(&st) => {
                return Err(HostError {
                    path: self.path(&here),
                    kind: HostErrorKind::Unsafe(
                        "not a regular file (symlink or special file): refusing to replace it"
                            .into(),
                    ),
                });
            }
            Some(st) => {
                self.check_transition(&dir, &here, &st)?;
                Some(st)
            }
            None => None,
        };
        let mut backup = None;
        if let Some(st) = &original {
            let bak_name = format!("{name}{BACKUP_SUFFIX}");
            if self.stat_in(&dir, &bak_name)?.is_none() {
                let fd = nix::fcntl::openat(
                    &dir.fd,
                    name.as_str(),
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| self.errno_err(&here, "open", e))?;
                let mut old = Vec::new();
                File::from(fd)
                    .read_to_end(&mut old)
                    .map_err(|e| io_err(&self.path(&here), &e))?;
                self.write_new_in(&dir, &bak_name, &old, st.st_mode & 0o7777, Some(st))?;
                failpoint::hit("file.backup", host_path);
                backup = Some(entry_path(&dir, &bak_name));
            }
        }
        let mode = original
            .as_ref()
            .map(|m| m.st_mode & 0o7777)
            .unwrap_or(mode);
        self.write_new_in(&dir, &name, content.as_bytes(), mode, original.as_ref())?;
        failpoint::hit("file.renamed", host_path);
        Ok(backup)
    }

    /// Replaces (or creates) a file atomically like [`Host::replace_file`], without a
    /// backup (the journal: its previous version is of no use).
    pub fn write_file_atomic(
        &self,
        host_path: &str,
        content: &str,
        mode: u32,
    ) -> Result<(), HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Create)?;
        if let Some(st) = self.stat_in(&dir, &name)? {
            if !is_regular(&st) {
                return Err(self.unsafe_err(
                    &entry_path(&dir, &name),
                    "not a regular file (symlink or special file): refusing to replace it".into(),
                ));
            }
            self.check_transition(&dir, &entry_path(&dir, &name), &st)?;
        }
        self.write_new_in(&dir, &name, content.as_bytes(), mode, None)
    }

    /// Puts `<path>.daos-preflight.bak` back in place of `path` (`renameat`: the
    /// original bytes, mode and owner, atomically; the backup is gone afterwards).
    /// False when there is no backup.
    pub fn restore_backup(&self, host_path: &str) -> Result<bool, HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Fail)?;
        let bak = format!("{name}{BACKUP_SUFFIX}");
        match self.stat_in(&dir, &bak)? {
            None => return Ok(false),
            Some(st) if !is_regular(&st) => {
                return Err(self.unsafe_err(
                    &entry_path(&dir, &bak),
                    "the backup is not a regular file: refusing to restore it".into(),
                ));
            }
            Some(st) => self.check_transition(&dir, &entry_path(&dir, &bak), &st)?,
        }
        nix::fcntl::renameat(&dir.fd, bak.as_str(), &dir.fd, name.as_str())
            .map_err(|e| self.errno_err(host_path, "rename", e))?;
        nix::unistd::fsync(&dir.fd).map_err(|e| self.errno_err(&dir.host_path, "fsync", e))?;
        Ok(true)
    }

    /// Writes `data` to `.<name>.daos-preflight.tmp` in `dir` (created exclusively, a
    /// stale one from a crash removed first), fsyncs it, renames it to `name` and fsyncs
    /// the directory.
    fn write_new_in(
        &self,
        dir: &SafeDir,
        name: &str,
        data: &[u8],
        mode: u32,
        owner: Option<&FileStat>,
    ) -> Result<(), HostError> {
        let tmp = temp_name(name);
        let tmp_path = entry_path(dir, &tmp);
        let final_uid = owner
            .map(|st| st.st_uid)
            .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
        self.check_create(dir, &entry_path(dir, name), final_uid)?;
        match nix::unistd::unlinkat(
            &dir.fd,
            tmp.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        ) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(self.errno_err(&tmp_path, "unlink", e)),
        }
        let result = (|| -> Result<(), HostError> {
            let fd = nix::fcntl::openat(
                &dir.fd,
                tmp.as_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(mode),
            )
            .map_err(|e| self.errno_err(&tmp_path, "create", e))?;
            let mut f = File::from(fd);
            f.write_all(data)
                .map_err(|e| io_err(&self.path(&tmp_path), &e))?;
            nix::sys::stat::fchmod(&f, Mode::from_bits_truncate(mode))
                .map_err(|e| self.errno_err(&tmp_path, "chmod", e))?;
            if let Some(st) = owner {
                self.fchown_fd(&f, &tmp_path, st.st_uid, st.st_gid)?;
            }
            f.sync_all()
                .map_err(|e| io_err(&self.path(&tmp_path), &e))?;
            failpoint::hit("file.tmp", &entry_path(dir, name));
            nix::fcntl::renameat(&dir.fd, tmp.as_str(), &dir.fd, name)
                .map_err(|e| self.errno_err(&entry_path(dir, name), "rename", e))?;
            nix::unistd::fsync(&dir.fd).map_err(|e| self.errno_err(&dir.host_path, "fsync", e))
        })();
        if result.is_err() {
            let _ = nix::unistd::unlinkat(
                &dir.fd,
                tmp.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            );
        }
        result
    }

    /// Removes what a crash may have left of a file replacement: the temporary files
    /// `.<name>.daos-preflight.tmp` of the file and of its backup. True when one was there.
    pub fn remove_replace_leftovers(&self, host_path: &str) -> Result<bool, HostError> {
        let (dir, name) = match self.open_parent_safe(host_path, Missing::Fail) {
            Err(e) if e.is_not_found() => return Ok(false),
            r => r?,
        };
        let mut any = false;
        for n in [
            temp_name(&name),
            temp_name(&format!("{name}{BACKUP_SUFFIX}")),
        ] {
            match nix::unistd::unlinkat(
                &dir.fd,
                n.as_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            ) {
                Ok(()) => any = true,
                Err(Errno::ENOENT) => {}
                Err(e) => return Err(self.errno_err(&entry_path(&dir, &n), "unlink", e)),
            }
        }
        Ok(any)
    }

    /// Creates a regular file of `size` bytes, sparse (`ftruncate`: no data written), or
    /// grows an existing regular file to it; never shrinks, never follows a symlink, and
    /// gives it to `owner` on the same descriptor. Returns whether the file was created.
    pub fn create_sparse_file(
        &self,
        host_path: &str,
        size: u64,
        owner: Option<(u32, u32)>,
    ) -> Result<bool, HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Fail)?;
        let here = entry_path(&dir, &name);
        let flags = OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        if self.stat_in(&dir, &name)?.is_none() {
            let uid = owner
                .map(|o| o.0)
                .unwrap_or_else(|| nix::unistd::geteuid().as_raw());
            self.check_create(&dir, &here, uid)?;
        }
        let (fd, created) = match nix::fcntl::openat(
            &dir.fd,
            name.as_str(),
            flags | OFlag::O_CREAT | OFlag::O_EXCL,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => (fd, true),
            Err(Errno::EEXIST) => (
                nix::fcntl::openat(&dir.fd, name.as_str(), flags, Mode::empty()).map_err(|e| {
                    match e {
                        Errno::ELOOP => self.link_refusal(&dir, &here, &name),
                        e => self.errno_err(&here, "open", e),
                    }
                })?,
                false,
            ),
            Err(e) => return Err(self.errno_err(&here, "create", e)),
        };
        let st = nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err(&here, "fstat", e))?;
        if !is_regular(&st) {
            return Err(HostError {
                path: self.path(&here),
                kind: HostErrorKind::Other("exists and is not a regular file".into()),
            });
        }
        if !created {
            // made now with O_EXCL, it is ours; an existing one must pass the rule
            self.check_transition(&dir, &here, &st)?;
        }
        if (st.st_size as u64) < size {
            nix::unistd::ftruncate(&fd, size as i64)
                .map_err(|e| self.errno_err(&here, "ftruncate", e))?;
        }
        if let Some((uid, gid)) = owner {
            self.fchown_fd(&fd, &here, uid, gid)?;
        }
        nix::unistd::fsync(&fd).map_err(|e| self.errno_err(&here, "fsync", e))?;
        Ok(created)
    }

    /// Owner (uid, gid) of a path, reached by a safe walk, not following a final link.
    pub fn owner_of(&self, host_path: &str) -> Result<(u32, u32), HostError> {
        let (_, _, fd) = self.open_file_safe(host_path, OFlag::O_PATH, 0)?;
        let st = nix::sys::stat::fstat(&fd).map_err(|e| self.errno_err(host_path, "fstat", e))?;
        Ok((st.st_uid, st.st_gid))
    }

    /// Removes an empty directory (for `fix --undo` of directories it created).
    pub fn remove_dir(&self, host_path: &str) -> Result<(), HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Fail)?;
        nix::unistd::unlinkat(
            &dir.fd,
            name.as_str(),
            nix::unistd::UnlinkatFlags::RemoveDir,
        )
        .map_err(|e| self.errno_err(host_path, "rmdir", e))
    }

    /// Creates a directory and its parents (through a safe walk).
    pub fn create_dir_all(&self, host_path: &str) -> Result<(), HostError> {
        self.open_dir_safe(host_path, Missing::Create).map(|_| ())
    }

    /// Removes a file (for `fix --undo` of files that did not exist before); a link in
    /// its place is removed, never followed.
    pub fn remove_file(&self, host_path: &str) -> Result<(), HostError> {
        let (dir, name) = self.open_parent_safe(host_path, Missing::Fail)?;
        nix::unistd::unlinkat(
            &dir.fd,
            name.as_str(),
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|e| self.errno_err(host_path, "unlink", e))?;
        nix::unistd::fsync(&dir.fd).map_err(|e| self.errno_err(&dir.host_path, "fsync", e))
    }

    /// Takes the exclusive `fix` lock (`/run/daos-preflight/lock`), failing at once if
    /// another run holds it.
    pub fn lock_fix(&self) -> Result<FixLock, HostError> {
        let dir = self.open_dir_safe(LOCK_DIR, Missing::Create)?;
        let path = self.path(&entry_path(&dir, "lock"));
        let fd = nix::fcntl::openat(
            &dir.fd,
            "lock",
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| match e {
            Errno::ELOOP => self.link_refusal(&dir, &format!("{LOCK_DIR}/lock"), "lock"),
            e => self.errno_err(&format!("{LOCK_DIR}/lock"), "open", e),
        })?;
        let file = File::from(fd);
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(FixLock { _lock: lock, path }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(HostError {
                path,
                kind: HostErrorKind::Other(
                    "another daos-preflight fix is running (lock held)".into(),
                ),
            }),
            Err((_, e)) => Err(HostError {
                path,
                kind: HostErrorKind::Other(format!("flock: {e}")),
            }),
        }
    }

    /// Runs a program (live host only: a captured tree has no programs to run).
    pub fn run_command(&self, argv: &[String]) -> Result<CommandOutput, HostError> {
        let what = argv.join(" ");
        if !self.is_live() {
            return Err(HostError {
                path: what.into(),
                kind: HostErrorKind::Other("not run: --root is not the live host".into()),
            });
        }
        let (prog, args) = argv.split_first().ok_or_else(|| HostError {
            path: PathBuf::new(),
            kind: HostErrorKind::Other("empty command".into()),
        })?;
        let out = Command::new(prog)
            .args(args)
            .output()
            .map_err(|e| io_err(Path::new(prog), &e))?;
        Ok(CommandOutput {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Finds a program in the standard system directories of the host (`grubby`,
    /// `grub2-mkconfig`); returns its host path.
    pub fn find_program(&self, name: &str) -> Option<String> {
        ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| format!("{d}/{name}"))
            .find(|p| self.exists(p))
    }
}
