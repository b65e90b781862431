//! PCI addresses in `bdev_list` and `bdev_busid_range`, read the way DAOS reads them while
//! loading the file (`yaml.UnmarshalStrict` calls these decoders, so a bad value stops
//! `Load`): src/control/lib/hardware/pci.go `NewPCIAddress` / `parsePCIAddress` /
//! `parseVMDAddress`, server/storage/config.go `maybePCI`, `BdevDeviceList.fromStrings`,
//! `BdevBusRange.UnmarshalYAML` and `parsePCIBusRange` (the same in DAOS 2.2 to 2.8).

use std::collections::BTreeSet;

use super::Out;
use crate::daos::config::yaml::Pos;

/// True for a string DAOS takes as a PCI address (storage/config.go `maybePCI`): three
/// `:`-separated parts of 4 or 6, 2 and at least 2 characters. Anything else in
/// `bdev_list` is a file or block-device path.
pub fn maybe_pci(addr: &str) -> bool {
    let c: Vec<&str> = addr.split(':').collect();
    c.len() == 3 && (c[0].len() == 6 || c[0].len() == 4) && c[1].len() == 2 && c[2].len() >= 2
}

/// Go's `strconv.ParseUint(s, 16, bits)`: hex digits only (no prefix, no sign), not empty.
fn hex(s: &str, max: u64) -> Result<u64, String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not a hexadecimal number"));
    }
    match u64::from_str_radix(s, 16) {
        Ok(v) if v <= max => Ok(v),
        _ => Err(format!("{s:?} is out of range (at most {max:#x})")),
    }
}

/// A PCI address in DAOS's canonical spelling (pci.go `PCIAddress.String`), or why DAOS
/// refuses it. A domain above 0xffff (6 hex digits) is a VMD backing device address.
pub fn parse_pci(addr: &str) -> Result<String, String> {
    let parts: Vec<&str> = addr.split(':').collect();
    let last = parts.last().copied().unwrap_or("");
    let df: Vec<&str> = last.split('.').collect();
    if parts.len() != 3 || df.len() != 2 {
        return Err("it is not DOMAIN:BUS:DEVICE.FUNCTION (e.g. 0000:81:00.0)".into());
    }
    let dom = hex(parts[0], u64::MAX)?;
    let bus = hex(parts[1], 0xff)?;
    let dev = hex(df[0], 0xff)?;
    let fun = hex(df[1], 0xff)?;
    let dom_s = if dom > 0xffff {
        // parseVMDAddress: the 6-digit domain is the VMD's own bus, device, function
        let d = format!("{:0>6}", parts[0].to_ascii_lowercase());
        d.chars()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    } else {
        format!("{dom:04x}")
    };
    Ok(format!("{dom_s}:{bus:02x}:{dev:02x}.{fun:x}"))
}

/// Go's `strconv.ParseUint(s, 0, 8)`: decimal, `0x`/`0o`/`0b` prefixes or a leading `0`
/// for octal, `_` between digits.
fn go_uint8(s: &str) -> Result<u8, String> {
    let (radix, digits, prefixed) = match s.get(..2).map(|p| p.to_ascii_lowercase()) {
        Some(p) if p == "0x" => (16, &s[2..], true),
        Some(p) if p == "0o" => (8, &s[2..], true),
        Some(p) if p == "0b" => (2, &s[2..], true),
        _ if s.len() > 1 && s.starts_with('0') => (8, &s[1..], true),
        _ => (10, s, false),
    };
    let groups: Vec<&str> = digits.split('_').collect();
    let underscores_ok = groups
        .iter()
        .enumerate()
        .all(|(i, g)| !g.is_empty() || (i == 0 && prefixed && groups.len() > 1));
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    if clean.is_empty() || !underscores_ok {
        return Err(format!("{s:?} is not a number"));
    }
    match u64::from_str_radix(&clean, radix) {
        Ok(v) if v <= 0xff => Ok(v as u8),
        Ok(_) => Err(format!("{s:?} is out of range (a PCI bus is 0 to 255)")),
        Err(_) => Err(format!("{s:?} is not a number")),
    }
}

/// storage/config.go `parsePCIBusRange`: `BEGIN-END`, each a number Go's ParseUint reads
/// (0x80, 128, 0200), BEGIN ≤ END; empty is no filter.
pub fn parse_bus_range(s: &str) -> Result<Option<(u8, u8)>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 2 {
        return Err("it is not BEGIN-END".into());
    }
    let lo = go_uint8(parts[0])?;
    let hi = go_uint8(parts[1])?;
    if lo > hi {
        return Err(format!(
            "the range starts after it ends ({lo:#04x} > {hi:#04x})"
        ));
    }
    Ok(Some((lo, hi)))
}

/// `BdevDeviceList.fromStrings`: each PCI-looking entry must parse, no entry twice (PCI
/// addresses compared as addresses), and PCI and non-PCI entries not mixed. Returns the
/// number of PCI addresses that parsed.
pub(super) fn check_bdev_list(
    out: &mut Out,
    list: &[String],
    key: &str,
    pos: Option<Pos>,
) -> usize {
    let mut pci = BTreeSet::new();
    let mut other = BTreeSet::new();
    for a in list {
        if !maybe_pci(a) {
            if !other.insert(a.as_str()) {
                out.decode_err(
                    pos,
                    key,
                    format!("{key}: {a:?} is listed twice"),
                    None,
                    Some(format!("list {a} once")),
                );
            }
            continue;
        }
        match parse_pci(a) {
            Ok(c) => {
                if !pci.insert(c.clone()) {
                    out.decode_err(pos, key, format!("{key}: PCI address {a} is listed twice (as {c})"), None, Some(format!("list {c} once")));
                }
            }
            Err(why) => out.decode_err(
                pos,
                key,
                format!("{key}: {a:?} is not a PCI address DAOS can read: {why}"),
                None,
                Some("write NVMe SSDs as DOMAIN:BUS:DEVICE.FUNCTION in hex, as `lspci -D` or `daos_server nvme scan` show them (e.g. \"0000:81:00.0\")".into()),
            ),
        }
    }
    if !pci.is_empty() && !other.is_empty() {
        out.decode_err(
            pos,
            key,
            format!("{key}: PCI addresses and non-PCI paths are mixed"),
            None,
            Some("use one kind per tier: PCI addresses for class nvme, paths for file/kdev".into()),
        );
    }
    pci.len()
}

/// The canonical form of a `bdev_list` entry, for comparing lists (PCI addresses as
/// DAOS prints them, other entries as written).
pub fn canonical_bdev(a: &str) -> String {
    if maybe_pci(a) {
        parse_pci(a).unwrap_or_else(|_| a.to_string())
    } else {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_addresses_as_pci_go_reads_them() {
        assert_eq!(parse_pci("0000:81:00.0").unwrap(), "0000:81:00.0");
        assert_eq!(parse_pci("0000:8A:00.00").unwrap(), "0000:8a:00.0");
        assert_eq!(parse_pci("0000:81:ff.ff").unwrap(), "0000:81:ff.ff");
        assert_eq!(parse_pci("5d0505:01:00.0").unwrap(), "5d0505:01:00.0");
        for bad in [
            "0000:00:00",
            "0000:81:00.0.0",
            "0000:zz:00.0",
            "0000:81:100.0",
            "0000:81:00.100",
            "zz0505:01:00.0",
            "0000:81:00.",
            "0x00:81:00.0",
        ] {
            assert!(parse_pci(bad).is_err(), "{bad}");
        }
        assert!(maybe_pci("0000:00:00"));
        assert!(!maybe_pci("00000:81:00.0"));
        assert!(!maybe_pci("/dev/sda"));
    }

    #[test]
    fn bus_ranges_as_parse_uint_base_0() {
        assert_eq!(parse_bus_range("0x80-0x8f").unwrap(), Some((0x80, 0x8f)));
        assert_eq!(parse_bus_range("1-2").unwrap(), Some((1, 2)));
        assert_eq!(parse_bus_range("").unwrap(), None);
        assert_eq!(parse_bus_range("0b1-0o7").unwrap(), Some((1, 7)));
        assert_eq!(parse_bus_range("1_0-2_0").unwrap(), Some((10, 20)));
        assert_eq!(parse_bus_range("010-077").unwrap(), Some((8, 63)));
        assert_eq!(parse_bus_range("0X80-0X8F").unwrap(), Some((0x80, 0x8f)));
        for bad in [
            "0x8f-0x80",
            "80-8f",
            "0x80",
            "0x80-0x100",
            "08-09",
            "0x80 - 0x8f",
            "-",
            "1__0-2",
        ] {
            assert!(parse_bus_range(bad).is_err(), "{bad}");
        }
    }
}
