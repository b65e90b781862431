//! Files named on the command line, outside `--root`: the reports `fleet` merges
//! (files, directories of them) and the node_exporter textfile `check --textfile DIR`
//! writes. Like the rest of `host`, every error carries the path.

use std::fs::{self, File, OpenOptions};
use std::io::{BufReader, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{HostError, HostErrorKind};

fn io_err(path: &Path, e: &std::io::Error) -> HostError {
    HostError::from_io(path.to_path_buf(), e)
}

/// What a path named on the command line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalKind {
    /// A directory.
    Dir,
    /// Anything that can be read as a stream (regular file, FIFO, `/dev/stdin`).
    File,
}

/// Whether `path` is a directory or something to read.
pub fn local_kind(path: &Path) -> Result<LocalKind, HostError> {
    let md = fs::metadata(path).map_err(|e| io_err(path, &e))?;
    Ok(if md.is_dir() {
        LocalKind::Dir
    } else {
        LocalKind::File
    })
}

/// Opens a local file for streaming (buffered: fleet inputs can be large).
pub fn open_local(path: &Path) -> Result<BufReader<File>, HostError> {
    let f = File::open(path).map_err(|e| io_err(path, &e))?;
    Ok(BufReader::with_capacity(256 * 1024, f))
}

/// The regular files of a directory (not recursive, hidden files excluded), sorted by
/// name so that runs are reproducible.
pub fn list_local_files(dir: &Path) -> Result<Vec<PathBuf>, HostError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, &e))? {
        let entry = entry.map_err(|e| io_err(dir, &e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        // follow symlinks: a directory of links to the latest reports is common
        if fs::metadata(&path).map(|m| m.is_file()).unwrap_or(false) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Writes `content` to `dir/name` atomically, the way node_exporter's textfile collector
/// needs it (a scrape must never see a half-written file): a temporary file in the same
/// directory whose name does not end in `.prom` (the collector ignores it), written,
/// fsynced, made mode 0644 (the exporter runs as another user), renamed over the target,
/// then the directory fsynced so the rename survives a crash.
pub fn write_file_atomic(dir: &Path, name: &str, content: &[u8]) -> Result<PathBuf, HostError> {
    let md = fs::metadata(dir).map_err(|e| io_err(dir, &e))?;
    if !md.is_dir() {
        return Err(HostError {
            path: dir.to_path_buf(),
            kind: HostErrorKind::Other("not a directory".into()),
        });
    }
    let target = dir.join(name);
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> Result<(), HostError> {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(&tmp)
            .map_err(|e| io_err(&tmp, &e))?;
        f.write_all(content).map_err(|e| io_err(&tmp, &e))?;
        // the umask may have narrowed the creation mode
        f.set_permissions(fs::Permissions::from_mode(0o644))
            .map_err(|e| io_err(&tmp, &e))?;
        f.sync_all().map_err(|e| io_err(&tmp, &e))?;
        fs::rename(&tmp, &target).map_err(|e| io_err(&target, &e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io_err(dir, &e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|_| target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let d = std::env::temp_dir().join(format!("dp-local-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        let p = write_file_atomic(&d, "x.prom", b"a 1\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a 1\n");
        write_file_atomic(&d, "x.prom", b"a 2\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a 2\n");
        let md = fs::metadata(&p).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o644);
        let names: Vec<_> = fs::read_dir(&d).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary left behind");
        assert_eq!(list_local_files(&d).unwrap(), vec![p.clone()]);
        assert_eq!(local_kind(&d).unwrap(), LocalKind::Dir);
        assert_eq!(local_kind(&p).unwrap(), LocalKind::File);
        // a file is not a directory to write into
        assert!(write_file_atomic(&p, "y.prom", b"").is_err());
        assert!(
            write_file_atomic(&d.join("missing"), "y.prom", b"")
                .unwrap_err()
                .is_not_found()
        );
        fs::remove_dir_all(&d).unwrap();
    }
}
