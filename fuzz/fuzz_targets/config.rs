//! libFuzzer target: loading DAOS configuration files (parse + DAOS validation rules +
//! derived requirements) must never panic, whatever the bytes, under every release's
//! rules. The first byte picks the release and the file kind.
#![no_main]

use daos_preflight::daos::DaosVersion;
use daos_preflight::daos::config::validate::{validate_agent, validate_control, validate_server};
use daos_preflight::daos::config::{parse_agent, parse_control, parse_server};
use daos_preflight::daos::requirements::{configured_emulated_bdevs, configured_nvme, hugepage_plan};
use libfuzzer_sys::fuzz_target;

const VERSIONS: [DaosVersion; 5] = [
    DaosVersion::V2_0,
    DaosVersion::V2_2,
    DaosVersion::V2_4,
    DaosVersion::V2_6,
    DaosVersion::V2_8,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let v = VERSIONS[usize::from(sel) % VERSIONS.len()];
    match (sel / 5) % 3 {
        0 => match parse_server(text, "fuzz.yml", v) {
            Ok(p) => {
                let _ = validate_server(&p.config, v, "fuzz.yml");
                let _ = configured_nvme(&p.config);
                let _ = configured_emulated_bdevs(&p.config);
                let _ = hugepage_plan(&p.config, v, 2048, &[0, 1]);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        },
        1 => {
            if let Ok(p) = parse_agent(text, "fuzz.yml", v) {
                let _ = validate_agent(&p.config, v, "fuzz.yml");
            }
        }
        _ => {
            if let Ok(p) = parse_control(text, "fuzz.yml", v) {
                let _ = validate_control(&p.config, v, "fuzz.yml");
            }
        }
    }
});
