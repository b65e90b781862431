//! `firewall.ports`: the ports daos_server listens on are not blocked by firewalld, and
//! engines sharing a NIC don't overlap.
//!
//! The ports (design.md §2, [`required_ports`]): control `port` (default 10001),
//! `telemetry_port`, each engine's `fabric_iface_port` and, for tcp/sockets providers,
//! one port per CaRT context after it (2 + targets + min(nr_xs_helpers, targets) ports in
//! all: validate `engine_port_count`). firewalld's permanent configuration is judged: the zone of each
//! fabric interface (an `<interface>` binding, else the default zone) for its engine's
//! ports, the default zone for the control and telemetry ports. Raw nftables/iptables
//! rules are not inspected. The remedy opens ports; it never disables the firewall.

use super::config::server_for_requirements;
use super::{Check, Context, Finding};
use crate::daos::requirements::{RequiredPort, required_ports};
use crate::facts::{FirewallZone, Firewalld};

/// Parses `10001/tcp` or `31416-31419/tcp` into (lo, hi, protocol).
pub fn parse_port_spec(s: &str) -> Option<(u16, u16, String)> {
    let (range, proto) = s.split_once('/')?;
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
        None => {
            let p = range.trim().parse().ok()?;
            (p, p)
        }
    };
    Some((lo, hi, proto.trim().to_string()))
}

/// Ports of `want` not opened by `zone` (its target, ports and services).
fn uncovered(fw: &Firewalld, zone: &FirewallZone, want: &RequiredPort) -> Vec<u16> {
    if zone.target.as_deref() == Some("ACCEPT") {
        return Vec::new();
    }
    let mut open: Vec<(u16, u16, String)> = zone
        .ports
        .iter()
        .filter_map(|p| parse_port_spec(p))
        .collect();
    for s in &zone.services {
        if let Some(ports) = fw.services.get(s) {
            open.extend(ports.iter().filter_map(|p| parse_port_spec(p)));
        }
    }
    (want.lo..=want.hi)
        .filter(|p| {
            !open
                .iter()
                .any(|(lo, hi, proto)| proto == &want.protocol && lo <= p && p <= hi)
        })
        .collect()
}

fn ranges(ports: &[u16]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ports.len() {
        let mut j = i;
        while j + 1 < ports.len() && ports[j + 1] == ports[j] + 1 {
            j += 1;
        }
        out.push(if i == j {
            ports[i].to_string()
        } else {
            format!("{}-{}", ports[i], ports[j])
        });
        i = j + 1;
    }
    out.join(",")
}

/// `firewall.ports`
pub struct Ports;

impl Check for Ports {
    fn id(&self) -> &'static str {
        "firewall.ports"
    }
    fn title(&self) -> &'static str {
        "DAOS ports are open"
    }
    fn explain(&self) -> &'static str {
        "daos_server listens on the control port (port, default 10001), telemetry_port when set, \
and each engine's fabric_iface_port (tcp and sockets providers: one port per CaRT context from it, 2 + targets + min(nr_xs_helpers, targets) ports: cart/crt_hg.c crt_get_info_string, engine/srv_internal.h DSS_CTX_NR_TOTAL). \
Engines sharing a NIC must not overlap. When firewalld runs (live: its pid file or process; \
under --root: its unit is enabled), its permanent configuration must open them: the zone of \
each fabric interface (bound by <interface>, else the default zone of firewalld.conf) for the \
engine ports, the default zone for the control and telemetry ports; a zone with \
target=\"ACCEPT\" (trusted) opens everything. Rich rules and raw nftables/iptables rules are not \
evaluated.\n\
pass: open, or no firewalld running. fail: a port not opened, or overlapping engine ports. \
skip: no server configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let cfg = match server_for_requirements(ctx) {
            Ok(c) => c,
            Err(f) => return f,
        };
        let ports = required_ports(cfg);
        let specs: Vec<String> = ports
            .iter()
            .map(|p| {
                format!(
                    "{} {}{}",
                    p.spec(),
                    p.purpose,
                    p.iface
                        .as_deref()
                        .map(|i| format!(" on {i}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        let mut fails: Vec<String> = Vec::new();
        let mut actions: Vec<String> = Vec::new();
        let mut to_open: Vec<(String, String)> = Vec::new();
        // engines sharing a NIC must not overlap (validate.rs reports it for the file too)
        for (a, pa) in ports.iter().enumerate() {
            for pb in &ports[a + 1..] {
                if pa.engine.is_some()
                    && pb.engine.is_some()
                    && pa.iface == pb.iface
                    && pa.lo <= pb.hi
                    && pb.lo <= pa.hi
                {
                    fails.push(format!(
                        "{} ({}) and {} ({}) overlap on {}",
                        pa.spec(),
                        pa.purpose,
                        pb.spec(),
                        pb.purpose,
                        pa.iface.as_deref().unwrap_or("?")
                    ));
                    actions.push(format!("space the fabric_iface_port of engines on {} at least {} apart (tcp: one port per CaRT context) in daos_server.yml", pa.iface.as_deref().unwrap_or("one NIC"), u32::from(pa.hi - pa.lo) + 1));
                }
            }
        }
        let fw = ctx.facts.firewall.firewalld.as_ref();
        let judged_fw = match fw {
            None => Err(
                "firewalld is not installed (raw nftables/iptables rules are not inspected)"
                    .to_string(),
            ),
            Some(f) if f.running == Some(false) => {
                Err("firewalld is installed but not running".to_string())
            }
            Some(f) if f.running.is_none() && !f.enabled => {
                Err("firewalld is not enabled in this tree".to_string())
            }
            Some(f) => Ok(f),
        };
        let mut open_lines = Vec::new();
        if let Ok(fw) = judged_fw {
            for p in &ports {
                let zone_name = p
                    .iface
                    .as_deref()
                    .and_then(|i| {
                        fw.zones
                            .iter()
                            .find(|z| z.interfaces.iter().any(|x| x == i))
                    })
                    .map(|z| z.name.clone())
                    .unwrap_or_else(|| fw.default_zone.clone());
                let Some(zone) = fw.zones.iter().find(|z| z.name == zone_name) else {
                    fails.push(format!(
                        "{} {}: firewalld zone {zone_name} has no configuration file",
                        p.spec(),
                        p.purpose
                    ));
                    continue;
                };
                let missing = uncovered(fw, zone, p);
                if missing.is_empty() {
                    open_lines.push(format!("{} open in zone {zone_name}", p.spec()));
                } else {
                    let r = ranges(&missing);
                    fails.push(format!(
                        "{} ({}) blocked: firewalld zone {zone_name} ({}) does not open {r}/{}",
                        p.spec(),
                        p.purpose,
                        zone.file,
                        p.protocol
                    ));
                    let spec = if missing.len() == 1 {
                        format!("{}/{}", missing[0], p.protocol)
                    } else {
                        format!(
                            "{}-{}/{}",
                            missing[0],
                            missing[missing.len() - 1],
                            p.protocol
                        )
                    };
                    actions.push(format!(
                        "firewall-cmd --permanent --zone={zone_name} --add-port={spec} && firewall-cmd --reload"
                    ));
                    to_open.push((zone_name.to_string(), spec.to_string()));
                }
            }
        }
        to_open.dedup();
        // structured for `fix`: (zone, port/proto) pairs to open permanently
        let to_open: Vec<serde_json::Value> = to_open
            .iter()
            .map(|(z, p)| serde_json::json!({"zone": z, "port": p}))
            .collect();
        let base = |f: Finding| f.detail("ports", &specs).detail("to_open", &to_open);
        if !fails.is_empty() {
            actions.dedup();
            return base(Finding::fail(fails.join("; ")).fix(
                "open the DAOS ports in firewalld (do not disable the firewall)",
                &actions,
                false,
            ));
        }
        match judged_fw {
            Err(why) => base(Finding::pass(format!(
                "{why}; DAOS needs {}",
                specs.join(", ")
            ))),
            Ok(fw) => base(Finding::pass(format!(
                "firewalld{} opens every DAOS port: {}",
                if fw.running.is_none() {
                    " (enabled, permanent configuration)"
                } else {
                    ""
                },
                open_lines.join(", ")
            )))
            .detail("default_zone", &fw.default_zone),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_ranges() {
        assert_eq!(
            parse_port_spec("10001/tcp"),
            Some((10001, 10001, "tcp".into()))
        );
        assert_eq!(
            parse_port_spec("31416-31419/tcp"),
            Some((31416, 31419, "tcp".into()))
        );
        assert_eq!(parse_port_spec("x/tcp"), None);
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), "1-3,7,9-10");
    }
}
