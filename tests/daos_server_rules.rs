//! daos_server.yml rule families, case by case against DAOS's own loader.
//!
//! Each case is one small edit of a real DAOS example (the corpus under
//! ../shared/corpus/daos-config). The edited file goes through the DAOS oracle
//! (../shared/oracles/daos-config, DAOS's Go `Load` + `Validate` at v2.6.0 / v2.8.0) and
//! through the tool's `parse_server` + `validate_server`; the test asserts the same verdict
//! (accept / refuse) and, where DAOS refuses with a specific fault, the same fault code.
//! A tool refusal made only of start-time issues (`DaosStage::Start`: rules DAOS applies
//! once daos_server runs on hardware) counts as an accept: the oracle stops before them.
//! No expected verdict is written here: the oracle is the reference.

use std::path::{Path, PathBuf};

mod common;
use common::daos_oracle::oracle_json;

use daos_preflight::daos::DaosVersion;
use daos_preflight::daos::config::validate::validate_server;
use daos_preflight::daos::config::{DaosStage, Issue, Severity, parse_server};

const TCP: &str = "v2.6.0/examples/daos_server_tcp.yml";
const MD: &str = "v2.6.0/examples/daos_server_mdonssd.yml";
const UCX28: &str = "v2.8.0/examples/daos_server_ucx.yml";

/// (case name, base file, edits: each replaces the first occurrence of `from` by `to`).
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const E0_MASK: &str = "    log_mask: ERR\n";
const E0_ENV: &str = "      - FI_SOCKETS_MAX_CONN_RETRY=1\n";
const E0_BDEV: &str = "bdev_list: [\"0000:81:00.0\"]";
const E0_UCX: &str = "    log_file: /var/log/daos/daos_engine.0.log\n";
const E0_LOGFILE: &str = "    log_file: /tmp/daos_engine.0.log\n";

const CASES: &[Case] = &[
    ("unchanged tcp", TCP, &[]),
    ("unchanged mdonssd", MD, &[]),
    // engine log_mask (engine/utils.go ValidateLogMasks)
    (
        "log_mask ERR,bogus",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,bogus\n")],
    ),
    ("log_mask 3", TCP, &[(E0_MASK, "    log_mask: 3\n")]),
    ("log_mask err", TCP, &[(E0_MASK, "    log_mask: err\n")]),
    (
        "log_mask DEBUG,mgmt=ERR",
        TCP,
        &[(E0_MASK, "    log_mask: DEBUG,mgmt=ERR\n")],
    ),
    (
        "log_mask ERR,all=DEBUG",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,all=DEBUG\n")],
    ),
    (
        "log_mask ERR,bogus=DEBUG",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,bogus=DEBUG\n")],
    ),
    (
        "log_mask ERR,mgmt=bogus",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,mgmt=bogus\n")],
    ),
    (
        "log_mask ERR,mgmt=DEBUG=INFO",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,mgmt=DEBUG=INFO\n")],
    ),
    (
        "log_mask mgmt=DEBUG",
        TCP,
        &[(E0_MASK, "    log_mask: mgmt=DEBUG\n")],
    ),
    ("log_mask ERR,", TCP, &[(E0_MASK, "    log_mask: 'ERR,'\n")]),
    ("log_mask ,ERR", TCP, &[(E0_MASK, "    log_mask: ',ERR'\n")]),
    (
        "log_mask space",
        TCP,
        &[(E0_MASK, "    log_mask: 'ERR, mgmt=DEBUG'\n")],
    ),
    ("log_mask empty", TCP, &[(E0_MASK, "    log_mask: ''\n")]),
    ("log_mask FATAL", TCP, &[(E0_MASK, "    log_mask: FATAL\n")]),
    (
        "log_mask EMIT,io=dbug",
        TCP,
        &[(E0_MASK, "    log_mask: EMIT,io=dbug\n")],
    ),
    ("log_mask TRACE", TCP, &[(E0_MASK, "    log_mask: TRACE\n")]),
    (
        "log_mask ERR,mgmt",
        TCP,
        &[(E0_MASK, "    log_mask: ERR,mgmt\n")],
    ),
    (
        "log_mask INFO,ALL=ERR",
        TCP,
        &[(E0_MASK, "    log_mask: INFO,ALL=ERR\n")],
    ),
    // control_log_mask (logging/level.go)
    (
        "control_log_mask debug",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: debug")],
    ),
    (
        "control_log_mask ERR",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: ERR")],
    ),
    (
        "control_log_mask bogus",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: bogus")],
    ),
    (
        "control_log_mask 3",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: 3")],
    ),
    (
        "control_log_mask trace",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: trace")],
    ),
    (
        "control_log_mask empty",
        TCP,
        &[("control_log_mask: DEBUG", "control_log_mask: ''")],
    ),
    // DD_MASK / DD_SUBSYS (engine/utils.go ValidateLogStreams, ValidateLogSubsystems)
    (
        "DD_MASK=mgmt,io",
        TCP,
        &[(E0_ENV, "      - DD_MASK=mgmt,io\n")],
    ),
    ("DD_MASK=bogus", TCP, &[(E0_ENV, "      - DD_MASK=bogus\n")]),
    ("DD_MASK=all", TCP, &[(E0_ENV, "      - DD_MASK=all\n")]),
    (
        "DD_MASK=all,mgmt",
        TCP,
        &[(E0_ENV, "      - DD_MASK=all,mgmt\n")],
    ),
    ("DD_MASK=trace", TCP, &[(E0_ENV, "      - DD_MASK=trace\n")]),
    ("DD_MASK=", TCP, &[(E0_ENV, "      - DD_MASK=\n")]),
    ("DD_MASK=3", TCP, &[(E0_ENV, "      - DD_MASK=3\n")]),
    (
        "DD_MASK twice, first good",
        TCP,
        &[(E0_ENV, "      - DD_MASK=mgmt\n      - DD_MASK=bogus\n")],
    ),
    (
        "DD_MASK twice, first bad",
        TCP,
        &[(E0_ENV, "      - DD_MASK=bogus\n      - DD_MASK=mgmt\n")],
    ),
    ("DD_SUBSYS=3", TCP, &[(E0_ENV, "      - DD_SUBSYS=3\n")]),
    (
        "DD_SUBSYS=mem,all",
        TCP,
        &[(E0_ENV, "      - DD_SUBSYS=mem,all\n")],
    ),
    (
        "DD_SUBSYS=trace",
        TCP,
        &[(E0_ENV, "      - DD_SUBSYS=trace\n")],
    ),
    (
        "DD_SUBSYS=mgmt,bio",
        TCP,
        &[(E0_ENV, "      - DD_SUBSYS=mgmt,bio\n")],
    ),
    ("DD_SUBSYS=ALL", TCP, &[(E0_ENV, "      - DD_SUBSYS=ALL\n")]),
    (
        "DD_SUBSYS=mgmt bio",
        TCP,
        &[(E0_ENV, "      - DD_SUBSYS=mgmt bio\n")],
    ),
    ("env without =", TCP, &[(E0_ENV, "      - FOO\n")]),
    (
        "env D_LOG_MASK=bogus",
        TCP,
        &[(E0_ENV, "      - D_LOG_MASK=bogus\n")],
    ),
    // bdev_busid_range (storage/config.go parsePCIBusRange)
    (
        "busid 0x80-0x8f",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0x80-0x8f",
        )],
    ),
    (
        "busid 0x8f-0x80",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0x8f-0x80",
        )],
    ),
    (
        "busid 80-8f",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 80-8f",
        )],
    ),
    (
        "busid 0x80",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: '0x80'",
        )],
    ),
    (
        "busid 0x80-0x100",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0x80-0x100",
        )],
    ),
    (
        "busid 1-2",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 1-2",
        )],
    ),
    (
        "busid empty",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: ''",
        )],
    ),
    (
        "busid 0b1-0o7",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0b1-0o7",
        )],
    ),
    (
        "busid 1_0-2_0",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 1_0-2_0",
        )],
    ),
    (
        "busid 010-077",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 010-077",
        )],
    ),
    (
        "busid 08-09",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 08-09",
        )],
    ),
    (
        "busid spaces",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0x80 - 0x8f",
        )],
    ),
    (
        "busid 0X80-0X8F",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_busid_range: 0X80-0X8F",
        )],
    ),
    // PCI addresses in bdev_list (lib/hardware/pci.go NewPCIAddress, storage/config.go)
    (
        "pci 0000:00:00",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:00:00\"]")],
    ),
    (
        "pci 0000:81:00.0.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.0.0\"]")],
    ),
    (
        "pci 0000:zz:00.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:zz:00.0\"]")],
    ),
    (
        "pci 0000:81:1f.7",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:1f.7\"]")],
    ),
    (
        "pci 0000:81:ff.ff",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:ff.ff\"]")],
    ),
    (
        "pci 0000:81:100.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:100.0\"]")],
    ),
    (
        "pci 0000:81:00.100",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.100\"]")],
    ),
    (
        "pci vmd 5d0505:01:00.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"5d0505:01:00.0\"]")],
    ),
    (
        "pci vmd zz0505:01:00.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"zz0505:01:00.0\"]")],
    ),
    (
        "pci 0000:81:00.g",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.g\"]")],
    ),
    (
        "pci 00000:81:00.0",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"00000:81:00.0\"]")],
    ),
    (
        "pci 0000:81:00.",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.\"]")],
    ),
    (
        "pci dup equal",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.0\", \"0000:81:00.00\"]")],
    ),
    (
        "pci dup case",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:8a:00.0\", \"0000:8A:00.0\"]")],
    ),
    (
        "pci dup same",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.0\", \"0000:81:00.0\"]")],
    ),
    (
        "pci mixed",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0000:81:00.0\", \"/dev/sda\"]")],
    ),
    (
        "nvme non-pci",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"/dev/sda\"]")],
    ),
    (
        "nvme 0x prefix",
        TCP,
        &[(E0_BDEV, "bdev_list: [\"0x00:81:00.0\"]")],
    ),
    (
        "pci across engines",
        TCP,
        &[(
            "bdev_list: [\"0000:82:00.0\"]",
            "bdev_list: [\"0000:81:00.00\"]",
        )],
    ),
    // acceleration (storage/config.go AccelProps)
    (
        "accel spdk",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: spdk\n",
        )],
    ),
    (
        "accel dml crc",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: dml\n      options: [crc]\n",
        )],
    ),
    (
        "accel bogus",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: bogus\n",
        )],
    ),
    (
        "accel SPDK",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: SPDK\n",
        )],
    ),
    (
        "accel empty engine",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: ''\n",
        )],
    ),
    (
        "accel option bogus",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: spdk\n      options: [bogus]\n",
        )],
    ),
    (
        "accel option CRC",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: spdk\n      options: [CRC]\n",
        )],
    ),
    (
        "accel none bogus option",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: none\n      options: [bogus]\n",
        )],
    ),
    (
        "accel options only",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      options: [move]\n",
        )],
    ),
    (
        "accel option na",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n      engine: spdk\n      options: [na, bogus]\n",
        )],
    ),
    (
        "accel null",
        TCP,
        &[(
            E0_LOGFILE,
            "    log_file: /tmp/daos_engine.0.log\n    acceleration:\n",
        )],
    ),
    // bdev_roles spelling (storage/config.go BdevRoles)
    (
        "roles WAL",
        MD,
        &[("bdev_roles: [wal]", "bdev_roles: [WAL]")],
    ),
    (
        "roles none",
        MD,
        &[("bdev_roles: [wal]", "bdev_roles: [none]")],
    ),
    ("roles na", MD, &[("bdev_roles: [wal]", "bdev_roles: [na]")]),
    (
        "roles na first",
        MD,
        &[("bdev_roles: [wal]", "bdev_roles: [na, bogus]")],
    ),
    (
        "roles empty string",
        MD,
        &[("bdev_roles: [wal]", "bdev_roles: ['', wal]")],
    ),
    (
        "roles all on one",
        MD,
        &[("bdev_roles: [wal]", "bdev_roles: [wal, meta, data]")],
    ),
    // fabric: multi-provider, secondary endpoints, ports (engine/config.go FabricConfig)
    (
        "top provider two",
        TCP,
        &[("provider: ofi+tcp", "provider: ofi+tcp,ofi+verbs")],
    ),
    (
        "engine provider two, one iface",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0\n    provider: ofi+tcp,ofi+verbs\n",
        )],
    ),
    (
        "engine provider two, two ifaces",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0,ib0\n    provider: ofi+tcp,ofi+verbs\n",
        )],
    ),
    (
        "secondary endpoints ok",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0,ib0\n    provider: ofi+tcp,ofi+verbs\n    secondary_provider_endpoints: [2]\n",
        )],
    ),
    (
        "secondary endpoints count",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0,ib0\n    provider: ofi+tcp,ofi+verbs\n    secondary_provider_endpoints: [1, 2]\n",
        )],
    ),
    (
        "secondary endpoints zero",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0,ib0\n    provider: ofi+tcp,ofi+verbs\n    secondary_provider_endpoints: [0]\n",
        )],
    ),
    (
        "secondary endpoints single provider",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0\n    secondary_provider_endpoints: [0, 5]\n",
        )],
    ),
    (
        "top secondary endpoints",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nsecondary_provider_endpoints: [0]\n",
        )],
    ),
    (
        "two ifaces one provider",
        TCP,
        &[("    fabric_iface: eth0\n", "    fabric_iface: eth0,eth2\n")],
    ),
    (
        "iface trailing comma",
        TCP,
        &[("    fabric_iface: eth0\n", "    fabric_iface: 'eth0,'\n")],
    ),
    (
        "port 65536",
        TCP,
        &[("fabric_iface_port: 31316", "fabric_iface_port: 65536")],
    ),
    (
        "port 65535",
        TCP,
        &[("fabric_iface_port: 31316", "fabric_iface_port: 65535")],
    ),
    (
        "port 99999999",
        TCP,
        &[("fabric_iface_port: 31316", "fabric_iface_port: 99999999")],
    ),
    (
        "port -1",
        TCP,
        &[("fabric_iface_port: 31316", "fabric_iface_port: -1")],
    ),
    (
        "port 0",
        TCP,
        &[("fabric_iface_port: 31316", "fabric_iface_port: 0")],
    ),
    (
        "ports overlapping",
        TCP,
        &[
            ("fabric_iface_port: 31416", "fabric_iface_port: 31317"),
            ("fabric_iface: eth1", "fabric_iface: eth0"),
        ],
    ),
    (
        "engine provider only",
        TCP,
        &[
            ("provider: ofi+tcp\n", ""),
            (
                "    fabric_iface: eth0\n",
                "    fabric_iface: eth0\n    provider: ofi+tcp\n",
            ),
            (
                "    fabric_iface: eth1\n",
                "    fabric_iface: eth1\n    provider: ofi+tcp\n",
            ),
        ],
    ),
    (
        "crt_timeout -1",
        TCP,
        &[(
            "    fabric_iface: eth0\n",
            "    fabric_iface: eth0\n    crt_timeout: -1\n",
        )],
    ),
    (
        "top port 0",
        TCP,
        &[("provider: ofi+tcp\n", "provider: ofi+tcp\nport: 0\n")],
    ),
    (
        "top port 70000",
        TCP,
        &[("provider: ofi+tcp\n", "provider: ofi+tcp\nport: 70000\n")],
    ),
    (
        "telemetry_port 70000",
        TCP,
        &[("telemetry_port: 9191", "telemetry_port: 70000")],
    ),
    (
        "telemetry_port -1",
        TCP,
        &[("telemetry_port: 9191", "telemetry_port: -1")],
    ),
    // SCM tier (storage/config.go ScmConfig.Validate)
    (
        "dcpm two scm_list",
        TCP,
        &[(
            "scm_list: [/dev/pmem0]",
            "scm_list: [/dev/pmem0, /dev/pmem2]",
        )],
    ),
    (
        "dcpm hugepages disabled",
        TCP,
        &[(
            "scm_list: [/dev/pmem0]",
            "scm_list: [/dev/pmem0]\n        scm_hugepages_disabled: true",
        )],
    ),
    (
        "dcpm scm_size",
        TCP,
        &[(
            "scm_list: [/dev/pmem0]",
            "scm_list: [/dev/pmem0]\n        scm_size: 8",
        )],
    ),
    (
        "ram scm_size 2",
        MD,
        &[(
            "scm_mount: /mnt/daos",
            "scm_mount: /mnt/daos\n        scm_size: 2",
        )],
    ),
    (
        "ram scm_size -1",
        MD,
        &[(
            "scm_mount: /mnt/daos",
            "scm_mount: /mnt/daos\n        scm_size: -1",
        )],
    ),
    (
        "ram scm_list",
        MD,
        &[(
            "scm_mount: /mnt/daos",
            "scm_mount: /mnt/daos\n        scm_list: [/dev/pmem0]",
        )],
    ),
    (
        "no scm_mount",
        MD,
        &[("        scm_mount: /mnt/daos\n", "")],
    ),
    // storage classes and tiers (storage/config.go TierConfigs.Validate)
    ("drop class ram", MD, &[("        class: ram\n", "")]),
    ("drop class nvme", MD, &[("        class: nvme\n", "")]),
    ("drop class dcpm", TCP, &[("        class: dcpm\n", "")]),
    (
        "class swap",
        TCP,
        &[
            ("class: dcpm", "class: XX"),
            ("class: nvme", "class: dcpm"),
            ("class: XX", "class: nvme"),
        ],
    ),
    (
        "class nvme first tier",
        MD,
        &[("class: ram", "class: nvme")],
    ),
    (
        "two scm tiers",
        MD,
        &[(
            "        class: nvme\n        bdev_list: [\"0000:81:00.0\"]\n        bdev_roles: [wal]\n",
            "        class: ram\n        scm_mount: /mnt/daos9\n      -\n        class: nvme\n        bdev_list: [\"0000:81:00.0\"]\n        bdev_roles: [wal]\n",
        )],
    ),
    (
        "file class",
        MD,
        &[(
            "class: nvme\n        bdev_list: [\"0000:81:00.0\"]",
            "class: file\n        bdev_list: [/tmp/f0]\n        bdev_size: 4",
        )],
    ),
    (
        "file no size",
        MD,
        &[(
            "class: nvme\n        bdev_list: [\"0000:81:00.0\"]",
            "class: file\n        bdev_list: [/tmp/f0]",
        )],
    ),
    (
        "kdev class",
        MD,
        &[(
            "class: nvme\n        bdev_list: [\"0000:81:00.0\"]",
            "class: kdev\n        bdev_list: [/dev/sdb]",
        )],
    ),
    (
        "bdev_size -1",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n        bdev_size: -1",
        )],
    ),
    ("nvme empty list", TCP, &[(E0_BDEV, "bdev_list: []")]),
    (
        "two nvme no roles",
        TCP,
        &[(
            E0_BDEV,
            "bdev_list: [\"0000:81:00.0\"]\n      -\n        class: nvme\n        bdev_list: [\"0000:83:00.0\"]",
        )],
    ),
    // control_metadata (storage/config.go Config.Validate, server.go Validate)
    (
        "md path without roles",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\ncontrol_metadata:\n  path: /var/daos/config\n",
        )],
    ),
    (
        "md path, no bdevs",
        MD,
        &[(
            "      -\n        class: nvme\n        bdev_list: [\"0000:81:00.0\"]\n        bdev_roles: [wal]\n      -\n        class: nvme\n        bdev_list: [\"0000:82:00.0\"]\n        bdev_roles: [meta]\n      -\n        class: nvme\n        bdev_list: [\"0000:83:00.0\"]\n        bdev_roles: [data]\n",
            "",
        )],
    ),
    (
        "md roles without path",
        MD,
        &[(
            "control_metadata:\n  path: /var/daos/config",
            "control_metadata:\n  device: /dev/sdz",
        )],
    ),
    (
        "md no control_metadata",
        MD,
        &[(
            "control_metadata:\n  path: /var/daos/config # Location to store control-plane metadata in MD-on-SSD mode.\n",
            "",
        )],
    ),
    // engine numbers and cores
    (
        "first_core -1",
        TCP,
        &[("    pinned_numa_node: 0\n", "    first_core: -1\n")],
    ),
    (
        "first_core and numa",
        TCP,
        &[(
            "    pinned_numa_node: 0\n",
            "    pinned_numa_node: 0\n    first_core: 2\n",
        )],
    ),
    (
        "pinned_numa_node -1",
        TCP,
        &[("    pinned_numa_node: 0\n", "    pinned_numa_node: -1\n")],
    ),
    ("targets -1", TCP, &[("targets: 16", "targets: -1")]),
    (
        "nr_xs_helpers -1",
        TCP,
        &[("nr_xs_helpers: 4", "nr_xs_helpers: -1")],
    ),
    (
        "numa both 0",
        TCP,
        &[("    pinned_numa_node: 1\n", "    pinned_numa_node: 0\n")],
    ),
    (
        "nr_hugepages -1",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nnr_hugepages: -1\n",
        )],
    ),
    (
        "system_ram_reserved 0",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nsystem_ram_reserved: 0\n",
        )],
    ),
    (
        "fault_path",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nfault_path: /rack0/node1\n",
        )],
    ),
    (
        "fault_path bad",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nfault_path: rack0\n",
        )],
    ),
    (
        "fault_cb",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nfault_cb: /no/such/script\n",
        )],
    ),
    (
        "fault_path and cb",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nfault_path: /a/b\nfault_cb: /no/such\n",
        )],
    ),
    (
        "bdev_exclude clash",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\nbdev_exclude: [\"0000:81:00.0\"]\n",
        )],
    ),
    (
        "disable_hugepages",
        TCP,
        &[(
            "provider: ofi+tcp\n",
            "provider: ofi+tcp\ndisable_hugepages: true\n",
        )],
    ),
    (
        "engine_auto_restart_min_delay -1",
        UCX28,
        &[(
            "provider: ucx+dc_x\n",
            "provider: ucx+dc_x\nengine_auto_restart_min_delay: -1\n",
        )],
    ),
    // 2.8 engine env (engine/config.go UpdateABTEnvarsUCX, UpdatePMDKEnvars)
    (
        "ucx stack small",
        UCX28,
        &[(E0_UCX, "    env_vars: [ABT_THREAD_STACKSIZE=16384]\n")],
    ),
    (
        "ucx stack bogus",
        UCX28,
        &[(E0_UCX, "    env_vars: [ABT_THREAD_STACKSIZE=abc]\n")],
    ),
    (
        "ucx stack ok",
        UCX28,
        &[(E0_UCX, "    env_vars: [ABT_THREAD_STACKSIZE=65536]\n")],
    ),
    (
        "dcpm stack small",
        TCP,
        &[(E0_ENV, "      - ABT_THREAD_STACKSIZE=16384\n")],
    ),
    (
        "dcpm pmemobj sds",
        TCP,
        &[(E0_ENV, "      - PMEMOBJ_CONF=sds.at_create=0\n")],
    ),
    (
        "ram pmemobj sds=1",
        MD,
        &[(
            "      - FI_SOCKETS_MAX_CONN_RETRY=1\n",
            "      - PMEMOBJ_CONF=sds.at_create=1\n",
        )],
    ),
    (
        "md stack small",
        MD,
        &[(
            "      - FI_SOCKETS_MAX_CONN_RETRY=1\n",
            "      - ABT_THREAD_STACKSIZE=20000\n",
        )],
    ),
];

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

struct Oracle {
    ok: bool,
    fault: Option<String>,
    cause: String,
}

fn oracle(rel: &str, file: &Path) -> Oracle {
    let v = oracle_json(rel, "server", file);
    Oracle {
        ok: v["ok"] == true,
        fault: v["fault_code"].as_str().map(String::from),
        cause: v["error"].as_str().unwrap_or("").to_string(),
    }
}

/// The tool's issues for `text` under `version` (parse + validate).
fn tool(text: &str, file: &str, version: DaosVersion) -> Result<Vec<Issue>, String> {
    let p = parse_server(text, file, version).map_err(|e| e.to_string())?;
    let mut issues = p.issues;
    issues.extend(validate_server(&p.config, version, file));
    Ok(issues)
}

/// Fault codes that stand for "some validation error": DAOS wraps every non-fault
/// `Validate` error into FaultBadConfig (server.go Validate).
const GENERIC: &[&str] = &["ServerBadConfig"];

/// Names the oracle prints for a number shared by two constants, and ours.
fn same_code(oracle: &str, ours: &str) -> bool {
    oracle == ours
        || matches!(
            (oracle, ours),
            (
                "ServerConfigEvenAccessPoints",
                "ServerConfigEvenMgmtSvcReplicas"
            ) | (
                "ServerConfigEvenMgmtSvcReplicas",
                "ServerConfigEvenAccessPoints"
            ) | (
                "ServerConfigBadAccessPoints",
                "ServerConfigBadMgmtSvcReplicas"
            ) | (
                "ServerConfigBadMgmtSvcReplicas",
                "ServerConfigBadAccessPoints"
            )
        )
}

fn apply(base: &str, edits: &[(&str, &str)], name: &str, rel: &str) -> String {
    let mut t = base.to_string();
    for (from, to) in edits {
        assert!(
            t.contains(from),
            "case {name:?} ({rel}): {from:?} is not in the base file"
        );
        t = t.replacen(from, to, 1);
    }
    t
}

#[test]
fn server_rule_families_agree_with_daos() {
    let tmp = std::env::temp_dir().join(format!("daos-srvrules-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bad = Vec::new();
    let mut n = 0;
    for (rel, version) in [("2.6", DaosVersion::V2_6), ("2.8", DaosVersion::V2_8)] {
        for (i, (name, base, edits)) in CASES.iter().enumerate() {
            if *base == UCX28 && rel == "2.6" {
                continue;
            }
            let base_text = std::fs::read_to_string(shared().join("corpus/daos-config").join(base))
                .unwrap_or_else(|e| panic!("{base}: {e}"));
            let text = apply(&base_text, edits, name, rel);
            let f = tmp.join(format!("{rel}-{i}-daos_server.yml"));
            std::fs::write(&f, &text).unwrap();
            let o = oracle(rel, &f);
            let fname = f.display().to_string();
            let issues = match tool(&text, &fname, version) {
                Ok(is) => is,
                Err(e) => {
                    n += 1;
                    if o.ok {
                        bad.push(format!("{rel} {name}: FALSE ALARM (YAML error {e})"));
                    }
                    continue;
                }
            };
            n += 1;
            let errs: Vec<&Issue> = issues
                .iter()
                .filter(|i| i.severity == Severity::Error && i.stage != DaosStage::Start)
                .collect();
            let shown = || {
                errs.iter()
                    .map(|i| i.to_string().replace(&fname, "F"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            match (o.ok, errs.is_empty()) {
                (true, false) => bad.push(format!("{rel} {name}: FALSE ALARM: {}", shown())),
                (false, true) => bad.push(format!(
                    "{rel} {name}: FALSE READY: DAOS: {}",
                    o.cause.replace(&fname, "F")
                )),
                (false, false) => {
                    if let Some(code) = &o.fault
                        && !GENERIC.contains(&code.as_str())
                    {
                        let found = errs.iter().any(|i| {
                            i.fault
                                .as_deref()
                                .and_then(|f| f.strip_prefix("code."))
                                .is_some_and(|f| same_code(code, f))
                        });
                        if !found {
                            bad.push(format!(
                                "{rel} {name}: FAULT CODE: DAOS {code}, tool: {}",
                                shown()
                            ));
                        }
                    }
                }
                (true, true) => {}
            }
            let _ = std::fs::remove_file(&f);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    for b in &bad {
        eprintln!("{b}");
    }
    eprintln!("{} cases, {} disagreements", n, bad.len());
    assert!(
        bad.is_empty(),
        "{} disagreements with DAOS (above)",
        bad.len()
    );
}
