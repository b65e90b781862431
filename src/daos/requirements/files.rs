//! The directories and files a DAOS configuration makes the daemons use.

use serde::{Deserialize, Serialize};

use super::configured_emulated_bdevs;
use crate::daos::config::StorageClass;

/// Default `socket_dir` (config/server.go `defaultRuntimeDir`).
pub const DEFAULT_SOCKET_DIR: &str = "/var/run/daos_server";
/// Default agent `runtime_dir` (cmd/daos_agent/config.go `defaultRuntimeDir`).
pub const DEFAULT_AGENT_RUNTIME_DIR: &str = "/var/run/daos_agent";
/// Where certificates live by default (security/config.go `certDir`).
pub const DEFAULT_CERT_DIR: &str = "/etc/daos/certs";

/// Which component a transport configuration belongs to; DAOS's key permission limit
/// and default file names differ (security/config.go `Default*TransportConfig`,
/// security/pem.go `MaxUserOnlyKeyPerm` 0400, `MaxGroupKeyPerm` 0440, `MaxCertPerm` 0664).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsComponent {
    /// daos_server.
    Server,
    /// daos_agent.
    Agent,
    /// dmg (daos_control.yml).
    Control,
}

/// One certificate-related file a component loads at start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFile {
    /// Which component.
    pub component: TlsComponent,
    /// `ca_cert`, `cert`, `key`, `client_cert_dir`.
    pub key: String,
    /// The path (configured or DAOS's default).
    pub path: String,
    /// Most permissive mode DAOS accepts (`None`: a directory, only readability).
    pub max_mode: Option<u32>,
}

/// The certificate files a transport configuration makes DAOS load, with DAOS's
/// defaults filled in; empty when `allow_insecure: true` (nothing is loaded).
pub fn tls_files(
    component: TlsComponent,
    t: &crate::daos::config::TransportConfig,
) -> Vec<TlsFile> {
    if t.allow_insecure {
        return Vec::new();
    }
    let (cert, key, key_max) = match component {
        TlsComponent::Server => ("server.crt", "server.key", 0o400),
        TlsComponent::Agent => ("agent.crt", "agent.key", 0o400),
        TlsComponent::Control => ("admin.crt", "admin.key", 0o440),
    };
    let def = |f: &str| format!("{DEFAULT_CERT_DIR}/{f}");
    let mut out = vec![
        TlsFile {
            component,
            key: "ca_cert".into(),
            path: t.ca_cert.clone().unwrap_or_else(|| def("daosCA.crt")),
            max_mode: Some(0o664),
        },
        TlsFile {
            component,
            key: "cert".into(),
            path: t.cert.clone().unwrap_or_else(|| def(cert)),
            max_mode: Some(0o664),
        },
        TlsFile {
            component,
            key: "key".into(),
            path: t.key.clone().unwrap_or_else(|| def(key)),
            max_mode: Some(key_max),
        },
    ];
    if component == TlsComponent::Server {
        out.push(TlsFile {
            component,
            key: "client_cert_dir".into(),
            path: t.client_cert_dir.clone().unwrap_or_else(|| def("clients")),
            max_mode: None,
        });
    }
    out
}

/// The parent directory of an absolute path (`/var/log/daos/x.log` → `/var/log/daos`).
pub fn parent_dir(path: &str) -> Option<String> {
    let p = std::path::Path::new(path);
    let parent = p.parent()?.to_str()?;
    (!parent.is_empty()).then(|| parent.to_string())
}

/// Every host path the DAOS configuration names, for the facts collector to examine
/// ([`crate::facts::collect_with_paths`]): log files and their directories, socket and
/// runtime directories, the control metadata path, SCM mount points and their parents,
/// `file` bdevs and their directories, `kdev` devices (and their `/sys/class/block`
/// entry), and the certificate files DAOS would load.
pub fn referenced_paths(c: &crate::daos::config::LoadedConfigs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let with_parent = |out: &mut Vec<String>, p: &str| {
        out.push(p.to_string());
        out.extend(parent_dir(p));
    };
    if let Some(s) = c.server.config() {
        if let Some(l) = &s.control_log_file {
            with_parent(&mut out, l);
        }
        out.push(s.socket_dir.clone().unwrap_or(DEFAULT_SOCKET_DIR.into()));
        if let Some(p) = s.control_metadata.as_ref().and_then(|m| m.path.clone()) {
            with_parent(&mut out, &p);
        }
        for e in &s.engines {
            if let Some(l) = &e.log_file {
                with_parent(&mut out, l);
            }
            for t in e.scm_tiers() {
                if let Some(m) = &t.scm_mount {
                    with_parent(&mut out, m);
                }
            }
        }
        for b in configured_emulated_bdevs(s) {
            with_parent(&mut out, &b.path);
            if b.class == StorageClass::Kdev
                && let Some(name) = b.path.rsplit('/').next()
            {
                out.push(format!("/sys/class/block/{name}"));
            }
        }
        for f in tls_files(TlsComponent::Server, &s.transport) {
            out.push(f.path);
        }
    }
    if let Some(a) = c.agent.config() {
        out.push(
            a.runtime_dir
                .clone()
                .unwrap_or(DEFAULT_AGENT_RUNTIME_DIR.into()),
        );
        if let Some(l) = &a.log_file {
            with_parent(&mut out, l);
        }
        for f in tls_files(TlsComponent::Agent, &a.transport) {
            out.push(f.path);
        }
    }
    if let Some(k) = c.control.config() {
        for f in tls_files(TlsComponent::Control, &k.transport) {
            out.push(f.path);
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|p| p.starts_with('/') && seen.insert(p.clone()));
    out
}
