//! A process that holds hugepages in the guest of `tests/vm/hugepages.rs`, as a running
//! SPDK/DPDK application does: `hugepage-holder DIR PAGES` creates
//! `DIR/spdk_pid<its pid>map_0` on a hugetlbfs mount (the name SPDK gives its memory),
//! sizes it to PAGES 2 MiB pages, maps it shared and writes one byte into each page
//! (hugetlbfs allocates a page at its first touch, so the pages are then held, and counted
//! in the process's `HugetlbPages:`). It writes its pid to `/tmp/holder.pid` and creates
//! `/tmp/holder.ready`, waits until `/tmp/holder.release` exists, then removes its file
//! and exits, which gives every page back to the pool.
//!
//! Built by the test with `rustc --target x86_64-unknown-linux-musl -C opt-level=2`
//! (static, std only: `mmap` is declared here and comes from musl), not by cargo.

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::process::exit;
use std::time::Duration;

/// The guest's default hugepage size (x86_64).
const PAGE: usize = 2 << 20;
const PROT_READ: i32 = 1;
const PROT_WRITE: i32 = 2;
const MAP_SHARED: i32 = 1;

unsafe extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
}

fn die(msg: String) -> ! {
    eprintln!("hugepage-holder: {msg}");
    exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        die("usage: hugepage-holder DIR PAGES".into());
    }
    let pages: usize = args[2]
        .parse()
        .unwrap_or_else(|e| die(format!("{}: {e}", args[2])));
    let pid = std::process::id();
    let path = format!("{}/spdk_pid{pid}map_0", args[1]);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|e| die(format!("{path}: {e}")));
    let len = pages * PAGE;
    file.set_len(len as u64)
        .unwrap_or_else(|e| die(format!("ftruncate {path}: {e}")));
    // SAFETY: a fresh shared mapping of a file of `len` bytes; nothing else aliases it.
    let base = unsafe {
        mmap(
            std::ptr::null_mut(),
            len,
            PROT_READ | PROT_WRITE,
            MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if base as isize == -1 {
        die(format!("mmap {path}: {}", std::io::Error::last_os_error()));
    }
    for i in 0..pages {
        // SAFETY: inside the mapping; a SIGBUS here means the pool ran out (the test fails).
        unsafe { base.add(i * PAGE).write_volatile(1) };
    }
    std::fs::write("/tmp/holder.pid", format!("{pid}\n"))
        .unwrap_or_else(|e| die(format!("/tmp/holder.pid: {e}")));
    std::fs::write("/tmp/holder.ready", b"")
        .unwrap_or_else(|e| die(format!("/tmp/holder.ready: {e}")));
    while !Path::new("/tmp/holder.release").exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
    // the pages belong to the file: they go back to the pool once it is unlinked and
    // unmapped (at exit)
    std::fs::remove_file(&path).unwrap_or_else(|e| die(format!("rm {path}: {e}")));
}
