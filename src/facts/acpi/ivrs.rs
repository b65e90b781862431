//! The ACPI I/O Virtualization Reporting Structure (IVRS): how an AMD platform tells the
//! OS about its IOMMUs.
//!
//! Layout: AMD I/O Virtualization Technology (IOMMU) Specification #48882 (rev. 3.x),
//! §5.2 "IVRS": the 36-byte ACPI header, IVinfo (u32 at offset 36), 8 reserved bytes,
//! then I/O virtualization definition blocks, each starting with Type (u8), Flags (u8),
//! Length (u16). IVHD blocks (types 10h, 11h, 40h) describe one IOMMU each, followed by
//! device entries; IVMD blocks (20h–22h) describe memory ranges. ACPICA `actbl2.h`
//! (`ACPI_IVRS_HARDWARE1`, `ACPI_IVRS_HARDWARE2`) has the same layout.
//!
//! This decoder reports the IOMMU units (what the `iommu.firmware` check needs) and
//! skips IVMD blocks and IVHD device entries by length. Like [`super::dmar`], it is pure
//! and total, and keeps the blocks decoded before an error.

use serde::Serialize;

use super::{
    Decoded, LeBytes, ParseResult, SdtHeader, TableError, TableErrorKind, frame, ser_hex_opt_u64,
    ser_hex_u64,
};

/// Signature of the IVRS table.
pub const IVRS_SIGNATURE: &str = "IVRS";

/// Size of the IVRS fixed part: ACPI header, IVinfo (offset 36), 8 reserved bytes.
/// AMD #48882 §5.2 (IVRS header).
pub const IVRS_FIXED_LEN: usize = 48;

/// Block header: Type, Flags, Length (u16). AMD #48882 §5.2.
const BLOCK_HEADER_LEN: usize = 4;

/// Fixed part of an IVHD of type 10h (24 bytes) and of types 11h/40h (40 bytes),
/// before the device entries. AMD #48882 §5.2 (IVHD); ACPICA `ACPI_IVRS_HARDWARE1/2`.
const IVHD_10_LEN: usize = 24;
const IVHD_11_LEN: usize = 40;

/// Fixed size of an IVMD block. AMD #48882 §5.2 (IVMD); ACPICA `ACPI_IVRS_MEMORY`.
const IVMD_LEN: usize = 32;

/// A decoded IVRS table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ivrs {
    /// The ACPI table header.
    pub header: SdtHeader,
    /// The table's bytes sum to zero (ACPI 6.5 §5.2.6).
    pub checksum_valid: bool,
    /// IVinfo (offset 36), decoded.
    pub ivinfo: IvInfo,
    /// Definition blocks in table order.
    pub blocks: Vec<IvrsBlock>,
}

/// IVinfo: the common IOMMU capabilities. AMD #48882 §5.2 (IVinfo field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IvInfo {
    /// The u32 as stored.
    pub raw: u32,
    /// Bit 0 EFRSup: IVHD types 11h/40h carry an EFR register image.
    pub efr_supported: bool,
    /// Bit 1 DMA remap support: the firmware asks the OS to keep DMA remapping on
    /// (pre-boot DMA protection; AMD's counterpart of DMAR's platform opt-in).
    pub dma_remap_supported: bool,
    /// Bits 7:5 GVAsize: guest virtual address size code (2 = 48 bits).
    pub guest_virtual_address_size_code: u8,
    /// Bits 14:8 PAsize: physical address size in bits.
    pub physical_address_size_bits: u8,
    /// Bits 21:15 VAsize: virtual address size in bits.
    pub virtual_address_size_bits: u8,
    /// Bit 22 HtAtsResv: the HyperTransport ATS range is reserved.
    pub ht_ats_reserved: bool,
}

impl IvInfo {
    /// Decodes IVinfo.
    pub fn from_raw(raw: u32) -> Self {
        IvInfo {
            raw,
            efr_supported: raw & 0x1 != 0,
            dma_remap_supported: raw & 0x2 != 0,
            guest_virtual_address_size_code: ((raw >> 5) & 0x7) as u8,
            physical_address_size_bits: ((raw >> 8) & 0x7f) as u8,
            virtual_address_size_bits: ((raw >> 15) & 0x7f) as u8,
            ht_ats_reserved: raw & (1 << 22) != 0,
        }
    }
}

/// One definition block. JSON: an object whose `type` is `IVHD`, `IVMD` or `unknown`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum IvrsBlock {
    /// Types 10h, 11h, 40h: an IOMMU.
    #[serde(rename = "IVHD")]
    Ivhd(Ivhd),
    /// Types 20h, 21h, 22h: a memory definition, skipped (offset and length only).
    #[serde(rename = "IVMD")]
    Ivmd(SkippedBlock),
    /// Any other type, skipped by length.
    #[serde(rename = "unknown")]
    Unknown(SkippedBlock),
}

impl IvrsBlock {
    /// Byte offset of the block from the start of the table.
    pub fn offset(&self) -> usize {
        match self {
            IvrsBlock::Ivhd(b) => b.offset,
            IvrsBlock::Ivmd(b) | IvrsBlock::Unknown(b) => b.offset,
        }
    }

    /// The block's Type byte.
    pub fn type_id(&self) -> u8 {
        match self {
            IvrsBlock::Ivhd(b) => b.type_id,
            IvrsBlock::Ivmd(b) | IvrsBlock::Unknown(b) => b.type_id,
        }
    }
}

/// I/O Virtualization Hardware Definition: one IOMMU. AMD #48882 §5.2 (IVHD).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ivhd {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the block, device entries included.
    pub length: u16,
    /// Block type: 0x10 (legacy), 0x11 (EFR image), 0x40 (EFR image + ACPI HID entries).
    pub type_id: u8,
    /// Flags byte (offset 1): HtTunEn, PassPW, ResPassPW, Isoc, IotlbSup, Coherent,
    /// PrefSup, PPRSup in bits 0–7.
    pub flags: u8,
    /// PCI requester id of the IOMMU itself (offset 4): bus << 8 | device << 3 | function.
    pub device_id: u16,
    /// `DDDD:BB:DD.F` of the IOMMU, from `segment` and `device_id`.
    pub pci_address: String,
    /// Offset of the IOMMU capability block in its PCI config space (offset 6).
    pub capability_offset: u16,
    /// Base address of the IOMMU's MMIO registers (offset 8).
    #[serde(serialize_with = "ser_hex_u64")]
    pub iommu_base_address: u64,
    /// PCI segment group (offset 16).
    pub segment: u16,
    /// IOMMU info (offset 18): MSI number (bits 4:0), UnitID (bits 12:8).
    pub iommu_info: u16,
    /// Type 10h only: IOMMU Feature Reporting (offset 20).
    pub feature_reporting: Option<u32>,
    /// Types 11h/40h: IOMMU Attributes (offset 20).
    pub attributes: Option<u32>,
    /// Types 11h/40h: image of the Extended Feature Register (offset 24).
    #[serde(serialize_with = "ser_hex_opt_u64")]
    pub efr_register_image: Option<u64>,
    /// Types 11h/40h: image of the Extended Feature 2 Register (offset 32; reserved
    /// before rev. 3.05).
    #[serde(serialize_with = "ser_hex_opt_u64")]
    pub efr2_register_image: Option<u64>,
}

/// A block that is skipped: IVMD or an unknown type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedBlock {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// Length of the block.
    pub length: u16,
    /// The Type byte.
    pub type_id: u8,
}

impl Ivrs {
    /// The IOMMU units (IVHD blocks), in table order. Firmware usually describes each
    /// IOMMU two or three times (types 10h, 11h and 40h, for OSes of different ages);
    /// see [`Ivrs::iommus`] for one entry per IOMMU.
    pub fn ivhds(&self) -> impl Iterator<Item = &Ivhd> {
        self.blocks.iter().filter_map(|b| match b {
            IvrsBlock::Ivhd(h) => Some(h),
            _ => None,
        })
    }

    /// One IVHD per IOMMU, keyed by (segment, device id), preferring the newest block
    /// type as Linux does (it uses the highest type it supports: 40h over 11h over 10h,
    /// `drivers/iommu/amd/init.c`, `get_highest_supported_ivhd_type`).
    pub fn iommus(&self) -> Vec<&Ivhd> {
        let mut best: Vec<&Ivhd> = Vec::new();
        for h in self.ivhds() {
            match best
                .iter_mut()
                .find(|b| (b.segment, b.device_id) == (h.segment, h.device_id))
            {
                Some(slot) if rank(h.type_id) > rank(slot.type_id) => *slot = h,
                Some(_) => {}
                None => best.push(h),
            }
        }
        best
    }
}

fn rank(type_id: u8) -> u8 {
    match type_id {
        0x40 => 3,
        0x11 => 2,
        _ => 1,
    }
}

/// Decodes an IVRS table.
///
/// Returns the table, or a [`Decoded`] with the error and the blocks decoded before it.
/// A bad checksum is not an error (see [`Ivrs::checksum_valid`]).
pub fn parse_ivrs(bytes: &[u8]) -> ParseResult<Ivrs> {
    let framed = frame(bytes, IVRS_SIGNATURE, IVRS_FIXED_LEN).map_err(|error| Decoded {
        partial: None,
        error,
    })?;
    let body = framed.body;
    let mut ivrs = Ivrs {
        header: framed.header,
        checksum_valid: framed.checksum_valid,
        ivinfo: IvInfo::from_raw(body.u32_at(36).unwrap_or(0)),
        blocks: Vec::new(),
    };
    let error = match parse_blocks(body, &mut ivrs.blocks) {
        Err(e)
            if framed.truncated.is_some()
                && matches!(
                    e.kind,
                    TableErrorKind::PastEnd { .. } | TableErrorKind::TrailingBytes { .. }
                ) =>
        {
            framed.truncated
        }
        Err(e) => Some(e),
        Ok(()) => framed.truncated,
    };
    match error {
        None => Ok(ivrs),
        Some(error) => Err(Decoded {
            partial: Some(Box::new(ivrs)),
            error,
        }),
    }
}

fn block_name(type_id: u8) -> String {
    match type_id {
        0x10 | 0x11 | 0x40 => format!("IVHD block (type {type_id:#04x})"),
        0x20..=0x22 => format!("IVMD block (type {type_id:#04x})"),
        _ => format!("IVRS block of type {type_id:#04x}"),
    }
}

/// Walks the definition blocks from offset 48; every iteration advances by a length
/// ≥ 4, so the loop ends.
fn parse_blocks(body: &[u8], out: &mut Vec<IvrsBlock>) -> Result<(), TableError> {
    let end = body.len();
    let mut off = IVRS_FIXED_LEN;
    while off < end {
        let (Some(type_id), Some(flags), Some(length)) =
            (body.u8_at(off), body.u8_at(off + 1), body.u16_at(off + 2))
        else {
            return Err(TableError {
                offset: off,
                kind: TableErrorKind::TrailingBytes {
                    what: "IVRS block".into(),
                    remaining: end - off,
                    needed: BLOCK_HEADER_LEN,
                },
            });
        };
        let len = usize::from(length);
        let what = block_name(type_id);
        let err = |kind| TableError { offset: off, kind };
        if len == 0 {
            return Err(err(TableErrorKind::ZeroLength { what }));
        }
        let minimum = match type_id {
            0x10 => IVHD_10_LEN,
            0x11 | 0x40 => IVHD_11_LEN,
            0x20..=0x22 => IVMD_LEN,
            _ => BLOCK_HEADER_LEN,
        };
        if len < minimum {
            return Err(err(TableErrorKind::TooShort {
                what,
                length: len,
                minimum,
            }));
        }
        let Some(b) = body.get(off..off + len) else {
            return Err(err(TableErrorKind::PastEnd {
                what,
                length: len,
                end,
            }));
        };
        let skipped = SkippedBlock {
            offset: off,
            length,
            type_id,
        };
        out.push(match type_id {
            0x10 | 0x11 | 0x40 => IvrsBlock::Ivhd(decode_ivhd(b, off, type_id, flags, length)),
            0x20..=0x22 => IvrsBlock::Ivmd(skipped),
            _ => IvrsBlock::Unknown(skipped),
        });
        off += len;
    }
    Ok(())
}

/// Decodes the fixed part of an IVHD whose bytes `b` cover it (checked by the caller).
fn decode_ivhd(b: &[u8], off: usize, type_id: u8, flags: u8, length: u16) -> Ivhd {
    let device_id = b.u16_at(4).unwrap_or(0);
    let segment = b.u16_at(16).unwrap_or(0);
    let legacy = type_id == 0x10;
    Ivhd {
        offset: off,
        length,
        type_id,
        flags,
        device_id,
        pci_address: format!(
            "{segment:04x}:{:02x}:{:02x}.{}",
            device_id >> 8,
            (device_id >> 3) & 0x1f,
            device_id & 0x7
        ),
        capability_offset: b.u16_at(6).unwrap_or(0),
        iommu_base_address: b.u64_at(8).unwrap_or(0),
        segment,
        iommu_info: b.u16_at(18).unwrap_or(0),
        feature_reporting: if legacy { b.u32_at(20) } else { None },
        attributes: if legacy { None } else { b.u32_at(20) },
        efr_register_image: if legacy { None } else { b.u64_at(24) },
        efr2_register_image: if legacy { None } else { b.u64_at(32) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ivhd(type_id: u8, base: u64, device_id: u16, entries: &[u8]) -> Vec<u8> {
        let mut b = vec![type_id, 0xb0, 0, 0];
        b.extend_from_slice(&device_id.to_le_bytes());
        b.extend_from_slice(&0x40u16.to_le_bytes());
        b.extend_from_slice(&base.to_le_bytes());
        b.extend_from_slice(&0u16.to_le_bytes());
        b.extend_from_slice(&0x1300u16.to_le_bytes());
        if type_id == 0x10 {
            b.extend_from_slice(&0x8004_8f6eu32.to_le_bytes());
        } else {
            b.extend_from_slice(&0x0004_0200u32.to_le_bytes());
            b.extend_from_slice(&0x2465_77ef_a225_4afau64.to_le_bytes());
            b.extend_from_slice(&0u64.to_le_bytes());
        }
        b.extend_from_slice(entries);
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_le_bytes());
        b
    }

    pub(crate) fn table(ivinfo: u32, blocks: &[Vec<u8>]) -> Vec<u8> {
        let mut t = Vec::new();
        t.extend_from_slice(b"IVRS");
        t.extend_from_slice(&[0; 4]);
        t.extend_from_slice(&[2, 0]);
        t.extend_from_slice(b"AMD  \0AmdTable");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(b"AMD ");
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&ivinfo.to_le_bytes());
        t.extend_from_slice(&[0; 8]);
        for b in blocks {
            t.extend_from_slice(b);
        }
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
        t
    }

    #[test]
    fn decodes_ivinfo_and_units() {
        // Device entries: select (type 2) + a 4-byte start/end range.
        let entries = [3, 8, 0, 0, 4, 0xfe, 0xff, 0];
        let mut ivmd = vec![0x21, 0x08, 32, 0];
        ivmd.extend_from_slice(&[0; 28]);
        let t = table(
            0x0020_3043,
            &[
                ivhd(0x10, 0xfd40_0000, 0x0002, &entries),
                ivhd(0x11, 0xfd40_0000, 0x0002, &entries),
                ivmd,
                ivhd(0x40, 0xfd40_0000, 0x0002, &entries),
                vec![0x99, 0, 8, 0, 0, 0, 0, 0],
            ],
        );
        let r = parse_ivrs(&t).expect("valid");
        assert!(r.checksum_valid);
        assert_eq!(r.header.oem_id, "AMD  ");
        assert!(r.ivinfo.efr_supported && r.ivinfo.dma_remap_supported);
        assert_eq!(r.ivinfo.physical_address_size_bits, 48);
        assert_eq!(r.ivinfo.virtual_address_size_bits, 64);
        assert_eq!(r.ivinfo.guest_virtual_address_size_code, 2);
        assert_eq!(r.blocks.len(), 5);
        assert_eq!(r.ivhds().count(), 3);
        let units = r.iommus();
        assert_eq!(units.len(), 1);
        assert_eq!(units[0].type_id, 0x40);
        assert_eq!(units[0].pci_address, "0000:00:00.2");
        assert_eq!(units[0].efr_register_image, Some(0x2465_77ef_a225_4afa));
        let first = r.ivhds().next().expect("ivhd");
        assert_eq!(first.feature_reporting, Some(0x8004_8f6e));
        assert_eq!(first.efr_register_image, None);
        let json = serde_json::to_value(&r).unwrap_or_default();
        assert_eq!(json["blocks"][0]["type"], "IVHD");
        assert_eq!(json["blocks"][0]["iommu_base_address"], "0xfd400000");
        assert_eq!(json["blocks"][2]["type"], "IVMD");
        assert_eq!(json["blocks"][4]["type"], "unknown");
    }

    #[test]
    fn malformed_blocks_name_their_offset() {
        let good = ivhd(0x10, 0xfd20_0000, 2, &[]);
        let mut zero = good.clone();
        zero[2] = 0;
        let e = parse_ivrs(&table(0, &[good.clone(), zero])).expect_err("zero");
        assert_eq!(e.error.offset, 48 + 24);
        assert_eq!(e.partial.map(|p| p.blocks.len()), Some(1));
        let mut short = good.clone();
        short[2] = 20;
        let e = parse_ivrs(&table(0, &[short])).expect_err("short");
        assert!(matches!(
            e.error.kind,
            TableErrorKind::TooShort { minimum: 24, .. }
        ));
        let t = table(0, &[good.clone(), good]);
        for cut in 0..t.len() {
            let e = parse_ivrs(&t[..cut]).expect_err("truncated");
            assert_eq!(e.error.offset, cut);
        }
    }
}
