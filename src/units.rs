//! Units shared by every layer: sizes in the form the reports print them. It sits below
//! `checks/` and `daos/` so that both use it without one importing the other.

/// Formats KiB as a human size (`16.0 GiB`).
pub fn human_kib(kib: u64) -> String {
    let b = kib as f64 * 1024.0;
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", UNITS[i])
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}
