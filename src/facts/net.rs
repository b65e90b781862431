//! Network interfaces (`/sys/class/net`) and RDMA devices (`/sys/class/infiniband`).

use std::collections::BTreeMap;

use super::{CollectionError, IbDevice, IbPort, Net, NetInterface, Pci, note, parse};
use crate::host::Host;

const NET_DIR: &str = "/sys/class/net";
const IB_DIR: &str = "/sys/class/infiniband";

/// The PCI address a `device` link resolves to, if it is a PCI function. Walks up the
/// resolved path so that sub-devices (a virtio NIC's `virtio0`) find their PCI parent.
fn pci_parent(host: &Host, link: &str) -> Option<String> {
    let resolved = host.canonical(link).ok()?;
    resolved
        .rsplit('/')
        .find(|c| parse::is_pci_address(c))
        .map(str::to_string)
}

/// Parses a sysfs number that may be −1, empty, or unreadable (EINVAL when down).
fn positive(v: Option<String>) -> Option<u64> {
    v?.parse::<i64>().ok().and_then(|n| u64::try_from(n).ok())
}

/// Collects interfaces and RDMA devices; `pci` supplies NUMA nodes.
pub fn collect(host: &Host, pci: &Pci, errors: &mut Vec<CollectionError>) -> Net {
    let numa_of = |addr: &str| {
        pci.devices
            .iter()
            .find(|d| d.address == addr)
            .and_then(|d| d.numa_node)
    };

    let infiniband: Vec<IbDevice> = host
        .list_dir(IB_DIR)
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let dir = format!("{IB_DIR}/{name}");
            let mut ports: Vec<IbPort> = host
                .list_dir(&format!("{dir}/ports"))
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.parse::<u32>().ok())
                .map(|port| {
                    let pd = format!("{dir}/ports/{port}");
                    IbPort {
                        port,
                        state: host.read_attr_opt(&format!("{pd}/state")),
                        phys_state: host.read_attr_opt(&format!("{pd}/phys_state")),
                        rate: host.read_attr_opt(&format!("{pd}/rate")),
                        link_layer: host.read_attr_opt(&format!("{pd}/link_layer")),
                        netdev: None,
                    }
                })
                .collect();
            ports.sort_by_key(|p| p.port);
            IbDevice {
                pci_address: pci_parent(host, &format!("{dir}/device")),
                name,
                ports,
            }
        })
        .collect();

    let live_addrs: Option<BTreeMap<String, Vec<String>>> =
        note(errors, host.interface_addresses().transpose())
            .flatten()
            .map(|addrs| {
                let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for a in addrs {
                    let s = match a.prefix_len {
                        Some(p) => format!("{}/{}", a.address, p),
                        None => a.address.to_string(),
                    };
                    m.entry(a.interface).or_default().push(s);
                }
                m
            });

    let mut interfaces: Vec<NetInterface> = note(errors, host.list_dir(NET_DIR))
        .unwrap_or_default()
        .into_iter()
        // Only directories are interfaces: with the bonding driver loaded the kernel
        // adds the regular file `/sys/class/net/bonding_masters` (node_exporter's
        // sys.ttar has it), which is not an interface. Dangling links (interfaces of a
        // captured tree whose device directory was not captured) are skipped too.
        .filter(|n| {
            host.metadata(&format!("{NET_DIR}/{n}"))
                .is_ok_and(|m| m.is_dir)
        })
        .map(|name| {
            let dir = format!("{NET_DIR}/{name}");
            let attr = |a: &str| {
                host.read_attr_opt(&format!("{dir}/{a}"))
                    .filter(|v| !v.is_empty())
            };
            // The `device` link names the parent device. The interface directory itself
            // lives under that device (`.../0000:03:00.0/net/eth0`), which is how hwloc
            // finds it; use that when the link is missing (node_exporter's sys.ttar has
            // `class/net/eth0` without `device`). Virtual interfaces live under
            // `/sys/devices/virtual` and get no PCI address either way.
            let pci_address = pci_parent(host, &format!("{dir}/device"))
                .or_else(|| pci_parent(host, &format!("{dir}/..")));
            let numa_node = pci_address.as_deref().and_then(numa_of);
            // ibdev2netdev's rule: the netdev's PCI device exposes infiniband/<ibdev>,
            // and dev_port (or dev_id on old kernels) + 1 is the RDMA port.
            let rdma_device = host
                .list_dir(&format!("{dir}/device/infiniband"))
                .ok()
                .and_then(|v| v.into_iter().next());
            NetInterface {
                operstate: attr("operstate"),
                carrier: attr("carrier").and_then(|c| match c.as_str() {
                    "1" => Some(true),
                    "0" => Some(false),
                    _ => None,
                }),
                speed_mbps: positive(attr("speed")),
                mtu: attr("mtu").and_then(|v| v.parse().ok()),
                mac: attr("address"),
                link_type: attr("type").and_then(|v| v.parse().ok()),
                numa_node,
                pci_address,
                rdma_device,
                addresses: live_addrs
                    .as_ref()
                    .map(|m| m.get(&name).cloned().unwrap_or_default()),
                name,
            }
        })
        .collect();
    interfaces.sort_by(|a, b| a.name.cmp(&b.name));

    // Map netdevs to RDMA ports.
    let mut infiniband = infiniband;
    for iface in &interfaces {
        let Some(ibdev) = &iface.rdma_device else {
            continue;
        };
        let dir = format!("{NET_DIR}/{}", iface.name);
        let port_idx = host
            .read_attr_opt(&format!("{dir}/dev_port"))
            .and_then(|v| v.parse::<u32>().ok())
            .filter(|p| *p > 0)
            .or_else(|| {
                host.read_attr_opt(&format!("{dir}/dev_id"))
                    .and_then(|v| parse::parse_hex_u32(&v).ok())
            })
            .unwrap_or(0);
        if let Some(dev) = infiniband.iter_mut().find(|d| &d.name == ibdev)
            && let Some(port) = dev.ports.iter_mut().find(|p| p.port == port_idx + 1)
        {
            port.netdev.get_or_insert_with(|| iface.name.clone());
        }
    }
    Net {
        interfaces,
        infiniband,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use std::path::{Path, PathBuf};

    /// A throw-away captured tree under the system temp dir.
    struct Tree(PathBuf);

    impl Tree {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("dp-net-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Tree(dir)
        }
        fn file(&self, path: &str, content: &str) {
            let p = self.0.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        fn dir(&self, path: &str) {
            std::fs::create_dir_all(self.0.join(path)).unwrap();
        }
        fn link(&self, path: &str, target: &str) {
            let p = self.0.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            symlink(Path::new(target), p).unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn collect_tree(tree: &Tree) -> Net {
        let mut errors = Vec::new();
        collect(&Host::at(&tree.0), &Pci::default(), &mut errors)
    }

    #[test]
    fn bonding_masters_file_is_not_an_interface() {
        // node_exporter collector/fixtures/sys.ttar (Apache-2.0): with the bonding
        // driver loaded, /sys/class/net holds the regular file `bonding_masters`.
        let t = Tree::new("bond");
        t.file("sys/class/net/bonding_masters", "bond0 dmz int\n");
        t.file("sys/class/net/bond0/operstate", "up\n");
        t.file("sys/class/net/bond0/carrier", "1\n");
        t.file("sys/class/net/bond0/speed", "-1\n");
        let net = collect_tree(&t);
        let names: Vec<&str> = net.interfaces.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["bond0"]);
        assert_eq!(net.interfaces[0].carrier, Some(true));
        // a bond reports speed -1: unknown, not a number
        assert_eq!(net.interfaces[0].speed_mbps, None);
    }

    #[test]
    fn pci_address_from_the_interface_path_without_device_link() {
        // node_exporter sys.ttar: class/net/eth0 links into the PCI device's net/
        // directory, and that directory has no `device` link.
        let t = Tree::new("nodev");
        t.file(
            "sys/devices/pci0000:00/0000:00:03.0/0000:03:00.0/net/eth0/operstate",
            "up\n",
        );
        t.link(
            "sys/class/net/eth0",
            "../../devices/pci0000:00/0000:00:03.0/0000:03:00.0/net/eth0/",
        );
        // a virtual interface stays without a PCI address
        t.file("sys/devices/virtual/net/lo/operstate", "unknown\n");
        t.link("sys/class/net/lo", "../../devices/virtual/net/lo");
        let net = collect_tree(&t);
        assert_eq!(net.interfaces[0].name, "eth0");
        assert_eq!(
            net.interfaces[0].pci_address.as_deref(),
            Some("0000:03:00.0")
        );
        assert_eq!(net.interfaces[1].name, "lo");
        assert_eq!(net.interfaces[1].pci_address, None);
    }

    #[test]
    fn empty_and_unreadable_link_attributes_are_unknown() {
        // eth1 of hwloc's linux_32em64t-2n8c+dax+nvme+mic+dimms (BSD-3-Clause): a down
        // link whose `carrier` and `speed` were captured empty (the kernel answers EINVAL).
        // eth2: `speed` can't be read at all (a directory here: the read fails).
        let t = Tree::new("einval");
        t.file("sys/class/net/eth1/operstate", "down\n");
        t.file("sys/class/net/eth1/carrier", "");
        t.file("sys/class/net/eth1/speed", "");
        t.file("sys/class/net/eth1/mtu", "1500\n");
        t.file("sys/class/net/eth2/operstate", "down\n");
        t.file("sys/class/net/eth2/carrier", "0\n");
        t.dir("sys/class/net/eth2/speed");
        let net = collect_tree(&t);
        let eth1 = &net.interfaces[0];
        assert_eq!(eth1.operstate.as_deref(), Some("down"));
        assert_eq!(eth1.carrier, None);
        assert_eq!(eth1.speed_mbps, None);
        assert_eq!(eth1.mtu, Some(1500));
        let eth2 = &net.interfaces[1];
        assert_eq!(eth2.carrier, Some(false));
        assert_eq!(eth2.speed_mbps, None);
    }

    #[test]
    fn speed_values() {
        assert_eq!(positive(Some("1000".into())), Some(1000));
        assert_eq!(positive(Some("-1".into())), None);
        assert_eq!(positive(Some(String::new())), None);
        assert_eq!(positive(None), None);
    }
}
