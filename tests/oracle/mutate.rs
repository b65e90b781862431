//! Seeded, deterministic mutations of real DAOS config files: the mistakes a person
//! makes when editing daos_server.yml, daos_agent.yml or daos_control.yml. No rand
//! crate: a SplitMix64 generator, seeded per (release, index), so a failing case is
//! reproduced from its seed alone.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, good enough for test inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// Values people put where they do not belong, by key.
fn values_for(key: &str) -> &'static [&'static str] {
    match key {
        "log_mask" | "control_log_mask" => &[
            "ERR,bogus",
            "3",
            "DEBUG",
            "debug",
            "INFO",
            "ERR",
            "WARN",
            "NOTICE",
            "EMIT",
            "",
            "ERR,mgmt=DEBUG",
            "DEBUG,mem=ERR",
            "DBUG",
            "error",
            "ERR,,DEBUG",
            "trace",
            "ERR,object=DEBUG,bogus=INFO",
            "[ERR]",
        ],
        "DD_MASK" | "D_LOG_MASK" | "DD_SUBSYS" => &[
            "all", "all,mgmt", "mgmt", "bogus", "io,epc", "mem,all", "trace", "", "io", "rebuild",
            "3",
        ],
        "port" => &[
            "0",
            "1",
            "65535",
            "65536",
            "-1",
            "abc",
            "10001",
            "10000",
            "99999999999",
        ],
        "fabric_iface_port" => &["0", "31416", "65536", "-1", "abc", "31417"],
        "targets" => &["0", "1", "-1", "abc", "128", "129", "1000", "16"],
        "nr_xs_helpers" => &["0", "-1", "1", "100", "2", "abc"],
        "first_core" => &["0", "1", "-1", "abc", "200"],
        "pinned_numa_node" => &["0", "1", "-1", "abc", "8", "99999"],
        "class" => &[
            "dcpm", "ram", "nvme", "file", "kdev", "spdk", "bogus", "", "DCPM", "Nvme",
        ],
        "provider" => &[
            "ofi+tcp",
            "ofi+tcp;ofi_rxm",
            "ofi+verbs",
            "ofi+verbs;ofi_rxm",
            "ucx+dc_x",
            "ofi+tcp,ofi+verbs",
            "ofi+sockets",
            "tcp",
            "bogus",
            "",
            "ucx+ud_x",
            "ofi+cxi",
            "ofi+tcp ofi+verbs",
        ],
        "access_points" => &[
            "['localhost']",
            "['a','b']",
            "['a','b','c']",
            "[]",
            "['a:0']",
            "['a:99999']",
            "['a','a','b']",
            "['a:10001','b:10002','c']",
            "['@@bad']",
            "localhost",
            "['a','b','c','d']",
            "['10.0.0.1:abc']",
            "['a,b,c']",
        ],
        "name" => &[
            "daos_server",
            "",
            "a b",
            "x@y",
            "daos-server",
            "toolongname_toolongname_toolongname_toolongname_toolongname_toolongname",
            "nam\\e",
        ],
        "scm_size" | "scm_hugepages_disabled" => &["0", "1", "-1", "abc", "true", "16", "false"],
        "bdev_busid_range" => &[
            "0x80-0x8f",
            "0x8f-0x80",
            "0-255",
            "1-300",
            "bogus",
            "0x80",
            "0x80-",
            "",
            "-1-3",
            "0x00-0xff",
            "0x80-0x8f-0x9f",
        ],
        "bdev_list" | "scm_list" => &[
            "['0000:00:00']",
            "['0000:81:00.0']",
            "['0000:81:00.0','0000:81:00.0']",
            "['81:00.0']",
            "['0000:zz:00.0']",
            "[]",
            "['/dev/pmem0']",
            "['/dev/pmem0','/dev/pmem1']",
            "['0000:81:00.0','0000:82:00.0']",
            "['5d0505:01:00.0']",
            "['0000:81:00.9']",
            "['/dev/sda']",
            "bogus",
        ],
        "fault_path" => &[
            "/vcdu0/rack1/hostname",
            "bogus",
            "/",
            "",
            "/a//b",
            "/a/b/c/d/e/f",
            "rack1",
        ],
        "fault_cb" => &["/usr/bin/true", "relative/path", "", "/nonexistent/cb"],
        "hugepages" | "nr_hugepages" => &["0", "-1", "1", "4096", "abc", "99999999"],
        "socket_dir" | "runtime_dir" | "control_log_file" | "log_file" | "scm_mount" => &[
            "",
            "relative",
            "/var/run/daos_server",
            "/tmp/x",
            "/a/b/../c",
        ],
        "engine" => &["dsa", "spdk", "onload", "none", "bogus", ""],
        "options" => &[
            "['compression']",
            "['checksum']",
            "['move','crc']",
            "['bogus']",
            "[]",
        ],
        "secondary_provider_endpoints" | "secondary_provider_num_ctx" => {
            &["[1]", "[1,2]", "[]", "[0]", "[-1]", "['x']"]
        }
        "crt_timeout" | "crt_ctx_share_addr" => &["0", "-1", "1", "abc", "10000000000"],
        "allow_insecure" | "disable_vfio" | "disable_vmd" | "enable_vmd" | "enable_hotplug" => {
            &["true", "false", "yes", "no", "on", "1", "0", "abc", ""]
        }
        "role" | "bdev_roles" => &[
            "['wal']",
            "['meta','data']",
            "['wal','meta','data']",
            "['bogus']",
            "[]",
            "['data']",
        ],
        "size" | "scm_size_gb" => &["0", "1", "-1", "abc", "1024"],
        _ => &[
            "",
            "0",
            "-1",
            "1",
            "abc",
            "true",
            "[]",
            "{}",
            "1.5",
            "~",
            "null",
            "[a, b]",
            "99999999999999999999",
            "'quoted'",
            "&a x",
            "*missing",
        ],
    }
}

const UNKNOWN_KEYS: &[&str] = &[
    "bogus_key: 1",
    "enable_vmd: true",
    "nr_hugepages: 4096",
    "disable_hugepages: true",
    "telemetry_port: 9191",
    "hyperthreads: true",
    "system_ram_reserved: 16",
    "control_metadata:\n  path: /var/daos/config",
    "support_config:\n  file_transfer_exec: /x",
    "core_dump_filter: 0x13",
    "bdev_exclude: ['0000:81:00.0']",
    "fault_cb: /usr/bin/true",
    "fault_path: /vcdu0/rack1/hostname",
    "disable_vfio: true",
    "helper_log_file: /tmp/h.log",
    "firmware_helper_log_file: /tmp/f.log",
    "mgmt_svc_replicas: ['a','b','c']",
    "access_points: ['a','b']",
    "port: 10001",
    "transport_config:\n  allow_insecure: true",
    "cache_expiration: 30",
    "disable_caching: true",
    "exclude_fabric_ifaces: [eth0]",
    "include_fabric_ifaces: [eth0]",
    "fabric_ifaces:\n- numa_node: 0\n  devices:\n  - iface: eth0\n    domain: eth0",
    "credential_config:\n  cache_expiration: 10m",
    "telemetry_retain: 1m",
    "telemetry_enabled: true",
    "hostlist: ['a']",
    "engines: []",
    "servers: []",
    "provider: ofi+tcp",
];

/// A YAML key line: indentation, optional "- ", key, rest.
fn split_key(line: &str) -> Option<(usize, &str, &str)> {
    let t = line.trim_start();
    let indent = line.len() - t.len();
    let t2 = t.strip_prefix("- ").unwrap_or(t);
    if t2.starts_with('#') {
        return None;
    }
    let colon = t2.find(':')?;
    let key = &t2[..colon];
    if key.is_empty() || key.contains(' ') || key.contains('"') {
        return None;
    }
    Some((indent, key, &t2[colon + 1..]))
}

/// Environment variable lines inside env_vars, e.g. `- DD_MASK=all`.
fn env_var(line: &str) -> Option<&str> {
    let t = line.trim_start().strip_prefix("- ")?;
    let eq = t.find('=')?;
    let k = &t[..eq];
    k.chars()
        .all(|c| c.is_ascii_uppercase() || c == '_')
        .then_some(k)
}

/// One mutated copy of `text` and a label of what was done.
pub fn mutate(text: &str, rng: &mut Rng) -> (String, String) {
    let lines: Vec<&str> = text.lines().collect();
    let keyed: Vec<usize> = (0..lines.len())
        .filter(|&i| split_key(lines[i]).is_some())
        .collect();
    let op = rng.below(12);
    if keyed.is_empty() || op == 11 && rng.below(8) == 0 {
        return match rng.below(3) {
            0 => (String::new(), "empty file".into()),
            1 => ("# nothing\n".into(), "comment only".into()),
            _ => ("---\n".into(), "document marker only".into()),
        };
    }
    let mut out: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    let at = *rng.pick(&keyed);
    let (indent, key, rest) = split_key(lines[at]).unwrap();
    let dash = lines[at].trim_start().starts_with("- ");
    let prefix = &lines[at][..lines[at].len() - lines[at].trim_start().len()];
    let label;
    match op {
        0 | 1 => {
            // drop the key line and its indented block
            let mut end = at + 1;
            while end < lines.len() {
                let l = lines[end];
                let ind = l.len() - l.trim_start().len();
                if l.trim().is_empty()
                    || ind > indent
                    || (ind == indent && l.trim_start().starts_with("- ") && !dash)
                {
                    end += 1;
                } else {
                    break;
                }
            }
            if dash {
                out.drain(at + 1..end);
                out[at] = format!("{prefix}-");
                label = format!("drop list item key {key}");
            } else {
                out.drain(at..end);
                label = format!("drop {key}");
            }
        }
        2..=5 => {
            let v = rng.pick(values_for(key));
            let d = if dash { "- " } else { "" };
            out[at] = format!("{prefix}{d}{key}: {v}");
            label = format!("{key}: {v}");
        }
        6 => {
            let u = rng.pick(UNKNOWN_KEYS);
            let pad = " ".repeat(indent + if dash { 2 } else { 0 });
            let block: Vec<String> = u.lines().map(|l| format!("{pad}{l}")).collect();
            let pos = if rng.below(2) == 0 { at + 1 } else { out.len() };
            let pad_block = if pos == out.len() {
                u.lines().map(|l| l.to_string()).collect()
            } else {
                block
            };
            for (k, l) in pad_block.into_iter().enumerate() {
                out.insert(pos + k, l);
            }
            label = format!("insert {}", u.lines().next().unwrap());
        }
        7 => {
            // duplicate the line (duplicated key or list entry)
            out.insert(at + 1, lines[at].to_string());
            label = format!("duplicate line {key}");
        }
        8 => {
            // env vars: masks
            let envs: Vec<usize> = (0..lines.len())
                .filter(|&i| env_var(lines[i]).is_some())
                .collect();
            if envs.is_empty() {
                let v = rng.pick(values_for("log_mask"));
                out[at] = format!("{prefix}{}log_mask: {v}", if dash { "- " } else { "" });
                label = format!("{key} -> log_mask: {v}");
            } else {
                let e = *rng.pick(&envs);
                let name = *rng.pick(&[
                    "DD_MASK",
                    "DD_SUBSYS",
                    "D_LOG_MASK",
                    "CRT_TIMEOUT",
                    "FI_OFI_RXM_USE_SRX",
                    "D_LOG_FILE",
                ]);
                let v = rng.pick(values_for(name));
                let p = &lines[e][..lines[e].len() - lines[e].trim_start().len()];
                out[e] = format!("{p}- {name}={v}");
                label = format!("env {name}={v}");
            }
        }
        9 => {
            // extra engine: duplicate the whole engines list item
            let eng = lines.iter().position(|l| l.starts_with("engines:"));
            match eng {
                Some(e) => {
                    let start = e + 1;
                    let mut end = start + 1;
                    while end < lines.len()
                        && (lines[end].trim().is_empty()
                            || lines[end].starts_with(' ')
                            || lines[end].starts_with('-') && end == start)
                    {
                        if end > start && lines[end].starts_with("-") {
                            break;
                        }
                        end += 1;
                    }
                    let item: Vec<String> = lines[start..end.min(lines.len())]
                        .iter()
                        .map(|s| s.to_string())
                        .collect();
                    let times = 1 + rng.below(3);
                    let mut pos = end.min(out.len());
                    for _ in 0..times {
                        for l in &item {
                            out.insert(pos, l.clone());
                            pos += 1;
                        }
                    }
                    label = format!("{times} extra engine(s)");
                }
                None => {
                    out[at] = format!("{prefix}{}{key}:{rest}{rest}", if dash { "- " } else { "" });
                    label = format!("{key} value doubled");
                }
            }
        }
        _ => {
            // retype: scalar -> list / map, list -> scalar
            let v = rest.trim();
            let nv = if v.starts_with('[') {
                v.trim_matches(|c| c == '[' || c == ']').to_string()
            } else if v.is_empty() {
                "x".into()
            } else if rng.below(2) == 0 {
                format!("[{v}]")
            } else {
                format!("{{a: {v}}}")
            };
            out[at] = format!("{prefix}{}{key}: {nv}", if dash { "- " } else { "" });
            label = format!("retype {key}: {nv}");
        }
    }
    let mut s = out.join("\n");
    s.push('\n');
    (s, label)
}
