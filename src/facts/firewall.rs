//! firewalld: whether it runs, its default zone, and the permanent configuration of its
//! zones and services (firewalld.zone(5), firewalld.service(5), firewalld.conf(5)).
//!
//! The XML is read with a small tag scanner ([`xml_tags`]): the zone and service files
//! are flat lists of empty elements with attributes, which is all we need. Ports inside
//! `<rule>` (rich rules) are conditional (a source, a log action ...): they are counted,
//! not treated as open. The runtime configuration (`firewall-cmd` without
//! `--permanent`) is not visible in files; the permanent one is what survives a reload.

use std::collections::BTreeMap;

use super::{CollectionError, Firewall, FirewallZone, Firewalld, note};
use crate::host::Host;

/// Zone and service directories, highest precedence first.
const ZONE_DIRS: &[&str] = &["/etc/firewalld/zones", "/usr/lib/firewalld/zones"];
const SERVICE_DIRS: &[&str] = &["/etc/firewalld/services", "/usr/lib/firewalld/services"];

/// One XML tag: its name (`port`, `/rule`), attributes, and whether it closes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlTag {
    /// Element name; a closing tag is `/name`.
    pub name: String,
    /// Attributes in order, entities `&amp; &lt; &gt; &quot; &apos;` decoded.
    pub attrs: Vec<(String, String)>,
    /// `<x/>`.
    pub self_closing: bool,
}

impl XmlTag {
    /// An attribute's value.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn decode(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The tags of an XML document, in order, skipping the prolog, comments, CDATA and
/// text. Tolerant: a malformed tag ends the scan.
pub fn xml_tags(text: &str) -> Vec<XmlTag> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix("!--") {
            match r.find("-->") {
                Some(j) => rest = &r[j + 3..],
                None => break,
            }
            continue;
        }
        if rest.starts_with('?') || rest.starts_with('!') {
            match rest.find('>') {
                Some(j) => rest = &rest[j + 1..],
                None => break,
            }
            continue;
        }
        // the tag runs to the first '>' outside quotes
        let mut end = None;
        let mut quote: Option<char> = None;
        for (j, c) in rest.char_indices() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') => quote = Some(c),
                (None, '>') => {
                    end = Some(j);
                    break;
                }
                _ => {}
            }
        }
        let Some(end) = end else { break };
        let mut body = rest[..end].trim();
        rest = &rest[end + 1..];
        let self_closing = body.ends_with('/');
        if self_closing {
            body = body[..body.len() - 1].trim_end();
        }
        let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
        let name = body[..name_end].to_string();
        let mut attrs = Vec::new();
        let mut a = body[name_end..].trim_start();
        while let Some(eq) = a.find('=') {
            let key = a[..eq].trim().to_string();
            let v = a[eq + 1..].trim_start();
            let Some(q) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else {
                break;
            };
            let Some(close) = v[1..].find(q) else { break };
            attrs.push((key, decode(&v[1..1 + close])));
            a = v[close + 2..].trim_start();
        }
        out.push(XmlTag {
            name,
            attrs,
            self_closing,
        });
    }
    out
}

/// Reads a zone file's content into a [`FirewallZone`].
pub fn parse_zone(name: &str, file: &str, text: &str) -> FirewallZone {
    let mut z = FirewallZone {
        name: name.to_string(),
        file: file.to_string(),
        target: None,
        interfaces: Vec::new(),
        sources: Vec::new(),
        ports: Vec::new(),
        services: Vec::new(),
        rich_rules: 0,
    };
    let mut in_rule = 0u32;
    for t in xml_tags(text) {
        match t.name.as_str() {
            "zone" => z.target = t.attr("target").map(str::to_string),
            "rule" if !t.self_closing => {
                in_rule += 1;
                z.rich_rules += 1;
            }
            "rule" => z.rich_rules += 1,
            "/rule" => in_rule = in_rule.saturating_sub(1),
            _ if in_rule > 0 => {}
            "interface" => z.interfaces.extend(t.attr("name").map(str::to_string)),
            "source" => z
                .sources
                .extend(t.attr("address").or(t.attr("ipset")).map(str::to_string)),
            "port" => {
                if let (Some(p), Some(proto)) = (t.attr("port"), t.attr("protocol")) {
                    z.ports.push(format!("{p}/{proto}"));
                }
            }
            "service" => z.services.extend(t.attr("name").map(str::to_string)),
            _ => {}
        }
    }
    z
}

/// The ports (`22/tcp`) of a service file.
pub fn parse_service_ports(text: &str) -> Vec<String> {
    xml_tags(text)
        .into_iter()
        .filter(|t| t.name == "port")
        .filter_map(|t| Some(format!("{}/{}", t.attr("port")?, t.attr("protocol")?)))
        .collect()
}

/// `DefaultZone=` of firewalld.conf, when set.
pub fn parse_default_zone(conf: &str) -> Option<String> {
    conf.lines()
        .filter_map(|l| l.trim().strip_prefix("DefaultZone="))
        .map(|v| v.trim().trim_matches('"').to_string())
        .rfind(|v| !v.is_empty())
}

fn running(host: &Host) -> Option<bool> {
    if !host.is_live() {
        return None;
    }
    // firewalld writes its pid to /run/firewalld.pid (older: /var/run/firewalld.pid)
    for pidfile in ["/run/firewalld.pid", "/var/run/firewalld.pid"] {
        if let Some(pid) = host.read_attr_opt(pidfile)
            && pid.chars().all(|c| c.is_ascii_digit())
            && host.exists(&format!("/proc/{pid}"))
        {
            return Some(true);
        }
    }
    let procs = host.list_dir("/proc").ok()?;
    Some(
        procs
            .iter()
            .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
            .any(|p| {
                host.read_attr_opt(&format!("/proc/{p}/comm")).as_deref() == Some("firewalld")
            }),
    )
}

fn enabled(host: &Host) -> bool {
    host.list_dir("/etc/systemd/system")
        .unwrap_or_default()
        .iter()
        .filter(|d| d.ends_with(".wants"))
        // the link itself: its target may be outside a captured tree
        .any(|d| {
            host.read_link(&format!("/etc/systemd/system/{d}/firewalld.service"))
                .is_ok()
        })
}

/// Reads firewalld's state; `firewalld: null` when it is not installed.
pub fn collect(host: &Host, errors: &mut Vec<CollectionError>) -> Firewall {
    if !host.exists("/usr/lib/firewalld") && !host.exists("/etc/firewalld") {
        return Firewall::default();
    }
    let default_zone = host
        .read_string("/etc/firewalld/firewalld.conf")
        .ok()
        .and_then(|c| parse_default_zone(&c))
        .unwrap_or_else(|| "public".to_string());
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for dir in ZONE_DIRS.iter().rev() {
        for f in host.list_dir(dir).unwrap_or_default() {
            if let Some(name) = f.strip_suffix(".xml") {
                files.insert(name.to_string(), format!("{dir}/{f}"));
            }
        }
    }
    let zones: Vec<FirewallZone> = files
        .into_iter()
        .filter_map(|(name, file)| {
            let text = note(errors, host.read_string(&file))?;
            Some(parse_zone(&name, &file, &text))
        })
        .collect();
    let mut services = BTreeMap::new();
    for s in zones.iter().flat_map(|z| &z.services) {
        if services.contains_key(s) {
            continue;
        }
        let ports = SERVICE_DIRS
            .iter()
            .find_map(|d| host.read_string(&format!("{d}/{s}.xml")).ok())
            .map(|t| parse_service_ports(&t))
            .unwrap_or_default();
        services.insert(s.clone(), ports);
    }
    Firewall {
        firewalld: Some(Firewalld {
            running: running(host),
            enabled: enabled(host),
            default_zone,
            zones,
            services,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_files_as_firewalld_writes_them() {
        // /usr/lib/firewalld/zones/public.xml of firewalld 0.9 (EL8), plus what
        // `firewall-cmd --permanent --add-port=10001/tcp --add-interface=ib0` and a rich
        // rule add to /etc/firewalld/zones/public.xml
        let text = r#"<?xml version="1.0" encoding="utf-8"?>
<zone>
  <short>Public</short>
  <description>For use in public areas. You do not trust the other computers &amp; ...</description>
  <interface name="ib0"/>
  <service name="ssh"/>
  <service name="dhcpv6-client"/>
  <service name="cockpit"/>
  <port port="10001" protocol="tcp"/>
  <port protocol="tcp" port='31416-31419'/>
  <!-- <port port="9191" protocol="tcp"/> -->
  <rule family="ipv4">
    <source address="10.0.0.0/8"/>
    <port port="9191" protocol="tcp"/>
    <accept/>
  </rule>
</zone>
"#;
        let z = parse_zone("public", "/etc/firewalld/zones/public.xml", text);
        assert_eq!(z.interfaces, ["ib0"]);
        assert_eq!(z.services, ["ssh", "dhcpv6-client", "cockpit"]);
        assert_eq!(z.ports, ["10001/tcp", "31416-31419/tcp"]);
        assert!(z.sources.is_empty(), "a rule's source is not the zone's");
        assert_eq!(z.rich_rules, 1);
        assert_eq!(z.target, None);
        let t = parse_zone(
            "trusted",
            "f",
            "<zone target=\"ACCEPT\"><short>Trusted</short></zone>",
        );
        assert_eq!(t.target.as_deref(), Some("ACCEPT"));
        assert_eq!(
            parse_service_ports(
                "<service><short>SSH</short><port protocol=\"tcp\" port=\"22\"/></service>"
            ),
            ["22/tcp"]
        );
        assert_eq!(
            parse_default_zone("# comment\nDefaultZone=public\nDefaultZone=internal\n"),
            Some("internal".into())
        );
        assert_eq!(parse_default_zone("DefaultZone=\n"), None);
    }
}
