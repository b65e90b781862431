//! Text rendering of decoded ACPI DMAR / IVRS tables for `daos-preflight acpi`: compact,
//! in the spirit of `iasl -d` — the header, then one line per structure with its table
//! offset, and its device scopes indented below it.

use std::fmt::Write;

use crate::facts::acpi::SdtHeader;
use crate::facts::acpi::dmar::{DeviceScope, Dmar, RemappingStructure};
use crate::facts::acpi::ivrs::{Ivrs, IvrsBlock};

fn header_line(h: &SdtHeader, checksum_valid: bool) -> String {
    format!(
        "{}  revision {}  length {} ({:#x})  checksum {:#04x} {}  OEM {:?} {:?} rev {:#x}  creator {:?} rev {:#x}\n",
        h.signature,
        h.revision,
        h.length,
        h.length,
        h.checksum,
        if checksum_valid { "valid" } else { "INVALID" },
        h.oem_id,
        h.oem_table_id,
        h.oem_revision,
        h.creator_id,
        h.creator_revision,
    )
}

/// `bus 00 path 1c.4 > 00.0` — a scope's start bus and its (device.function) hops.
fn scope_line(s: &DeviceScope) -> String {
    let path: Vec<String> = s
        .path
        .iter()
        .map(|h| format!("{:02x}.{:x}", h.device, h.function))
        .collect();
    let mut line = format!(
        "    [{:#05x}] {:<13} bus {:02x} path {}",
        s.offset,
        s.scope_type.describe(),
        s.start_bus,
        if path.is_empty() {
            "-".to_string()
        } else {
            path.join(" > ")
        },
    );
    if s.enumeration_id != 0 || s.type_id >= 3 {
        let _ = write!(line, "  enumeration id {}", s.enumeration_id);
    }
    if s.flags != 0 {
        let _ = write!(line, "  flags {:#04x}", s.flags);
    }
    if s.type_id == 0 || s.type_id > 5 {
        let _ = write!(line, "  (type {})", s.type_id);
    }
    line.push('\n');
    line
}

/// Renders a (possibly partial) DMAR decoding.
pub fn render_dmar(d: &Dmar) -> String {
    let mut out = header_line(&d.header, d.checksum_valid);
    let mut flags: Vec<&str> = Vec::new();
    if d.flags.intr_remap {
        flags.push("INTR_REMAP");
    }
    if d.flags.x2apic_opt_out {
        flags.push("X2APIC_OPT_OUT");
    }
    if d.flags.dma_ctrl_platform_opt_in {
        flags.push("DMA_CTRL_PLATFORM_OPT_IN");
    }
    let _ = writeln!(
        out,
        "host address width {} bits (stored {})  flags {:#04x} {}",
        d.host_address_width_bits,
        d.host_address_width,
        d.flags.raw,
        if flags.is_empty() {
            "-".to_string()
        } else {
            flags.join(" ")
        }
    );
    for s in &d.structures {
        let body = match s {
            RemappingStructure::Drhd(u) => format!(
                "segment {}  register base {:#x}{}  size {}  flags {:#04x}",
                u.segment,
                u.register_base_address,
                if u.include_pci_all {
                    "  INCLUDE_PCI_ALL"
                } else {
                    ""
                },
                u.size,
                u.flags,
            ),
            RemappingStructure::Rmrr(r) => format!(
                "segment {}  {:#x}-{:#x}",
                r.segment, r.base_address, r.end_address
            ),
            RemappingStructure::Atsr(a) => format!(
                "segment {}{}  flags {:#04x}",
                a.segment,
                if a.all_ports { "  ALL_PORTS" } else { "" },
                a.flags
            ),
            RemappingStructure::Rhsa(r) => format!(
                "register base {:#x}  proximity domain {}",
                r.register_base_address, r.proximity_domain
            ),
            RemappingStructure::Andd(a) => {
                format!("device number {}  {:?}", a.device_number, a.object_name)
            }
            RemappingStructure::Satc(a) => format!(
                "segment {}{}  flags {:#04x}",
                a.segment,
                if a.atc_required { "  ATC_REQUIRED" } else { "" },
                a.flags
            ),
            RemappingStructure::Sidp(a) => format!("segment {}", a.segment),
            RemappingStructure::Unknown(u) => format!("type {:#x} (skipped)", u.type_id),
        };
        let _ = writeln!(
            out,
            "[{:#05x}] {:<7} {}  (length {})",
            s.offset(),
            s.type_name(),
            body,
            s.length()
        );
        for sc in s.scopes() {
            out.push_str(&scope_line(sc));
        }
    }
    out
}

/// Renders a (possibly partial) IVRS decoding.
pub fn render_ivrs(r: &Ivrs) -> String {
    let mut out = header_line(&r.header, r.checksum_valid);
    let i = &r.ivinfo;
    let _ = writeln!(
        out,
        "IVinfo {:#010x}  physical address {} bits  virtual address {} bits  EFRSup {}  DMA remap {}",
        i.raw,
        i.physical_address_size_bits,
        i.virtual_address_size_bits,
        u8::from(i.efr_supported),
        u8::from(i.dma_remap_supported),
    );
    for b in &r.blocks {
        let line = match b {
            IvrsBlock::Ivhd(h) => {
                let mut l = format!(
                    "[{:#05x}] IVHD {:#04x}  IOMMU {}  base {:#x}  capability {:#x}  info {:#06x}  flags {:#04x}",
                    h.offset,
                    h.type_id,
                    h.pci_address,
                    h.iommu_base_address,
                    h.capability_offset,
                    h.iommu_info,
                    h.flags
                );
                if let Some(f) = h.feature_reporting {
                    let _ = write!(l, "  features {f:#010x}");
                }
                if let Some(a) = h.attributes {
                    let _ = write!(l, "  attributes {a:#010x}");
                }
                if let Some(e) = h.efr_register_image {
                    let _ = write!(l, "  EFR {e:#018x}");
                }
                let _ = write!(l, "  (length {})", h.length);
                l
            }
            IvrsBlock::Ivmd(s) => format!(
                "[{:#05x}] IVMD {:#04x}  (length {}, not decoded)",
                s.offset, s.type_id, s.length
            ),
            IvrsBlock::Unknown(s) => format!(
                "[{:#05x}] type {:#04x}  (length {}, skipped)",
                s.offset, s.type_id, s.length
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}
