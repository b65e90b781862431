//! The DMAR and IVRS decoders on the tables QEMU builds for `-device intel-iommu` and
//! `-device amd-iommu` (tests/fixtures/acpi/README.md), checked against ACPICA iasl
//! 20200925's disassembly of the same bytes: the `.dsl` text is read here, field by
//! field, so the expected values come from iasl, not from this code.

use std::path::{Path, PathBuf};

use daos_preflight::facts::acpi::dmar::parse_dmar;
use daos_preflight::facts::acpi::ivrs::{IvrsBlock, parse_ivrs};
use daos_preflight::facts::acpi::{summarize_dmar, summarize_ivrs};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/acpi")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// One `[OFFh DDDD  L]   Field Name : value` line of an iasl disassembly.
#[derive(Debug)]
struct DslField {
    offset: usize,
    name: String,
    value: String,
}

fn dsl_fields(name: &str) -> Vec<DslField> {
    let text = std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('[')?;
            let (pos, field) = rest.split_once(']')?;
            let offset =
                usize::from_str_radix(pos.split_whitespace().next()?.strip_suffix('h')?, 16)
                    .ok()?;
            let (name, value) = field.split_once(" : ")?;
            Some(DslField {
                offset,
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            })
        })
        .collect()
}

/// The hex number at the start of an iasl value (`00000000FED80000`, `10 [Hardware...]`).
fn hex(value: &str) -> u64 {
    let digits = value.split_whitespace().next().unwrap_or_default();
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("{value:?}: {e}"))
}

/// A quoted iasl string value.
fn quoted(value: &str) -> String {
    value
        .split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("not a string: {value}"))
        .to_string()
}

fn field<'a>(fields: &'a [DslField], name: &str) -> &'a str {
    &fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("iasl printed no {name:?}"))
        .value
}

#[test]
fn qemu_ivrs_matches_iasl() {
    let bytes = read("qemu-7.2-q35-amd-iommu.IVRS");
    let fields = dsl_fields("qemu-7.2-q35-amd-iommu.IVRS.iasl-20200925.dsl");
    let ivrs = parse_ivrs(&bytes).expect("QEMU's IVRS decodes");
    assert!(ivrs.checksum_valid);
    let h = &ivrs.header;
    assert_eq!(h.signature, quoted(field(&fields, "Signature")));
    assert_eq!(u64::from(h.length), hex(field(&fields, "Table Length")));
    assert_eq!(u64::from(h.revision), hex(field(&fields, "Revision")));
    assert_eq!(u64::from(h.checksum), hex(field(&fields, "Checksum")));
    assert_eq!(h.oem_id, quoted(field(&fields, "Oem ID")));
    assert_eq!(h.oem_table_id, quoted(field(&fields, "Oem Table ID")));
    assert_eq!(h.creator_id, quoted(field(&fields, "Asl Compiler ID")));
    let ivinfo = fields
        .iter()
        .find(|f| f.offset == 0x24)
        .expect("IVinfo at 0x24");
    assert_eq!(hex(&ivinfo.value), u64::from(ivrs.ivinfo.raw));
    assert_eq!(ivrs.ivinfo.physical_address_size_bits, 40);

    // Every "Subtable Type" is a block; its fields follow until the first device entry.
    let mut compared = 0;
    let starts: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.name == "Subtable Type")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts.len(), ivrs.blocks.len(), "block count");
    for (&i, block) in starts.iter().zip(&ivrs.blocks) {
        let own: Vec<&DslField> = fields[i..]
            .iter()
            .take_while(|f| f.name != "Entry Type")
            .take_while(|f| f.offset == fields[i].offset || f.name != "Subtable Type")
            .collect();
        assert_eq!(block.offset(), fields[i].offset);
        assert_eq!(u64::from(block.type_id()), hex(&fields[i].value));
        let IvrsBlock::Ivhd(u) = block else {
            continue;
        };
        for f in own {
            let v = hex(&f.value);
            let (ours, what) = match f.name.as_str() {
                "Flags" => (u64::from(u.flags), "flags"),
                "Length" => (u64::from(u.length), "length"),
                "DeviceId" => (u64::from(u.device_id), "device_id"),
                "Capability Offset" => (u64::from(u.capability_offset), "capability_offset"),
                "Base Address" => (u.iommu_base_address, "iommu_base_address"),
                "PCI Segment Group" => (u64::from(u.segment), "segment"),
                "Virtualization Info" => (u64::from(u.iommu_info), "iommu_info"),
                "Feature Reporting" => (u64::from(u.feature_reporting.unwrap_or(0)), "features"),
                "Attributes" => (u64::from(u.attributes.unwrap_or(0)), "attributes"),
                "EFR Image" => (u.efr_register_image.unwrap_or(0), "efr"),
                _ => continue,
            };
            assert_eq!(ours, v, "IVHD @{:#x} {what} ({})", u.offset, f.name);
            compared += 1;
        }
    }
    assert!(compared >= 8, "only {compared} IVHD fields compared");

    let units = ivrs.iommus();
    assert_eq!(units.len(), 1);
    assert_eq!(units[0].pci_address, "0000:00:03.0");
    let s = summarize_ivrs(&parse_ivrs(&bytes));
    assert_eq!(s.units.len(), 1);
    assert_eq!(s.units[0].register_base_address, "0xfed80000");
    // QEMU leaves VAsize 0: unknown, not "0 bits".
    assert_eq!(s.host_address_width_bits, None);
}

#[test]
fn qemu_dmar_matches_iasl() {
    let bytes = read("qemu-7.2-q35-intel-iommu.DMAR");
    let fields = dsl_fields("qemu-7.2-q35-intel-iommu.DMAR.iasl-20200925.dsl");
    let dmar = parse_dmar(&bytes).expect("QEMU's DMAR decodes");
    assert!(dmar.checksum_valid);
    assert_eq!(
        u64::from(dmar.host_address_width),
        hex(field(&fields, "Host Address Width"))
    );
    let subtables: Vec<(usize, u64)> = fields
        .iter()
        .filter(|f| f.name == "Subtable Type")
        .map(|f| (f.offset, hex(&f.value)))
        .collect();
    let ours: Vec<(usize, u64)> = dmar
        .structures
        .iter()
        .map(|s| (s.offset(), u64::from(s.type_id())))
        .collect();
    assert_eq!(ours, subtables);
    let scopes: Vec<(usize, u64)> = fields
        .iter()
        .filter(|f| f.name == "Device Scope Type")
        .map(|f| (f.offset, hex(&f.value)))
        .collect();
    let our_scopes: Vec<(usize, u64)> = dmar
        .structures
        .iter()
        .flat_map(|s| s.scopes())
        .map(|s| (s.offset, u64::from(s.type_id)))
        .collect();
    assert_eq!(our_scopes, scopes);
    let buses: Vec<u64> = fields
        .iter()
        .filter(|f| f.name == "PCI Bus Number")
        .map(|f| hex(&f.value))
        .collect();
    let our_buses: Vec<u64> = dmar
        .structures
        .iter()
        .flat_map(|s| s.scopes())
        .map(|s| u64::from(s.start_bus))
        .collect();
    assert_eq!(our_buses, buses);
    let s = summarize_dmar(&parse_dmar(&bytes));
    assert_eq!(s.units.len(), 1);
    assert_eq!(
        s.units[0].register_base_address,
        format!("{:#x}", hex(field(&fields, "Register Base Address")))
    );
    assert_eq!(s.intr_remap, Some(true));
}
