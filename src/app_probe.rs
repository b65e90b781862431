//! `probe` and `probe serve`: the DAOS files to peers and ports (probe/plan.rs), the
//! sockets (host/net_probe.rs), the report (probe/mod.rs).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::{Prepared, emit, prepare};
use crate::cli::{RootArgs, TargetArgs};
use crate::report;

fn probe_configs(
    root: &RootArgs,
    daos_version: &Option<String>,
    config: &crate::cli::ConfigArgs,
) -> Result<Prepared, String> {
    prepare(&TargetArgs {
        root: root.clone(),
        daos_version: daos_version.clone(),
        config: config.clone(),
        ..TargetArgs::default()
    })
}

pub(super) fn run_probe(args: &crate::cli::ProbeArgs) -> Result<i32, String> {
    use crate::host::net_probe;
    use crate::probe;
    if let Some(crate::cli::ProbeServe::Serve {
        duration,
        root,
        daos_version,
        config,
    }) = &args.serve
    {
        return run_probe_serve(*duration, probe_configs(root, daos_version, config)?);
    }
    let p = probe_configs(&args.root, &args.daos_version, &args.config)?;
    let mut peers = Vec::new();
    for s in &args.peers {
        peers.extend(probe::plan::expand(s).map_err(|e| format!("PEERS: {e}"))?);
    }
    if peers.is_empty() {
        peers = probe::plan::peers_from_config(&p.configs);
    }
    if peers.is_empty() {
        return Err(
            "no peers: give PEERS or a DAOS file naming access points or a hostlist".into(),
        );
    }
    let targets = probe::plan::targets(&p.configs);
    let start = Instant::now();
    let timeout = std::time::Duration::from_millis(args.timeout_ms.max(1));
    let mut results = net_probe::probe_all(&peers, &targets, timeout);
    let hostname = p.host.hostname().unwrap_or_else(|| "localhost".into());
    // the system this node belongs to: the server file's name, else the agent's or
    // dmg's (DAOS's default name when the file leaves it out)
    let system_name = p
        .configs
        .server
        .config()
        .map(|s| s.name.clone())
        .or_else(|| p.configs.agent.config().map(|a| a.name.clone()))
        .or_else(|| p.configs.control.config().map(|c| c.name.clone()))
        .map(|n| n.unwrap_or_else(|| "daos_server".into()));
    let config_digest = p
        .configs
        .server
        .config()
        .and_then(|_| net_probe::file_digest(p.configs.server.path()));
    probe::mark_other_system(&mut results, system_name.as_deref());
    let from = probe::From {
        hostname: hostname.split('.').next().unwrap_or("").to_string(),
        fqdn: hostname.contains('.').then(|| hostname.clone()),
        addresses: Some(net_probe::local_addrs()),
        // a client names the servers' file with --server-config for the fabric ports:
        // its own daos_agent.yml makes it a client all the same
        role: if p.configs.agent.config().is_some()
            && (p.configs.server.config().is_none() || args.config.server_config.is_some())
        {
            "client"
        } else if p.configs.server.config().is_some() {
            "server"
        } else {
            "none"
        }
        .into(),
        system_name,
        config_digest,
    };
    let report = probe::ProbeReport {
        schema: probe::SCHEMA.into(),
        tool: probe::Tool {
            name: "daos-preflight".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        summary: probe::summarize(&results, &from),
        from,
        generated_at: report::rfc3339(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        ),
        duration_ms: start.elapsed().as_millis() as u64,
        timeout_ms: args.timeout_ms,
        results,
    };
    emit(&match args.format {
        crate::cli::FleetFormatProbe::Json => probe::render_json(&report),
        crate::cli::FleetFormatProbe::Text => probe::render_text(&report),
    })?;
    Ok(probe::exit_code(&report))
}

fn run_probe_serve(duration: u64, p: Prepared) -> Result<i32, String> {
    use crate::host::net_probe;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    let Some(cfg) = p.configs.server.config() else {
        return Err("probe serve: no daos_server.yml (give --server-config)".into());
    };
    let digest = net_probe::file_digest(p.configs.server.path());
    let mut bound = Vec::new();
    for t in crate::probe::plan::targets(&p.configs) {
        // control: all addresses, as daos_server binds it (0.0.0.0:port); fabric: the
        // engine's fabric_iface addresses, all addresses when the interface has none
        let addrs: Vec<IpAddr> = match t.engine.and_then(|i| cfg.engines.get(i)) {
            Some(e) => {
                let a = cfg
                    .engine_iface(e)
                    .map(|i| net_probe::iface_addrs(&i))
                    .unwrap_or_default();
                if a.is_empty() {
                    vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
                } else {
                    a
                }
            }
            None => vec![IpAddr::V4(Ipv4Addr::UNSPECIFIED)],
        };
        for a in addrs {
            let what = format!("{} {} on {a}", t.purpose, t.port);
            bound.push(net_probe::bind(SocketAddr::new(a, t.port), what));
        }
    }
    let hostname = p.host.hostname().unwrap_or_else(|| "localhost".into());
    let hello = crate::probe::protocol::Hello {
        proto: crate::probe::SCHEMA.into(),
        hostname: hostname.split('.').next().unwrap_or("").to_string(),
        fqdn: hostname.contains('.').then(|| hostname.clone()),
        version: env!("CARGO_PKG_VERSION").into(),
        system_name: Some(cfg.name.clone().unwrap_or_else(|| "daos_server".into())),
        config_digest: digest,
        t2: 0,
        t3: 0,
    };
    // binding is all root could be needed for: drop everything before answering anyone
    let dropped = net_probe::drop_privileges().map_err(|e| format!("probe serve: {e}"))?;
    eprintln!("probe serve: privileges dropped: {dropped}");
    let mut listeners = Vec::new();
    let mut skipped = 0;
    for b in bound {
        match (b.listener, b.error) {
            (Some(l), _) => {
                eprintln!("probe serve: listening: {}", b.what);
                listeners.push(l);
            }
            (None, e) => {
                skipped += 1;
                eprintln!("probe serve: {}: {}", b.what, e.unwrap_or_default());
            }
        }
    }
    if listeners.is_empty() {
        return Err("probe serve: no port could be bound".into());
    }
    let ports = listeners.len();
    let s = net_probe::serve(listeners, std::time::Duration::from_secs(duration), hello);
    eprintln!(
        "probe serve: stopped after {:.1} s ({}): {} handshake(s) answered of {} connection(s) on {ports} listener(s), {skipped} skipped",
        s.elapsed.as_secs_f64(),
        s.reason.text(),
        s.answered,
        s.connections,
    );
    Ok(0)
}
