//! Robustness of the DMAR and IVRS parsers on hostile input: every prefix of every
//! corpus table and thousands of deterministic byte mutations go through both parsers.
//! None may panic or loop; every failure must name an offset inside the input; every
//! truncated table must be reported as an error at the point where its data ends.
//!
//! The mutations come from a fixed-seed xorshift generator, so a failure reproduces.

use std::path::{Path, PathBuf};

use daos_preflight::facts::acpi::dmar::{Dmar, parse_dmar};
use daos_preflight::facts::acpi::ivrs::{Ivrs, parse_ivrs};
use daos_preflight::facts::acpi::{ParseResult, TableError};

/// Mutated variants tried per seed table.
const MUTATIONS_PER_TABLE: usize = 1500;

fn corpus_tables() -> Vec<(String, Vec<u8>)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = entry.path();
            let name = p.to_string_lossy();
            if p.is_dir() {
                walk(&p, out);
            } else if ![".json", ".dsl", ".txt", ".tsv", ".md"]
                .iter()
                .any(|e| name.ends_with(e))
            {
                out.push(p);
            }
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/dmar");
    let mut paths = Vec::new();
    walk(&dir, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect()
}

/// Sets the checksum byte so the table sums to zero.
fn fix_checksum(t: &mut [u8]) {
    if t.len() > 9 {
        t[9] = 0;
        let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
    }
}

/// A realistic IVRS (IVHD 10h, 11h, 40h for one IOMMU, an IVMD, device entries),
/// built here so the IVRS parser has well-formed seeds of its own.
fn synthetic_ivrs() -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"IVRS\0\0\0\0\x02\0AMD  \0AmdTable\x01\0\0\0AMD \x01\0\0\0");
    t.extend_from_slice(&0x0020_3043u32.to_le_bytes());
    t.extend_from_slice(&[0; 8]);
    let entries: &[u8] = &[
        3, 8, 0, 0, 4, 0xfe, 0xff, 0, 0x48, 0, 0, 0xd7, 0x21, 0xa0, 0, 1,
    ];
    for ty in [0x10u8, 0x11, 0x40] {
        let mut b = vec![ty, 0xb0, 0, 0, 2, 0, 0x40, 0];
        b.extend_from_slice(&0xfd40_0000u64.to_le_bytes());
        b.extend_from_slice(&[0, 0, 0, 0]);
        if ty == 0x10 {
            b.extend_from_slice(&0x8004_8f6eu32.to_le_bytes());
        } else {
            b.extend_from_slice(&0x0004_0200u32.to_le_bytes());
            b.extend_from_slice(&0x2465_77ef_a225_4afau64.to_le_bytes());
            b.extend_from_slice(&[0; 8]);
        }
        b.extend_from_slice(entries);
        let len = b.len() as u16;
        b[2..4].copy_from_slice(&len.to_le_bytes());
        t.extend_from_slice(&b);
    }
    let mut ivmd = vec![0x21, 0x08, 32, 0];
    ivmd.extend_from_slice(&[0; 28]);
    t.extend_from_slice(&ivmd);
    let len = t.len() as u32;
    t[4..8].copy_from_slice(&len.to_le_bytes());
    fix_checksum(&mut t);
    t
}

/// The seeds: every corpus DMAR; each again with its signature changed to IVRS (so the
/// IVRS parser walks real, if foreign, structure chains); the synthetic IVRS; QEMU's
/// DMAR and IVRS.
fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds = corpus_tables();
    assert!(!seeds.is_empty(), "no corpus tables found");
    let as_ivrs: Vec<(String, Vec<u8>)> = seeds
        .iter()
        .map(|(name, t)| {
            let mut t = t.clone();
            t[..4].copy_from_slice(b"IVRS");
            fix_checksum(&mut t);
            (format!("{name} (as IVRS)"), t)
        })
        .collect();
    seeds.extend(as_ivrs);
    seeds.push(("synthetic IVRS".into(), synthetic_ivrs()));
    // QEMU's own DMAR and IVRS (tests/fixtures/acpi).
    for name in [
        "qemu-7.2-q35-intel-iommu.DMAR",
        "qemu-7.2-q35-amd-iommu.IVRS",
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/acpi")
            .join(name);
        let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        seeds.push((name.to_string(), bytes));
    }
    seeds
}

/// xorshift64*: small, deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `t`: flips, random bytes, interesting length values written at
/// random places, duplicated or deleted ranges; sometimes the checksum is repaired so
/// the parser goes past it.
fn mutate(rng: &mut XorShift, t: &[u8]) -> Vec<u8> {
    let mut m = t.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        if m.is_empty() {
            m.push(rng.next() as u8);
            continue;
        }
        let at = rng.below(m.len());
        match rng.below(6) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m[at] = rng.next() as u8,
            2 => {
                // A length-like value: 0, tiny, odd, huge.
                let v: u16 = [0, 1, 2, 3, 5, 6, 7, 0xff, 0xffff][rng.below(9)];
                for (i, b) in v.to_le_bytes().iter().enumerate() {
                    if let Some(slot) = m.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            3 => {
                let end = (at + 1 + rng.below(16)).min(m.len());
                let chunk = m[at..end].to_vec();
                let to = rng.below(m.len());
                m.splice(to..to, chunk);
            }
            4 => {
                let end = (at + 1 + rng.below(16)).min(m.len());
                m.drain(at..end);
            }
            _ => {
                // Rewrite the header length to something else plausible.
                if m.len() >= 8 {
                    let len = rng.below(m.len() + 64) as u32;
                    m[4..8].copy_from_slice(&len.to_le_bytes());
                }
            }
        }
    }
    if rng.below(2) == 0 {
        fix_checksum(&mut m);
    }
    m
}

/// The invariants every decoding must hold, whatever the input.
fn check_error(input: &str, len: usize, e: &TableError) {
    assert!(
        e.offset <= len,
        "{input}: error offset {} beyond the {len} input bytes: {e}",
        e.offset
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("offset {:#x}", e.offset)),
        "{input}: message does not name the offset: {msg}"
    );
}

fn check_dmar(input: &str, bytes: &[u8], r: &ParseResult<Dmar>) {
    let table = match r {
        Ok(t) => Some(t),
        Err(d) => {
            check_error(input, bytes.len(), &d.error);
            d.partial.as_deref()
        }
    };
    if let Some(t) = table {
        let mut prev_end = 48;
        for s in &t.structures {
            assert_eq!(s.offset(), prev_end, "{input}: structures are contiguous");
            prev_end = s.offset() + usize::from(s.length());
            assert!(prev_end <= bytes.len(), "{input}: structure past the input");
            for sc in s.scopes() {
                assert!(sc.offset + usize::from(sc.length) <= prev_end);
                assert!(sc.length >= 6);
            }
        }
        // Serialization never fails on a decoded table.
        assert!(serde_json::to_string(t).is_ok());
    }
}

fn check_ivrs(input: &str, bytes: &[u8], r: &ParseResult<Ivrs>) {
    let table = match r {
        Ok(t) => Some(t),
        Err(d) => {
            check_error(input, bytes.len(), &d.error);
            d.partial.as_deref()
        }
    };
    if let Some(t) = table {
        for b in &t.blocks {
            assert!(b.offset() >= 48 && b.offset() < bytes.len(), "{input}");
        }
        assert!(serde_json::to_string(t).is_ok());
    }
}

#[test]
fn every_prefix_of_every_table_is_an_error_at_its_end() {
    let mut prefixes = 0;
    for (name, table) in seeds() {
        let full_dmar = parse_dmar(&table);
        let full_ivrs = parse_ivrs(&table);
        let is_dmar = full_dmar.is_ok();
        let is_ivrs = full_ivrs.is_ok();
        assert!(is_dmar || is_ivrs, "{name}: the seed itself must decode");
        for cut in 0..table.len() {
            let prefix = &table[..cut];
            let input = format!("{name}[..{cut}]");
            let d = parse_dmar(prefix);
            let i = parse_ivrs(prefix);
            check_dmar(&input, prefix, &d);
            check_ivrs(&input, prefix, &i);
            // The parser of the table's own kind reports exactly where the data ends.
            let err = if is_dmar {
                d.as_ref().err().map(|e| e.error.clone())
            } else {
                i.as_ref().err().map(|e| e.error.clone())
            };
            let Some(err) = err else {
                panic!("{input}: a truncated table decoded without error");
            };
            assert_eq!(err.offset, cut, "{input}: {err}");
            prefixes += 1;
        }
    }
    eprintln!("{prefixes} truncated tables rejected at their end");
}

#[test]
fn mutated_tables_never_panic_and_errors_name_an_offset() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    let mut errors = 0;
    for (name, table) in seeds() {
        for n in 0..MUTATIONS_PER_TABLE {
            let m = mutate(&mut rng, &table);
            let input = format!("{name} mutation #{n}");
            let d = parse_dmar(&m);
            let i = parse_ivrs(&m);
            errors += usize::from(d.is_err()) + usize::from(i.is_err());
            check_dmar(&input, &m, &d);
            check_ivrs(&input, &m, &i);
            runs += 1;
        }
    }
    assert!(runs > 10_000, "only {runs} mutations ran");
    eprintln!("{runs} mutated tables through both parsers ({errors} errors reported)");
}

#[test]
fn random_garbage_with_valid_headers_terminates() {
    let mut rng = XorShift(42);
    for n in 0..2000 {
        let len = 48 + rng.below(400);
        let mut t: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let sig: &[u8; 4] = if n % 2 == 0 { b"DMAR" } else { b"IVRS" };
        t[..4].copy_from_slice(sig);
        t[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        let input = format!("garbage #{n}");
        check_dmar(&input, &t, &parse_dmar(&t));
        check_ivrs(&input, &t, &parse_ivrs(&t));
    }
}
