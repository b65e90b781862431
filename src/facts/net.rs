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
        .filter(|n| host.exists(&format!("{NET_DIR}/{n}")))
        .map(|name| {
            let dir = format!("{NET_DIR}/{name}");
            let attr = |a: &str| {
                host.read_attr_opt(&format!("{dir}/{a}"))
                    .filter(|v| !v.is_empty())
            };
            let pci_address = pci_parent(host, &format!("{dir}/device"));
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
