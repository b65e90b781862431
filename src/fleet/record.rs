//! The few fields of a report that the fleet summary needs, deserialized directly from
//! the JSON (everything else — check details, PCI devices, the kernel config — is
//! skipped by the parser without being materialised).

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};

use crate::checks::Status;

/// A report, reduced.
#[derive(Debug, Deserialize)]
pub struct SlimReport {
    /// `daos-preflight/report/v1`.
    pub schema: String,
    /// Tool identity.
    #[serde(default)]
    pub tool: SlimTool,
    /// Host identity.
    #[serde(default)]
    pub host: SlimHost,
    /// RFC 3339.
    #[serde(default)]
    pub generated_at: Option<String>,
    /// Rules profile.
    #[serde(default)]
    pub daos_version: Option<String>,
    /// Verdicts.
    pub checks: Vec<SlimCheck>,
    /// Facts, reduced.
    #[serde(default)]
    pub facts: SlimFacts,
    /// The DAOS view of the host (absent in older reports).
    #[serde(default)]
    pub daos: Option<SlimDaos>,
}

/// `daos`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimDaos {
    /// `server` / `client` / `none`.
    #[serde(default)]
    pub role: Option<String>,
    /// Rules profile.
    #[serde(default)]
    pub rules_version: Option<String>,
    /// Installed DAOS version.
    #[serde(default)]
    pub installed_version: Option<String>,
    /// `daos_server.yml` values.
    #[serde(default)]
    pub server: Option<SlimServer>,
    /// `daos_agent.yml` values.
    #[serde(default)]
    pub agent: Option<SlimClient>,
    /// `daos_control.yml` values.
    #[serde(default)]
    pub control: Option<SlimClient>,
}

/// `daos.*.transport`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimTransport {
    /// `allow_insecure`.
    #[serde(default)]
    pub allow_insecure: Option<bool>,
    /// SHA-256 of the CA certificate file.
    #[serde(default)]
    pub ca_sha256: Option<String>,
}

/// `daos.server`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimServer {
    /// System name.
    #[serde(default)]
    pub name: Option<String>,
    /// Control port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Access points as written.
    #[serde(default)]
    pub access_points: Option<Vec<String>>,
    /// Provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Transport security.
    #[serde(default)]
    pub transport: Option<SlimTransport>,
    /// Engines.
    #[serde(default)]
    pub engines: Vec<SlimEngine>,
}

/// `daos.server.engines[]`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimEngine {
    /// Engine provider.
    #[serde(default)]
    pub provider: Option<String>,
    /// Fabric interface.
    #[serde(default)]
    pub fabric_iface: Option<String>,
}

/// `daos.agent` / `daos.control` (`hostlist` is dmg's list of servers).
#[derive(Debug, Default, Deserialize)]
pub struct SlimClient {
    /// System name.
    #[serde(default)]
    pub name: Option<String>,
    /// Control port.
    #[serde(default)]
    pub port: Option<u16>,
    /// Agent access points.
    #[serde(default)]
    pub access_points: Option<Vec<String>>,
    /// dmg hostlist.
    #[serde(default)]
    pub hostlist: Option<Vec<String>>,
    /// Transport security.
    #[serde(default)]
    pub transport: Option<SlimTransport>,
    /// Agent fabric interfaces.
    #[serde(default)]
    pub fabric_ifaces: Option<Vec<SlimAgentIfaces>>,
}

/// `daos.agent.fabric_ifaces[]`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimAgentIfaces {
    /// Devices.
    #[serde(default)]
    pub devices: Vec<SlimAgentDev>,
}

/// `daos.agent.fabric_ifaces[].devices[]`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimAgentDev {
    /// Interface.
    #[serde(default)]
    pub iface: Option<String>,
    /// Domain (`system.provider` holds it to the servers' provider).
    #[serde(default)]
    pub domain: Option<String>,
}

/// `tool`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimTool {
    /// Crate version.
    #[serde(default)]
    pub version: Option<String>,
}

/// `host`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimHost {
    /// Hostname.
    #[serde(default)]
    pub hostname: Option<String>,
    /// FQDN.
    #[serde(default)]
    pub fqdn: Option<String>,
    /// IP addresses (live only).
    #[serde(default)]
    pub addresses: Option<Vec<String>>,
}

/// `checks[]`.
#[derive(Debug, Deserialize)]
pub struct SlimCheck {
    /// Check id.
    pub id: String,
    /// Status.
    pub status: Status,
}

/// `facts`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimFacts {
    /// `kernel`.
    #[serde(default)]
    pub kernel: SlimKernel,
    /// `iommu`.
    #[serde(default)]
    pub iommu: SlimIommu,
    /// `numa`.
    #[serde(default)]
    pub numa: SlimNuma,
    /// `net`.
    #[serde(default)]
    pub net: SlimNet,
    /// `time` (adjtimex; null under `--root`).
    #[serde(default)]
    pub time: Option<SlimTime>,
}

/// `facts.time`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimTime {
    /// The kernel clock is synchronised.
    #[serde(default)]
    pub synchronized: Option<bool>,
}

/// `facts.kernel`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimKernel {
    /// Release.
    #[serde(default)]
    pub release: Option<String>,
}

/// `facts.iommu`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimIommu {
    /// Decoded firmware table.
    #[serde(default)]
    pub firmware: Option<SlimFirmware>,
}

/// `facts.iommu.firmware`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimFirmware {
    /// `DMAR` / `IVRS`.
    #[serde(default)]
    pub table: Option<String>,
    /// DMA address width.
    #[serde(default)]
    pub host_address_width_bits: Option<u32>,
}

/// `facts.numa`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimNuma {
    /// Nodes.
    #[serde(default)]
    pub nodes: Vec<SlimNode>,
}

/// `facts.numa.nodes[]`.
#[derive(Debug, Deserialize)]
pub struct SlimNode {
    /// Node id.
    pub id: u32,
    /// Number of CPUs (the list is counted, not kept).
    #[serde(default)]
    pub cpus: Count,
    /// Hugepage pools.
    #[serde(default)]
    pub hugepages: Vec<SlimPool>,
}

/// A hugepage pool.
#[derive(Debug, Deserialize)]
pub struct SlimPool {
    /// Page size, KiB.
    pub size_kib: u64,
    /// nr_hugepages.
    #[serde(default)]
    pub total: Option<u64>,
}

/// `facts.net`.
#[derive(Debug, Default, Deserialize)]
pub struct SlimNet {
    /// Interfaces.
    #[serde(default)]
    pub interfaces: Vec<SlimIface>,
}

/// `facts.net.interfaces[]`.
#[derive(Debug, Deserialize)]
pub struct SlimIface {
    /// Name.
    pub name: String,
    /// Mb/s.
    #[serde(default)]
    pub speed_mbps: Option<u64>,
    /// MTU.
    #[serde(default)]
    pub mtu: Option<u32>,
    /// Backing PCI device.
    #[serde(default)]
    pub pci_address: Option<String>,
}

/// The length of a JSON array, counted without keeping its elements.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Count, A::Error> {
                let mut n = 0;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Count(n))
            }
        }
        d.deserialize_seq(V)
    }
}

/// A document fleet reads: a check report or a probe report.
#[derive(Debug)]
pub enum Doc {
    /// `daos-preflight/report/v1`.
    Report(Box<SlimReport>),
    /// `daos-preflight/probe/v1`.
    Probe(super::network::SlimProbe),
}

/// Every top-level field of both kinds, parsed in one pass (their names do not
/// collide: a report has `host`, `checks`, `facts`, `daos`; a probe report `from`,
/// `results`), so telling them apart costs no second parse.
#[derive(Debug, Deserialize)]
struct AnyDoc {
    schema: String,
    #[serde(default)]
    tool: SlimTool,
    #[serde(default)]
    host: SlimHost,
    #[serde(default)]
    generated_at: Option<String>,
    #[serde(default)]
    daos_version: Option<String>,
    #[serde(default)]
    checks: Option<Vec<SlimCheck>>,
    #[serde(default)]
    facts: SlimFacts,
    #[serde(default)]
    daos: Option<SlimDaos>,
    #[serde(default)]
    from: Option<super::network::SlimFrom>,
    #[serde(default)]
    results: Option<Vec<super::network::SlimResult>>,
}

/// Parses a check or probe report; the error says why it is neither.
pub fn parse_doc(bytes: &[u8]) -> Result<Doc, String> {
    let d: AnyDoc = serde_json::from_slice(bytes).map_err(|e| format!("malformed report: {e}"))?;
    if d.schema.starts_with("daos-preflight/probe/") {
        let results = d
            .results
            .ok_or_else(|| "malformed probe report: missing field `results`".to_string())?;
        return Ok(Doc::Probe(super::network::SlimProbe {
            schema: d.schema,
            from: d.from.unwrap_or_default(),
            generated_at: d.generated_at,
            results,
        }));
    }
    if !d.schema.starts_with("daos-preflight/report/") {
        return Err(format!(
            "not a daos-preflight report (schema {:?})",
            d.schema
        ));
    }
    let checks = d
        .checks
        .ok_or_else(|| "malformed report: missing field `checks`".to_string())?;
    Ok(Doc::Report(Box::new(SlimReport {
        schema: d.schema,
        tool: d.tool,
        host: d.host,
        generated_at: d.generated_at,
        daos_version: d.daos_version,
        checks,
        facts: d.facts,
        daos: d.daos,
    })))
}

/// Parses a check report; the error says why it is not one.
pub fn parse(bytes: &[u8]) -> Result<SlimReport, String> {
    match parse_doc(bytes)? {
        Doc::Report(r) => Ok(*r),
        Doc::Probe(p) => Err(format!(
            "a probe report (schema {:?}), not a check report",
            p.schema
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduces_a_report_and_rejects_others() {
        let r = parse(
            br#"{"schema":"daos-preflight/report/v1","tool":{"name":"x","version":"0.1.0"},
            "host":{"hostname":"n1"},"generated_at":"2026-11-25T01:01:01Z","daos_version":"2.6",
            "checks":[{"id":"a.b","status":"warn","details":{"x":[1,{"y":2}]}}],
            "facts":{"numa":{"nodes":[{"id":0,"cpus":[0,1,2],"hugepages":[{"size_kib":2048,"total":8}]}]}}}"#,
        )
        .unwrap();
        assert_eq!(r.checks[0].status, Status::Warn);
        assert_eq!(r.facts.numa.nodes[0].cpus, Count(3));
        assert_eq!(r.host.hostname.as_deref(), Some("n1"));
        assert!(
            parse(br#"{"schema":"other","checks":[]}"#)
                .unwrap_err()
                .contains("not a daos-preflight report")
        );
        assert!(
            parse(br#"{"schema":"daos-preflight/report/v1"}"#)
                .unwrap_err()
                .contains("missing field `checks`")
        );
        assert!(
            parse(
                br#"{"schema":"daos-preflight/report/v1","checks":[{"id":"a","status":"maybe"}]}"#
            )
            .is_err()
        );
    }
}
