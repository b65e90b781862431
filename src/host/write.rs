//! Host writes, for `fix` only: sysfs/procfs attributes (read back), atomic file
//! replacement with a backup of the original, directories, a lock, and running the
//! distribution's tools (modprobe, grubby, grub2-mkconfig, systemctl).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Host, HostError, HostErrorKind};

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
    /// returns what reading it back gives, trimmed.
    pub fn write_attr(&self, host_path: &str, value: &str) -> Result<String, HostError> {
        let path = self.path(host_path);
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io_err(&path, &e))?;
        f.write_all(format!("{value}\n").as_bytes())
            .map_err(|e| io_err(&path, &e))?;
        drop(f);
        self.read_attr(host_path)
    }

    /// Writes `value` to a write-only attribute (`unbind`, `drivers_probe`,
    /// `compact_memory`): no read-back is possible, the effect is verified elsewhere.
    pub fn write_trigger(&self, host_path: &str, value: &str) -> Result<(), HostError> {
        let path = self.path(host_path);
        let mut f = OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| io_err(&path, &e))?;
        f.write_all(value.as_bytes()).map_err(|e| io_err(&path, &e))
    }

    /// Changes the owner of a file (the `/dev/vfio/<group>` node for the service user).
    pub fn chown(&self, host_path: &str, uid: u32, gid: u32) -> Result<(), HostError> {
        let path = self.path(host_path);
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        )
        .map_err(|e| HostError {
            path,
            kind: HostErrorKind::Other(format!("chown: {e}")),
        })
    }

    /// Replaces (or creates) a regular file atomically: a temporary file in the same
    /// directory is written, fsynced, given the original's mode and owner (or `mode` for
    /// a new file), renamed over the target, and the directory fsynced. The original is
    /// kept as `<path>.daos-preflight.bak` unless a backup already exists. Returns the
    /// backup path when one was made now.
    pub fn replace_file(
        &self,
        host_path: &str,
        content: &str,
        mode: u32,
    ) -> Result<Option<String>, HostError> {
        let path = self.path(host_path);
        let dir = path.parent().ok_or_else(|| HostError {
            path: path.clone(),
            kind: HostErrorKind::Other("no parent directory".into()),
        })?;
        fs::create_dir_all(dir).map_err(|e| io_err(dir, &e))?;
        let original = match fs::symlink_metadata(&path) {
            Ok(md) if md.file_type().is_symlink() || !md.is_file() => {
                return Err(HostError {
                    path,
                    kind: HostErrorKind::Other(
                        "not a regular file (symlink or special file): refusing to replace it"
                            .into(),
                    ),
                });
            }
            Ok(md) => Some(md),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&path, &e)),
        };
        let mut backup = None;
        if original.is_some() {
            let bak_host = format!("{host_path}{BACKUP_SUFFIX}");
            let bak = self.path(&bak_host);
            if !bak.exists() {
                fs::copy(&path, &bak).map_err(|e| io_err(&bak, &e))?;
                File::open(&bak)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| io_err(&bak, &e))?;
                backup = Some(bak_host);
            }
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dir.join(format!(".{name}.daos-preflight.{}", std::process::id()));
        let result = (|| -> Result<(), HostError> {
            let mode = original.as_ref().map(|m| m.mode() & 0o7777).unwrap_or(mode);
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode)
                .open(&tmp)
                .map_err(|e| io_err(&tmp, &e))?;
            f.write_all(content.as_bytes())
                .map_err(|e| io_err(&tmp, &e))?;
            f.set_permissions(fs::Permissions::from_mode(mode))
                .map_err(|e| io_err(&tmp, &e))?;
            if let Some(md) = &original {
                nix::unistd::fchown(
                    f.as_fd(),
                    Some(nix::unistd::Uid::from_raw(md.uid())),
                    Some(nix::unistd::Gid::from_raw(md.gid())),
                )
                .map_err(|e| HostError {
                    path: tmp.clone(),
                    kind: HostErrorKind::Other(format!("chown: {e}")),
                })?;
            }
            f.sync_all().map_err(|e| io_err(&tmp, &e))?;
            fs::rename(&tmp, &path).map_err(|e| io_err(&path, &e))?;
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| io_err(dir, &e))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map(|_| backup)
    }

    /// Creates a regular file of `size` bytes, sparse (`ftruncate`: no data written), or
    /// grows an existing regular file to it; never shrinks, never follows a symlink.
    /// Returns whether the file was created.
    pub fn create_sparse_file(&self, host_path: &str, size: u64) -> Result<bool, HostError> {
        let path = self.path(host_path);
        let created = match fs::symlink_metadata(&path) {
            Ok(md) if !md.is_file() => {
                return Err(HostError {
                    path,
                    kind: HostErrorKind::Other("exists and is not a regular file".into()),
                });
            }
            Ok(_) => false,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => return Err(io_err(&path, &e)),
        };
        let f = OpenOptions::new()
            .write(true)
            .create(created)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io_err(&path, &e))?;
        let len = f.metadata().map_err(|e| io_err(&path, &e))?.len();
        if len < size {
            f.set_len(size).map_err(|e| io_err(&path, &e))?;
        }
        f.sync_all().map_err(|e| io_err(&path, &e))?;
        Ok(created)
    }

    /// Owner (uid, gid) of a path, not following a final symlink.
    pub fn owner_of(&self, host_path: &str) -> Result<(u32, u32), HostError> {
        let path = self.path(host_path);
        let md = fs::symlink_metadata(&path).map_err(|e| io_err(&path, &e))?;
        Ok((md.uid(), md.gid()))
    }

    /// Removes an empty directory (for `fix --undo` of directories it created).
    pub fn remove_dir(&self, host_path: &str) -> Result<(), HostError> {
        let path = self.path(host_path);
        fs::remove_dir(&path).map_err(|e| io_err(&path, &e))
    }

    /// Creates a directory and its parents.
    pub fn create_dir_all(&self, host_path: &str) -> Result<(), HostError> {
        let path = self.path(host_path);
        fs::create_dir_all(&path).map_err(|e| io_err(&path, &e))
    }

    /// Removes a file (for `fix --undo` of files that did not exist before).
    pub fn remove_file(&self, host_path: &str) -> Result<(), HostError> {
        let path = self.path(host_path);
        fs::remove_file(&path).map_err(|e| io_err(&path, &e))
    }

    /// Takes the exclusive `fix` lock (`/run/daos-preflight/lock`), failing at once if
    /// another run holds it.
    pub fn lock_fix(&self) -> Result<FixLock, HostError> {
        self.create_dir_all("/run/daos-preflight")?;
        let path = self.path("/run/daos-preflight/lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, &e))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dp-write-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn replace_keeps_first_backup_mode_and_is_atomic() {
        let d = tmp("replace");
        let host = Host::at(&d);
        fs::create_dir_all(d.join("etc/default")).unwrap();
        fs::write(d.join("etc/default/grub"), "ORIGINAL\n").unwrap();
        fs::set_permissions(
            d.join("etc/default/grub"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
        let bak = host
            .replace_file("/etc/default/grub", "ONE\n", 0o644)
            .unwrap();
        assert_eq!(bak.as_deref(), Some("/etc/default/grub.daos-preflight.bak"));
        assert_eq!(
            fs::read_to_string(d.join("etc/default/grub")).unwrap(),
            "ONE\n"
        );
        let md = fs::metadata(d.join("etc/default/grub")).unwrap();
        assert_eq!(md.mode() & 0o777, 0o600, "mode of the original kept");
        // a second change keeps the very first backup
        assert_eq!(
            host.replace_file("/etc/default/grub", "TWO\n", 0o644)
                .unwrap(),
            None
        );
        assert_eq!(
            fs::read_to_string(d.join("etc/default/grub.daos-preflight.bak")).unwrap(),
            "ORIGINAL\n"
        );
        // no temporary left behind
        let names: Vec<_> = fs::read_dir(d.join("etc/default")).unwrap().collect();
        assert_eq!(names.len(), 2);
        // new file: created with the given mode, no backup
        assert_eq!(
            host.replace_file("/etc/sysctl.d/x.conf", "a=1\n", 0o644)
                .unwrap(),
            None
        );
        let md = fs::metadata(d.join("etc/sysctl.d/x.conf")).unwrap();
        assert_eq!(md.mode() & 0o777, 0o644);
        // a symlink is refused
        std::os::unix::fs::symlink("/etc/passwd", d.join("etc/link")).unwrap();
        assert!(host.replace_file("/etc/link", "x", 0o644).is_err());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn attributes_are_read_back_and_never_created() {
        let d = tmp("attr");
        let host = Host::at(&d);
        fs::create_dir_all(d.join("sys/kernel/mm/transparent_hugepage")).unwrap();
        fs::write(d.join("sys/kernel/mm/transparent_hugepage/enabled"), "x\n").unwrap();
        assert_eq!(
            host.write_attr("/sys/kernel/mm/transparent_hugepage/enabled", "never")
                .unwrap(),
            "never"
        );
        assert!(
            host.write_attr("/sys/nope", "1")
                .unwrap_err()
                .is_not_found()
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn second_lock_is_refused() {
        let d = tmp("lock");
        let host = Host::at(&d);
        let first = host.lock_fix().unwrap();
        let err = host.lock_fix().unwrap_err();
        assert!(
            err.to_string().contains("another daos-preflight fix"),
            "{err}"
        );
        drop(first);
        assert!(host.lock_fix().is_ok());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn commands_do_not_run_against_a_tree() {
        let host = Host::at("/tmp");
        assert!(host.run_command(&["true".to_string()]).is_err());
    }
}
