//! Host-side ingredients of a guest: the static binary, the kernel and its modules,
//! busybox, and the base initramfs.

use super::*;

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
pub(super) fn static_binary() -> Result<PathBuf, String> {
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
pub(super) fn version_key(v: &str) -> Vec<(u64, String)> {
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
pub(super) fn find_kernel() -> Result<GuestKernel, String> {
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
pub(super) fn read_module(path: &Path) -> Result<Vec<u8>, String> {
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
pub(super) fn uncompressed_name(path: &str) -> &str {
    [".xz", ".zst", ".gz"]
        .iter()
        .find_map(|s| path.strip_suffix(s))
        .unwrap_or(path)
}

/// What every scenario shares: the kernel and the base initramfs.
pub(super) struct Base {
    pub(super) kernel: GuestKernel,
    pub(super) initramfs: Vec<u8>,
    /// The modules init loads, in order (guest paths under /lib/modules/<ver>).
    pub(super) modules_order: Vec<String>,
}

pub(super) fn build_base() -> Result<Base, String> {
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
pub(super) fn base() -> &'static Base {
    static BASE: OnceLock<Result<Base, String>> = OnceLock::new();
    match BASE.get_or_init(build_base) {
        Ok(b) => b,
        Err(e) => panic!("cannot prepare the VM tests: {e}"),
    }
}
