//! ACPI tables that describe IOMMUs: Intel's DMAR ([`dmar`]) and AMD's IVRS ([`ivrs`]).
//!
//! Pure parsers over `&[u8]`: no I/O, no `unsafe`, no panics on any input. What the two
//! tables share lives here: the 36-byte System Description Table header (ACPI 6.5
//! §5.2.6), the checksum rule (all bytes of the table sum to zero modulo 256), the
//! typed [`TableError`] that always says at which byte offset decoding stopped, and the
//! [`Decoded`] result that keeps whatever was decoded before the error so a verdict can
//! still use it (a table whose third structure is broken still names two IOMMUs).
//!
//! Layout facts come from the Intel VT-d specification (rev. 5.0, chapter 8 "BIOS
//! Considerations"), the AMD I/O Virtualization Technology specification (#48882,
//! rev. 3.x, §5.2 "IVRS") and ACPICA's `actbl1.h`/`actbl2.h` and `dmtbl*.c`, cited at
//! each field.

use std::fmt;

use serde::{Serialize, Serializer};

pub mod dmar;
pub mod ivrs;
pub mod summary;

pub use summary::{summarize_dmar, summarize_ivrs};

/// Size of the System Description Table header every ACPI table starts with
/// (ACPI 6.5 §5.2.6).
pub const SDT_HEADER_LEN: usize = 36;

/// The System Description Table header (ACPI 6.5 §5.2.6).
///
/// Text fields are shown the way ACPICA prints them (`AcpiUtCheckAndRepairAscii`): up to
/// the first NUL, with non-printable bytes replaced by a space, so they compare equal to
/// an `iasl -d` disassembly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SdtHeader {
    /// Table signature (`DMAR`, `IVRS`), bytes 0–3.
    pub signature: String,
    /// Length of the whole table in bytes, header included (bytes 4–7).
    pub length: u32,
    /// Table revision (byte 8). DMAR: 1 (VT-d ≤ 3.x) or 2; IVRS: 1 or 2.
    pub revision: u8,
    /// The stored checksum byte (byte 9).
    pub checksum: u8,
    /// OEM id (bytes 10–15).
    pub oem_id: String,
    /// OEM table id (bytes 16–23).
    pub oem_table_id: String,
    /// OEM revision (bytes 24–27).
    pub oem_revision: u32,
    /// Creator id, "ASL compiler id" in ACPICA (bytes 28–31).
    pub creator_id: String,
    /// Creator revision (bytes 32–35).
    pub creator_revision: u32,
}

/// Why decoding a table stopped. Every error names the byte offset (from the start of
/// the table) of the header, structure or entry that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// Byte offset from the start of the table.
    pub offset: usize,
    /// What was wrong there.
    pub kind: TableErrorKind,
}

/// The kinds of malformation the parsers detect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableErrorKind {
    /// Fewer bytes than the fixed part of the table needs.
    HeaderTruncated {
        /// Bytes needed for the fixed part.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The signature is not the expected one.
    WrongSignature {
        /// The expected signature.
        expected: &'static str,
        /// What bytes 0–3 hold (repaired like the header strings).
        found: String,
    },
    /// The header's length field is below the size of the fixed part.
    LengthBelowMinimum {
        /// The declared table length.
        declared: u32,
        /// The minimum for this table.
        minimum: usize,
    },
    /// The header declares more bytes than were given (a truncated read or file).
    Truncated {
        /// The declared table length.
        declared: u32,
        /// Bytes available.
        available: usize,
    },
    /// A structure or entry declares a length of zero (decoding can't advance).
    ZeroLength {
        /// What was being decoded (`DRHD structure`, `device scope`, `IVHD block`...).
        what: String,
    },
    /// A structure or entry is shorter than its fixed fields.
    TooShort {
        /// What was being decoded.
        what: String,
        /// The declared length.
        length: usize,
        /// The minimum length for that kind.
        minimum: usize,
    },
    /// A structure or entry runs past the end of what contains it.
    PastEnd {
        /// What was being decoded.
        what: String,
        /// The declared length.
        length: usize,
        /// Offset of the first byte after its container (table or parent structure).
        end: usize,
    },
    /// Fewer bytes remain than even a structure header needs.
    TrailingBytes {
        /// What was expected there.
        what: String,
        /// Bytes left before the end of the container.
        remaining: usize,
        /// Bytes a header needs.
        needed: usize,
    },
}

impl fmt::Display for TableErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableErrorKind::HeaderTruncated { needed, available } => write!(
                f,
                "table header truncated: needs {needed} bytes, only {available} present"
            ),
            TableErrorKind::WrongSignature { expected, found } => {
                write!(f, "signature is {found:?}, expected {expected:?}")
            }
            TableErrorKind::LengthBelowMinimum { declared, minimum } => write!(
                f,
                "table length {declared} is below the {minimum} bytes of its fixed part"
            ),
            TableErrorKind::Truncated {
                declared,
                available,
            } => write!(
                f,
                "table truncated: header declares {declared} bytes, only {available} present"
            ),
            TableErrorKind::ZeroLength { what } => write!(f, "{what} has length 0"),
            TableErrorKind::TooShort {
                what,
                length,
                minimum,
            } => write!(
                f,
                "{what} length {length} is below its minimum of {minimum}"
            ),
            TableErrorKind::PastEnd { what, length, end } => write!(
                f,
                "{what} length {length} runs past the end of its container at offset {end:#x}"
            ),
            TableErrorKind::TrailingBytes {
                what,
                remaining,
                needed,
            } => write!(
                f,
                "{remaining} trailing byte(s) cannot hold a {what} header ({needed} bytes)"
            ),
        }
    }
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at offset {:#x} ({}): {}",
            self.offset, self.offset, self.kind
        )
    }
}

impl std::error::Error for TableError {}

/// JSON form: `{"offset": 72, "message": "..."}`.
impl Serialize for TableError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("TableError", 2)?;
        st.serialize_field("offset", &self.offset)?;
        st.serialize_field("message", &self.kind.to_string())?;
        st.end()
    }
}

/// A decoding that stopped early: the error, and what was decoded before it.
///
/// `partial` is `None` only when not even the table header could be decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<T> {
    /// The table as far as it could be decoded (boxed: keeps the `Err` variant small).
    pub partial: Option<Box<T>>,
    /// Why decoding stopped.
    pub error: TableError,
}

impl<T> fmt::Display for Decoded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl<T: fmt::Debug> std::error::Error for Decoded<T> {}

/// What the parsers return: the whole table, or the error with the partial table.
pub type ParseResult<T> = Result<T, Decoded<T>>;

/// True when all `bytes` sum to zero modulo 256: ACPI 6.5 §5.2.6 defines the checksum
/// so that the whole table, checksum byte included, adds up to zero.
pub fn checksum_ok(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b)) == 0
}

/// An ACPI fixed-width text field the way ACPICA prints it: stop at the first NUL, show
/// non-printable bytes as a space (ACPICA `AcpiUtCheckAndRepairAscii`).
pub fn acpi_text(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take_while(|b| **b != 0)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                b as char
            } else {
                ' '
            }
        })
        .collect()
}

/// Little-endian field readers over a slice. Every read is bounds-checked and returns
/// `None` past the end, so callers turn a short read into a [`TableError`] instead of
/// panicking.
pub(crate) trait LeBytes {
    fn u8_at(&self, off: usize) -> Option<u8>;
    fn u16_at(&self, off: usize) -> Option<u16>;
    fn u32_at(&self, off: usize) -> Option<u32>;
    fn u64_at(&self, off: usize) -> Option<u64>;
}

impl LeBytes for [u8] {
    fn u8_at(&self, off: usize) -> Option<u8> {
        self.get(off).copied()
    }
    fn u16_at(&self, off: usize) -> Option<u16> {
        let b = self.get(off..off.checked_add(2)?)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32_at(&self, off: usize) -> Option<u32> {
        let b = self.get(off..off.checked_add(4)?)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64_at(&self, off: usize) -> Option<u64> {
        let b = self.get(off..off.checked_add(8)?)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
}

/// The outcome of the common header step: the header, the checksum verdict and the
/// bytes of the table (at most `length`, fewer when truncated).
pub(crate) struct TableFrame<'a> {
    pub header: SdtHeader,
    pub checksum_valid: bool,
    /// The table bytes to decode: `bytes[..min(length, bytes.len())]`.
    pub body: &'a [u8],
    /// Set when the table is shorter than its header declares; reported after the
    /// structures that did fit were decoded.
    pub truncated: Option<TableError>,
}

/// Decodes the SDT header and checks signature, length and checksum. `fixed_len` is
/// the size of the table's fixed part (header plus table-specific fields).
///
/// Bytes past the declared length are ignored (sysfs gives exactly `length` bytes; a
/// file from `acpidump` tools may be padded).
pub(crate) fn frame<'a>(
    bytes: &'a [u8],
    signature: &'static str,
    fixed_len: usize,
) -> Result<TableFrame<'a>, TableError> {
    let header_truncated = |needed: usize| TableError {
        offset: bytes.len(),
        kind: TableErrorKind::HeaderTruncated {
            needed,
            available: bytes.len(),
        },
    };
    if bytes.len() < SDT_HEADER_LEN {
        return Err(header_truncated(SDT_HEADER_LEN));
    }
    let text = |from: usize, len: usize| acpi_text(bytes.get(from..from + len).unwrap_or(&[]));
    let sig = bytes.get(0..4).unwrap_or(&[]);
    if sig != signature.as_bytes() {
        return Err(TableError {
            offset: 0,
            kind: TableErrorKind::WrongSignature {
                expected: signature,
                found: text(0, 4),
            },
        });
    }
    // The header is 36 bytes and `bytes` has at least that many: these reads succeed.
    let length = bytes.u32_at(4).unwrap_or(0);
    let header = SdtHeader {
        signature: text(0, 4),
        length,
        revision: bytes.u8_at(8).unwrap_or(0),
        checksum: bytes.u8_at(9).unwrap_or(0),
        oem_id: text(10, 6),
        oem_table_id: text(16, 8),
        oem_revision: bytes.u32_at(24).unwrap_or(0),
        creator_id: text(28, 4),
        creator_revision: bytes.u32_at(32).unwrap_or(0),
    };
    if (length as usize) < fixed_len {
        return Err(TableError {
            offset: 4,
            kind: TableErrorKind::LengthBelowMinimum {
                declared: length,
                minimum: fixed_len,
            },
        });
    }
    // The table-specific fixed fields must be present to decode anything further.
    if bytes.len() < fixed_len {
        return Err(header_truncated(fixed_len));
    }
    let declared = length as usize;
    let (body, truncated) = if declared <= bytes.len() {
        (&bytes[..declared], None)
    } else {
        (
            bytes,
            Some(TableError {
                offset: bytes.len(),
                kind: TableErrorKind::Truncated {
                    declared: length,
                    available: bytes.len(),
                },
            }),
        )
    };
    // A truncated table cannot be verified: its checksum is reported invalid.
    let checksum_valid = truncated.is_none() && checksum_ok(body);
    Ok(TableFrame {
        header,
        checksum_valid,
        body,
        truncated,
    })
}

/// Serializes a `u64` address as a lowercase `0x…` hex string without padding.
pub(crate) fn ser_hex_u64<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// Serializes an optional `u64` as a `0x…` hex string or `null`.
pub(crate) fn ser_hex_opt_u64<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_fields_follow_acpica_repair() {
        assert_eq!(acpi_text(b"A M I \0\0"), "A M I ");
        assert_eq!(acpi_text(b"\xd2\x04\0\0"), "  ");
        assert_eq!(acpi_text(b"\0ABC"), "");
        assert_eq!(acpi_text(b"INTEL "), "INTEL ");
    }

    #[test]
    fn checksum_sums_to_zero() {
        assert!(checksum_ok(&[0x10, 0xf0]));
        assert!(!checksum_ok(&[0x10, 0xf1]));
        assert!(checksum_ok(&[]));
    }

    #[test]
    fn reads_are_bounds_checked() {
        let b: &[u8] = &[1, 2, 3];
        assert_eq!(b.u16_at(1), Some(0x0302));
        assert_eq!(b.u16_at(2), None);
        assert_eq!(b.u64_at(usize::MAX - 2), None);
    }

    #[test]
    fn frame_rejects_short_and_wrong_tables() {
        let e = frame(&[0u8; 10], "DMAR", 48).err().map(|e| e.kind);
        assert!(matches!(
            e,
            Some(TableErrorKind::HeaderTruncated { available: 10, .. })
        ));
        let mut t = vec![0u8; 48];
        t[..4].copy_from_slice(b"APIC");
        let e = frame(&t, "DMAR", 48).err().map(|e| e.kind);
        assert!(matches!(e, Some(TableErrorKind::WrongSignature { .. })));
        t[..4].copy_from_slice(b"DMAR");
        t[4] = 40;
        let e = frame(&t, "DMAR", 48).err().map(|e| (e.offset, e.kind));
        assert!(matches!(
            e,
            Some((4, TableErrorKind::LengthBelowMinimum { declared: 40, .. }))
        ));
    }
}
