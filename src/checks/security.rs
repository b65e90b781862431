//! `config.security`: TLS between the DAOS components — `allow_insecure`, and the
//! certificate files DAOS loads at start with the permissions it enforces.
//!
//! Sources: security/config.go (`Default{Server,Agent,Client}TransportConfig`: files
//! under /etc/daos/certs, key permission limit per component), security/pem.go
//! (`LoadPEMData`/`checkMaxPermissions`: a file with any permission bit outside the limit
//! is refused; `MaxCertPerm` 0664, `MaxUserOnlyKeyPerm` 0400 for server and agent keys,
//! `MaxGroupKeyPerm` 0440 for dmg's admin key), security/faults.go
//! (code.SecurityMissingCertFile, code.SecurityUnreadableCertFile), and
//! utils/certs/gen_certificates.sh (owners: server.key daos_server, agent.key daos_agent;
//! clients/ owned by daos_server).

use super::nvme::path_fact;
use super::service::{agent_user, server_user};
use super::{Check, Context, Finding};
use crate::daos::config::{FileLoad, Role};
use crate::daos::requirements::{TlsComponent, tls_files};

/// `config.security`
pub struct Security;

impl Check for Security {
    fn id(&self) -> &'static str {
        "config.security"
    }
    fn title(&self) -> &'static str {
        "Transport security and certificate files"
    }
    fn explain(&self) -> &'static str {
        "transport_config in daos_server.yml, daos_agent.yml and daos_control.yml. allow_insecure: \
true turns TLS off: the control plane accepts unauthenticated gRPC from any host that reaches \
its port (dmg system stop/erase, pool create/destroy), agents and servers are not \
authenticated, and traffic is unencrypted. Otherwise DAOS loads ca_cert, cert and key \
(defaults /etc/daos/certs/daosCA.crt, server.crt/agent.crt/admin.crt, .key) and refuses a \
missing file (code.SecurityMissingCertFile), an unreadable one \
(code.SecurityUnreadableCertFile), or one with permission bits beyond its limit \
(security/pem.go: certificates 0664, server and agent keys 0400, dmg's admin key 0440). The \
key must be readable by the service user (daos_server, daos_agent), so it must be theirs with \
mode 0400. The server also reads client_cert_dir (default /etc/daos/certs/clients).\n\
pass: certificates in place. warn: allow_insecure. fail: a missing file, or a mode or owner \
DAOS refuses. skip: no DAOS configuration."
    }
    fn run(&self, ctx: &Context) -> Finding {
        let Some(c) = ctx.config else {
            return Finding::skip("no DAOS configuration was read");
        };
        let f = ctx.facts;
        let mut judged: Vec<(TlsComponent, &str, &crate::daos::config::TransportConfig)> =
            Vec::new();
        if c.role != Role::Agent
            && let FileLoad::Loaded { config, .. } = &c.server
        {
            judged.push((TlsComponent::Server, "daos_server.yml", &config.transport));
        }
        if let FileLoad::Loaded { config, .. } = &c.agent {
            judged.push((TlsComponent::Agent, "daos_agent.yml", &config.transport));
        }
        if let FileLoad::Loaded { config, .. } = &c.control {
            judged.push((TlsComponent::Control, "daos_control.yml", &config.transport));
        }
        if judged.is_empty() {
            return Finding::skip("no DAOS configuration file loaded");
        }
        let (mut ok, mut warns, mut fails, mut actions) = (vec![], vec![], vec![], vec![]);
        let mut fault: Option<&str> = None;
        for (comp, file, t) in &judged {
            if t.allow_insecure {
                warns.push(format!(
                    "{file}: allow_insecure: true — no TLS: {}",
                    match comp {
                        TlsComponent::Server => "any host that reaches the control port can run dmg commands (system stop/erase, pool destroy) unauthenticated, and traffic is unencrypted",
                        TlsComponent::Agent => "the agent does not authenticate the servers it talks to",
                        TlsComponent::Control => "dmg sends admin commands unauthenticated and unencrypted",
                    }
                ));
                continue;
            }
            let user = match comp {
                TlsComponent::Server => Some(server_user(f)),
                TlsComponent::Agent => Some(agent_user(f)),
                TlsComponent::Control => None,
            };
            for tf in tls_files(*comp, t) {
                let l = format!("{file} {} {}", tf.key, tf.path);
                let Some(p) = path_fact(f, &tf.path) else {
                    warns.push(format!("{l}: not examined"));
                    continue;
                };
                match p.exists {
                    Some(false) => {
                        fails.push(format!("{l}: missing"));
                        fault.get_or_insert("code.SecurityMissingCertFile");
                        continue;
                    }
                    None => {
                        fails.push(format!(
                            "{l}: unreadable: {}",
                            p.error.as_deref().unwrap_or("?")
                        ));
                        fault.get_or_insert("code.SecurityUnreadableCertFile");
                        continue;
                    }
                    Some(true) => {}
                }
                let mode = p
                    .mode
                    .as_deref()
                    .and_then(|m| u32::from_str_radix(m, 8).ok())
                    .unwrap_or(0);
                let Some(max) = tf.max_mode else {
                    // client_cert_dir: a directory the server can list
                    if p.kind.as_deref() != Some("directory") {
                        fails.push(format!("{l}: not a directory"));
                    } else {
                        ok.push(format!("{l}: {}", p.mode.as_deref().unwrap_or("?")));
                    }
                    continue;
                };
                if p.kind.as_deref() != Some("file") {
                    fails.push(format!("{l}: not a regular file"));
                    continue;
                }
                if mode & 0o777 & !max != 0 {
                    fails.push(format!(
                        "{l}: mode {:04o} exceeds DAOS's limit {max:04o} (security/pem.go): DAOS refuses to load it",
                        mode & 0o777
                    ));
                    let target = if tf.key == "key" { max } else { 0o644 };
                    actions.push(format!("chmod {target:04o} {}", tf.path));
                    continue;
                }
                if tf.key == "key"
                    && let Some(u) = &user
                    && !u.is_root()
                    && p.owner.as_deref() != Some(u.user.as_str())
                {
                    let group_ok =
                        mode & 0o040 != 0 && p.group.as_deref() == Some(u.group.as_str());
                    if !group_ok {
                        fails.push(format!(
                            "{l}: owned by {} with mode {:04o}: {} can't read it",
                            p.owner.clone().unwrap_or_else(|| p
                                .uid
                                .map(|x| x.to_string())
                                .unwrap_or_default()),
                            mode & 0o7777,
                            u.user
                        ));
                        fault.get_or_insert("code.SecurityUnreadableCertFile");
                        actions.push(format!("chown {}:{} {}", u.user, u.group, tf.path));
                        continue;
                    }
                }
                ok.push(format!("{l}: {:04o}", mode & 0o7777));
            }
        }
        let fd = if !fails.is_empty() {
            let mut fd = Finding::fail(fails.join("; ")).fix(
                "install the certificates with the owners and modes DAOS requires (utils/certs/gen_certificates.sh)",
                &actions,
                false,
            );
            if let Some(code) = fault {
                fd = fd.fault(code);
            }
            fd
        } else if !warns.is_empty() {
            Finding::warn(warns.join("; ")).fix(
                "generate certificates (/usr/lib64/daos/certgen/gen_certificates.sh), install them under /etc/daos/certs, and set allow_insecure: false in all three files",
                &[],
                false,
            )
        } else {
            Finding::pass(ok.join("; "))
        };
        fd.detail("files", &ok)
    }
}
