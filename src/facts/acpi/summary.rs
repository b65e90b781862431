//! From a decoded DMAR/IVRS to the [`FirmwareSummary`] the `iommu.*` checks read
//! (`facts.iommu.firmware`): the units, reserved regions and flags a verdict needs,
//! with the decoding error kept so "valid table" can be judged.

use super::dmar::{Dmar, ScopeType};
use super::ivrs::Ivrs;
use super::{ParseResult, TableError};
use crate::facts::iommu::{FirmwareSummary, FirmwareUnit, ReservedRegion};

fn split<T>(result: &ParseResult<T>) -> (Option<&T>, Option<&TableError>) {
    match result {
        Ok(t) => (Some(t), None),
        Err(d) => (d.partial.as_deref(), Some(&d.error)),
    }
}

fn empty(table: &str, error: Option<&TableError>) -> FirmwareSummary {
    FirmwareSummary {
        table: table.to_string(),
        checksum_valid: false,
        host_address_width_bits: None,
        dma_ctrl_platform_opt_in: None,
        intr_remap: None,
        units: Vec::new(),
        reserved_regions: Vec::new(),
        parse_error: error.map(ToString::to_string),
    }
}

/// Summarizes a DMAR decoding (complete or partial). Units are the DRHDs with the
/// proximity domain of their RHSA; reserved regions are the RMRRs with their endpoint
/// devices named `SSSS:BB:DD.F` by the start bus and the first path hop (a device
/// behind a bridge needs the host's bus numbering to resolve further, which is not
/// this pure function's business).
pub fn summarize_dmar(result: &ParseResult<Dmar>) -> FirmwareSummary {
    let (table, error) = split(result);
    let Some(d) = table else {
        return empty("DMAR", error);
    };
    FirmwareSummary {
        table: "DMAR".to_string(),
        checksum_valid: d.checksum_valid,
        host_address_width_bits: Some(d.host_address_width_bits),
        dma_ctrl_platform_opt_in: Some(d.flags.dma_ctrl_platform_opt_in),
        intr_remap: Some(d.flags.intr_remap),
        units: d
            .drhds()
            .map(|u| FirmwareUnit {
                register_base_address: format!("{:#x}", u.register_base_address),
                segment: u.segment,
                include_pci_all: Some(u.include_pci_all),
                proximity_domain: d.proximity_domain_of(u.register_base_address),
            })
            .collect(),
        reserved_regions: d
            .rmrrs()
            .map(|r| ReservedRegion {
                segment: r.segment,
                base_address: format!("{:#x}", r.base_address),
                end_address: format!("{:#x}", r.end_address),
                devices: r
                    .scopes
                    .iter()
                    .filter(|s| s.scope_type == ScopeType::PciEndpoint)
                    .filter_map(|s| {
                        let hop = s.path.first()?;
                        Some(format!(
                            "{:04x}:{:02x}:{:02x}.{:x}",
                            r.segment, s.start_bus, hop.device, hop.function
                        ))
                    })
                    .collect(),
            })
            .collect(),
        parse_error: error.map(ToString::to_string),
    }
}

/// Summarizes an IVRS decoding (complete or partial). Units are the IOMMUs, one per
/// (segment, device id) whatever the number of IVHD types describing it; the address
/// width is IVinfo's virtual address size (`null` when 0); the opt-in is IVinfo's DMA remap support
/// bit, AMD's counterpart of DMAR's DMA_CTRL_PLATFORM_OPT_IN. IVRS has no global
/// interrupt remapping flag (`intr_remap` is `null`) and IVMD blocks are not decoded
/// (`reserved_regions` is empty).
pub fn summarize_ivrs(result: &ParseResult<Ivrs>) -> FirmwareSummary {
    let (table, error) = split(result);
    let Some(r) = table else {
        return empty("IVRS", error);
    };
    FirmwareSummary {
        table: "IVRS".to_string(),
        checksum_valid: r.checksum_valid,
        // VAsize 0 (QEMU leaves it so) says nothing: unknown, not "0 bits".
        host_address_width_bits: Some(u32::from(r.ivinfo.virtual_address_size_bits))
            .filter(|bits| *bits != 0),
        dma_ctrl_platform_opt_in: Some(r.ivinfo.dma_remap_supported),
        intr_remap: None,
        units: r
            .iommus()
            .into_iter()
            .map(|h| FirmwareUnit {
                register_base_address: format!("{:#x}", h.iommu_base_address),
                segment: h.segment,
                include_pci_all: None,
                proximity_domain: None,
            })
            .collect(),
        reserved_regions: Vec::new(),
        parse_error: error.map(ToString::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::acpi::dmar::parse_dmar;
    use crate::facts::acpi::ivrs::parse_ivrs;

    #[test]
    fn unreadable_header_gives_an_empty_summary_with_the_error() {
        let s = summarize_dmar(&parse_dmar(b"DMAR"));
        assert!(s.units.is_empty() && !s.checksum_valid);
        assert!(s.parse_error.is_some_and(|e| e.contains("offset 0x4")));
        let s = summarize_ivrs(&parse_ivrs(b""));
        assert_eq!(s.table, "IVRS");
        assert!(s.parse_error.is_some());
    }
}
