//! Boots daos-preflight on a real Linux kernel in QEMU and brings back what it printed.
//!
//! One [`Scenario`] is one QEMU machine (IOMMU, NUMA nodes, NVMe drives, NICs), one
//! kernel command line and one guest script; [`Scenario::boot`] runs it and returns a
//! [`GuestRun`]: the binary's JSON (`check`, `facts`), an independent view of sysfs made
//! by busybox ([`SysfsView`]), any extra capture, and the full console log.
//!
//! The pieces (design.md §7): the kernel and modules of Debian's `linux-image-amd64`,
//! `busybox-static` as the userland, the static musl build of daos-preflight, and an
//! initramfs written here ([`cpio`](super::cpio)). The base initramfs is built once per
//! test process and shared; each scenario adds a small overlay archive. QEMU runs are
//! serialised (the machines have 2 cores) and each has a deadline; a guest that hangs,
//! panics or never reaches the end of its script fails the test with its console log.
//!
//! Everything a run produced stays in `target/tmp/vm/<scenario>/`: `console.log`,
//! `qemu.sh` (the exact command, runnable by hand), `initramfs.cpio` and one file per
//! capture. Environment knobs: `DAOS_PREFLIGHT_VM_BINARY` (use this static binary
//! instead of building one), `DAOS_PREFLIGHT_VM_KERNEL` (a kernel version under /boot
//! and /lib/modules), `DAOS_PREFLIGHT_VM_TIMEOUT` (seconds per boot, default 120).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Display, Write as _};
use std::fs;
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::cpio::Cpio;

/// The musl target the shipped binary is built for (design.md §1).
pub const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

/// Kernel modules the scenarios need, by name; their dependencies come from modules.dep.
pub const GUEST_MODULES: &[&str] = &[
    "nvme",
    "vfio-pci",
    "vfio_iommu_type1",
    "uio_pci_generic",
    "virtio_pci",
    "virtio_net",
    "e1000e",
    // the persistent disk of a scenario that reboots (Scenario::disk)
    "virtio_blk",
    // mounts the ext2 filesystem a scenario makes with busybox mke2fs
    // (CONFIG_EXT4_USE_FOR_EXT2=y, Debian has no ext2 module); ext4 asks the crypto API
    // for crc32c at mount time, which is a module too (nothing would autoload it: the
    // guest has no /sbin/modprobe for the kernel to call)
    "crc32c_generic",
    "ext4",
];

/// Guest memory, MiB, of a machine without NUMA nodes (with nodes: their sum): small
/// enough for 2 shared cores, enough for 2 nodes.
pub const GUEST_MEMORY_MIB: u32 = 1024;
/// Guest CPUs.
pub const GUEST_CPUS: u32 = 2;

/// Kernel parameters of every boot: serial console, reboot (= QEMU exits, -no-reboot)
/// at once on panic, and only warnings on the console.
const BASE_CMDLINE: &str = "console=ttyS0 panic=-1 quiet";

/// The non-root user the guest knows (`/etc/passwd`), as DAOS's own service user.
pub const GUEST_USER: &str = "daos_server";
/// Its uid and gid.
pub const GUEST_USER_ID: u32 = 1000;

/// Guest script files, kept as real files so they can be read and shellchecked.
const INIT_SH: &str = include_str!("init.sh");
const SYSFS_LISTING_SH: &str = include_str!("sysfs-listing.sh");

/// The static binary's path inside the guest.
pub const GUEST_BINARY: &str = "/bin/daos-preflight";

// ---------------------------------------------------------------------------------------
// Host-side ingredients: binary, kernel, modules, busybox.

/// Where cargo puts build output for this package.
pub fn target_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(d);
    }
    // CARGO_TARGET_TMPDIR is <target>/tmp.
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .to_path_buf()
}

/// The directory where runs leave their files.
pub fn work_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("vm")
}

/// True when an ELF file has no program interpreter (PT_INTERP), i.e. it is static (or
/// static-pie) and will run in a guest that has no libc at all.
pub fn elf_is_static(bytes: &[u8]) -> Result<bool, String> {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("not a 64-bit little-endian ELF".into());
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[32..40].try_into().expect("8 bytes")) as usize;
    let phentsize = u16_at(54);
    let phnum = u16_at(56);
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let p_type = bytes
            .get(o..o + 4)
            .ok_or("program header outside the file")?;
        if u32::from_le_bytes(p_type.try_into().expect("4 bytes")) == PT_INTERP {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Builds the static musl binary once (or takes `DAOS_PREFLIGHT_VM_BINARY`).
fn static_binary() -> Result<PathBuf, String> {
    let path = match std::env::var_os("DAOS_PREFLIGHT_VM_BINARY") {
        Some(p) => PathBuf::from(p),
        None => {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let status = Command::new(&cargo)
                .args(["build", "--release", "--bin", "daos-preflight", "--target"])
                .arg(MUSL_TARGET)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdout(Stdio::null())
                .status()
                .map_err(|e| format!("running {cargo:?} build: {e}"))?;
            if !status.success() {
                return Err(format!(
                    "cargo build --release --target {MUSL_TARGET} failed ({status}); \
                     is the target installed? (rustup target add {MUSL_TARGET}, see .ci/vm-deps.sh)"
                ));
            }
            target_dir()
                .join(MUSL_TARGET)
                .join("release/daos-preflight")
        }
    };
    let bytes = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    match elf_is_static(&bytes) {
        Ok(true) => Ok(path),
        Ok(false) => Err(format!(
            "{} is dynamically linked; the guest has no libc",
            path.display()
        )),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The kernel the guest boots.
#[derive(Debug, Clone)]
pub struct GuestKernel {
    /// `uname -r`.
    pub version: String,
    /// `/boot/vmlinuz-<version>`.
    pub vmlinuz: PathBuf,
    /// `/lib/modules/<version>`.
    pub modules_dir: PathBuf,
    /// `/boot/config-<version>`, copied into the guest (daos-preflight reads the build
    /// defaults from it, as on a real Debian host).
    pub config: PathBuf,
}

/// Orders version strings by their numeric runs (`6.1.0-9` < `6.1.0-10`).
fn version_key(v: &str) -> Vec<(u64, String)> {
    let mut key = Vec::new();
    let mut digits = String::new();
    let mut text = String::new();
    for c in v.chars().chain(std::iter::once('.')) {
        if c.is_ascii_digit() {
            digits.push(c);
        } else {
            if !digits.is_empty() {
                key.push((
                    digits.parse().unwrap_or(u64::MAX),
                    std::mem::take(&mut text),
                ));
                digits.clear();
            }
            text.push(c);
        }
    }
    key
}

/// Finds the kernel: `DAOS_PREFLIGHT_VM_KERNEL`, else the one `linux-image-amd64`
/// depends on, else the newest `/boot/vmlinuz-*` that has its modules installed.
fn find_kernel() -> Result<GuestKernel, String> {
    let complete = |v: &str| {
        let k = GuestKernel {
            version: v.to_string(),
            vmlinuz: PathBuf::from(format!("/boot/vmlinuz-{v}")),
            modules_dir: PathBuf::from(format!("/lib/modules/{v}")),
            config: PathBuf::from(format!("/boot/config-{v}")),
        };
        (k.vmlinuz.is_file() && k.modules_dir.join("modules.dep").is_file() && k.config.is_file())
            .then_some(k)
    };
    if let Ok(v) = std::env::var("DAOS_PREFLIGHT_VM_KERNEL") {
        return complete(&v).ok_or_else(|| {
            format!("DAOS_PREFLIGHT_VM_KERNEL={v}: /boot/vmlinuz-{v}, /boot/config-{v} or /lib/modules/{v}/modules.dep missing")
        });
    }
    let from_dpkg = Command::new("dpkg-query")
        .args(["-W", "-f=${Depends}", "linux-image-amd64"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split([',', '|'])
                .filter_map(|d| d.split_whitespace().next())
                .find_map(|d| d.strip_prefix("linux-image-").map(str::to_string))
        });
    if let Some(k) = from_dpkg.as_deref().and_then(complete) {
        return Ok(k);
    }
    let mut versions: Vec<String> = fs::read_dir("/boot")
        .map_err(|e| format!("/boot: {e}"))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_prefix("vmlinuz-")
                .map(str::to_string)
        })
        .collect();
    versions.sort_by_key(|v| version_key(v));
    versions
        .iter()
        .rev()
        .find_map(|v| complete(v))
        .ok_or_else(|| {
            "no kernel with modules and config under /boot and /lib/modules: run .ci/vm-deps.sh \
         (installs linux-image-amd64)"
                .to_string()
        })
}

/// `modules.dep` and `modules.builtin` of a kernel.
#[derive(Debug, Default)]
pub struct ModuleDb {
    /// Module path (relative to /lib/modules/<ver>) → the paths it depends on.
    deps: BTreeMap<String, Vec<String>>,
    /// Module name → path.
    by_name: BTreeMap<String, String>,
    /// Names of modules built into the kernel.
    builtin: BTreeSet<String>,
}

/// The module name of a path: `kernel/drivers/vfio/pci/vfio-pci.ko.xz` → `vfio_pci`.
pub fn module_name(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let base = base.split(".ko").next().unwrap_or(base);
    base.replace('-', "_")
}

impl ModuleDb {
    /// Parses `modules.dep` (`path: dep dep ...`) and `modules.builtin` (one path a line).
    pub fn parse(modules_dep: &str, modules_builtin: &str) -> Self {
        let mut db = ModuleDb::default();
        for line in modules_dep.lines() {
            let Some((path, deps)) = line.split_once(':') else {
                continue;
            };
            let path = path.trim().to_string();
            db.by_name.insert(module_name(&path), path.clone());
            db.deps
                .insert(path, deps.split_whitespace().map(str::to_string).collect());
        }
        db.builtin = modules_builtin
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(module_name)
            .collect();
        db
    }

    /// The module paths to load for `wanted`, each after everything it depends on.
    /// Built-in modules need nothing; an unknown module is an error.
    pub fn load_order(&self, wanted: &[&str]) -> Result<Vec<String>, String> {
        fn visit(db: &ModuleDb, path: &str, out: &mut Vec<String>, stack: &mut Vec<String>) {
            if out.iter().any(|p| p == path) || stack.iter().any(|p| p == path) {
                return;
            }
            stack.push(path.to_string());
            for d in db.deps.get(path).into_iter().flatten() {
                visit(db, d, out, stack);
            }
            stack.pop();
            out.push(path.to_string());
        }
        let mut out = Vec::new();
        for w in wanted {
            let name = module_name(w);
            if self.builtin.contains(&name) {
                continue;
            }
            let path = self
                .by_name
                .get(&name)
                .ok_or_else(|| format!("module {w} is neither in modules.dep nor built in"))?;
            visit(self, path, &mut out, &mut Vec::new());
        }
        Ok(out)
    }

    /// The `modules.dep` of the guest for the modules in `order` (paths as
    /// [`load_order`](Self::load_order) gives them): uncompressed names, so that busybox
    /// `modprobe` (what `daos-preflight fix` runs) finds a module and its dependencies.
    pub fn guest_modules_dep(&self, order: &[String]) -> String {
        let mut out = String::new();
        for m in order {
            let deps: Vec<&str> = self
                .deps
                .get(m)
                .into_iter()
                .flatten()
                .map(|d| uncompressed_name(d))
                .collect();
            let _ = writeln!(out, "{}: {}", uncompressed_name(m), deps.join(" "));
        }
        out
    }
}

/// A module file's contents, decompressed (`.ko.xz`, `.ko.zst`, `.ko.gz`): busybox
/// insmod then needs no decompressor and the kernel no compressed-module support.
fn read_module(path: &Path) -> Result<Vec<u8>, String> {
    let name = path.to_string_lossy();
    let external = |tool: &str| -> Result<Vec<u8>, String> {
        let out = Command::new(tool)
            .arg("-dc")
            .arg(path)
            .output()
            .map_err(|e| format!("{tool} -dc {name}: {e} (see .ci/vm-deps.sh)"))?;
        if !out.status.success() {
            return Err(format!("{tool} -dc {name}: {}", out.status));
        }
        Ok(out.stdout)
    };
    if name.ends_with(".ko.xz") {
        external("xz")
    } else if name.ends_with(".ko.zst") {
        external("zstd")
    } else if name.ends_with(".ko.gz") {
        let f = fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(f)
            .read_to_end(&mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        Ok(out)
    } else {
        fs::read(path).map_err(|e| format!("{name}: {e}"))
    }
}

/// Strips a compression suffix: the name a module has in the guest.
fn uncompressed_name(path: &str) -> &str {
    [".xz", ".zst", ".gz"]
        .iter()
        .find_map(|s| path.strip_suffix(s))
        .unwrap_or(path)
}

/// What every scenario shares: the kernel and the base initramfs.
struct Base {
    kernel: GuestKernel,
    initramfs: Vec<u8>,
    /// The modules init loads, in order (guest paths under /lib/modules/<ver>).
    modules_order: Vec<String>,
}

fn build_base() -> Result<Base, String> {
    let binary = static_binary()?;
    let kernel = find_kernel()?;
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("no /bin/busybox: run .ci/vm-deps.sh (installs busybox-static)")?;
    let busybox = fs::read(&busybox).map_err(|e| format!("{}: {e}", busybox.display()))?;
    if !elf_is_static(&busybox)? {
        return Err("/bin/busybox is dynamically linked: install busybox-static".into());
    }

    let read = |p: &Path| fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
    let db = ModuleDb::parse(
        &read(&kernel.modules_dir.join("modules.dep"))?,
        &read(&kernel.modules_dir.join("modules.builtin")).unwrap_or_default(),
    );
    let order = db.load_order(GUEST_MODULES)?;

    let mut c = Cpio::new();
    for d in ["dev", "proc", "sys", "tmp", "run", "root", "etc/dpf"] {
        c.dir(d, 0o755);
    }
    // The kernel opens /dev/console for init before any filesystem is mounted.
    c.char_dev("dev/console", 0o600, 5, 1);
    c.file("init", 0o755, INIT_SH.as_bytes());
    c.file("bin/busybox", 0o755, &busybox);
    c.file("bin/sh", 0o755, &busybox);
    c.file(
        GUEST_BINARY,
        0o755,
        &fs::read(&binary).map_err(|e| format!("{}: {e}", binary.display()))?,
    );
    c.file("bin/sysfs-listing", 0o755, SYSFS_LISTING_SH.as_bytes());
    c.file(
        &format!("boot/config-{}", kernel.version),
        0o644,
        &fs::read(&kernel.config).map_err(|e| format!("{}: {e}", kernel.config.display()))?,
    );
    c.file(
        "etc/passwd",
        0o644,
        format!(
            "root:x:0:0:root:/root:/bin/sh\n{GUEST_USER}:x:{GUEST_USER_ID}:{GUEST_USER_ID}:DAOS:/tmp:/bin/sh\n"
        )
        .as_bytes(),
    );
    c.file(
        "etc/group",
        0o644,
        format!("root:x:0:\n{GUEST_USER}:x:{GUEST_USER_ID}:\n").as_bytes(),
    );
    let mut order_file = String::new();
    for m in &order {
        let data = read_module(&kernel.modules_dir.join(m))?;
        let guest = uncompressed_name(m);
        c.file(
            &format!("lib/modules/{}/{guest}", kernel.version),
            0o644,
            &data,
        );
        order_file.push_str(guest);
        order_file.push('\n');
    }
    c.file("etc/dpf/modules.order", 0o644, order_file.as_bytes());
    c.file(
        &format!("lib/modules/{}/modules.dep", kernel.version),
        0o644,
        db.guest_modules_dep(&order).as_bytes(),
    );
    Ok(Base {
        kernel,
        initramfs: c.finish(),
        modules_order: order
            .iter()
            .map(|m| uncompressed_name(m).to_string())
            .collect(),
    })
}

/// The shared base, built on first use.
fn base() -> &'static Base {
    static BASE: OnceLock<Result<Base, String>> = OnceLock::new();
    match BASE.get_or_init(build_base) {
        Ok(b) => b,
        Err(e) => panic!("cannot prepare the VM tests: {e}"),
    }
}

/// QEMU runs one at a time: the machines have 2 cores and TCG uses both.
static QEMU: Mutex<()> = Mutex::new(());

// ---------------------------------------------------------------------------------------
// Scenarios.

/// Where a PCI device sits, which fixes its guest address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PciSlot {
    /// On the root complex (`bus=pcie.0,addr=<slot>`): `0000:00:<slot>.0`, no NUMA node.
    Root(u8),
    /// Behind a root port of an extra host bridge on a NUMA node (`pxb-pcie` with
    /// `bus_nr`): the port is `0000:<bus_nr>:00.0`, the device `0000:<bus_nr+1>:00.0`,
    /// and the kernel gives it that `numa_node` (through the bridge's ACPI _PXM).
    NumaBridge {
        /// NUMA node of the bridge.
        node: u32,
        /// First bus number of the bridge.
        bus_nr: u8,
    },
}

impl PciSlot {
    /// The address the guest kernel gives the device.
    pub fn address(self) -> String {
        match self {
            PciSlot::Root(slot) => format!("0000:00:{slot:02x}.0"),
            PciSlot::NumaBridge { bus_nr, .. } => format!("0000:{:02x}:00.0", bus_nr + 1),
        }
    }

    /// The NUMA node the kernel should report (`None`: the kernel says -1).
    pub fn numa_node(self) -> Option<u32> {
        match self {
            PciSlot::Root(_) => None,
            PciSlot::NumaBridge { node, .. } => Some(node),
        }
    }
}

/// NIC models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NicModel {
    /// `virtio-net-pci` (driver virtio_net, interface under `virtioN/`).
    Virtio,
    /// `e1000e` (Intel 82574L, driver e1000e).
    E1000e,
}

/// One network card, on a user-mode backend with `restrict=on` (no traffic leaves QEMU).
#[derive(Debug, Clone)]
pub struct Nic {
    /// Model.
    pub model: NicModel,
    /// Slot.
    pub slot: PciSlot,
    /// Set the interface administratively up in the guest (`ip link set up`).
    pub admin_up: bool,
    /// Cable plugged: `false` sends `set_link <id> off` on the QEMU monitor before the
    /// guest starts, so the driver sees no carrier (operstate `down`, carrier 0).
    pub carrier: bool,
    /// IPv4 address with prefix to add when up (`10.0.2.15/24`).
    pub address: Option<String>,
}

/// A virtio NIC on a private link to another guest of the same test: `-netdev dgram`
/// over two unix datagram sockets (this guest binds `local`, sends to `remote`), so the
/// frames go from one QEMU to the other and nowhere else; no host interface, no route.
#[derive(Debug, Clone)]
pub struct Link {
    /// Slot.
    pub slot: PciSlot,
    /// MAC address (the two ends need different ones).
    pub mac: String,
    /// IPv4 address with prefix (`198.51.100.1/24`), set on the link's interface.
    pub address: String,
    /// The unix socket this guest's QEMU binds.
    pub local: PathBuf,
    /// The unix socket of the other guest's QEMU.
    pub remote: PathBuf,
}

/// An NVMe drive backed by a sparse raw image.
#[derive(Debug, Clone)]
pub struct Nvme {
    /// Slot.
    pub slot: PciSlot,
    /// Controller serial number.
    pub serial: String,
    /// Image size, MiB.
    pub size_mib: u64,
}

/// A virtio disk backed by a raw image the test owns (it outlives the scenario's
/// directory, so two boots can share it): the guest sees it as `/dev/<name>`.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Slot.
    pub slot: PciSlot,
    /// The raw image on the host.
    pub image: PathBuf,
    /// The block device name the guest gives it (`vda` for the first virtio disk).
    pub name: String,
}

/// Which IOMMU the machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IommuDevice {
    /// None: no DMAR/IVRS table at all.
    None,
    /// `-device intel-iommu,intremap=on` (needs `kernel-irqchip=split`): a DMAR table.
    Intel,
    /// `-device amd-iommu`: an IVRS table.
    Amd,
}

/// One capture: a guest command whose output comes back between markers.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Name (file name of the saved output, key in [`GuestRun::sections`]).
    pub name: String,
    /// Shell command.
    pub command: String,
    /// Run it as this user (through busybox `su`), else as root.
    pub user: Option<String>,
}

/// A machine, a command line and a guest script. Build with the methods, then [`boot`].
///
/// [`boot`]: Scenario::boot
#[derive(Debug, Clone)]
pub struct Scenario {
    name: String,
    iommu: IommuDevice,
    kernel_args: Vec<String>,
    numa: Vec<(Vec<u32>, u32)>,
    nvme: Vec<Nvme>,
    disks: Vec<Disk>,
    nics: Vec<Nic>,
    links: Vec<Link>,
    rtc_ahead_s: Option<u64>,
    hostname: Option<String>,
    setup: Vec<String>,
    captures: Vec<Capture>,
    files: Vec<(String, u32, Vec<u8>)>,
    binary_user: Option<String>,
    check_args: Vec<String>,
    deferred_modules: Vec<String>,
    timeout: Duration,
}

/// Quotes a string for sh.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Scenario {
    /// A bare q35 machine: no IOMMU, no NUMA, no devices.
    pub fn new(name: &str) -> Self {
        let timeout = std::env::var("DAOS_PREFLIGHT_VM_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(120));
        Scenario {
            name: name.to_string(),
            iommu: IommuDevice::None,
            kernel_args: Vec::new(),
            numa: Vec::new(),
            nvme: Vec::new(),
            disks: Vec::new(),
            nics: Vec::new(),
            links: Vec::new(),
            rtc_ahead_s: None,
            hostname: None,
            setup: Vec::new(),
            captures: Vec::new(),
            files: Vec::new(),
            binary_user: None,
            check_args: Vec::new(),
            deferred_modules: Vec::new(),
            timeout,
        }
    }

    /// Adds an IOMMU device.
    pub fn iommu(mut self, device: IommuDevice) -> Self {
        self.iommu = device;
        self
    }

    /// Appends kernel parameters (`intel_iommu=on hugepages=64`).
    pub fn kernel_args(mut self, args: &str) -> Self {
        self.kernel_args
            .extend(args.split_whitespace().map(str::to_string));
        self
    }

    /// Splits the guest into NUMA nodes: `(cpus, memory MiB)` per node, in node order.
    /// CPUs must cover 0..GUEST_CPUS; the guest's memory is the sum of the nodes'.
    pub fn numa(mut self, nodes: &[(&[u32], u32)]) -> Self {
        self.numa = nodes.iter().map(|(c, m)| (c.to_vec(), *m)).collect();
        self
    }

    /// Adds an NVMe drive.
    pub fn nvme(mut self, slot: PciSlot, serial: &str, size_mib: u64) -> Self {
        self.nvme.push(Nvme {
            slot,
            serial: serial.to_string(),
            size_mib,
        });
        self
    }

    /// Adds a virtio disk backed by `image` (a raw file the caller created). Virtio
    /// disks are named in probe order: the first is `vda`.
    pub fn disk(mut self, slot: PciSlot, image: &Path) -> Self {
        let name = format!("vd{}", (b'a' + self.disks.len() as u8) as char);
        self.disks.push(Disk {
            slot,
            image: image.to_path_buf(),
            name,
        });
        self
    }

    /// Adds a NIC.
    pub fn nic(mut self, nic: Nic) -> Self {
        self.nics.push(nic);
        self
    }

    /// Adds a NIC on a private link to another guest (boot both with [`boot_together`]).
    pub fn link(mut self, link: Link) -> Self {
        self.links.push(link);
        self
    }

    /// Starts the guest's hardware clock (RTC) `seconds` ahead of the host's: `-rtc
    /// base=<UTC now + seconds>`, computed when QEMU starts. The guest kernel sets its
    /// clock from the RTC at boot (whole seconds) and nothing corrects it (no NTP).
    pub fn rtc_ahead(mut self, seconds: u64) -> Self {
        self.rtc_ahead_s = Some(seconds);
        self
    }

    /// The guest's host name (default `dpf-<scenario name>`).
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = Some(name.to_string());
        self
    }

    /// A guest shell line run as root after the devices are ready, before the captures.
    pub fn setup(mut self, line: &str) -> Self {
        self.setup.push(line.to_string());
        self
    }

    /// A file in the guest (replaces the base's file of that path).
    pub fn file(mut self, path: &str, mode: u32, data: &[u8]) -> Self {
        self.files.push((path.to_string(), mode, data.to_vec()));
        self
    }

    /// Packs a kernel module (and its `modules.dep` line) but does not load it at boot:
    /// `modprobe` in the guest (as `daos-preflight fix` runs it) loads it later.
    /// Its dependencies are still loaded at boot.
    pub fn defer_module(mut self, name: &str) -> Self {
        self.deferred_modules.push(module_name(name));
        self
    }

    /// Extra arguments of the default `check` capture (`--daos-version 2.6`).
    pub fn check_args(mut self, args: &str) -> Self {
        self.check_args
            .extend(args.split_whitespace().map(str::to_string));
        self
    }

    /// The guest's memory, MiB: the nodes' sum, or [`GUEST_MEMORY_MIB`] without nodes.
    pub fn memory_mib(&self) -> u32 {
        if self.numa.is_empty() {
            GUEST_MEMORY_MIB
        } else {
            self.numa.iter().map(|(_, m)| m).sum()
        }
    }

    /// Runs the default `check`/`facts` captures as `user` instead of root.
    pub fn binary_as(mut self, user: &str) -> Self {
        self.binary_user = Some(user.to_string());
        self
    }

    /// An extra capture, as root: `capture("dmar", "daos-preflight acpi dmar --format json")`.
    pub fn capture(mut self, name: &str, command: &str) -> Self {
        self.captures.push(Capture {
            name: name.to_string(),
            command: command.to_string(),
            user: None,
        });
        self
    }

    /// An extra capture run as `user`.
    pub fn capture_as(mut self, name: &str, user: &str, command: &str) -> Self {
        self.captures.push(Capture {
            name: name.to_string(),
            command: command.to_string(),
            user: Some(user.to_string()),
        });
        self
    }

    /// The kernel command line this scenario boots with.
    pub fn cmdline(&self) -> String {
        let mut s = BASE_CMDLINE.to_string();
        for a in &self.kernel_args {
            s.push(' ');
            s.push_str(a);
        }
        s
    }

    /// Every capture, the defaults first: `check` and `facts` (JSON, as the scenario's
    /// user), `sysfs` (the busybox view, as root), the raw firmware tables (hex, root),
    /// then the scenario's own, and `dmesg` last.
    fn all_captures(&self) -> Vec<Capture> {
        let bin = |args: &str| Capture {
            name: args.split_whitespace().next().unwrap_or(args).to_string(),
            command: format!("{GUEST_BINARY} {args}"),
            user: self.binary_user.clone(),
        };
        let root = |name: &str, command: &str| Capture {
            name: name.to_string(),
            command: command.to_string(),
            user: None,
        };
        let mut check = String::from("check --format json");
        for a in &self.check_args {
            check.push(' ');
            check.push_str(&sh_quote(a));
        }
        let mut v = vec![
            bin(&check),
            bin("facts --format json"),
            root("sysfs", "/bin/sysfs-listing"),
        ];
        for t in ["DMAR", "IVRS"] {
            let p = format!("/sys/firmware/acpi/tables/{t}");
            v.push(root(
                &format!("table-{t}"),
                &format!("if [ -e {p} ]; then xxd -p {p}; else echo absent; fi"),
            ));
        }
        v.extend(self.captures.iter().cloned());
        v.push(root("dmesg", "dmesg"));
        v
    }

    /// The guest script: wait for devices, bring NICs up, the scenario's setup, captures.
    fn guest_script(&self) -> String {
        let mut s = String::from("# written by tests/vm/harness.rs\n");
        for d in &self.nvme {
            let _ = writeln!(
                s,
                "wait_for {}",
                sh_quote(&format!(
                    "ls /sys/bus/pci/devices/{}/nvme/nvme*/nvme*n1",
                    d.slot.address()
                ))
            );
        }
        for d in &self.disks {
            let _ = writeln!(
                s,
                "wait_for {}",
                sh_quote(&format!("[ -b /dev/{} ]", d.name))
            );
        }
        for n in &self.nics {
            let addr = n.slot.address();
            let _ = writeln!(s, "wait_for {}", sh_quote(&format!("iface_of {addr}")));
            let _ = writeln!(s, "ifc=$(iface_of {addr})");
            if n.admin_up {
                let _ = writeln!(s, "ip link set \"$ifc\" up");
                if let Some(a) = &n.address {
                    let _ = writeln!(s, "ip addr add {a} dev \"$ifc\"");
                }
                // Wait for the state the link must settle in (e1000e's watchdog takes
                // a second or two to see the link).
                let want = if n.carrier { "up" } else { "down" };
                let _ = writeln!(
                    s,
                    "wait_for {}",
                    sh_quote(&format!(
                        "grep -qx {want} /sys/class/net/$ifc/operstate && [ -n \"$(cat /sys/class/net/$ifc/carrier)\" ]"
                    ))
                );
            }
        }
        for l in &self.links {
            let addr = l.slot.address();
            let _ = writeln!(s, "wait_for {}", sh_quote(&format!("iface_of {addr}")));
            let _ = writeln!(s, "ifc=$(iface_of {addr})");
            let _ = writeln!(s, "ip link set \"$ifc\" up");
            let _ = writeln!(s, "ip addr add {} dev \"$ifc\"", l.address);
            let _ = writeln!(
                s,
                "wait_for {}",
                sh_quote("grep -qx up /sys/class/net/$ifc/operstate")
            );
        }
        for line in &self.setup {
            s.push_str(line);
            s.push('\n');
        }
        s.push_str("echo 1 > /proc/sys/kernel/printk\n");
        for c in self.all_captures() {
            let cmd = match &c.user {
                None => format!("sh -c {}", sh_quote(&c.command)),
                Some(u) => format!("su -s /bin/sh {u} -c {}", sh_quote(&c.command)),
            };
            let _ = writeln!(s, "capture {} {cmd}", c.name);
        }
        s
    }

    /// QEMU monitor commands to send before the guest runs.
    fn monitor_commands(&self) -> Vec<String> {
        self.nics
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.carrier)
            .map(|(i, _)| format!("set_link net{i} off"))
            .collect()
    }

    /// The QEMU arguments (after the binary), given the scenario directory.
    fn qemu_args(&self, dir: &Path, kernel: &GuestKernel) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut opt = |k: &str, v: String| {
            a.push(k.to_string());
            if !v.is_empty() {
                a.push(v);
            }
        };
        // intremap=on needs the split irqchip (QEMU refuses it otherwise).
        let machine = match self.iommu {
            IommuDevice::Intel => "q35,kernel-irqchip=split",
            _ => "q35",
        };
        opt("-machine", machine.into());
        opt("-accel", "tcg".into());
        opt("-m", self.memory_mib().to_string());
        opt("-smp", GUEST_CPUS.to_string());
        // No default devices (VGA, NIC, CD-ROM): the PCI list is exactly the scenario's.
        // The serial console goes to a file, the monitor reads stdin.
        opt("-nodefaults", String::new());
        opt("-nographic", String::new());
        opt("-no-reboot", String::new());
        opt(
            "-serial",
            format!("file:{}", dir.join("console.log").display()),
        );
        opt("-monitor", "stdio".into());
        if !self.monitor_commands().is_empty() {
            // Start paused; the monitor commands end with `cont`, so they apply before
            // the guest's first instruction.
            opt("-S", String::new());
        }
        opt("-kernel", kernel.vmlinuz.display().to_string());
        opt("-initrd", dir.join("initramfs.cpio").display().to_string());
        opt("-append", self.cmdline());
        // The IOMMU must come before the devices it translates for.
        match self.iommu {
            IommuDevice::None => {}
            IommuDevice::Intel => opt("-device", "intel-iommu,intremap=on".into()),
            IommuDevice::Amd => opt("-device", "amd-iommu".into()),
        }
        for (id, (cpus, mib)) in self.numa.iter().enumerate() {
            opt(
                "-object",
                format!("memory-backend-ram,id=mem{id},size={mib}M"),
            );
            let cpus: Vec<String> = cpus.iter().map(|c| format!("cpus={c}")).collect();
            opt(
                "-numa",
                format!("node,nodeid={id},{},memdev=mem{id}", cpus.join(",")),
            );
        }
        // One extra host bridge with a root port per NUMA-node slot, before its devices.
        let bridges: BTreeSet<(u32, u8)> = self
            .nvme
            .iter()
            .map(|d| d.slot)
            .chain(self.disks.iter().map(|d| d.slot))
            .chain(self.nics.iter().map(|n| n.slot))
            .chain(self.links.iter().map(|l| l.slot))
            .filter_map(|s| match s {
                PciSlot::NumaBridge { node, bus_nr } => Some((node, bus_nr)),
                PciSlot::Root(_) => None,
            })
            .collect();
        for (node, bus_nr) in &bridges {
            opt(
                "-device",
                format!("pxb-pcie,id=pxb{bus_nr},bus_nr={bus_nr},numa_node={node},bus=pcie.0"),
            );
            opt(
                "-device",
                format!("pcie-root-port,id=rp{bus_nr},bus=pxb{bus_nr},chassis={bus_nr}"),
            );
        }
        let bus = |slot: PciSlot| match slot {
            PciSlot::Root(s) => format!("bus=pcie.0,addr=0x{s:x}"),
            PciSlot::NumaBridge { bus_nr, .. } => format!("bus=rp{bus_nr}"),
        };
        for (i, d) in self.nvme.iter().enumerate() {
            let img = dir.join(format!("nvme{i}.img"));
            opt(
                "-drive",
                format!("file={},if=none,id=nvm{i},format=raw", img.display()),
            );
            opt(
                "-device",
                format!("nvme,serial={},drive=nvm{i},{}", d.serial, bus(d.slot)),
            );
        }
        for (i, d) in self.disks.iter().enumerate() {
            opt(
                "-drive",
                format!("file={},if=none,id=disk{i},format=raw", d.image.display()),
            );
            opt(
                "-device",
                format!("virtio-blk-pci,drive=disk{i},{}", bus(d.slot)),
            );
        }
        for (i, n) in self.nics.iter().enumerate() {
            let model = match n.model {
                NicModel::Virtio => "virtio-net-pci",
                NicModel::E1000e => "e1000e",
            };
            opt("-netdev", format!("user,id=net{i},restrict=on"));
            // romfile= skips the iPXE option ROM: nothing boots from the network.
            opt(
                "-device",
                format!("{model},netdev=net{i},romfile=,{}", bus(n.slot)),
            );
        }
        for (i, l) in self.links.iter().enumerate() {
            opt(
                "-netdev",
                format!(
                    "dgram,id=link{i},local.type=unix,local.path={},remote.type=unix,remote.path={}",
                    l.local.display(),
                    l.remote.display()
                ),
            );
            opt(
                "-device",
                format!(
                    "virtio-net-pci,netdev=link{i},mac={},romfile=,{}",
                    l.mac,
                    bus(l.slot)
                ),
            );
        }
        a
    }

    /// Boots the scenario and returns what the guest printed. Panics (with the console
    /// log) when QEMU can't start, the guest times out, panics, or its script doesn't
    /// finish, or a module, device wait or default capture failed.
    pub fn boot(&self) -> GuestRun {
        boot_together(&[self]).pop().expect("one run per scenario")
    }

    /// Writes the scenario's directory (initramfs, NVMe images); returns it.
    fn prepare(&self, base: &Base) -> PathBuf {
        let dir = work_dir().join(&self.name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));

        let mut overlay = Cpio::new();
        let hostname = self
            .hostname
            .clone()
            .unwrap_or_else(|| format!("dpf-{}", self.name.replace('_', "-")));
        overlay.file("etc/hostname", 0o644, format!("{hostname}\n").as_bytes());
        overlay.file("etc/dpf/scenario.sh", 0o644, self.guest_script().as_bytes());
        for (path, mode, data) in &self.files {
            overlay.file(path, *mode, data);
        }
        if !self.deferred_modules.is_empty() {
            let order: String = base
                .modules_order
                .iter()
                .filter(|m| !self.deferred_modules.contains(&module_name(m)))
                .map(|m| format!("{m}\n"))
                .collect();
            overlay.file("etc/dpf/modules.order", 0o644, order.as_bytes());
        }
        let mut initramfs = base.initramfs.clone();
        initramfs.extend_from_slice(&overlay.finish());
        write(&dir.join("initramfs.cpio"), &initramfs);
        for (i, d) in self.nvme.iter().enumerate() {
            let img = dir.join(format!("nvme{i}.img"));
            fs::File::create(&img)
                .and_then(|f| f.set_len(d.size_mib << 20))
                .unwrap_or_else(|e| panic!("{}: {e}", img.display()));
        }
        dir
    }

    /// Starts QEMU (the caller holds [`QEMU`]); `now` is the host's UTC time in whole
    /// seconds, the base of `-rtc`. Writes `qemu.sh` with the exact command.
    fn spawn(&self, base: &Base, dir: &Path, now: u64) -> Running {
        let mut args = self.qemu_args(dir, &base.kernel);
        if let Some(ahead) = self.rtc_ahead_s {
            args.push("-rtc".into());
            args.push(format!("base={}", utc_datetime(now + ahead)));
        }
        let mut monitor = self.monitor_commands();
        if !monitor.is_empty() {
            monitor.push("cont".to_string());
        }
        let mut script = String::from(
            "#!/bin/sh\n# rerun this scenario's guest by hand\nexec qemu-system-x86_64",
        );
        for a in &args {
            // An option starts a line; its value follows on the same line.
            script.push_str(if a.starts_with('-') { " \\\n  " } else { " " });
            script.push_str(&sh_quote(a));
        }
        script.push('\n');
        if !monitor.is_empty() {
            let _ = writeln!(script, "# then on the monitor: {}", monitor.join("; "));
        }
        write(&dir.join("qemu.sh"), script.as_bytes());

        let started = Instant::now();
        let mut child = Command::new("qemu-system-x86_64")
            .args(&args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(fs::File::create(dir.join("monitor.log")).expect("monitor.log"))
            .stderr(fs::File::create(dir.join("qemu-stderr.log")).expect("qemu-stderr.log"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start qemu-system-x86_64: {e} (run .ci/vm-deps.sh)")
            });
        // The guest is paused (-S) until the last command, `cont`. stdin stays open
        // until QEMU exits (EOF on a stdio monitor is harmless, but keep it simple).
        let mut stdin = child.stdin.take().expect("piped stdin");
        for m in &monitor {
            let _ = writeln!(stdin, "{m}");
        }
        let _ = stdin.flush();
        Running {
            child,
            stdin: Some(stdin),
            started,
            status: None,
            elapsed: None,
            watch: ConsoleWatch {
                path: dir.join("console.log"),
                ..ConsoleWatch::default()
            },
        }
    }

    /// Reads what a finished (or killed) QEMU left; fails on a protocol problem.
    fn finish(&self, dir: PathBuf, qemu: Running) -> GuestRun {
        let elapsed = qemu.elapsed.unwrap_or_else(|| qemu.started.elapsed());
        let raw = fs::read(dir.join("console.log")).unwrap_or_default();
        let console = clean_console(&String::from_utf8_lossy(&raw));
        let stderr = fs::read_to_string(dir.join("qemu-stderr.log")).unwrap_or_default();
        let mut run = GuestRun {
            name: self.name.clone(),
            dir,
            sections: parse_sections(&console),
            end_seen: qemu.watch.ends,
            console,
            elapsed,
            cmdline: self.cmdline(),
            report: Value::Null,
            facts: Value::Null,
            sysfs: SysfsView::default(),
        };
        let problem = match qemu.status {
            None => Some(format!(
                "the guest did not power off within {} s (hung?); QEMU was killed",
                self.timeout.as_secs()
            )),
            Some(s) if !s.success() => Some(format!("QEMU exited with {s}; stderr:\n{stderr}")),
            Some(_) => run.protocol_problem(&self.all_captures()),
        };
        if let Some(p) = problem {
            run.fail(format!("guest run failed: {p}"));
        }
        run.report = run.json("check");
        run.facts = run.json("facts");
        run.sysfs = SysfsView::parse(&run.section("sysfs").text)
            .unwrap_or_else(|e| run.fail(format!("sysfs listing: {e}")));
        for (name, sec) in &run.sections {
            let ext = if sec.text.trim_start().starts_with('{') {
                "json"
            } else {
                "txt"
            };
            write(&run.dir.join(format!("{name}.{ext}")), sec.text.as_bytes());
        }
        write(
            &run.dir.join("timing.txt"),
            format!("{:.1} s\n", run.elapsed.as_secs_f64()).as_bytes(),
        );
        eprintln!(
            "vm scenario {}: guest ran {:.1} s; files in {}",
            run.name,
            run.elapsed.as_secs_f64(),
            run.dir.display()
        );
        run.check_report_contract();
        run
    }
}

/// A QEMU process of [`boot_together`].
struct Running {
    child: std::process::Child,
    stdin: Option<std::process::ChildStdin>,
    started: Instant,
    /// Exit status; `None` when it was killed at its deadline.
    status: Option<std::process::ExitStatus>,
    /// How long it ran.
    elapsed: Option<Duration>,
    /// The console read so far, and when the host saw each capture end.
    watch: ConsoleWatch,
}

/// Follows a guest's console file while QEMU runs and notes the host's clock when each
/// `@@DPF-END <name>` line appears: a host-side timestamp of guest events, independent
/// of the guest's clock (QEMU writes serial output to the file as the guest sends it).
#[derive(Debug, Default)]
struct ConsoleWatch {
    path: PathBuf,
    read: usize,
    partial: Vec<u8>,
    ends: BTreeMap<String, f64>,
}

impl ConsoleWatch {
    fn poll(&mut self) {
        let Ok(bytes) = fs::read(&self.path) else {
            return;
        };
        if bytes.len() <= self.read {
            return;
        }
        let now = unix_now_f64();
        self.partial.extend_from_slice(&bytes[self.read..]);
        self.read = bytes.len();
        while let Some(nl) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            if let Some(rest) = line
                .trim_end()
                .strip_prefix("@@DPF-END ")
                .and_then(|r| r.strip_suffix("@@"))
            {
                let name = rest.split_once(" rc=").map_or(rest, |(n, _)| n);
                self.ends.entry(name.to_string()).or_insert(now);
            }
        }
    }
}

/// The host's clock, seconds since the Unix epoch.
pub fn unix_now_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of a Unix time, as `-rtc base=` takes it. Days to civil
/// date: the proleptic Gregorian calendar counted in 400-year eras of 146097 days.
pub fn utc_datetime(unix: u64) -> String {
    let (days, secs) = ((unix / 86_400) as i64, unix % 86_400);
    let z = days + 719_468; // days since 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // day of era, 0..146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month, March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Boots several scenarios at the same time, for guests that talk to each other over
/// [`Link`]s (one scenario: [`Scenario::boot`]). They start together, each has its own
/// deadline, and the runs come back in the order given; a failed guest fails the test
/// with its console log (the first failing one in that order).
///
/// When a scenario sets [`Scenario::rtc_ahead`], the start waits until just after a
/// whole second: QEMU turns `-rtc base=` into a whole-second offset from `time(NULL)`
/// when it parses it, so starting early in a second keeps that offset exactly the one
/// asked for, and guests started in the same instant tick their RTCs together.
pub fn boot_together(scenarios: &[&Scenario]) -> Vec<GuestRun> {
    let base = base();
    let dirs: Vec<PathBuf> = scenarios.iter().map(|s| s.prepare(base)).collect();
    let lock = QEMU.lock().unwrap_or_else(|e| e.into_inner());
    let unix_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
    };
    if scenarios.iter().any(|s| s.rtc_ahead_s.is_some()) {
        let frac = unix_now().subsec_millis();
        if frac > 100 {
            std::thread::sleep(Duration::from_millis(u64::from(1010 - frac)));
        }
    }
    let now = unix_now().as_secs();
    let mut running: Vec<Running> = scenarios
        .iter()
        .zip(&dirs)
        .map(|(s, d)| s.spawn(base, d, now))
        .collect();
    while running.iter().any(|r| r.elapsed.is_none()) {
        for (r, s) in running.iter_mut().zip(scenarios) {
            if r.elapsed.is_some() {
                continue;
            }
            r.watch.poll();
            match r.child.try_wait() {
                Ok(Some(status)) => {
                    r.watch.poll();
                    r.status = Some(status);
                    r.elapsed = Some(r.started.elapsed());
                }
                Ok(None) if r.started.elapsed() > s.timeout => {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                    r.elapsed = Some(r.started.elapsed());
                }
                Ok(None) => {}
                Err(e) => panic!("waiting for qemu: {e}"),
            }
            if r.elapsed.is_some() {
                drop(r.stdin.take());
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(lock);
    scenarios
        .iter()
        .zip(dirs)
        .zip(running)
        .map(|((s, d), r)| s.finish(d, r))
        .collect()
}

fn write(path: &Path, data: &[u8]) {
    fs::write(path, data).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

// ---------------------------------------------------------------------------------------
// Results.

/// The output of one capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Exit code of the command.
    pub rc: i32,
    /// Its output (stdout and stderr as they reached the console).
    pub text: String,
}

/// The console as text: no `\r`, no terminal escapes (SeaBIOS clears the screen, which
/// would garble a CI log that prints the console).
pub fn clean_console(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {}
            // ESC [ ... final byte (CSI), or ESC + one character (ESC c: reset).
            '\x1b' => {
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Splits a console log into captures (see tests/vm/init.sh for the markers). A marker
/// must be a whole line; anything outside markers is ignored.
pub fn parse_sections(console: &str) -> BTreeMap<String, Section> {
    let mut out = BTreeMap::new();
    let mut open: Option<(String, String)> = None;
    for line in console.lines() {
        if let Some(name) = line
            .strip_prefix("@@DPF-BEGIN ")
            .and_then(|r| r.strip_suffix("@@"))
        {
            open = Some((name.to_string(), String::new()));
        } else if let Some(rest) = line
            .strip_prefix("@@DPF-END ")
            .and_then(|r| r.strip_suffix("@@"))
        {
            let (name, rc) = rest.split_once(" rc=").unwrap_or((rest, "-1"));
            if let Some((open_name, text)) = open.take()
                && open_name == name
            {
                // init.sh adds one newline before the end marker.
                let text = text.strip_suffix('\n').unwrap_or(&text).to_string();
                out.insert(
                    name.to_string(),
                    Section {
                        rc: rc.parse().unwrap_or(-1),
                        text,
                    },
                );
            }
        } else if let Some((_, text)) = open.as_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// What one boot produced.
#[derive(Debug)]
pub struct GuestRun {
    /// Scenario name.
    pub name: String,
    /// Where its files are.
    pub dir: PathBuf,
    /// The whole serial console, `\r` removed.
    pub console: String,
    /// Captures by name.
    pub sections: BTreeMap<String, Section>,
    /// Time QEMU ran.
    pub elapsed: Duration,
    /// The kernel command line it was given.
    pub cmdline: String,
    /// The `check --format json` report.
    report: Value,
    /// The `facts --format json` facts.
    facts: Value,
    /// The busybox view of the guest.
    sysfs: SysfsView,
    /// When the host saw each capture's end marker (Unix seconds, host clock).
    end_seen: BTreeMap<String, f64>,
}

impl GuestRun {
    /// Fails the test with `msg` and the full console log.
    #[track_caller]
    pub fn fail(&self, msg: impl Display) -> ! {
        panic!(
            "[vm scenario {}] {msg}\n\n===== console log ({}) =====\n{}\n===== end of console log =====\n[vm scenario {}] {msg}",
            self.name,
            self.dir.join("console.log").display(),
            self.console,
            self.name
        )
    }

    /// Something the guest protocol says went wrong, if anything.
    fn protocol_problem(&self, captures: &[Capture]) -> Option<String> {
        let marker = |m: &str| -> Vec<&str> {
            self.console
                .lines()
                .filter_map(|l| l.strip_prefix(m).and_then(|r| r.strip_suffix("@@")))
                .collect()
        };
        if !self.console.contains("@@DPF-BOOTED ") {
            return Some("init never started (kernel panic or bad initramfs?)".into());
        }
        let failed = marker("@@DPF-INSMOD-FAILED ");
        if !failed.is_empty() {
            return Some(format!("kernel modules failed to load: {failed:?}"));
        }
        let waits = marker("@@DPF-WAIT-TIMEOUT ");
        if !waits.is_empty() {
            return Some(format!("devices never showed up: {waits:?}"));
        }
        if !self.console.lines().any(|l| l == "@@DPF-DONE@@") {
            return Some("the guest script did not reach its end".into());
        }
        let missing: Vec<&str> = captures
            .iter()
            .map(|c| c.name.as_str())
            .filter(|n| !self.sections.contains_key(*n))
            .collect();
        if !missing.is_empty() {
            return Some(format!("captures missing from the console: {missing:?}"));
        }
        None
    }

    /// A capture; fails the test when it is missing.
    #[track_caller]
    pub fn section(&self, name: &str) -> &Section {
        self.sections
            .get(name)
            .unwrap_or_else(|| self.fail(format!("no capture named {name:?}")))
    }

    /// When the host saw a capture end (Unix seconds by the host's clock, within the
    /// harness's 10 ms polling).
    #[track_caller]
    pub fn end_seen(&self, name: &str) -> f64 {
        self.end_seen
            .get(name)
            .copied()
            .unwrap_or_else(|| self.fail(format!("the host never saw capture {name:?} end")))
    }

    /// A capture parsed as JSON.
    #[track_caller]
    pub fn json(&self, name: &str) -> Value {
        let s = self.section(name);
        serde_json::from_str(&s.text).unwrap_or_else(|e| {
            self.fail(format!(
                "capture {name:?} (rc {}) is not JSON: {e}:\n{}",
                s.rc, s.text
            ))
        })
    }

    /// The `check --format json` report.
    pub fn report(&self) -> &Value {
        &self.report
    }

    /// The `facts --format json` facts.
    pub fn facts(&self) -> &Value {
        &self.facts
    }

    /// One check of the report, by id.
    #[track_caller]
    pub fn check(&self, id: &str) -> &Value {
        self.report["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| self.fail(format!("the report has no check {id:?}")))
    }

    /// The busybox view of the guest.
    pub fn sysfs(&self) -> &SysfsView {
        &self.sysfs
    }

    /// A firmware table's bytes as the guest kernel exposes them (read as root),
    /// `None` when the table is absent.
    #[track_caller]
    pub fn acpi_table(&self, signature: &str) -> Option<Vec<u8>> {
        let text = &self.section(&format!("table-{signature}")).text;
        if text.trim() == "absent" {
            return None;
        }
        let hex: Vec<u8> = text.bytes().filter(u8::is_ascii_hexdigit).collect();
        let digit = |b: u8| (b as char).to_digit(16).expect("hex digit") as u8;
        Some(
            hex.chunks(2)
                .map(|p| digit(p[0]) << 4 | digit(p[1]))
                .collect(),
        )
    }

    /// The contract every report must keep, whatever the scenario: it parses, its
    /// summary counts its checks, and the exit code follows design.md §3 (1 iff a
    /// check failed).
    #[track_caller]
    fn check_report_contract(&self) {
        let rc = self.section("check").rc;
        let report = self.report();
        if report["schema"] != "daos-preflight/report/v1" {
            self.fail(format!("report schema is {}", report["schema"]));
        }
        let checks = report["checks"].as_array().cloned().unwrap_or_default();
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in &checks {
            *counts
                .entry(c["status"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        for status in ["pass", "warn", "fail", "skip", "error"] {
            let want = counts.get(status).copied().unwrap_or(0);
            if report["summary"][status].as_u64() != Some(want) {
                self.fail(format!(
                    "summary.{status} is {} but {want} check(s) have that status",
                    report["summary"][status]
                ));
            }
        }
        let want_rc = if counts.contains_key("fail") { 1 } else { 0 };
        if rc != want_rc {
            self.fail(format!(
                "`check` exited {rc}, expected {want_rc} for statuses {counts:?}"
            ));
        }
        if self.section("facts").rc != 0 {
            self.fail(format!("`facts` exited {}", self.section("facts").rc));
        }
    }
}

/// Asserts inside a scenario; a failure shows the guest's console log.
macro_rules! vm_assert {
    ($run:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $run.fail(format!("assertion `{}` failed: {}", stringify!($cond), format!($($fmt)+)))
        }
    };
}
pub(crate) use vm_assert;

/// `assert_eq!` inside a scenario; a failure shows the guest's console log.
macro_rules! vm_assert_eq {
    ($run:expr, $left:expr, $right:expr, $($fmt:tt)+) => {
        // `match` keeps temporaries alive for the comparison, as in `assert_eq!`.
        match (&$left, &$right) {
            (l, r) => {
                if l != r {
                    $run.fail(format!(
                        "{}\n  left ({}): {:?}\n right ({}): {:?}",
                        format!($($fmt)+),
                        stringify!($left),
                        l,
                        stringify!($right),
                        r
                    ))
                }
            }
        }
    };
}
pub(crate) use vm_assert_eq;

// ---------------------------------------------------------------------------------------
// The busybox view.

/// One PCI function as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciView {
    /// `0x010802`.
    pub class: String,
    /// `numa_node` as printed (-1: none).
    pub numa: i64,
    /// Bound driver.
    pub driver: Option<String>,
    /// IOMMU group.
    pub group: Option<u32>,
}

/// One NUMA node as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// CPUs, expanded from `cpulist`.
    pub cpus: Vec<u32>,
    /// MemTotal of the node, KiB.
    pub memtotal_kib: u64,
    /// nr_hugepages by page size (KiB).
    pub hugepages: BTreeMap<u64, u64>,
}

/// One network interface as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetView {
    /// `operstate`.
    pub operstate: String,
    /// `carrier`; `None` when the kernel refused to say (interface down).
    pub carrier: Option<bool>,
    /// The resolved `device` link.
    pub device: String,
}

/// An IOMMU group as sysfs shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupView {
    /// Default domain type.
    pub kind: String,
    /// Member PCI addresses.
    pub devices: Vec<String>,
}

/// What tests/vm/sysfs-listing.sh printed.
#[derive(Debug, Default, Clone)]
pub struct SysfsView {
    /// `/proc/cmdline`.
    pub cmdline: String,
    /// `id -u` of the lister.
    pub euid: u32,
    /// ACPI tables: name → (`ls -l` mode, size).
    pub acpi_tables: BTreeMap<String, (String, u64)>,
    /// `/sys/class/iommu` entries.
    pub iommu_units: Vec<String>,
    /// `/sys/kernel/iommu_groups` exists.
    pub iommu_groups_dir: bool,
    /// IOMMU groups by number.
    pub iommu_groups: BTreeMap<u32, GroupView>,
    /// NUMA nodes by id.
    pub nodes: BTreeMap<u32, NodeView>,
    /// PCI functions by address.
    pub pci: BTreeMap<String, PciView>,
    /// Network interfaces by name.
    pub net: BTreeMap<String, NetView>,
    /// Block devices: name → size in bytes.
    pub block: BTreeMap<String, u64>,
}

/// Expands a kernel cpulist (`0-2,5`).
pub fn expand_cpulist(s: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| x.parse::<u32>().map_err(|e| format!("cpulist {s:?}: {e}"));
        match part.split_once('-') {
            Some((a, b)) => out.extend(num(a)?..=num(b)?),
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

impl SysfsView {
    /// Parses the listing; `#` lines are for people.
    pub fn parse(text: &str) -> Result<SysfsView, String> {
        let mut v = SysfsView::default();
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let (kind, rest) = line.split_once(' ').unwrap_or((line, ""));
            if kind == "cmdline" {
                v.cmdline = rest.trim().to_string();
                continue;
            }
            let mut words = rest.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let kv: BTreeMap<&str, &str> = words.filter_map(|w| w.split_once('=')).collect();
            let get = |k: &str| kv.get(k).copied().unwrap_or_default();
            let num = |k: &str| -> Result<u64, String> {
                get(k).parse().map_err(|e| format!("{line:?}: {k}: {e}"))
            };
            match kind {
                "euid" => v.euid = name.parse().map_err(|e| format!("{line:?}: {e}"))?,
                "acpi_table" => {
                    v.acpi_tables
                        .insert(name, (get("mode").to_string(), num("size")?));
                }
                "iommu_unit" => v.iommu_units.push(name),
                "iommu_groups_dir" => v.iommu_groups_dir = true,
                "iommu_group" => {
                    let id = name.parse().map_err(|e| format!("{line:?}: {e}"))?;
                    v.iommu_groups.insert(
                        id,
                        GroupView {
                            kind: get("type").to_string(),
                            devices: get("devices")
                                .split(',')
                                .filter(|d| !d.is_empty())
                                .map(str::to_string)
                                .collect(),
                        },
                    );
                }
                "node" => {
                    let id = name.parse().map_err(|e| format!("{line:?}: {e}"))?;
                    let hugepages = kv
                        .iter()
                        .filter_map(|(k, n)| {
                            Some((k.strip_prefix("hugepages_")?.parse().ok()?, n.parse().ok()?))
                        })
                        .collect();
                    v.nodes.insert(
                        id,
                        NodeView {
                            cpus: expand_cpulist(get("cpulist"))?,
                            memtotal_kib: num("memtotal_kib")?,
                            hugepages,
                        },
                    );
                }
                "pci" => {
                    v.pci.insert(
                        name,
                        PciView {
                            class: get("class").to_string(),
                            numa: get("numa").parse().map_err(|e| format!("{line:?}: {e}"))?,
                            driver: Some(get("driver").to_string()).filter(|d| !d.is_empty()),
                            group: get("group").parse().ok(),
                        },
                    );
                }
                "net" => {
                    v.net.insert(
                        name,
                        NetView {
                            operstate: get("operstate").to_string(),
                            carrier: match get("carrier") {
                                "1" => Some(true),
                                "0" => Some(false),
                                _ => None,
                            },
                            device: get("device").to_string(),
                        },
                    );
                }
                "block" => {
                    v.block.insert(name, num("sectors")? * 512);
                }
                _ => return Err(format!("unknown line {line:?}")),
            }
        }
        Ok(v)
    }

    /// The interface whose device link resolves to (a child of) `pci_address`.
    pub fn iface_of(&self, pci_address: &str) -> Option<(&str, &NetView)> {
        self.net
            .iter()
            .find(|(_, n)| n.device.split('/').any(|c| c == pci_address))
            .map(|(name, n)| (name.as_str(), n))
    }
}

impl fmt::Display for SysfsView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:#?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_order_puts_dependencies_first() {
        let dep = "\
kernel/drivers/nvme/host/nvme.ko.xz: kernel/drivers/nvme/host/nvme-core.ko.xz kernel/lib/crc64.ko.xz
kernel/drivers/nvme/host/nvme-core.ko.xz: kernel/lib/crc64.ko.xz
kernel/lib/crc64.ko.xz:
kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/vfio.ko.zst
kernel/drivers/vfio/vfio.ko.zst:
";
        let db = ModuleDb::parse(dep, "kernel/drivers/virtio/virtio_pci.ko\n");
        let order = db
            .load_order(&["nvme", "vfio_pci", "virtio-pci", "vfio"])
            .unwrap();
        assert_eq!(
            order,
            [
                "kernel/lib/crc64.ko.xz",
                "kernel/drivers/nvme/host/nvme-core.ko.xz",
                "kernel/drivers/nvme/host/nvme.ko.xz",
                "kernel/drivers/vfio/vfio.ko.zst",
                "kernel/drivers/vfio/pci/vfio-pci.ko.zst",
            ]
        );
        // the guest's modules.dep: what busybox modprobe reads, uncompressed names
        let mut zst = db.load_order(&["vfio-pci"]).unwrap();
        assert_eq!(
            db.guest_modules_dep(&zst),
            "kernel/drivers/vfio/vfio.ko: \nkernel/drivers/vfio/pci/vfio-pci.ko: kernel/drivers/vfio/vfio.ko\n"
        );
        zst.clear();
        assert_eq!(db.guest_modules_dep(&zst), "");
        assert!(db.load_order(&["nope"]).is_err());
        assert_eq!(uncompressed_name("a/b.ko.zst"), "a/b.ko");
    }

    #[test]
    fn console_loses_escapes_and_carriage_returns() {
        let raw = "\x1bc\x1b[?7l\x1b[2J\x1b[0mSeaBIOS\r\nBooting\r\n\x1bc\x1b[?7l\x1b[2J@@DPF-BOOTED 6.1@@\r\n";
        assert_eq!(clean_console(raw), "SeaBIOS\nBooting\n@@DPF-BOOTED 6.1@@\n");
    }

    #[test]
    fn sections_survive_noise_and_crlf() {
        let console = "SeaBIOS\r\n@@DPF-BEGIN check@@\r\n{\"a\": 1}\r\n\r\n@@DPF-END check rc=1@@\r\n[    3.1] noise\r\n@@DPF-BEGIN empty@@\n\n@@DPF-END empty rc=0@@\n@@DPF-BEGIN cut@@\nno end\n"
            .replace('\r', "");
        let s = parse_sections(&console);
        assert_eq!(
            s["check"],
            Section {
                rc: 1,
                text: "{\"a\": 1}\n".into()
            }
        );
        assert_eq!(s["empty"].text, "");
        assert!(!s.contains_key("cut"));
    }

    #[test]
    fn sysfs_view_parses_the_listing() {
        let text = "\
cmdline console=ttyS0 intel_iommu=on
euid 0
acpi_table DMAR mode=-r-------- size=128
iommu_unit dmar0
iommu_groups_dir present
iommu_group 3 type=DMA-FQ devices=0000:00:04.0,
node 1 cpulist=1-2 memtotal_kib=470000 hugepages_2048=32 hugepages_1048576=0
pci 0000:00:04.0 class=0x010802 numa=-1 driver=nvme group=3
pci 0000:00:1f.0 class=0x060100 numa=-1 driver= group=
net eth0 operstate=down carrier= device=/sys/devices/pci0000:00/0000:00:03.0/virtio0
block nvme0n1 sectors=131072
# ls -l noise
";
        let v = SysfsView::parse(text).unwrap();
        assert_eq!(v.cmdline, "console=ttyS0 intel_iommu=on");
        assert_eq!(v.acpi_tables["DMAR"], ("-r--------".to_string(), 128));
        assert_eq!(v.iommu_groups[&3].devices, ["0000:00:04.0"]);
        assert_eq!(v.nodes[&1].cpus, [1, 2]);
        assert_eq!(v.nodes[&1].hugepages[&2048], 32);
        assert_eq!(v.pci["0000:00:04.0"].group, Some(3));
        assert_eq!(v.pci["0000:00:1f.0"].driver, None);
        assert_eq!(v.iface_of("0000:00:03.0").unwrap().1.carrier, None);
        assert_eq!(v.block["nvme0n1"], 64 << 20);
    }

    #[test]
    fn static_check_reads_program_headers() {
        let me = fs::read("/proc/self/exe").unwrap();
        // This test binary is dynamic on glibc targets, static on musl.
        assert_eq!(elf_is_static(&me).unwrap(), cfg!(target_env = "musl"));
        assert!(
            elf_is_static(b"not an elf at all, but long enough to have a header..........")
                .is_err()
        );
    }

    #[test]
    fn rtc_base_is_the_utc_calendar_date() {
        // `date -u -d @N +%FT%T` for each
        assert_eq!(utc_datetime(0), "1970-01-01T00:00:00");
        assert_eq!(utc_datetime(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(utc_datetime(1_798_761_599), "2026-12-31T23:59:59");
        assert_eq!(utc_datetime(4_107_542_400), "2100-03-01T00:00:00");
    }

    #[test]
    fn pci_slots_have_predictable_addresses() {
        assert_eq!(PciSlot::Root(4).address(), "0000:00:04.0");
        assert_eq!(
            PciSlot::NumaBridge {
                node: 1,
                bus_nr: 0x80
            }
            .address(),
            "0000:81:00.0"
        );
    }
}
