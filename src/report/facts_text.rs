//! Text rendering of the facts (`daos-preflight facts`).

use std::fmt::Write;

use crate::checks::human_kib;
use crate::facts::Facts;
use crate::facts::parse::format_cpulist;

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(T::to_string).unwrap_or_else(|| "-".into())
}

/// Renders the facts in sections.
pub fn render(f: &Facts) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "source    {} (live: {})", f.source.root, f.source.live);
    let _ = writeln!(o, "kernel    {}", opt(&f.kernel.release));
    let _ = writeln!(o, "cmdline   {}", opt(&f.kernel.cmdline));
    let _ = writeln!(
        o,
        "config    {} ({} relevant options)",
        opt(&f.kernel.config.source),
        f.kernel.config.options.len()
    );
    for (k, v) in &f.kernel.config.options {
        let _ = writeln!(o, "          {k}={v}");
    }
    let _ = writeln!(o, "modules   {}", f.kernel.sys_modules.join(" "));
    let m = &f.memory;
    let _ = writeln!(
        o,
        "memory    total {}  available {}  hugepages {}/{} free of {}",
        m.mem_total_kib.map(human_kib).unwrap_or("-".into()),
        m.mem_available_kib.map(human_kib).unwrap_or("-".into()),
        opt(&m.hugepages_free),
        opt(&m.hugepages_total),
        m.hugepage_size_kib.map(human_kib).unwrap_or("-".into()),
    );
    for p in &f.hugepages {
        let _ = writeln!(
            o,
            "          pool {}: total {} free {} surplus {}",
            human_kib(p.size_kib),
            opt(&p.total),
            opt(&p.free),
            opt(&p.surplus)
        );
    }
    let _ = writeln!(
        o,
        "thp       enabled {} defrag {}",
        opt(&f.thp.enabled),
        opt(&f.thp.defrag)
    );
    let _ = writeln!(o, "numa      online {}", opt(&f.numa.online));
    for n in &f.numa.nodes {
        let pools: Vec<String> = n
            .hugepages
            .iter()
            .map(|p| format!("{}×{}", opt(&p.total), human_kib(p.size_kib)))
            .collect();
        let _ = writeln!(
            o,
            "          node{}: cpus [{}] memory {} hugepages {}",
            n.id,
            format_cpulist(&n.cpus),
            n.mem_total_kib.map(human_kib).unwrap_or("-".into()),
            pools.join(" ")
        );
    }
    let _ = writeln!(o, "pci       {} device(s)", f.pci.devices.len());
    for d in &f.pci.devices {
        let _ = writeln!(
            o,
            "          {} class {} [{}:{}] driver {} numa {} iommu_group {}",
            d.address,
            opt(&d.class),
            opt(&d.vendor),
            opt(&d.device),
            opt(&d.driver),
            opt(&d.numa_node),
            opt(&d.iommu_group)
        );
        if let Some(nv) = &d.nvme {
            for ns in &nv.namespaces {
                let _ = writeln!(
                    o,
                    "            {} {} mounted {:?} holders {:?} swap {}",
                    ns.name,
                    ns.size_bytes
                        .map(|b| human_kib(b / 1024))
                        .unwrap_or("-".into()),
                    ns.mountpoints,
                    ns.holders,
                    ns.swap
                );
            }
        }
    }
    let _ = writeln!(o, "net       {} interface(s)", f.net.interfaces.len());
    for i in &f.net.interfaces {
        let _ = writeln!(
            o,
            "          {} {} carrier {} speed {} mtu {} pci {} numa {} rdma {} addr {}",
            i.name,
            opt(&i.operstate),
            opt(&i.carrier),
            opt(&i.speed_mbps),
            opt(&i.mtu),
            opt(&i.pci_address),
            opt(&i.numa_node),
            opt(&i.rdma_device),
            i.addresses
                .as_ref()
                .map(|a| a.join(","))
                .unwrap_or("-".into())
        );
    }
    for d in &f.net.infiniband {
        for p in &d.ports {
            let _ = writeln!(
                o,
                "          {}/{} state {} rate {} link {} netdev {}",
                d.name,
                p.port,
                opt(&p.state),
                opt(&p.rate),
                opt(&p.link_layer),
                opt(&p.netdev)
            );
        }
    }
    let i = &f.iommu;
    let _ = writeln!(
        o,
        "iommu     firmware {} units [{}] groups {} noiommu {}",
        opt(&i.firmware_table),
        i.units
            .iter()
            .map(|u| u.name.as_str())
            .collect::<Vec<_>>()
            .join(","),
        opt(&i.groups),
        opt(&i.noiommu_mode)
    );
    match &f.time {
        Some(t) => {
            let _ = writeln!(
                o,
                "time      synchronized {} max_error {} µs est_error {} µs",
                t.synchronized, t.max_error_us, t.est_error_us
            );
        }
        None => {
            let _ = writeln!(o, "time      -");
        }
    }
    for (k, v) in &f.sysctl {
        let _ = writeln!(o, "sysctl    {k} = {}", opt(v));
    }
    for e in &f.collection_errors {
        let _ = writeln!(o, "unreadable {} ({})", e.path, e.message);
    }
    o
}
