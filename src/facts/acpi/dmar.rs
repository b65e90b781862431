//! The ACPI DMA Remapping Reporting table (DMAR): how an Intel platform tells the OS
//! about its VT-d remapping hardware.
//!
//! Layout: Intel Virtualization Technology for Directed I/O, Architecture Specification
//! (rev. 5.0), chapter 8 "BIOS Considerations" (§8.1 DMA Remapping Reporting
//! Structure onwards, one section per structure type); ACPICA `actbl1.h` (`ACPI_TABLE_DMAR`, `ACPI_DMAR_*`)
//! and `dmtbl*.c` for the names `iasl -d` prints. A DMAR is the 36-byte ACPI header,
//! the host address width, flags and 10 reserved bytes (48 bytes in all), then remapping
//! structures, each starting with a 16-bit type and a 16-bit length; most carry
//! device scopes after their fixed fields.
//!
//! [`parse_dmar`] is pure and total: any byte string gives either a table or a
//! [`TableError`] naming the offset where decoding stopped, with the structures decoded
//! before it (see [`Decoded`]). Structure types this code does not know are kept as
//! [`RemappingStructure::Unknown`] and skipped by their length, as the spec asks of OS
//! software (§8.2: types beyond those defined are reserved, and software skips the
//! structures it does not know).

use serde::Serialize;

use super::{
    Decoded, LeBytes, ParseResult, SdtHeader, TableError, TableErrorKind, acpi_text, frame,
    ser_hex_u64,
};

/// Signature of the DMAR table.
pub const DMAR_SIGNATURE: &str = "DMAR";

/// Size of the DMAR's fixed part: ACPI header, Host Address Width (offset 36), Flags
/// (37), 10 reserved bytes (38–47). VT-d §8.1.
pub const DMAR_FIXED_LEN: usize = 48;

/// Remapping structure header: Type (u16) and Length (u16). VT-d §8.2.
const STRUCTURE_HEADER_LEN: usize = 4;

/// Fixed part of a device scope: Type, Length, Flags, Reserved, Enumeration ID, Start
/// Bus Number; the path of (device, function) byte pairs follows. VT-d §8.3.1.
const SCOPE_FIXED_LEN: usize = 6;

/// A decoded DMAR table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dmar {
    /// The ACPI table header.
    pub header: SdtHeader,
    /// The table's bytes sum to zero (ACPI 6.5 §5.2.6). Firmware with a bad checksum is
    /// still decoded, as Linux and iasl do, but the verdict should say so.
    pub checksum_valid: bool,
    /// Host Address Width as stored (offset 36): the DMA address width minus one.
    pub host_address_width: u8,
    /// The maximum DMA physical address width in bits: stored value + 1 (VT-d §8.1:
    /// the width is N+1 for a stored N).
    pub host_address_width_bits: u32,
    /// The flags byte (offset 37), decoded.
    pub flags: DmarFlags,
    /// Remapping structures in table order.
    pub structures: Vec<RemappingStructure>,
}

/// DMAR flags (offset 37). VT-d §8.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DmarFlags {
    /// The byte as stored.
    pub raw: u8,
    /// Bit 0 INTR_REMAP: the platform supports interrupt remapping.
    pub intr_remap: bool,
    /// Bit 1 X2APIC_OPT_OUT: firmware asks the OS not to enable x2APIC mode.
    pub x2apic_opt_out: bool,
    /// Bit 2 DMA_CTRL_PLATFORM_OPT_IN_FLAG: the platform supports and asks for DMA
    /// remapping to protect against DMA attacks (Linux then enables the IOMMU even when
    /// its build defaults to off: `drivers/iommu/intel/dmar.c`,
    /// `dmar_platform_optin`). VT-d §8.1.
    pub dma_ctrl_platform_opt_in: bool,
}

impl DmarFlags {
    /// Decodes the flags byte.
    pub fn from_raw(raw: u8) -> Self {
        DmarFlags {
            raw,
            intr_remap: raw & 0x1 != 0,
            x2apic_opt_out: raw & 0x2 != 0,
            dma_ctrl_platform_opt_in: raw & 0x4 != 0,
        }
    }
}

/// One remapping structure (VT-d §8.2). JSON: an object whose `type` is
/// `DRHD`, `RMRR`, `ATSR`, `RHSA`, `ANDD`, `SATC`, `SIDP` or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum RemappingStructure {
    /// Type 0: DMA Remapping Hardware Unit Definition.
    #[serde(rename = "DRHD")]
    Drhd(Drhd),
    /// Type 1: Reserved Memory Region Reporting.
    #[serde(rename = "RMRR")]
    Rmrr(Rmrr),
    /// Type 2: Root Port ATS Capability Reporting.
    #[serde(rename = "ATSR")]
    Atsr(Atsr),
    /// Type 3: Remapping Hardware Static Affinity.
    #[serde(rename = "RHSA")]
    Rhsa(Rhsa),
    /// Type 4: ACPI Name-space Device Declaration.
    #[serde(rename = "ANDD")]
    Andd(Andd),
    /// Type 5: SoC Integrated Address Translation Cache Reporting.
    #[serde(rename = "SATC")]
    Satc(Satc),
    /// Type 6: SoC Integrated Device Property Reporting.
    #[serde(rename = "SIDP")]
    Sidp(Sidp),
    /// A type this code does not know (reserved for future use), skipped by length.
    #[serde(rename = "unknown")]
    Unknown(UnknownStructure),
}

impl RemappingStructure {
    /// Byte offset of the structure from the start of the table.
    pub fn offset(&self) -> usize {
        match self {
            RemappingStructure::Drhd(s) => s.offset,
            RemappingStructure::Rmrr(s) => s.offset,
            RemappingStructure::Atsr(s) => s.offset,
            RemappingStructure::Rhsa(s) => s.offset,
            RemappingStructure::Andd(s) => s.offset,
            RemappingStructure::Satc(s) => s.offset,
            RemappingStructure::Sidp(s) => s.offset,
            RemappingStructure::Unknown(s) => s.offset,
        }
    }

    /// The Length field of the structure.
    pub fn length(&self) -> u16 {
        match self {
            RemappingStructure::Drhd(s) => s.length,
            RemappingStructure::Rmrr(s) => s.length,
            RemappingStructure::Atsr(s) => s.length,
            RemappingStructure::Rhsa(s) => s.length,
            RemappingStructure::Andd(s) => s.length,
            RemappingStructure::Satc(s) => s.length,
            RemappingStructure::Sidp(s) => s.length,
            RemappingStructure::Unknown(s) => s.length,
        }
    }

    /// The Type field (0 DRHD ... 6 SIDP).
    pub fn type_id(&self) -> u16 {
        match self {
            RemappingStructure::Drhd(_) => 0,
            RemappingStructure::Rmrr(_) => 1,
            RemappingStructure::Atsr(_) => 2,
            RemappingStructure::Rhsa(_) => 3,
            RemappingStructure::Andd(_) => 4,
            RemappingStructure::Satc(_) => 5,
            RemappingStructure::Sidp(_) => 6,
            RemappingStructure::Unknown(s) => s.type_id,
        }
    }

    /// The short name used in JSON (`DRHD`, ..., `unknown`).
    pub fn type_name(&self) -> &'static str {
        structure_name(self.type_id()).unwrap_or("unknown")
    }

    /// The device scopes of the structure (empty for RHSA, ANDD and unknown types).
    pub fn scopes(&self) -> &[DeviceScope] {
        match self {
            RemappingStructure::Drhd(s) => &s.scopes,
            RemappingStructure::Rmrr(s) => &s.scopes,
            RemappingStructure::Atsr(s) => &s.scopes,
            RemappingStructure::Satc(s) => &s.scopes,
            RemappingStructure::Sidp(s) => &s.scopes,
            RemappingStructure::Rhsa(_)
            | RemappingStructure::Andd(_)
            | RemappingStructure::Unknown(_) => &[],
        }
    }
}

/// DMA Remapping Hardware Unit Definition: one VT-d remapping unit. VT-d §8.3.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drhd {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, scopes included.
    pub length: u16,
    /// Flags byte (offset 4).
    pub flags: u8,
    /// Flags bit 0 INCLUDE_PCI_ALL: the unit covers every PCI device of its segment not
    /// claimed by another unit (its scopes then list only IOAPICs and HPETs).
    pub include_pci_all: bool,
    /// Size byte (offset 5, VT-d ≥ 4.0): bits 3:0 give the size of the register set
    /// as 2^N 4 KiB pages; 0 on older firmware (one page).
    pub size: u8,
    /// PCI segment number (offset 6).
    pub segment: u16,
    /// Base address of the unit's register set (offset 8).
    #[serde(serialize_with = "ser_hex_u64")]
    pub register_base_address: u64,
    /// Device scopes (offset 16 on).
    pub scopes: Vec<DeviceScope>,
}

/// Reserved Memory Region Reporting: memory the firmware keeps using for DMA on behalf
/// of the devices in scope (USB legacy emulation, integrated graphics). VT-d §8.4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rmrr {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, scopes included.
    pub length: u16,
    /// PCI segment number (offset 6).
    pub segment: u16,
    /// First byte of the region, 4 KiB aligned (offset 8).
    #[serde(serialize_with = "ser_hex_u64")]
    pub base_address: u64,
    /// Last byte of the region, "Reserved Memory Region Limit Address" (offset 16).
    #[serde(serialize_with = "ser_hex_u64")]
    pub end_address: u64,
    /// Device scopes (offset 24 on): the endpoints that use the region.
    pub scopes: Vec<DeviceScope>,
}

/// Root Port ATS Capability Reporting. VT-d §8.5.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Atsr {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, scopes included.
    pub length: u16,
    /// Flags byte (offset 4).
    pub flags: u8,
    /// Flags bit 0 ALL_PORTS: every root port of the segment supports ATS.
    pub all_ports: bool,
    /// PCI segment number (offset 6).
    pub segment: u16,
    /// Device scopes (offset 8 on): the root ports that support ATS.
    pub scopes: Vec<DeviceScope>,
}

/// Remapping Hardware Static Affinity: the proximity domain (NUMA node) of a remapping
/// unit. VT-d §8.6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rhsa {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure (20).
    pub length: u16,
    /// Register base address of the DRHD this applies to (offset 8).
    #[serde(serialize_with = "ser_hex_u64")]
    pub register_base_address: u64,
    /// Proximity domain, as in SRAT (offset 16).
    pub proximity_domain: u32,
}

/// ACPI Name-space Device Declaration: names an ACPI device that a DRHD scope of type
/// ACPI_NAMESPACE_DEVICE refers to by `device_number`. VT-d §8.7.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Andd {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, name included.
    pub length: u16,
    /// ACPI Device Number (offset 7), matched by scopes' enumeration id.
    pub device_number: u8,
    /// ACPI object name, NUL-terminated in the table (offset 8): `\_SB.PCI0.I2C0`.
    pub object_name: String,
}

/// SoC Integrated Address Translation Cache Reporting. VT-d §8.8.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Satc {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, scopes included.
    pub length: u16,
    /// Flags byte (offset 4).
    pub flags: u8,
    /// Flags bit 0 ATC_REQUIRED: the devices need their ATC enabled to work correctly.
    pub atc_required: bool,
    /// PCI segment number (offset 6).
    pub segment: u16,
    /// Device scopes (offset 8 on).
    pub scopes: Vec<DeviceScope>,
}

/// SoC Integrated Device Property Reporting (added in VT-d rev. 5.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sidp {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure, scopes included.
    pub length: u16,
    /// PCI segment number (offset 6).
    pub segment: u16,
    /// Device scopes (offset 8 on); their `flags` carry the properties.
    pub scopes: Vec<DeviceScope>,
}

/// A remapping structure of a type this code does not decode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnknownStructure {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the structure.
    pub length: u16,
    /// The Type field.
    pub type_id: u16,
}

/// Device scope entry: names a device (or a whole PCI sub-hierarchy) by its start bus
/// and the path of (device, function) hops from it. VT-d §8.3.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceScope {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the entry: 6 + 2 × hops.
    pub length: u8,
    /// What kind of device it names.
    #[serde(rename = "type")]
    pub scope_type: ScopeType,
    /// The Type byte as stored.
    pub type_id: u8,
    /// Flags byte (offset 2; reserved before VT-d 3.x, SIDP properties since).
    pub flags: u8,
    /// Enumeration ID (offset 4): the IOAPIC id, HPET number or ANDD device number.
    pub enumeration_id: u8,
    /// Start Bus Number (offset 5).
    pub start_bus: u8,
    /// Hops from the start bus, one (device, function) pair per bridge level.
    pub path: Vec<PciPathEntry>,
}

/// The kind of device a scope names. VT-d §8.3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeType {
    /// 1: a PCI endpoint device.
    PciEndpoint,
    /// 2: a PCI-PCI bridge and every device below it.
    PciSubhierarchy,
    /// 3: an I/O APIC.
    Ioapic,
    /// 4: an MSI-capable HPET.
    MsiHpet,
    /// 5: an ACPI name-space device (see [`Andd`]).
    AcpiNamespaceDevice,
    /// Any other value (0 and 6–255 are reserved).
    Unknown,
}

impl ScopeType {
    /// Decodes the scope Type byte.
    pub fn from_id(id: u8) -> Self {
        match id {
            1 => ScopeType::PciEndpoint,
            2 => ScopeType::PciSubhierarchy,
            3 => ScopeType::Ioapic,
            4 => ScopeType::MsiHpet,
            5 => ScopeType::AcpiNamespaceDevice,
            _ => ScopeType::Unknown,
        }
    }

    /// A short human-readable name.
    pub fn describe(self) -> &'static str {
        match self {
            ScopeType::PciEndpoint => "PCI endpoint",
            ScopeType::PciSubhierarchy => "PCI bridge",
            ScopeType::Ioapic => "IOAPIC",
            ScopeType::MsiHpet => "HPET",
            ScopeType::AcpiNamespaceDevice => "ACPI device",
            ScopeType::Unknown => "unknown",
        }
    }
}

/// One hop of a device scope path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PciPathEntry {
    /// PCI device number (0–31).
    pub device: u8,
    /// PCI function number (0–7).
    pub function: u8,
}

impl Dmar {
    /// The DMA remapping units (DRHD), in table order.
    pub fn drhds(&self) -> impl Iterator<Item = &Drhd> {
        self.structures.iter().filter_map(|s| match s {
            RemappingStructure::Drhd(d) => Some(d),
            _ => None,
        })
    }

    /// The reserved memory regions (RMRR), in table order.
    pub fn rmrrs(&self) -> impl Iterator<Item = &Rmrr> {
        self.structures.iter().filter_map(|s| match s {
            RemappingStructure::Rmrr(r) => Some(r),
            _ => None,
        })
    }

    /// The static affinity entries (RHSA), in table order.
    pub fn rhsas(&self) -> impl Iterator<Item = &Rhsa> {
        self.structures.iter().filter_map(|s| match s {
            RemappingStructure::Rhsa(r) => Some(r),
            _ => None,
        })
    }

    /// The proximity domain an RHSA gives to the unit at `register_base_address`.
    pub fn proximity_domain_of(&self, register_base_address: u64) -> Option<u32> {
        self.rhsas()
            .find(|r| r.register_base_address == register_base_address)
            .map(|r| r.proximity_domain)
    }
}

/// The short name of a structure type, `None` for types this code does not know.
pub fn structure_name(type_id: u16) -> Option<&'static str> {
    Some(match type_id {
        0 => "DRHD",
        1 => "RMRR",
        2 => "ATSR",
        3 => "RHSA",
        4 => "ANDD",
        5 => "SATC",
        6 => "SIDP",
        _ => return None,
    })
}

/// Length of the fixed fields of each known structure type (before scopes or name).
fn fixed_len(type_id: u16) -> usize {
    match type_id {
        0 => 16, // DRHD: header, flags, size, segment, register base (§8.3)
        1 => 24, // RMRR: header, reserved, segment, base, limit (§8.4)
        2 => 8,  // ATSR: header, flags, reserved, segment (§8.5)
        3 => 20, // RHSA: header, reserved, base, proximity domain (§8.6)
        4 => 8,  // ANDD: header, 3 reserved, device number; name follows (§8.7)
        5 => 8,  // SATC: header, flags, reserved, segment (§8.8)
        6 => 8,  // SIDP: header, reserved, segment (VT-d 5.0)
        _ => STRUCTURE_HEADER_LEN,
    }
}

fn what_structure(type_id: u16) -> String {
    match structure_name(type_id) {
        Some(name) => format!("{name} structure"),
        None => format!("remapping structure of type {type_id:#x}"),
    }
}

/// Decodes a DMAR table.
///
/// Returns the table, or a [`Decoded`] with the error and the structures decoded
/// before it. A bad checksum is not an error (see [`Dmar::checksum_valid`]).
pub fn parse_dmar(bytes: &[u8]) -> ParseResult<Dmar> {
    let framed = frame(bytes, DMAR_SIGNATURE, DMAR_FIXED_LEN).map_err(|error| Decoded {
        partial: None,
        error,
    })?;
    let body = framed.body;
    // `frame` guarantees at least DMAR_FIXED_LEN bytes.
    let haw = body.u8_at(36).unwrap_or(0);
    let mut dmar = Dmar {
        header: framed.header,
        checksum_valid: framed.checksum_valid,
        host_address_width: haw,
        host_address_width_bits: u32::from(haw) + 1,
        flags: DmarFlags::from_raw(body.u8_at(37).unwrap_or(0)),
        structures: Vec::new(),
    };
    let error = match parse_structures(body, &mut dmar.structures) {
        // A structure that runs off the end of a truncated table: the truncation is
        // the cause worth reporting.
        Err(e) if framed.truncated.is_some() && ends_early(&e) => framed.truncated,
        Err(e) => Some(e),
        Ok(()) => framed.truncated,
    };
    match error {
        None => Ok(dmar),
        Some(error) => Err(Decoded {
            partial: Some(Box::new(dmar)),
            error,
        }),
    }
}

/// True for errors that a shortened table produces.
fn ends_early(e: &TableError) -> bool {
    matches!(
        e.kind,
        TableErrorKind::PastEnd { .. } | TableErrorKind::TrailingBytes { .. }
    )
}

/// Walks the remapping structures from offset 48 to the end of `body`, pushing each one
/// decoded; stops at the first malformed one. Every iteration advances by a length ≥ 4,
/// so the loop ends.
fn parse_structures(body: &[u8], out: &mut Vec<RemappingStructure>) -> Result<(), TableError> {
    let end = body.len();
    let mut off = DMAR_FIXED_LEN;
    while off < end {
        let (Some(type_id), Some(length)) = (body.u16_at(off), body.u16_at(off + 2)) else {
            return Err(TableError {
                offset: off,
                kind: TableErrorKind::TrailingBytes {
                    what: "remapping structure".into(),
                    remaining: end - off,
                    needed: STRUCTURE_HEADER_LEN,
                },
            });
        };
        let len = usize::from(length);
        let what = what_structure(type_id);
        let err = |kind| TableError { offset: off, kind };
        if len == 0 {
            return Err(err(TableErrorKind::ZeroLength { what }));
        }
        let minimum = fixed_len(type_id);
        if len < minimum {
            return Err(err(TableErrorKind::TooShort {
                what,
                length: len,
                minimum,
            }));
        }
        let Some(s) = body.get(off..off + len) else {
            return Err(err(TableErrorKind::PastEnd {
                what,
                length: len,
                end,
            }));
        };
        let (structure, scope_error) = decode_structure(s, off, type_id, length);
        out.push(structure);
        if let Some(e) = scope_error {
            return Err(e);
        }
        off += len;
    }
    Ok(())
}

/// Decodes one structure whose bytes `s` (at table offset `off`) are known to cover its
/// fixed fields. Returns the structure and the scope error that stopped its scope list.
fn decode_structure(
    s: &[u8],
    off: usize,
    type_id: u16,
    length: u16,
) -> (RemappingStructure, Option<TableError>) {
    // All fixed-field reads below are within `fixed_len(type_id)`, checked by the
    // caller; `unwrap_or(0)` is never taken but keeps this free of panics.
    let u8_ = |o: usize| s.u8_at(o).unwrap_or(0);
    let u16_ = |o: usize| s.u16_at(o).unwrap_or(0);
    let u32_ = |o: usize| s.u32_at(o).unwrap_or(0);
    let u64_ = |o: usize| s.u64_at(o).unwrap_or(0);
    let scopes_from = |start: usize| parse_scopes(s, start, off);
    match type_id {
        0 => {
            let (scopes, e) = scopes_from(16);
            let flags = u8_(4);
            let d = Drhd {
                offset: off,
                length,
                flags,
                include_pci_all: flags & 0x1 != 0,
                size: u8_(5),
                segment: u16_(6),
                register_base_address: u64_(8),
                scopes,
            };
            (RemappingStructure::Drhd(d), e)
        }
        1 => {
            let (scopes, e) = scopes_from(24);
            let r = Rmrr {
                offset: off,
                length,
                segment: u16_(6),
                base_address: u64_(8),
                end_address: u64_(16),
                scopes,
            };
            (RemappingStructure::Rmrr(r), e)
        }
        2 => {
            let (scopes, e) = scopes_from(8);
            let flags = u8_(4);
            let a = Atsr {
                offset: off,
                length,
                flags,
                all_ports: flags & 0x1 != 0,
                segment: u16_(6),
                scopes,
            };
            (RemappingStructure::Atsr(a), e)
        }
        3 => {
            let r = Rhsa {
                offset: off,
                length,
                register_base_address: u64_(8),
                proximity_domain: u32_(16),
            };
            (RemappingStructure::Rhsa(r), None)
        }
        4 => {
            let a = Andd {
                offset: off,
                length,
                device_number: u8_(7),
                object_name: acpi_text(s.get(8..).unwrap_or(&[])),
            };
            (RemappingStructure::Andd(a), None)
        }
        5 => {
            let (scopes, e) = scopes_from(8);
            let flags = u8_(4);
            let a = Satc {
                offset: off,
                length,
                flags,
                atc_required: flags & 0x1 != 0,
                segment: u16_(6),
                scopes,
            };
            (RemappingStructure::Satc(a), e)
        }
        6 => {
            let (scopes, e) = scopes_from(8);
            let a = Sidp {
                offset: off,
                length,
                segment: u16_(6),
                scopes,
            };
            (RemappingStructure::Sidp(a), e)
        }
        _ => (
            RemappingStructure::Unknown(UnknownStructure {
                offset: off,
                length,
                type_id,
            }),
            None,
        ),
    }
}

/// Decodes the device scopes of structure `s` (at table offset `base`) from `start` to
/// its end. Returns the scopes decoded and the error that stopped the list, if any.
/// Each iteration advances by a length ≥ 6, so the loop ends.
fn parse_scopes(s: &[u8], start: usize, base: usize) -> (Vec<DeviceScope>, Option<TableError>) {
    let mut scopes = Vec::new();
    let end = s.len();
    let mut at = start;
    while at < end {
        let err = |kind| TableError {
            offset: base + at,
            kind,
        };
        let remaining = end - at;
        if remaining < 2 {
            let e = err(TableErrorKind::TrailingBytes {
                what: "device scope".into(),
                remaining,
                needed: SCOPE_FIXED_LEN,
            });
            return (scopes, Some(e));
        }
        let type_id = s.u8_at(at).unwrap_or(0);
        let len = usize::from(s.u8_at(at + 1).unwrap_or(0));
        let what = || "device scope".to_string();
        if len == 0 {
            return (
                scopes,
                Some(err(TableErrorKind::ZeroLength { what: what() })),
            );
        }
        if len < SCOPE_FIXED_LEN {
            let e = err(TableErrorKind::TooShort {
                what: what(),
                length: len,
                minimum: SCOPE_FIXED_LEN,
            });
            return (scopes, Some(e));
        }
        let Some(entry) = s.get(at..at + len) else {
            let e = err(TableErrorKind::PastEnd {
                what: what(),
                length: len,
                end: base + end,
            });
            return (scopes, Some(e));
        };
        // An odd trailing byte cannot form a hop; like Linux (dmar.c counts
        // `(length - 6) / 2` hops) it is ignored.
        let path = entry[SCOPE_FIXED_LEN..]
            .chunks_exact(2)
            .map(|hop| PciPathEntry {
                device: hop[0],
                function: hop[1],
            })
            .collect();
        scopes.push(DeviceScope {
            offset: base + at,
            length: len as u8,
            scope_type: ScopeType::from_id(type_id),
            type_id,
            flags: entry[2],
            enumeration_id: entry[4],
            start_bus: entry[5],
            path,
        });
        at += len;
    }
    (scopes, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::acpi::checksum_ok;

    /// Builds a DMAR from structures, with a correct length and checksum.
    pub(crate) fn table(haw: u8, flags: u8, structures: &[Vec<u8>]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"DMAR");
        t.extend_from_slice(&[0; 4]);
        t.push(1); // revision
        t.push(0); // checksum
        t.extend_from_slice(b"OEMID ");
        t.extend_from_slice(b"OEMTABLE");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(b"TEST");
        t.extend_from_slice(&2u32.to_le_bytes());
        t.push(haw);
        t.push(flags);
        t.extend_from_slice(&[0; 10]);
        for s in structures {
            t.extend_from_slice(s);
        }
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
        assert!(checksum_ok(&t));
        t
    }

    fn structure(type_id: u16, fixed: &[u8], scopes: &[Vec<u8>]) -> Vec<u8> {
        let mut s = Vec::new();
        s.extend_from_slice(&type_id.to_le_bytes());
        s.extend_from_slice(&[0, 0]);
        s.extend_from_slice(fixed);
        for sc in scopes {
            s.extend_from_slice(sc);
        }
        let len = s.len() as u16;
        s[2..4].copy_from_slice(&len.to_le_bytes());
        s
    }

    fn scope(type_id: u8, enum_id: u8, bus: u8, path: &[(u8, u8)]) -> Vec<u8> {
        let mut s = vec![type_id, (6 + 2 * path.len()) as u8, 0, 0, enum_id, bus];
        for (d, f) in path {
            s.extend_from_slice(&[*d, *f]);
        }
        s
    }

    fn drhd(flags: u8, base: u64, scopes: &[Vec<u8>]) -> Vec<u8> {
        let mut fixed = vec![flags, 0, 0, 0];
        fixed.extend_from_slice(&base.to_le_bytes());
        structure(0, &fixed, scopes)
    }

    #[test]
    fn decodes_header_flags_and_drhd() {
        let t = table(
            38,
            0x5,
            &[drhd(
                1,
                0xfed9_0000,
                &[
                    scope(3, 2, 0xf0, &[(0x1f, 0)]),
                    scope(4, 0, 0, &[(0x1f, 7)]),
                ],
            )],
        );
        let d = parse_dmar(&t).expect("valid table");
        assert!(d.checksum_valid);
        assert_eq!(d.host_address_width_bits, 39);
        assert!(d.flags.intr_remap && d.flags.dma_ctrl_platform_opt_in);
        assert!(!d.flags.x2apic_opt_out);
        assert_eq!(d.header.oem_table_id, "OEMTABLE");
        let u: Vec<_> = d.drhds().collect();
        assert_eq!(u.len(), 1);
        assert!(u[0].include_pci_all);
        assert_eq!(u[0].register_base_address, 0xfed9_0000);
        assert_eq!(u[0].scopes[0].scope_type, ScopeType::Ioapic);
        assert_eq!(u[0].scopes[0].enumeration_id, 2);
        assert_eq!(u[0].scopes[0].start_bus, 0xf0);
        assert_eq!(u[0].scopes[1].offset, 48 + 16 + 8);
        let json = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(json["structures"][0]["type"], "DRHD");
        assert_eq!(json["structures"][0]["register_base_address"], "0xfed90000");
        assert_eq!(json["structures"][0]["scopes"][0]["type"], "ioapic");
        assert_eq!(json["structures"][0]["scopes"][1]["path"][0]["function"], 7);
    }

    #[test]
    fn unknown_types_are_kept_and_skipped() {
        let t = table(
            47,
            0,
            &[structure(0x77, &[1, 2, 3, 4], &[]), drhd(0, 0x1000, &[])],
        );
        let d = parse_dmar(&t).expect("valid table");
        assert_eq!(d.structures.len(), 2);
        assert_eq!(d.structures[0].type_name(), "unknown");
        assert_eq!(d.structures[0].type_id(), 0x77);
        assert_eq!(d.structures[1].offset(), 56);
    }

    #[test]
    fn bad_checksum_is_reported_not_fatal() {
        let mut t = table(47, 0, &[drhd(0, 0x1000, &[])]);
        t[20] ^= 1;
        let d = parse_dmar(&t).expect("decodes");
        assert!(!d.checksum_valid);
    }

    #[test]
    fn zero_length_structure_is_an_error_with_partial() {
        let mut bad = drhd(0, 0x2000, &[]);
        bad[2] = 0;
        bad[3] = 0;
        let t = table(47, 0, &[drhd(0, 0x1000, &[]), bad]);
        let e = parse_dmar(&t).expect_err("zero length");
        assert_eq!(e.error.offset, 64);
        assert!(matches!(e.error.kind, TableErrorKind::ZeroLength { .. }));
        let partial = e.partial.as_ref().expect("header decoded");
        assert_eq!(partial.structures.len(), 1);
        assert!(e.to_string().contains("0x40"), "{e}");
    }

    #[test]
    fn short_and_overlong_structures_and_scopes() {
        // RHSA declared 12 bytes: below its 20.
        let t = table(47, 0, &[structure(3, &[0; 8], &[])]);
        let e = parse_dmar(&t).expect_err("too short");
        assert!(matches!(
            e.error.kind,
            TableErrorKind::TooShort { minimum: 20, .. }
        ));
        // DRHD whose length runs past the table.
        let mut s = drhd(0, 0x1000, &[]);
        s[2] = 200;
        let e = parse_dmar(&table(47, 0, &[s])).expect_err("past end");
        assert!(matches!(e.error.kind, TableErrorKind::PastEnd { .. }));
        // A scope of length 0 inside a DRHD.
        let mut sc = scope(1, 0, 0, &[(1, 0)]);
        sc[1] = 0;
        let e = parse_dmar(&table(47, 0, &[drhd(0, 0x1000, &[sc])])).expect_err("scope 0");
        assert_eq!(e.error.offset, 64);
        // A scope of length 4.
        let mut sc = scope(1, 0, 0, &[(1, 0)]);
        sc[1] = 4;
        let e = parse_dmar(&table(47, 0, &[drhd(0, 0x1000, &[sc])])).expect_err("scope 4");
        assert!(matches!(
            e.error.kind,
            TableErrorKind::TooShort { minimum: 6, .. }
        ));
        // A scope longer than its structure.
        let mut sc = scope(1, 0, 0, &[(1, 0)]);
        sc[1] = 10;
        let e = parse_dmar(&table(47, 0, &[drhd(0, 0x1000, &[sc])])).expect_err("scope long");
        assert!(matches!(e.error.kind, TableErrorKind::PastEnd { .. }));
        let p = e.partial.expect("partial");
        assert_eq!(p.drhds().count(), 1, "the DRHD itself is kept");
    }

    #[test]
    fn truncation_names_where_data_ends() {
        let t = table(47, 0, &[drhd(0, 0x1000, &[]), drhd(0, 0x2000, &[])]);
        for cut in 0..t.len() {
            let e = parse_dmar(&t[..cut]).expect_err("truncated");
            assert_eq!(e.error.offset, cut, "cut at {cut}: {e}");
        }
        let e = parse_dmar(&t[..64]).expect_err("truncated");
        assert_eq!(e.partial.map(|p| p.structures.len()), Some(1));
    }

    #[test]
    fn all_structure_types_decode() {
        let mut rmrr = vec![0, 0, 0, 0];
        rmrr.extend_from_slice(&0x7546_0000u64.to_le_bytes());
        rmrr.extend_from_slice(&0x7547_0fffu64.to_le_bytes());
        let mut rhsa = vec![0; 4];
        rhsa.extend_from_slice(&0x9d7f_c000u64.to_le_bytes());
        rhsa.extend_from_slice(&1u32.to_le_bytes());
        let mut andd = vec![0, 0, 0, 7];
        andd.extend_from_slice(b"\\_SB.PCI0.SPI0\0");
        let t = table(
            45,
            1,
            &[
                structure(1, &rmrr, &[scope(1, 0, 0, &[(0x1c, 4), (0, 0)])]),
                structure(2, &[1, 0, 0, 0], &[]),
                structure(3, &rhsa, &[]),
                structure(4, &andd, &[]),
                structure(5, &[1, 0, 0, 0], &[scope(1, 0, 0, &[(2, 0)])]),
                structure(6, &[0, 0, 0, 0], &[scope(1, 0, 0, &[(11, 0)])]),
            ],
        );
        let d = parse_dmar(&t).expect("valid");
        let names: Vec<_> = d.structures.iter().map(|s| s.type_name()).collect();
        assert_eq!(names, ["RMRR", "ATSR", "RHSA", "ANDD", "SATC", "SIDP"]);
        let r = d.rmrrs().next().expect("rmrr");
        assert_eq!((r.base_address, r.end_address), (0x7546_0000, 0x7547_0fff));
        assert_eq!(r.scopes[0].path.len(), 2);
        assert_eq!(d.proximity_domain_of(0x9d7f_c000), Some(1));
        match &d.structures[3] {
            RemappingStructure::Andd(a) => {
                assert_eq!(a.object_name, "\\_SB.PCI0.SPI0");
                assert_eq!(a.device_number, 7);
            }
            other => panic!("{other:?}"),
        }
        let json = serde_json::to_value(&d).unwrap_or_default();
        assert_eq!(json["structures"][0]["end_address"], "0x75470fff");
        assert_eq!(json["structures"][1]["all_ports"], true);
        assert_eq!(json["structures"][2]["proximity_domain"], 1);
        assert_eq!(json["structures"][4]["atc_required"], true);
    }
}
