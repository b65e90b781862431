//! `daos_control.yml`, read by dmg: src/control/lib/control/config.go `LoadConfig`
//! (empty file, strict YAML, system name) refuses at load; the port and the host list
//! are only used when dmg sends a request (lib/control/hostlist.go `getRequestHosts`:
//! `FaultConfigEmptyHostList`, `FaultConfigBadControlPort`, then `ParseHostList`), so
//! those are start-time issues: every dmg command without `-l` would fail.

use super::hostlist::check_host_list;
use super::{Out, name_rule};
use crate::daos::DaosVersion;
use crate::daos::config::Issue;
use crate::daos::config::control::ControlConfig;

/// `daos_control.yml` rules.
pub fn validate_control(cfg: &ControlConfig, _version: DaosVersion, file: &str) -> Vec<Issue> {
    let mut out = Out::new(file);
    name_rule(&mut out, cfg.name.as_deref(), cfg.name_pos);
    let empty = cfg.hostlist.is_empty();
    if cfg.hostlist_pos.is_some() && empty {
        out.start_err(
            cfg.hostlist_pos,
            "hostlist",
            "hostlist is empty: dmg loads the file, but every command without -l fails".into(),
            Some("ClientConfigEmptyHostList"),
            Some("list the servers (their access points) in hostlist, e.g. ['node[1-3]']".into()),
        );
    }
    if let Some(p) = cfg.port
        && !(1..=65535).contains(&p)
    {
        out.start_err(
            None,
            "port",
            format!("port {p} is not a TCP port (1-65535): dmg loads the file, but can't contact the servers"),
            (p == 0).then_some("ClientConfigBadControlPort"),
            Some("set port to the servers' control port (default 10001)".into()),
        );
    }
    if let Err(why) = check_host_list(&cfg.hostlist) {
        out.start_err(
            cfg.hostlist_pos,
            "hostlist",
            format!("hostlist can't be parsed as a DAOS host list: {why}; dmg loads the file, but every command without -l fails"),
            None,
            Some("list the servers as hostname or hostname:port, ranges as node[1-3]".into()),
        );
    }
    out.issues
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daos::config::control::parse_control;
    use crate::daos::config::{DaosStage, Severity};

    fn errors(text: &str) -> Vec<(DaosStage, String)> {
        let p = parse_control(text, "c.yml", DaosVersion::V2_6).unwrap();
        let mut all = p.issues;
        all.extend(validate_control(&p.config, DaosVersion::V2_6, "c.yml"));
        all.into_iter()
            .filter(|i| i.severity == Severity::Error)
            .map(|i| (i.stage, i.message))
            .collect()
    }

    // Verdicts from daos-config-oracle-2.6 --kind control (../shared/oracles).
    #[test]
    fn agrees_with_dmg_load_config() {
        // a file of zero bytes is refused; comments alone load (defaults)
        let e = errors("");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].0, DaosStage::Parse);
        assert_eq!(errors("# c\n"), []);
        assert_eq!(errors("name: ~\n")[0].0, DaosStage::Parse);
        // LoadConfig does not look at hostlist or port: dmg fails per request
        for t in [
            "hostlist: []\nport: 0\n",
            "hostlist: ['a:b:c']\n",
            "port: 65536\n",
        ] {
            let e = errors(t);
            assert!(
                !e.is_empty() && e.iter().all(|(s, _)| *s == DaosStage::Start),
                "{t}: {e:?}"
            );
        }
        assert_eq!(errors("hostlist: ['node[1-3]:10001']\nport: 10001\n"), []);
    }
}
