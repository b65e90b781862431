//! IOMMU signals: the firmware's ACPI table (DMAR/IVRS), the kernel's IOMMU units and
//! groups, and VFIO's no-IOMMU mode. Each existing tool reads one of these; the
//! `iommu.*` checks combine all of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AcpiTableFact, CollectionError, Iommu, IommuUnit, note};
use crate::host::Host;

/// Where the kernel exposes ACPI tables.
pub const ACPI_TABLES_DIR: &str = "/sys/firmware/acpi/tables";

/// The firmware table, decoded: what the IOMMU verdict needs from it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct FirmwareSummary {
    /// `DMAR` or `IVRS`.
    pub table: String,
    /// The ACPI checksum over the table is valid.
    pub checksum_valid: bool,
    /// DMA address width in bits (DMAR: stored value + 1; IVRS: virtual address size).
    pub host_address_width_bits: Option<u32>,
    /// DMAR flag bit 2: the platform asks the OS to enable DMA remapping (opt-in).
    pub dma_ctrl_platform_opt_in: Option<bool>,
    /// DMAR flag bit 0 / IVRS IntRemap: interrupt remapping supported.
    pub intr_remap: Option<bool>,
    /// Remapping hardware units (DRHD / IVHD).
    pub units: Vec<FirmwareUnit>,
    /// Reserved memory regions (RMRR) and the devices they cover.
    pub reserved_regions: Vec<ReservedRegion>,
    /// Why decoding stopped, when the table is malformed (units found before are kept).
    pub parse_error: Option<String>,
}

/// One remapping hardware unit declared by the firmware.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct FirmwareUnit {
    /// Register base address, `0x…`.
    pub register_base_address: String,
    /// PCI segment.
    pub segment: u16,
    /// DRHD INCLUDE_PCI_ALL: the unit covers every device not claimed by another.
    pub include_pci_all: Option<bool>,
    /// Proximity domain (≈ NUMA node) from the matching RHSA structure.
    pub proximity_domain: Option<u32>,
}

/// An RMRR: memory the firmware keeps using for DMA on behalf of some devices.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema, Eq)]
pub struct ReservedRegion {
    /// PCI segment.
    pub segment: u16,
    /// First byte, `0x…`.
    pub base_address: String,
    /// Last byte, `0x…`.
    pub end_address: String,
    /// PCI addresses of the endpoint devices it names (resolved through bridges when
    /// the host's sysfs allows; `start_bus:dev.fn` of the first hop otherwise).
    pub devices: Vec<String>,
}

/// Collects IOMMU facts (the firmware decoding is added by [`decode_firmware`]).
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Iommu {
    let tables: Vec<AcpiTableFact> = ["DMAR", "IVRS"]
        .iter()
        .map(|name| {
            let path = format!("{ACPI_TABLES_DIR}/{name}");
            match host.metadata(&path) {
                Ok(md) => AcpiTableFact {
                    name: name.to_string(),
                    present: true,
                    size: Some(md.size),
                    readable: host.can_read(&path).ok(),
                },
                Err(e) => {
                    note(errors, Err::<(), _>(e));
                    AcpiTableFact {
                        name: name.to_string(),
                        present: false,
                        size: None,
                        readable: None,
                    }
                }
            }
        })
        .collect();
    let firmware_table = tables.iter().find(|t| t.present).map(|t| t.name.clone());

    // Decode the table when we may read it (root): validity, units, RMRRs, RHSA nodes.
    let firmware = tables
        .iter()
        .find(|t| t.present && t.readable == Some(true))
        .and_then(|t| {
            let bytes = note(
                errors,
                host.read_bytes(&format!("{ACPI_TABLES_DIR}/{}", t.name)),
            )?;
            Some(match t.name.as_str() {
                "DMAR" => super::acpi::summarize_dmar(&super::acpi::dmar::parse_dmar(&bytes)),
                _ => super::acpi::summarize_ivrs(&super::acpi::ivrs::parse_ivrs(&bytes)),
            })
        });

    // A kernel unit's NUMA node: the proximity domain the firmware's RHSA gives its
    // register base (Intel units expose it as intel-iommu/address). ACPI proximity
    // domains are the kernel's node ids on the platforms DAOS runs on (SRAT order).
    let units = note(errors, host.list_dir("/sys/class/iommu"))
        .unwrap_or_default()
        .into_iter()
        .map(|name| {
            let base = host
                .read_attr_opt(&format!("/sys/class/iommu/{name}/intel-iommu/address"))
                .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
            let numa_node = base.and_then(|b| {
                firmware.as_ref()?.units.iter().find_map(|u| {
                    let ub =
                        u64::from_str_radix(u.register_base_address.trim_start_matches("0x"), 16)
                            .ok()?;
                    (ub == b).then_some(u.proximity_domain).flatten()
                })
            });
            IommuUnit { name, numa_node }
        })
        .collect();

    let group_names = note(errors, host.list_dir("/sys/kernel/iommu_groups"));
    let mut group_types = BTreeMap::new();
    let groups = group_names.map(|names| {
        for g in &names {
            let t = host
                .read_attr_opt(&format!("/sys/kernel/iommu_groups/{g}/type"))
                .unwrap_or_else(|| "unknown".into());
            *group_types.entry(t).or_insert(0u32) += 1;
        }
        names.len() as u32
    });

    let noiommu_mode = host
        .read_attr_opt("/sys/module/vfio/parameters/enable_unsafe_noiommu_mode")
        .map(|v| v == "Y" || v == "1");

    Iommu {
        acpi_tables_visible: host.exists(ACPI_TABLES_DIR),
        firmware_table,
        tables,
        units,
        groups,
        group_types,
        noiommu_mode,
        firmware,
    }
}
