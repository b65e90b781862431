//! Host access for hugetlbfs: the entries of a directory with what `lstat` says (size,
//! allocated blocks, owner), whether a process id names a live process, and — for `fix`
//! only — removing one stale SPDK hugepage file the way daos_server does.

use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use super::{Host, HostError, HostErrorKind};

/// What an entry of a directory is, without following a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (not followed).
    Symlink,
    /// A FIFO, socket or device node.
    Other,
}

/// One directory entry, as `lstat` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// The entry's name.
    pub name: String,
    /// What it is.
    pub kind: EntryKind,
    /// `st_size`, bytes (for a hugetlbfs file: the size set by `ftruncate`/`fallocate`).
    pub size: u64,
    /// `st_blocks × 512`: bytes allocated (hugetlbfs counts each huge page it holds).
    pub allocated: u64,
    /// Owner uid.
    pub uid: u32,
}

impl Host {
    /// The entries of a directory, sorted by name, each with its `lstat` data. An entry
    /// that vanishes between the listing and its `lstat` is left out (processes create
    /// and remove hugepage files all the time).
    pub fn dir_entries(&self, host_path: &str) -> Result<Vec<EntryMeta>, HostError> {
        let path = self.path(host_path);
        let rd = std::fs::read_dir(&path).map_err(|e| HostError::from_io(path.clone(), &e))?;
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| HostError::from_io(path.clone(), &e))?;
            let md = match std::fs::symlink_metadata(entry.path()) {
                Ok(md) => md,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(HostError::from_io(entry.path(), &e)),
            };
            let ft = md.file_type();
            let kind = if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_symlink() {
                EntryKind::Symlink
            } else if ft.is_file() {
                EntryKind::File
            } else {
                EntryKind::Other
            };
            out.push(EntryMeta {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind,
                size: md.len(),
                allocated: md.blocks().saturating_mul(512),
                uid: md.uid(),
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Whether `/proc/<pid>` exists, the test daos_server makes (bdev/backend.go
    /// `isPIDActive`: `os.Stat`, "not exist" means inactive, any other error is an
    /// error). `pid` is the digits as written in a file name (leading zeros included: DAOS
    /// stats the string as it is). Under `--root` this asks the tree's `proc`.
    pub fn pid_alive(&self, pid: &str) -> Result<bool, HostError> {
        let host_path = format!("/proc/{pid}");
        let path = self.path(&host_path);
        match std::fs::metadata(&path) {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = HostError::from_io(path, &e);
                if err.is_not_found() {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Removes `dir/name` when it is still what daos_server would remove: `dir` itself
    /// is a real directory (not a symlink: DAOS's `filepath.Walk` does not follow one
    /// either), the entry is not a directory, and `/proc/<pid>` does not exist right now.
    /// The entry is unlinked relative to the opened directory, so a directory swapped for
    /// a symlink between the checks and the unlink cannot redirect it. Nothing is ever
    /// signalled: a live owner means the file stays.
    pub fn remove_stale_hugepage_file(
        &self,
        dir: &str,
        name: &str,
        pid: &str,
    ) -> Result<(), HostError> {
        use nix::fcntl::{AtFlags, OFlag, open};
        use nix::sys::stat::{Mode, SFlag, fstatat};
        use nix::unistd::{UnlinkatFlags, unlinkat};
        let dir_path = self.path(dir);
        let full = dir_path.join(name);
        let other = |path: &std::path::Path, m: String| HostError {
            path: path.to_path_buf(),
            kind: HostErrorKind::Other(m),
        };
        if name.contains('/') || name == "." || name == ".." {
            return Err(other(&full, "not a plain entry name".into()));
        }
        let fd = open(
            &dir_path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            other(
                &dir_path,
                format!("open as a directory without following links: {e}"),
            )
        })?;
        let st = fstatat(fd.as_fd(), name, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| {
            if e == nix::errno::Errno::ENOENT {
                HostError {
                    path: full.clone(),
                    kind: HostErrorKind::NotFound,
                }
            } else {
                other(&full, format!("lstat: {e}"))
            }
        })?;
        if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR {
            return Err(other(&full, "is a directory: left alone".into()));
        }
        if self.pid_alive(pid)? {
            return Err(other(
                &full,
                format!("process {pid} is running: its file stays"),
            ));
        }
        unlinkat(fd.as_fd(), name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| other(&full, format!("unlink: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_files_go_live_owners_and_directories_stay() {
        let dir = std::env::temp_dir().join(format!("dp-hugetlb-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("dev/hugepages/spdk_pid7map_sub")).unwrap();
        std::fs::create_dir_all(dir.join("proc/1")).unwrap();
        std::fs::write(dir.join("dev/hugepages/spdk_pid7map_0"), b"x").unwrap();
        std::fs::write(dir.join("dev/hugepages/spdk_pid1map_0"), b"x").unwrap();
        let host = Host::at(&dir);
        let entries = host.dir_entries("/dev/hugepages").unwrap();
        let names: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
        assert_eq!(
            names,
            [
                ("spdk_pid1map_0", EntryKind::File),
                ("spdk_pid7map_0", EntryKind::File),
                ("spdk_pid7map_sub", EntryKind::Dir)
            ]
        );
        assert!(host.pid_alive("1").unwrap());
        assert!(!host.pid_alive("7").unwrap());
        host.remove_stale_hugepage_file("/dev/hugepages", "spdk_pid7map_0", "7")
            .unwrap();
        assert!(!dir.join("dev/hugepages/spdk_pid7map_0").exists());
        let e = host
            .remove_stale_hugepage_file("/dev/hugepages", "spdk_pid1map_0", "1")
            .unwrap_err();
        assert!(e.to_string().contains("process 1 is running"), "{e}");
        let e = host
            .remove_stale_hugepage_file("/dev/hugepages", "spdk_pid7map_sub", "7")
            .unwrap_err();
        assert!(e.to_string().contains("is a directory"), "{e}");
        assert!(
            host.remove_stale_hugepage_file("/dev/hugepages", "../x", "7")
                .is_err()
        );
        // a symlinked directory is not walked through
        std::os::unix::fs::symlink("hugepages", dir.join("dev/hp-link")).unwrap();
        let e = host
            .remove_stale_hugepage_file("/dev/hp-link", "spdk_pid1map_0", "7")
            .unwrap_err();
        assert!(e.to_string().contains("without following links"), "{e}");
        assert!(dir.join("dev/hugepages/spdk_pid1map_0").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
