//! A writer for the cpio `newc` format, the one the kernel unpacks as an initramfs
//! (linux Documentation/driver-api/early-userspace/buffer-format.rst).
//!
//! Written here rather than shelling out to `cpio` so that device nodes (`/dev/console`)
//! can go into the archive without `mknod` on the host, and paths in the guest don't
//! depend on a staging directory. Archives concatenate: the kernel unpacks them one after
//! the other and a later entry replaces an earlier one, which is how a scenario's small
//! overlay is laid over the shared base.

use std::collections::BTreeSet;

/// `S_IFDIR`, `S_IFREG`, `S_IFCHR` from `<sys/stat.h>`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

/// The `newc` magic.
const MAGIC: &str = "070701";
/// The name of the entry that ends an archive.
const TRAILER: &str = "TRAILER!!!";

/// An archive being written. Parent directories are added on demand.
#[derive(Debug, Default)]
pub struct Cpio {
    buf: Vec<u8>,
    next_ino: u32,
    dirs: BTreeSet<String>,
}

impl Cpio {
    /// An empty archive.
    pub fn new() -> Self {
        Cpio {
            next_ino: 1,
            ..Cpio::default()
        }
    }

    /// A directory (and its parents).
    pub fn dir(&mut self, path: &str, perm: u32) {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs.contains(path) {
            return;
        }
        self.parents(path);
        self.dirs.insert(path.to_string());
        self.entry(path, S_IFDIR | perm, 2, b"", (0, 0));
    }

    /// A regular file.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) {
        let path = path.trim_start_matches('/');
        self.parents(path);
        self.entry(path, S_IFREG | perm, 1, data, (0, 0));
    }

    /// A character device node.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) {
        let path = path.trim_start_matches('/');
        self.parents(path);
        self.entry(path, S_IFCHR | perm, 1, b"", (major, minor));
    }

    /// Ends the archive with the trailer and returns its bytes.
    pub fn finish(mut self) -> Vec<u8> {
        self.entry(TRAILER, 0, 1, b"", (0, 0));
        self.buf
    }

    fn parents(&mut self, path: &str) {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent, 0o755);
        }
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, data: &[u8], rdev: (u32, u32)) {
        let ino = if name == TRAILER { 0 } else { self.next_ino };
        self.next_ino += 1;
        let fields = [
            ino,
            mode,
            0, // uid: root
            0, // gid: root
            nlink,
            0, // mtime: fixed, so archives are reproducible
            u32::try_from(data.len()).expect("cpio newc entries are < 4 GiB"),
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            u32::try_from(name.len() + 1).expect("short name"),
            0, // check: only used by the "070702" variant
        ];
        self.buf.extend_from_slice(MAGIC.as_bytes());
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    /// The header plus name, and the data, each end on a 4-byte boundary.
    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of a one-file archive, spelled out field by field from the format
    /// description, so the writer is checked against the spec and not against itself.
    #[test]
    fn one_file_matches_the_newc_layout() {
        let mut c = Cpio::new();
        c.file("init", 0o755, b"hi\n");
        let bytes = c.finish();
        let mut want = String::new();
        want.push_str("070701");
        for f in [
            "00000001", "000081ED", "00000000", "00000000", "00000001", "00000000", "00000003",
            "00000000", "00000000", "00000000", "00000000", "00000005", "00000000",
        ] {
            want.push_str(f);
        }
        // 110-byte header + "init\0" = 115, padded to 116; data "hi\n" padded to 4.
        let mut want = want.into_bytes();
        want.extend_from_slice(b"init\0\0hi\n\0");
        assert_eq!(&bytes[..want.len()], &want[..]);
        let trailer = &bytes[want.len()..];
        assert!(trailer.starts_with(b"070701"));
        assert_eq!(&trailer[110..121], b"TRAILER!!!\0");
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn parents_come_first_and_once() {
        let mut c = Cpio::new();
        c.file("/a/b/c", 0o644, b"");
        c.file("/a/b/d", 0o644, b"");
        let bytes = c.finish();
        let text = String::from_utf8_lossy(&bytes);
        let names: Vec<usize> = ["a\0", "a/b\0", "a/b/c\0", "a/b/d\0"]
            .iter()
            .map(|n| text.find(n).expect(n))
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
        assert_eq!(text.matches("a/b\0").count(), 1);
    }
}
