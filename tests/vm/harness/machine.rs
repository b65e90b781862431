//! Scenarios: the QEMU machine, its devices and script, booting one or several guests.

use super::*;

/// QEMU runs one at a time: the machines have 2 cores and TCG uses both.
pub(super) static QEMU: Mutex<()> = Mutex::new(());

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
    pub(super) name: String,
    pub(super) iommu: IommuDevice,
    pub(super) kernel_args: Vec<String>,
    pub(super) numa: Vec<(Vec<u32>, u32)>,
    pub(super) nvme: Vec<Nvme>,
    pub(super) disks: Vec<Disk>,
    pub(super) nics: Vec<Nic>,
    pub(super) links: Vec<Link>,
    pub(super) rtc_ahead_s: Option<u64>,
    pub(super) hostname: Option<String>,
    pub(super) setup: Vec<String>,
    pub(super) captures: Vec<Capture>,
    pub(super) files: Vec<(String, u32, Vec<u8>)>,
    pub(super) binary_user: Option<String>,
    pub(super) check_args: Vec<String>,
    pub(super) deferred_modules: Vec<String>,
    pub(super) timeout: Duration,
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
}
