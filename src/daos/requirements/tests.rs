use super::*;
use crate::daos::config::{StorageClass, StorageTier};

fn engine(
    targets: i64,
    helpers: i64,
    node: Option<i64>,
    bdev: Option<StorageClass>,
    meta: bool,
    scm_size: Option<u64>,
) -> EngineConfig {
    let mut storage = vec![StorageTier {
        class: Some(StorageClass::Ram),
        scm_mount: Some("/mnt/daos".into()),
        scm_size,
        ..Default::default()
    }];
    if let Some(c) = bdev {
        storage.push(StorageTier {
            class: Some(c),
            bdev_list: vec!["0000:81:00.0".into()],
            bdev_roles: if meta {
                vec!["wal".into(), "meta".into(), "data".into()]
            } else {
                vec![]
            },
            ..Default::default()
        });
    }
    EngineConfig {
        targets,
        nr_xs_helpers: helpers,
        pinned_numa_node: node,
        storage,
        ..Default::default()
    }
}

fn server(engines: Vec<EngineConfig>) -> ServerConfig {
    ServerConfig {
        engines,
        ..Default::default()
    }
}

#[test]
fn hugepages_by_the_daos_formula() {
    use DaosVersion::{V2_6, V2_8};
    // Table: (engines, version, expected min_pages, per_node, total). Page size 2 MiB
    // = 2048 KiB, so 1 GiB = 512 pages (bdev.go CalcMinHugepages: 1 GiB × targets /
    // page size).
    // a) one engine, 16 targets, nvme, node 0, 2.6: 16 × 512 = 8192 pages; one node:
    //    8192 / 1 + (2 × 1) / 1 = 8194 per node (server_utils.go extraHugepages).
    let a = server(vec![engine(
        16,
        4,
        Some(0),
        Some(StorageClass::Nvme),
        false,
        None,
    )]);
    let p = hugepage_plan(&a, V2_6, 2048, &[0]).unwrap();
    assert_eq!(
        (p.min_pages, p.per_node_pages, p.total_pages),
        (8192, 8194, 8194)
    );
    // same under 2.8: no extra pages (SetHugeNodes: nr / nodes) → 8192
    let p = hugepage_plan(&a, V2_8, 2048, &[0]).unwrap();
    assert_eq!((p.min_pages, p.per_node_pages), (8192, 8192));
    // b) two engines × 16 targets on nodes 0 and 1, 2.6: 32 × 512 = 16384; per node
    //    16384 / 2 + (2 × 2) / 2 = 8192 + 2 = 8194; total 16388.
    let b = server(vec![
        engine(16, 4, Some(0), Some(StorageClass::Nvme), false, None),
        engine(16, 4, Some(1), Some(StorageClass::Nvme), false, None),
    ]);
    let p = hugepage_plan(&b, V2_6, 2048, &[0, 1]).unwrap();
    assert_eq!(
        (p.min_pages, p.per_node_pages, p.total_pages),
        (16384, 8194, 16388)
    );
    // c) MD-on-SSD engine with 4 targets: (4 + 1 sys xstream) × 512 = 2560 pages.
    let c = server(vec![engine(
        4,
        1,
        Some(0),
        Some(StorageClass::Nvme),
        true,
        None,
    )]);
    assert_eq!(hugepage_plan(&c, V2_6, 2048, &[0]).unwrap().min_pages, 2560);
    // d) the seed: 1 target on a file bdev. 2.6: 1 × 512 = 512 (+2 extra = 514);
    //    2.8 counts a 1-target engine as 2 targets: 1024.
    let d = server(vec![engine(
        1,
        0,
        None,
        Some(StorageClass::File),
        false,
        Some(4),
    )]);
    let p = hugepage_plan(&d, V2_6, 2048, &[0]).unwrap();
    assert_eq!((p.min_pages, p.per_node_pages), (512, 514));
    assert_eq!(hugepage_plan(&d, V2_8, 2048, &[0]).unwrap().min_pages, 1024);
    // e) 1 GiB pages: 16 targets → 16 pages.
    assert_eq!(
        hugepage_plan(&a, V2_6, 1048576, &[0]).unwrap().min_pages,
        16
    );
    // f) no bdevs: no hugepages needed
    let f = server(vec![engine(8, 0, Some(0), None, false, None)]);
    assert!(hugepage_plan(&f, V2_6, 2048, &[0]).is_none());
    // g) nr_hugepages set explicitly wins: 4096 on two nodes, 2.6 → 2048 + 2 = 2050
    let mut g = b.clone();
    g.nr_hugepages = 4096;
    let p = hugepage_plan(&g, V2_6, 2048, &[0, 1]).unwrap();
    assert_eq!((p.pages, p.per_node_pages), (4096, 2050));
}

#[test]
fn ramdisk_by_the_daos_formula() {
    use DaosVersion::{V2_6, V2_8};
    // The seed: one engine, 1 target, scm_size 4, file bdev (512 hugepages of 2 MiB
    // = 1 GiB), 2.6 default system_ram_reserved 16 GiB, engine reservation
    // max(1 × 128 MiB, 1 GiB) = 1 GiB. Reserved = 1 + 16 + 1 = 18 GiB.
    let seed = server(vec![engine(
        1,
        0,
        None,
        Some(StorageClass::File),
        false,
        Some(4),
    )]);
    let gib_kib = 1024 * 1024;
    // host 16 GiB: 16 − 18 < 0 → no RAM-disk at all; needs 18 + 4 = 22 GiB.
    let p = ramdisk_plan(&seed, V2_6, 16 * gib_kib, 2048, 512).unwrap();
    assert_eq!(p.max_per_engine, None);
    assert_eq!(p.mem_needed, 22 * GIB);
    assert!(!p.fits());
    // lower system_ram_reserved: 16 − 1 (huge) − 1 (engine) − 4 (scm) = 10 GiB
    assert_eq!(p.fitting_sys_reserved_gib(), Some(10));
    assert_eq!(p.fitting_scm_size_gib(), None);
    // host 32 GiB: max = 32 − 18 = 14 GiB ≥ 4 → fits; MemAvailable needed
    // (4 GiB / 100) × 90 bytes (integer division as DAOS does).
    let p = ramdisk_plan(&seed, V2_6, 32 * gib_kib, 2048, 512).unwrap();
    assert_eq!(p.max_per_engine, Some(14 * GIB));
    assert!(p.fits());
    assert_eq!(mem_available_needed(&p), (4 * GIB / 100) * 90);
    // 4294967296 / 100 = 42949672; × 90 = 3865470480
    assert_eq!(mem_available_needed(&p), 3_865_470_480);
    // 2.8 default 64 GiB, and 1024 hugepages (2 GiB): reserved = 2 + 64 + 1 = 67 GiB;
    // host 64 GiB fails; needs 67 + 4 = 71 GiB.
    let p = ramdisk_plan(&seed, V2_8, 64 * gib_kib, 2048, 1024).unwrap();
    assert_eq!(p.mem_needed, 71 * GIB);
    assert!(!p.fits());
    // Two engines × 16 targets, auto size, 2.6, 16384 pages (32 GiB) on 192 GiB:
    // engine reservation max(16 × 128 MiB, 1 GiB) = 2 GiB; reserved = 32 + 16 + 4 =
    // 52 GiB; max = (192 − 52) / 2 = 70 GiB per engine, auto-sized to 70 GiB.
    let two = server(vec![
        engine(16, 4, Some(0), Some(StorageClass::Nvme), false, None),
        engine(16, 4, Some(1), Some(StorageClass::Nvme), false, None),
    ]);
    let p = ramdisk_plan(&two, V2_6, 192 * gib_kib, 2048, 16384).unwrap();
    assert_eq!(p.engine_reserved, 2 * GIB);
    assert_eq!(p.max_per_engine, Some(70 * GIB));
    assert_eq!(p.per_engine, 70 * GIB);
    // scm_size 80 on the same host is over the max: needs 52 + 160 = 212 GiB
    let mut big = two.clone();
    big.engines[0].storage[0].scm_size = Some(80);
    let p = ramdisk_plan(&big, V2_6, 192 * gib_kib, 2048, 16384).unwrap();
    assert!(!p.fits());
    assert_eq!(p.mem_needed, 212 * GIB);
    assert_eq!(p.fitting_scm_size_gib(), Some(70));
    // dcpm: no RAM-disk
    let mut d = two;
    d.engines[0].storage[0].class = Some(StorageClass::Dcpm);
    assert!(ramdisk_plan(&d, V2_6, 192 * gib_kib, 2048, 0).is_none());
}

#[test]
fn cores_and_nodes() {
    let e = engine(16, 4, Some(1), None, false, None);
    assert_eq!(engine_cores_needed(&e), 22);
    let mut legacy = server(vec![e.clone(), engine(16, 4, None, None, false, None)]);
    legacy.engines[1].first_core = Some(24);
    assert_eq!(engine_numa_nodes(&legacy, &|_| Some(1)), vec![0, 0]);
    let pinned = server(vec![e, engine(16, 4, None, None, false, None)]);
    assert_eq!(engine_numa_nodes(&pinned, &|_| Some(1)), vec![1, 1]);
    assert_eq!(engine_numa_nodes(&pinned, &|_| None), vec![1, 0]);
}
#[test]
fn nvme_addresses_as_spdk_parses_them() {
    let pci = |a: &str| NvmeAddress::Pci { address: a.into() };
    assert_eq!(parse_nvme_address("0000:81:00.0"), pci("0000:81:00.0"));
    // bus:dev.func means domain 0; hex is case-insensitive; '.' separators accepted
    assert_eq!(parse_nvme_address("81:00.0"), pci("0000:81:00.0"));
    assert_eq!(parse_nvme_address("0000:D8:00.1"), pci("0000:d8:00.1"));
    assert_eq!(parse_nvme_address("0000.5d.05.5"), pci("0000:5d:05.5"));
    // VMD backing device: domain 5d0505 = VMD controller 0000:5d:05.5
    assert_eq!(
        parse_nvme_address("5d0505:01:00.0"),
        NvmeAddress::VmdBacking {
            address: "5d0505:01:00.0".into(),
            vmd: "0000:5d:05.5".into()
        }
    );
    for bad in [
        "zz:00.0",
        "0000:81:00",
        "/dev/nvme0n1",
        "0000:81:20.0",
        "0000:81:00.8",
        "",
    ] {
        assert_eq!(parse_nvme_address(bad), NvmeAddress::Invalid, "{bad}");
    }
}

#[test]
fn configured_devices_and_ports() {
    let mut a = engine(8, 0, Some(0), Some(StorageClass::Nvme), false, None);
    a.storage[1].bdev_list = vec!["81:00.0".into(), "0000:82:00.0".into()];
    a.fabric_iface = Some("ib0".into());
    a.fabric_iface_port = Some(31416);
    let mut b = engine(8, 0, Some(1), Some(StorageClass::File), false, None);
    b.storage[1].bdev_list = vec!["/var/daos/bdev".into()];
    b.storage[1].bdev_size = Some(16);
    b.fabric_iface = Some("ib1".into());
    b.fabric_iface_port = Some(31416);
    let mut cfg = server(vec![a, b]);
    cfg.bdev_exclude = vec!["0000:82:00.0".into()];
    cfg.provider = Some("ofi+tcp;ofi_rxm".into());
    cfg.telemetry_port = Some(9191);
    let n = configured_nvme(&cfg);
    assert_eq!(n.len(), 1, "bdev_exclude wins: {n:?}");
    assert_eq!((n[0].engine, n[0].tier), (0, 1));
    assert_eq!(n[0].sysfs_address(), Some("0000:81:00.0"));
    let e = configured_emulated_bdevs(&cfg);
    assert_eq!((e[0].engine, e[0].size_gib), (1, Some(16)));
    // 8 targets, no helper: DSS_CTX_NR_TOTAL = 2 + 8 + 0 = 10 contexts, 31416-31425
    let specs: Vec<String> = required_ports(&cfg).iter().map(|p| p.spec()).collect();
    assert_eq!(
        specs,
        [
            "10001/tcp",
            "9191/tcp",
            "31416-31425/tcp",
            "31416-31425/tcp"
        ]
    );
    // 2 helpers per engine: + min(2, 8) = 12 contexts; 12 helpers: + min(12, 8) = 18
    cfg.engines[0].nr_xs_helpers = 2;
    cfg.engines[1].nr_xs_helpers = 12;
    let specs: Vec<String> = required_ports(&cfg).iter().map(|p| p.spec()).collect();
    assert_eq!(specs[2..], ["31416-31427/tcp", "31416-31433/tcp"]);
    cfg.provider = Some("ofi+verbs;ofi_rxm".into());
    assert_eq!(required_ports(&cfg)[2].spec(), "31416/tcp");
}

#[test]
fn tls_files_and_paths() {
    use crate::daos::config::TransportConfig;
    let t = TransportConfig::default();
    let f = tls_files(TlsComponent::Control, &t);
    assert_eq!(f[2].path, "/etc/daos/certs/admin.key");
    assert_eq!(f[2].max_mode, Some(0o440));
    assert_eq!(tls_files(TlsComponent::Server, &t).len(), 4);
    let insecure = TransportConfig {
        allow_insecure: true,
        ..Default::default()
    };
    assert!(tls_files(TlsComponent::Agent, &insecure).is_empty());
    assert_eq!(
        parent_dir("/var/log/daos/x.log").as_deref(),
        Some("/var/log/daos")
    );
    assert_eq!(parent_dir("/x").as_deref(), Some("/"));
}
