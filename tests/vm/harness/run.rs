//! Running scenarios: the guest script, QEMU's arguments, booting one or several
//! guests and collecting what they printed.

use super::*;

impl Scenario {
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
pub(super) struct Running {
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
pub(super) struct ConsoleWatch {
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
