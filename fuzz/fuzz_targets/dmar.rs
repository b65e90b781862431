//! libFuzzer target: the DMAR parser must never panic, loop or index out of bounds, and
//! what it returns must be consistent with the input.
//!
//! Each input is decoded as given, then again with a valid signature, length and
//! checksum written over it, so mutations reach the structure walker instead of
//! stopping at the header checks.
#![no_main]

use daos_preflight::facts::acpi::dmar::{Dmar, parse_dmar};
use daos_preflight::report::acpi_text::render_dmar;
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8]) {
    let table: Option<Box<Dmar>> = match parse_dmar(data) {
        Ok(t) => Some(Box::new(t)),
        Err(d) => {
            assert!(d.error.offset <= data.len(), "error offset past the input");
            let _ = d.error.to_string();
            d.partial
        }
    };
    if let Some(t) = table {
        let mut end = 48;
        for s in &t.structures {
            assert_eq!(s.offset(), end, "structures are contiguous");
            end += usize::from(s.length());
            assert!(end <= data.len(), "structure past the input");
            for sc in s.scopes() {
                assert!(sc.length >= 6 && sc.offset + usize::from(sc.length) <= end);
            }
        }
        let _ = serde_json::to_string(&t).expect("serializes");
        let _ = render_dmar(&t);
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= 36 {
        let mut t = data.to_vec();
        t[..4].copy_from_slice(b"DMAR");
        let len = t.len() as u32;
        t[4..8].copy_from_slice(&len.to_le_bytes());
        t[9] = 0;
        let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
        t[9] = 0u8.wrapping_sub(sum);
        check(&t);
    }
});
