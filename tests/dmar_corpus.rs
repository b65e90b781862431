//! The DMAR decoder against real firmware: every table in `shared/corpus/dmar/` is
//! decoded and compared, field by field, with its `*.expected.json` — ACPICA iasl
//! 20260408's disassembly of that table turned into JSON (corpus README, "dmar/"). The
//! oracle is independent of this code: nothing here generates expected output.
//!
//! The comparison goes through the JSON this tool prints (`acpi dmar --format json`),
//! so the output contract is checked along with the decoder. Named tests pin the values
//! the upstream projects themselves assert (Google ecclesia's `dmar_test.cc`, fwupd's
//! acpi-dmar self test), and one test runs the real binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use daos_preflight::facts::acpi::dmar::{Dmar, RemappingStructure, parse_dmar};
use serde_json::Value;

/// `<checkout>/../shared/corpus/dmar` (the same layout on a workstation and in CI).
fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dmar")
}

/// Every raw table in the corpus: files that are not an oracle, a disassembly, a
/// second decoding or an index.
fn corpus_tables() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in rd.flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
                continue;
            }
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let side_file = [".json", ".dsl", ".txt", ".tsv", ".md"]
                .iter()
                .any(|ext| name.ends_with(ext));
            if !side_file {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&corpus_dir(), &mut out);
    out.sort();
    out
}

/// `x.dat` → `x.expected.json`; a raw name without `.dat` → `name.expected.json`.
fn oracle_path(table: &Path) -> PathBuf {
    let name = table
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = name.strip_suffix(".dat").unwrap_or(name);
    table.with_file_name(format!("{stem}.expected.json"))
}

fn rel(p: &Path) -> String {
    p.strip_prefix(corpus_dir())
        .unwrap_or(p)
        .display()
        .to_string()
}

fn read_table(rel_path: &str) -> Vec<u8> {
    let p = corpus_dir().join(rel_path);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn decode(rel_path: &str) -> Dmar {
    parse_dmar(&read_table(rel_path)).unwrap_or_else(|e| panic!("{rel_path}: {e}"))
}

/// Collects mismatches as "table @offset field: ours X, iasl Y".
struct Diff<'a> {
    table: &'a str,
    problems: Vec<String>,
}

impl Diff<'_> {
    fn same(&mut self, offset: u64, field: &str, ours: &Value, oracle: &Value) {
        if ours != oracle {
            self.problems.push(format!(
                "{} @{offset:#x} ({offset}) {field}: ours {ours}, iasl {oracle}",
                self.table
            ));
        }
    }

    fn note(&mut self, offset: u64, msg: String) {
        self.problems
            .push(format!("{} @{offset:#x} ({offset}) {msg}", self.table));
    }
}

/// Our `0x…` string as a JSON number, to compare with iasl's numbers.
fn hex_value(v: &Value) -> Value {
    match v.as_str().and_then(|s| s.strip_prefix("0x")) {
        Some(h) => u64::from_str_radix(h, 16)
            .map(Value::from)
            .unwrap_or(Value::Null),
        None => Value::String(format!("not a 0x string: {v}")),
    }
}

/// iasl's subtable `type_name` → our structure `type`.
fn structure_type(iasl_name: &str) -> Option<&'static str> {
    Some(match iasl_name {
        "Hardware Unit Definition" => "DRHD",
        "Reserved Memory Region" => "RMRR",
        "Root Port ATS Capability" => "ATSR",
        "Remapping Hardware Static Affinity" => "RHSA",
        "ACPI Namespace Device Declaration" => "ANDD",
        "SoC Integrated Address Translation Cache" => "SATC",
        "SoC Integrated Device Property" => "SIDP",
        _ => return None,
    })
}

/// iasl's device scope `type_name` → our scope `type`.
fn scope_type(iasl_name: &str) -> Option<&'static str> {
    Some(match iasl_name {
        "PCI Endpoint Device" => "pci_endpoint",
        "PCI Bridge Device" => "pci_subhierarchy",
        "IOAPIC Device" => "ioapic",
        "Message-capable HPET Device" => "msi_hpet",
        "Namespace Device" => "acpi_namespace_device",
        _ => return None,
    })
}

/// How an oracle field maps onto ours.
enum Map {
    /// Same value under our key.
    Same(&'static str),
    /// Our key holds a `0x…` string.
    Hex(&'static str),
    /// Checked elsewhere (type, offset, scopes) or only descriptive.
    Handled,
}

fn structure_field(key: &str) -> Option<Map> {
    Some(match key {
        "offset" | "type" | "type_name" | "device_scopes" => Map::Handled,
        "length" => Map::Same("length"),
        "flags" => Map::Same("flags"),
        "size" => Map::Same("size"),
        "pci_segment_number" => Map::Same("segment"),
        "register_base_address" => Map::Hex("register_base_address"),
        "end_address" => Map::Hex("end_address"),
        "proximity_domain" => Map::Same("proximity_domain"),
        "device_number" => Map::Same("device_number"),
        "device_name" => Map::Same("object_name"),
        // iasl calls the RHSA register base "Base Address"; so does the RMRR base.
        "base_address" => Map::Hex("base_address"),
        _ => return None,
    })
}

fn scope_field(key: &str) -> Option<Map> {
    Some(match key {
        "offset" | "type_name" | "path" => Map::Handled,
        "type" => Map::Same("type_id"),
        "entry_length" => Map::Same("length"),
        "flags" => Map::Same("flags"),
        "enumeration_id" => Map::Same("enumeration_id"),
        "pci_bus_number" => Map::Same("start_bus"),
        _ => return None,
    })
}

fn compare_header(d: &mut Diff, ours: &Value, bytes: &[u8], oracle: &Value) {
    let h = &ours["header"];
    let pairs = [
        ("signature", &h["signature"]),
        ("table_length", &h["length"]),
        ("revision", &h["revision"]),
        ("checksum", &h["checksum"]),
        ("oem_id", &h["oem_id"]),
        ("oem_table_id", &h["oem_table_id"]),
        ("oem_revision", &h["oem_revision"]),
        ("asl_compiler_id", &h["creator_id"]),
        ("asl_compiler_revision", &h["creator_revision"]),
        ("host_address_width", &ours["host_address_width"]),
        ("dma_address_width_bits", &ours["host_address_width_bits"]),
        ("flags", &ours["flags"]["raw"]),
    ];
    let o = &oracle["header"];
    for (key, value) in pairs {
        d.same(0, &format!("header.{key}"), value, &o[key]);
    }
    let flags = [
        ("INTR_REMAP", "intr_remap"),
        ("X2APIC_OPT_OUT", "x2apic_opt_out"),
        ("DMA_CTRL_PLATFORM_OPT_IN", "dma_ctrl_platform_opt_in"),
    ];
    for (theirs, mine) in flags {
        d.same(
            0x25,
            &format!("flags.{mine}"),
            &ours["flags"][mine],
            &o["flags_decoded"][theirs],
        );
    }
    let known = pairs.iter().map(|p| p.0).chain(["flags_decoded"]);
    let known: Vec<&str> = known.collect();
    if let Some(obj) = o.as_object() {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            d.note(0, format!("oracle header field {key:?} is not compared"));
        }
    }
    // The oracle has no checksum verdict: recompute it independently of the decoder.
    let declared = o["table_length"].as_u64().unwrap_or(0) as usize;
    let sum_ok = bytes
        .get(..declared)
        .map(|t| t.iter().fold(0u8, |a, b| a.wrapping_add(*b)) == 0);
    d.same(
        9,
        "checksum_valid",
        &ours["checksum_valid"],
        &Value::from(sum_ok.unwrap_or(false)),
    );
}

fn compare_scopes(d: &mut Diff, at: u64, ours: &Value, oracle: &Value) {
    let empty = Vec::new();
    let ours = ours.as_array().unwrap_or(&empty);
    let theirs = oracle.as_array().unwrap_or(&empty);
    if ours.len() != theirs.len() {
        d.note(
            at,
            format!(
                "device scope count: ours {}, iasl {}",
                ours.len(),
                theirs.len()
            ),
        );
    }
    for (s, o) in ours.iter().zip(theirs) {
        let off = o["offset"].as_u64().unwrap_or(u64::MAX);
        d.same(off, "scope.offset", &s["offset"], &o["offset"]);
        let want = o["type_name"].as_str().and_then(scope_type);
        d.same(
            off,
            "scope.type",
            &s["type"],
            &want.map(Value::from).unwrap_or(Value::Null),
        );
        for (key, val) in o.as_object().into_iter().flatten() {
            match scope_field(key) {
                Some(Map::Same(k)) => d.same(off, &format!("scope.{k}"), &s[k], val),
                Some(Map::Hex(k)) => d.same(off, &format!("scope.{k}"), &hex_value(&s[k]), val),
                Some(Map::Handled) => {}
                None => d.note(off, format!("oracle scope field {key:?} is not compared")),
            }
        }
        let path: Vec<Value> = s["path"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .map(|hop| Value::from(vec![hop["device"].clone(), hop["function"].clone()]))
            .collect();
        d.same(off, "scope.path", &Value::from(path), &o["path"]);
    }
}

fn compare_structures(d: &mut Diff, ours: &Value, oracle: &Value) {
    let empty = Vec::new();
    let ours = ours["structures"].as_array().unwrap_or(&empty);
    let theirs = oracle["subtables"].as_array().unwrap_or(&empty);
    if ours.len() != theirs.len() {
        d.note(
            0x30,
            format!(
                "structure count: ours {}, iasl {}",
                ours.len(),
                theirs.len()
            ),
        );
    }
    for (s, o) in ours.iter().zip(theirs) {
        let off = o["offset"].as_u64().unwrap_or(u64::MAX);
        d.same(off, "offset", &s["offset"], &o["offset"]);
        let want = o["type_name"].as_str().and_then(structure_type);
        d.same(
            off,
            "type",
            &s["type"],
            &want.map(Value::from).unwrap_or(Value::Null),
        );
        for (key, val) in o.as_object().into_iter().flatten() {
            // The RHSA's "base_address" is its register base; ours says so.
            let key_here = if key == "base_address" && want == Some("RHSA") {
                "register_base_address"
            } else {
                key.as_str()
            };
            match structure_field(key_here) {
                Some(Map::Same(k)) => d.same(off, k, &s[k], val),
                Some(Map::Hex(k)) => d.same(off, k, &hex_value(&s[k]), val),
                Some(Map::Handled) => {}
                None => d.note(off, format!("oracle field {key:?} is not compared")),
            }
        }
        // Flag bits we decode, from the oracle's raw flags.
        let bit0 = o["flags"].as_u64().map(|f| Value::from(f & 1 == 1));
        match (want, bit0) {
            (Some("DRHD"), Some(b)) => d.same(off, "include_pci_all", &s["include_pci_all"], &b),
            (Some("ATSR"), Some(b)) => d.same(off, "all_ports", &s["all_ports"], &b),
            (Some("SATC"), Some(b)) => d.same(off, "atc_required", &s["atc_required"], &b),
            _ => {}
        }
        let no_scopes = Value::Array(Vec::new());
        let our_scopes = s.get("scopes").unwrap_or(&no_scopes);
        compare_scopes(d, off, our_scopes, &o["device_scopes"]);
    }
}

#[test]
fn every_corpus_table_matches_the_iasl_oracle() {
    let tables = corpus_tables();
    assert!(
        !tables.is_empty(),
        "no DMAR tables found under {}",
        corpus_dir().display()
    );
    let mut problems = Vec::new();
    let mut structures = 0;
    let mut scopes = 0;
    for table in &tables {
        let name = rel(table);
        let mut d = Diff {
            table: &name,
            problems: Vec::new(),
        };
        let bytes = std::fs::read(table).unwrap_or_else(|e| panic!("{name}: {e}"));
        let oracle_file = oracle_path(table);
        let oracle: Value = match std::fs::read_to_string(&oracle_file)
            .map_err(|e| e.to_string())
            .and_then(|s| serde_json::from_str(&s).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}: oracle {}: {e}", rel(&oracle_file)));
                continue;
            }
        };
        let dmar = match parse_dmar(&bytes) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{name}: decoding failed {e}"));
                continue;
            }
        };
        structures += dmar.structures.len();
        scopes += dmar
            .structures
            .iter()
            .map(|s| s.scopes().len())
            .sum::<usize>();
        let ours = serde_json::to_value(&dmar).unwrap_or(Value::Null);
        compare_header(&mut d, &ours, &bytes, &oracle);
        compare_structures(&mut d, &ours, &oracle);
        problems.extend(d.problems);
    }
    // Every oracle must have had its table.
    let oracles = tables.iter().filter(|t| oracle_path(t).exists()).count();
    assert!(
        problems.is_empty(),
        "{} mismatch(es) over {} tables:\n{}",
        problems.len(),
        tables.len(),
        problems.join("\n")
    );
    assert_eq!(oracles, tables.len());
    eprintln!(
        "verified {} DMAR tables ({structures} structures, {scopes} device scopes) against iasl",
        tables.len()
    );
}

#[test]
fn corpus_has_an_oracle_for_every_table_and_a_table_for_every_oracle() {
    let tables = corpus_tables();
    let mut oracles = Vec::new();
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.to_string_lossy().ends_with(".expected.json") {
                out.push(p);
            }
        }
    }
    walk(&corpus_dir(), &mut oracles);
    oracles.sort();
    let mut expected: Vec<PathBuf> = tables.iter().map(|t| oracle_path(t)).collect();
    expected.sort();
    assert!(!oracles.is_empty(), "no oracles found");
    assert_eq!(expected, oracles);
}

/// Google ecclesia-machine-management `ecclesia/lib/acpi/dmar_test.cc` asserts these on
/// its real AMI server table (corpus README).
#[test]
fn ecclesia_values_match_googles_own_test() {
    let d = decode("ecclesia/sys_firmware_acpi_tables_DMAR");
    assert_eq!(d.header.length, 0x160);
    let bases: Vec<u64> = d.drhds().map(|u| u.register_base_address).collect();
    assert_eq!(bases, [0xD37F_C000, 0xE0FF_C000, 0xEE7F_C000]);
    let rmrr: Vec<(u64, u64)> = d.rmrrs().map(|r| (r.base_address, r.end_address)).collect();
    assert_eq!(rmrr, [(0x7546_0000, 0x7547_0FFF)]);
    let rhsa: Vec<(u64, u32)> = d
        .rhsas()
        .map(|r| (r.register_base_address, r.proximity_domain))
        .collect();
    assert_eq!(rhsa, [(0x9D7F_C000, 0), (0xAAFF_C000, 0)]);
    assert!(d.checksum_valid);
    assert_eq!(d.host_address_width_bits, 46);
}

/// fwupd `plugins/acpi-dmar` self test: `DMAR` opts in to DMA protection,
/// `DMAR-OPTOUT` (the same table with bit 2 cleared) does not.
#[test]
fn fwupd_platform_opt_in_flag() {
    let opt_in = decode("fwupd/DMAR");
    assert!(opt_in.flags.dma_ctrl_platform_opt_in);
    let opt_out = decode("fwupd/DMAR-OPTOUT");
    assert!(!opt_out.flags.dma_ctrl_platform_opt_in);
    assert!(opt_in.checksum_valid && opt_out.checksum_valid);
    assert_eq!(opt_in.structures, opt_out.structures);
}

/// The template covers every structure type but ANDD (corpus README).
#[test]
fn acpica_template_has_every_type_but_andd() {
    let d = decode("acpica-template/dmar-template-iasl-20260408.dat");
    let names: Vec<&str> = d.structures.iter().map(|s| s.type_name()).collect();
    assert_eq!(names, ["DRHD", "RMRR", "ATSR", "RHSA", "SATC", "SIDP"]);
    assert!(matches!(d.structures[0], RemappingStructure::Drhd(ref u) if u.include_pci_all));
}

/// The real binary: `acpi dmar FILE --format json` prints the decoding on stdout.
#[test]
fn cli_decodes_a_corpus_table_as_json() {
    let file = corpus_dir().join("ecclesia/sys_firmware_acpi_tables_DMAR");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["acpi", "dmar"])
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .expect("run daos-preflight");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["header"]["signature"], "DMAR");
    assert_eq!(v["header"]["oem_id"], "ALASKA");
    assert_eq!(v["host_address_width_bits"], 46);
    assert_eq!(v["checksum_valid"], true);
    assert_eq!(v["flags"]["intr_remap"], true);
    assert_eq!(v["structures"][0]["type"], "DRHD");
    assert_eq!(v["structures"][0]["register_base_address"], "0xd37fc000");
    assert_eq!(v["structures"][3]["type"], "RMRR");
    assert_eq!(v["structures"][3]["end_address"], "0x75470fff");
    assert_eq!(v["structures"][6]["proximity_domain"], 0);
}

/// A malformed table: partial decoding on stdout, the error with its offset on stderr,
/// exit 1.
#[test]
fn cli_reports_a_truncated_table_with_partial_output() {
    let bytes = read_table("ecclesia/sys_firmware_acpi_tables_DMAR");
    let dir = std::env::temp_dir().join(format!("dp-dmar-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("DMAR.truncated");
    std::fs::write(&file, &bytes[..200]).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
        .args(["acpi", "dmar"])
        .arg(&file)
        .args(["--format", "json"])
        .output()
        .expect("run daos-preflight");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["error"]["offset"], 200);
    assert_eq!(v["structures"].as_array().map(Vec::len), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("offset 0xc8"), "{stderr}");
}

/// The summary the `iommu.*` checks read, from a real table.
#[test]
fn firmware_summary_of_a_real_table() {
    use daos_preflight::facts::acpi::summarize_dmar;
    let bytes = read_table("linuxhw/Desktop_Supermicro_X10DAi_4A64A6094FE3.dat");
    let s = summarize_dmar(&parse_dmar(&bytes));
    assert_eq!(s.table, "DMAR");
    assert!(s.checksum_valid && s.parse_error.is_none());
    assert_eq!(s.host_address_width_bits, Some(46));
    assert_eq!(s.units.len(), 3);
    // Two sockets: each RHSA names one DRHD's register base and a proximity domain.
    let mut domains: Vec<u32> = s.units.iter().filter_map(|u| u.proximity_domain).collect();
    domains.sort();
    assert_eq!(domains, [0, 1]);
    assert_eq!(s.reserved_regions.len(), 1);
    // A truncated table keeps the units decoded before the cut.
    let partial = summarize_dmar(&parse_dmar(&bytes[..200]));
    assert!(!partial.units.is_empty());
    assert!(
        partial
            .parse_error
            .is_some_and(|e| e.contains("offset 0xc8"))
    );
}

/// Without FILE the host's table is read (here a captured tree under `--root`): absent
/// means the firmware has the IOMMU off (exit 1); present is decoded.
#[test]
fn cli_reads_the_hosts_table_under_root() {
    let root = std::env::temp_dir().join(format!("dp-dmar-root-{}", std::process::id()));
    let tables = root.join("sys/firmware/acpi/tables");
    std::fs::create_dir_all(&tables).expect("temp tree");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_daos-preflight"))
            .args(args)
            .arg("--root")
            .arg(&root)
            .output()
            .expect("run daos-preflight")
    };
    let absent = run(&["acpi", "dmar"]);
    assert_eq!(absent.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&absent.stderr).contains("VT-d"));
    let absent = run(&["acpi", "ivrs"]);
    assert_eq!(absent.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&absent.stderr).contains("AMD-Vi"));

    let table = read_table("linuxhw/Desktop_Supermicro_X10DAi_4A64A6094FE3.dat");
    std::fs::write(tables.join("DMAR"), &table).expect("write table");
    let present = run(&["acpi", "dmar"]);
    let _ = std::fs::remove_dir_all(&root);
    assert_eq!(present.status.code(), Some(0));
    let text = String::from_utf8_lossy(&present.stdout);
    assert_eq!(text.lines().filter(|l| l.contains("] DRHD")).count(), 3);
    assert!(text.contains("proximity domain 1"), "{text}");
}
