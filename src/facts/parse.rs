//! Pure parsers for the small text formats of procfs and sysfs. No I/O here: callers
//! add the path to errors.

use std::collections::BTreeMap;
use std::fmt;

/// A parse failure in one of the small formats, with what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// One kernel command-line parameter: `key` or `key=value`.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct CmdlineArg {
    /// Parameter name (`intel_iommu`, `BOOT_IMAGE`).
    pub key: String,
    /// Value after the first `=`, quotes removed; `None` for a bare flag.
    pub value: Option<String>,
}

/// Splits `/proc/cmdline` the way the kernel does (lib/cmdline.c `next_arg`): words
/// separated by whitespace, double quotes group spaces (either around the whole word or
/// after the `=`), and the quote characters themselves are dropped. Never fails:
/// an unterminated quote runs to the end of the line, as in the kernel.
pub fn parse_cmdline(line: &str) -> Vec<CmdlineArg> {
    let mut args = Vec::new();
    let mut chars = line.trim_end_matches(['\n', '\0']).chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut in_quote = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() && !in_quote {
                break;
            }
            chars.next();
            if c == '"' {
                in_quote = !in_quote;
            } else {
                word.push(c);
            }
        }
        let arg = match word.split_once('=') {
            Some((k, v)) => CmdlineArg {
                key: k.to_string(),
                value: Some(v.to_string()),
            },
            None => CmdlineArg {
                key: word,
                value: None,
            },
        };
        args.push(arg);
    }
    args
}

/// Parses a CPU or node list as sysfs prints it (`0-3,8,10-11`; empty means none).
/// Also accepts the `a-b:used/group` stride form of `bitmap_parselist`.
pub fn parse_cpulist(s: &str) -> Result<Vec<u32>, ParseError> {
    let s = s.trim();
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    for part in s.split(',') {
        let part = part.trim();
        let bad = || ParseError(format!("invalid CPU list element {part:?} in {s:?}"));
        let num = |t: &str| t.trim().parse::<u32>().map_err(|_| bad());
        let (range, stride) = match part.split_once(':') {
            Some((r, st)) => {
                let (used, group) = st.split_once('/').ok_or_else(bad)?;
                (r, Some((num(used)?, num(group)?)))
            }
            None => (part, None),
        };
        let (lo, hi) = match range.split_once('-') {
            Some((a, b)) => (num(a)?, num(b)?),
            None => {
                let v = num(range)?;
                (v, v)
            }
        };
        if lo > hi || hi - lo > 1 << 20 {
            return Err(bad());
        }
        match stride {
            None => out.extend(lo..=hi),
            Some((used, group)) => {
                if group == 0 || used > group {
                    return Err(bad());
                }
                let mut start = lo;
                while start <= hi {
                    out.extend((start..start.saturating_add(used)).filter(|c| *c <= hi));
                    start = match start.checked_add(group) {
                        Some(n) => n,
                        None => break,
                    };
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Parses a CPU mask as sysfs prints it (`cpumap`, `local_cpus`): comma-separated
/// 32-bit hexadecimal words, most significant first (`00000000,0000ff00` is CPUs 8–15).
/// Words may be shorter than 8 digits (`00`); an all-zero mask is an empty list.
pub fn parse_cpumask(s: &str) -> Result<Vec<u32>, ParseError> {
    let s = s.trim();
    let mut out = Vec::new();
    if s.is_empty() {
        return Ok(out);
    }
    let bad = || ParseError(format!("invalid CPU mask {s:?}"));
    for (index, word) in s.rsplit(',').enumerate() {
        let word = word.trim();
        if word.is_empty() || word.len() > 8 {
            return Err(bad());
        }
        let bits = u32::from_str_radix(word, 16).map_err(|_| bad())?;
        let base = u32::try_from(index)
            .ok()
            .and_then(|i| i.checked_mul(32))
            .ok_or_else(bad)?;
        out.extend((0..32).filter(|b| bits & (1 << b) != 0).map(|b| base + b));
    }
    out.sort_unstable();
    Ok(out)
}

/// Formats a sorted list of numbers back into the compact range form (`0-3,8`).
pub fn format_cpulist(cpus: &[u32]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// Parses `/proc/meminfo` or a node's `meminfo` (`Node 0 MemTotal:  123 kB`) into
/// key → number. Values with a `kB` unit stay in KiB; counts (`HugePages_Total`) are
/// plain numbers. Lines that don't parse are skipped (kernels add fields; captured
/// trees are sometimes hand-trimmed) rather than losing the whole file.
pub fn parse_meminfo(text: &str) -> BTreeMap<String, u64> {
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let mut rest = line.trim();
        if let Some(r) = rest.strip_prefix("Node ") {
            // "Node 0 MemTotal: ..." → drop "Node <n> "
            rest = r
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .trim_start();
        }
        let Some((key, value)) = rest.split_once(':') else {
            continue;
        };
        let mut words = value.split_whitespace();
        let Some(Ok(n)) = words.next().map(str::parse::<u64>) else {
            continue;
        };
        map.insert(key.trim().to_string(), n);
    }
    map
}

/// The selected word of a sysfs choice file (`always [madvise] never` → `madvise`).
pub fn parse_bracket_choice(s: &str) -> Option<String> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(s[start + 1..end].to_string())
}

/// Parses a hexadecimal sysfs attribute (`0x8086`, `0x010802`).
pub fn parse_hex_u32(s: &str) -> Result<u32, ParseError> {
    let t = s.trim();
    let digits = t.strip_prefix("0x").unwrap_or(t);
    u32::from_str_radix(digits, 16).map_err(|_| ParseError(format!("not a hex number: {t:?}")))
}

/// One line of `/proc/swaps` names a swap device or file; returns the names.
pub fn parse_swaps(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Size suffix of a hugepage directory name (`hugepages-2048kB` → 2048).
pub fn parse_hugepage_dir(name: &str) -> Option<u64> {
    name.strip_prefix("hugepages-")?
        .strip_suffix("kB")?
        .parse()
        .ok()
}

/// A PCI address `DDDD:BB:DD.F` (domain may be longer than 4 digits on some platforms).
pub fn is_pci_address(s: &str) -> bool {
    let Some((dom, rest)) = s.split_once(':') else {
        return false;
    };
    let Some((bus, rest)) = rest.split_once(':') else {
        return false;
    };
    let Some((dev, func)) = rest.split_once('.') else {
        return false;
    };
    let hex = |t: &str, n: usize| t.len() == n && t.chars().all(|c| c.is_ascii_hexdigit());
    dom.len() >= 4
        && dom.chars().all(|c| c.is_ascii_hexdigit())
        && hex(bus, 2)
        && hex(dev, 2)
        && hex(func, 1)
}

/// Parses a memory size limit as systemd writes it (`LimitMEMLOCK=infinity`, `64K`,
/// `8M`, `1G`, a plain byte count; `soft:hard` takes the soft value). `None` in the
/// result means unlimited.
pub fn parse_systemd_limit(v: &str) -> Result<Option<u64>, ParseError> {
    let v = v.trim();
    let v = v.split_once(':').map(|(s, _)| s).unwrap_or(v);
    if v.eq_ignore_ascii_case("infinity") {
        return Ok(None);
    }
    let (num, mult) = match v.chars().last() {
        Some('K') | Some('k') => (&v[..v.len() - 1], 1u64 << 10),
        Some('M') | Some('m') => (&v[..v.len() - 1], 1 << 20),
        Some('G') | Some('g') => (&v[..v.len() - 1], 1 << 30),
        Some('T') | Some('t') => (&v[..v.len() - 1], 1 << 40),
        Some('B') | Some('b') => (&v[..v.len() - 1], 1),
        _ => (v, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .map(Some)
        .ok_or_else(|| ParseError(format!("invalid limit value {v:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_real_el8_with_quotes() {
        // /proc/cmdline of an AlmaLinux 8 node (deployment guide) plus quoting cases
        let line = "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-4.18.0-513.5.1.el8_9.x86_64 root=/dev/mapper/almalinux-root ro crashkernel=auto resume=/dev/mapper/almalinux-swap rd.lvm.lv=almalinux/root rd.lvm.lv=almalinux/swap rhgb quiet intel_iommu=on iommu=pt dyndbg=\"file drivers/x.c +p\" \"acpi_osi=Windows 2009\"\n";
        let args = parse_cmdline(line);
        assert_eq!(args.len(), 13);
        assert_eq!(args[0].key, "BOOT_IMAGE");
        assert_eq!(
            args[0].value.as_deref(),
            Some("(hd0,gpt2)/vmlinuz-4.18.0-513.5.1.el8_9.x86_64")
        );
        // Counted by hand: BOOT_IMAGE root ro crashkernel resume rd.lvm.lv rd.lvm.lv rhgb
        // quiet intel_iommu iommu dyndbg acpi_osi = 13 (indices 0-12). The count was
        // right; the indices after the second rd.lvm.lv were off by one.
        assert_eq!(args[5].key, "rd.lvm.lv");
        assert_eq!(args[5].value.as_deref(), Some("almalinux/root"));
        assert_eq!(args[6].key, "rd.lvm.lv");
        assert_eq!(args[6].value.as_deref(), Some("almalinux/swap"));
        assert_eq!(args[7].key, "rhgb");
        assert_eq!(args[7].value, None);
        assert_eq!(args[8].key, "quiet");
        assert_eq!(args[9].key, "intel_iommu");
        assert_eq!(args[9].value.as_deref(), Some("on"));
        assert_eq!(args[10].key, "iommu");
        assert_eq!(args[10].value.as_deref(), Some("pt"));
        assert_eq!(args[11].key, "dyndbg");
        assert_eq!(args[11].value.as_deref(), Some("file drivers/x.c +p"));
        assert_eq!(args[12].key, "acpi_osi");
        assert_eq!(args[12].value.as_deref(), Some("Windows 2009"));
    }

    #[test]
    fn cmdline_real_captured_hosts() {
        // /proc/cmdline of two machines of the hwloc test suite (open-mpi/hwloc
        // tests/hwloc/linux, BSD-3-Clause): linux_32intel64-2p8co2t+8ve (EL7) and
        // linux_nvidia-dgx-gb10 (values with `,`, `:` and `-`, dotted module parameters,
        // repeated keys); the newline and NUL a capture ends with belong to no argument.
        // Counted by hand: 9 and 17 parameters.
        let el7 = "BOOT_IMAGE=/vmlinuz-3.10.0-1160.15.2.el7.x86_64 root=UUID=a26d8657-e4a9-4f5d-b965-53fd35ddf367 ro console=tty0 console=ttyS0,115200n8 crashkernel=auto rhgb quiet LANG=en_US.UTF-8\n";
        let a = parse_cmdline(el7);
        assert_eq!(a.len(), 9);
        assert_eq!(a[1].key, "root");
        assert_eq!(
            a[1].value.as_deref(),
            Some("UUID=a26d8657-e4a9-4f5d-b965-53fd35ddf367")
        );
        assert_eq!(a[2].key, "ro");
        assert_eq!(a[2].value, None);
        assert_eq!(a[3].value.as_deref(), Some("tty0"));
        assert_eq!(a[4].key, "console");
        assert_eq!(a[4].value.as_deref(), Some("ttyS0,115200n8"));
        assert_eq!(a[8].key, "LANG");
        assert_eq!(a[8].value.as_deref(), Some("en_US.UTF-8"));

        let gb10 = "BOOT_IMAGE=/boot/vmlinuz-6.17.0-1014-nvidia root=UUID=18e645be-29c9-445c-9958-2a641ab0cd99 ro init_on_alloc=0 iommu.passthrough=0 console=tty0 plymouth.ignore-serial-consoles plymouth.use-simpledrm earlycon=uart,mmio32,0x16A00000 console=tty0 console=ttyS0,921600 crashkernel=1G-:0M quiet splash initcall_blacklist=tegra234_cbb_init pci=pcie_bus_safe vt.handoff=7\n\0";
        let a = parse_cmdline(gb10);
        assert_eq!(a.len(), 17);
        assert_eq!(a[4].key, "iommu.passthrough");
        assert_eq!(a[4].value.as_deref(), Some("0"));
        assert_eq!(a[6].key, "plymouth.ignore-serial-consoles");
        assert_eq!(a[6].value, None);
        assert_eq!(a[8].value.as_deref(), Some("uart,mmio32,0x16A00000"));
        assert_eq!(a[11].key, "crashkernel");
        assert_eq!(a[11].value.as_deref(), Some("1G-:0M"));
        assert_eq!(a[10].value.as_deref(), Some("ttyS0,921600"));
        assert_eq!(a[16].key, "vt.handoff");
        assert_eq!(a[16].value.as_deref(), Some("7"));
    }

    #[test]
    fn cmdline_edge_cases() {
        assert!(parse_cmdline("").is_empty());
        assert!(parse_cmdline("   \n").is_empty());
        let a = parse_cmdline("a=\"unterminated b c");
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].value.as_deref(), Some("unterminated b c"));
        let a = parse_cmdline("x= y==z");
        assert_eq!(a[0].value.as_deref(), Some(""));
        assert_eq!(a[1].key, "y");
        assert_eq!(a[1].value.as_deref(), Some("=z"));
    }

    #[test]
    fn cpulists_with_ranges_and_gaps() {
        assert_eq!(
            parse_cpulist("0-3,8-11\n").unwrap(),
            vec![0, 1, 2, 3, 8, 9, 10, 11]
        );
        assert_eq!(parse_cpulist("0-7,16-23").unwrap().len(), 16);
        assert_eq!(parse_cpulist("5").unwrap(), vec![5]);
        assert_eq!(parse_cpulist("").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpulist("\n").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpulist("0-8:2/4").unwrap(), vec![0, 1, 4, 5, 8]);
        assert!(parse_cpulist("3-1").is_err());
        assert!(parse_cpulist("a-b").is_err());
        assert!(parse_cpulist("0-4294967295").is_err());
        // Real node cpulists of the hwloc test machines (BSD-3-Clause): hyper-thread
        // siblings in a second range (linux_32intel64-2p8co2t+8ve node1), round-robin
        // numbering (linux_40intel64-2g2n4c+pcilocality node0), odd CPUs only
        // (linux_offline-cpu0-node0 node1), and an offline-CPU pattern.
        assert_eq!(
            parse_cpulist("8-15,24-31\n").unwrap(),
            (8..16).chain(24..32).collect::<Vec<u32>>()
        );
        assert_eq!(
            parse_cpulist("0,4,8,12,16,20,24,28,32,36").unwrap(),
            (0..40).step_by(4).collect::<Vec<u32>>()
        );
        assert_eq!(
            parse_cpulist("1,3,5,7,9,11,13,15,17,19,21,23").unwrap(),
            (1..24).step_by(2).collect::<Vec<u32>>()
        );
        assert_eq!(
            parse_cpulist("0-1,3-4,6-12,15").unwrap(),
            vec![0, 1, 3, 4, 6, 7, 8, 9, 10, 11, 12, 15]
        );
        assert_eq!(format_cpulist(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_cpulist(&[]), "");
    }

    #[test]
    fn cpumasks_as_sysfs_prints_them() {
        // node cpumap files of the hwloc test machines (BSD-3-Clause)
        // linux_8ia64-2n2s2c node1: two words
        assert_eq!(
            parse_cpumask("00000000,000000f0\n").unwrap(),
            vec![4, 5, 6, 7]
        );
        // linux_256ppc-8n8s4t node1: a full second word
        assert_eq!(
            parse_cpumask("00000000,ffffffff,00000000").unwrap(),
            (32..64).collect::<Vec<u32>>()
        );
        // linux_offline-cpu0-node0 node1: odd CPUs 5-19
        assert_eq!(
            parse_cpumask("00000000,00000000,00000000,00000000,00000000,000aaaa0").unwrap(),
            (5..20).step_by(2).collect::<Vec<u32>>()
        );
        // linux_96em64t-4n4d3ca2co node1: a node spanning a word boundary
        assert_eq!(
            parse_cpumask(
                "00000000,00000000,00000000,00000000,00000000,00000000,0000ffff,ff000000"
            )
            .unwrap(),
            (24..48).collect::<Vec<u32>>()
        );
        // linux_fakeheteromemtiers node4 (CPU-less): a short word, no CPUs
        assert_eq!(parse_cpumask("00").unwrap(), Vec::<u32>::new());
        assert_eq!(parse_cpumask("").unwrap(), Vec::<u32>::new());
        assert!(parse_cpumask("0-3").is_err());
        assert!(parse_cpumask("123456789").is_err());
        assert!(parse_cpumask("ff,,ff").is_err());
    }

    #[test]
    fn meminfo_real_dual_socket_el7() {
        // /proc/meminfo and node1/meminfo of linux_32intel64-2p8co2t+8ve (hwloc test
        // suite, BSD-3-Clause), abridged. lstopo's oracle for that tree: node1 local
        // memory 50708443136 bytes = 49519964 KiB, 2048 2-MiB pages on each node.
        let sys = "MemTotal:       97445600 kB\nMemFree:        35200008 kB\nMemAvailable:   83337000 kB\nActive(anon):     422344 kB\nSwapTotal:       8388604 kB\nVmallocTotal:   34359738367 kB\nHardwareCorrupted:     0 kB\nAnonHugePages:    110592 kB\nHugePages_Total:    4096\nHugePages_Free:     4096\nHugePages_Rsvd:        0\nHugePages_Surp:        0\nHugepagesize:       2048 kB\nDirectMap1G:    91226112 kB\n";
        let m = parse_meminfo(sys);
        assert_eq!(m["MemTotal"], 97445600);
        assert_eq!(m["MemAvailable"], 83337000);
        assert_eq!(m["Active(anon)"], 422344);
        assert_eq!(m["VmallocTotal"], 34359738367);
        assert_eq!(m["HugePages_Total"], 2 * 2048);
        assert_eq!(m["Hugepagesize"], 2048);
        let mem = crate::facts::memory::memory_from_meminfo(sys);
        assert_eq!(mem.mem_total_kib, Some(97445600));
        assert_eq!(mem.swap_total_kib, Some(8388604));
        assert_eq!(mem.hugepages_rsvd, Some(0));
        // Hugetlb appeared in 4.16: absent on this 3.10 kernel, so unknown
        assert_eq!(mem.hugetlb_kib, None);

        let node = "Node 1 MemTotal:       49519964 kB\nNode 1 MemFree:        10710036 kB\nNode 1 MemUsed:        38809928 kB\nNode 1 Active(file):   28315688 kB\nNode 1 AnonHugePages:     43008 kB\nNode 1 HugePages_Total:  2048\nNode 1 HugePages_Free:   2048\nNode 1 HugePages_Surp:      0\n";
        let n = parse_meminfo(node);
        assert_eq!(n["MemTotal"] * 1024, 50708443136);
        assert_eq!(n["MemFree"], 10710036);
        assert_eq!(n["Active(file)"], 28315688);
        assert_eq!(n["HugePages_Total"], 2048);
        // hwloc's captures start node meminfo with an empty line (linux_8ia64-2n2s2c)
        let n = parse_meminfo("\nNode 1 MemTotal:     16777216 kB\n");
        assert_eq!(n["MemTotal"], 16777216);
    }

    #[test]
    fn meminfo_system_and_node() {
        // from DAOS's src/control/.../testdata (values asserted by DAOS meminfo_test.go)
        let sys = "MemTotal:       196703832 kB\nMemFree:        185044844 kB\nMemAvailable:   184708468 kB\nHugePages_Total:    2560\nHugePages_Free:     2560\nHugepagesize:       2048 kB\nDirectMap1G:    65011712 kB\n";
        let m = parse_meminfo(sys);
        assert_eq!(m["MemTotal"], 196703832);
        assert_eq!(m["MemAvailable"], 184708468);
        assert_eq!(m["HugePages_Total"], 2560);
        assert_eq!(m["Hugepagesize"], 2048);
        let node = "Node 1 MemTotal:       99030076 kB\nNode 1 MemFree:        93218432 kB\nNode 1 HugePages_Total:   512\nNode 12 HugePages_Free:   511\ngarbage line\nNode 1 Weird: notanumber kB\n";
        let n = parse_meminfo(node);
        assert_eq!(n["MemTotal"], 99030076);
        assert_eq!(n["HugePages_Total"], 512);
        assert_eq!(n["HugePages_Free"], 511);
        assert!(!n.contains_key("Weird"));
    }

    #[test]
    fn small_formats() {
        assert_eq!(
            parse_bracket_choice("always [madvise] never\n").as_deref(),
            Some("madvise")
        );
        assert_eq!(parse_bracket_choice("[never]").as_deref(), Some("never"));
        assert_eq!(parse_bracket_choice("always madvise"), None);
        assert_eq!(parse_hex_u32("0x010802\n").unwrap(), 0x010802);
        assert!(parse_hex_u32("").is_err());
        assert_eq!(parse_hugepage_dir("hugepages-1048576kB"), Some(1048576));
        assert_eq!(parse_hugepage_dir("hugepages-x"), None);
        assert!(is_pci_address("0000:00:1f.2"));
        assert!(is_pci_address("10000:00:00.0"));
        assert!(!is_pci_address("nvme0"));
        assert!(!is_pci_address("0000:00:1f"));
        assert_eq!(
            parse_swaps("Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition 8388604 0 -2\n"),
            vec!["/dev/dm-1"]
        );
        assert_eq!(parse_systemd_limit("infinity").unwrap(), None);
        assert_eq!(parse_systemd_limit("64K").unwrap(), Some(65536));
        assert_eq!(parse_systemd_limit("8M:infinity").unwrap(), Some(8 << 20));
        assert!(parse_systemd_limit("lots").is_err());
    }
}
