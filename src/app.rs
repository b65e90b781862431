//! The composition root: builds the [`Host`], collects facts, runs checks, renders and
//! maps the outcome to an exit code. The only place that knows about `/`, stdout and
//! the clock.

use std::io::{self, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use crate::checks::{self, Context, Selection};
use crate::cli::{
    AcpiFormat, AcpiTable, CheckArgs, Cli, ColorChoice, Command, FactsFormat, FixArgs, FixFormat,
    FleetArgs, FleetFormat, ReportFormat, RoleArg, RootArgs, SchemaKind, TargetArgs,
};
use crate::daos::DaosVersion;
use crate::daos::config::{ConfigPaths, LoadedConfigs, RoleChoice};
use crate::facts;
use crate::facts::acpi::{self, ParseResult};
use crate::facts::iommu::ACPI_TABLES_DIR;
use crate::host::{self, Host};
use crate::report::{self, CheckResult, HostId, Report, Summary, Tool};

#[path = "app_probe.rs"]
mod probe_cmd;

/// The file `check --textfile DIR` writes (node_exporter reads `*.prom`).
pub const TEXTFILE_NAME: &str = "daos_preflight.prom";

/// Exit code for usage errors and invalid inputs.
pub const EXIT_USAGE: i32 = 2;

fn host_of(root: &RootArgs) -> Result<Host, String> {
    match &root.root {
        None => Ok(Host::live()),
        Some(dir) => {
            if !dir.is_dir() {
                return Err(format!("--root {}: not a directory", dir.display()));
            }
            Ok(Host::at(dir))
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<(), String> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("writing to stdout: {e}")),
    }
}

fn fail_usage(msg: &str) -> i32 {
    eprintln!("daos-preflight: {msg}");
    EXIT_USAGE
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> i32 {
    // least privilege before anything is read (host::caps)
    let privilege = match cli.command {
        Some(Command::Fix(_)) => crate::host::caps::Privilege::Write,
        Some(Command::Probe(crate::cli::ProbeArgs { serve: Some(_), .. })) => {
            crate::host::caps::Privilege::Bind
        }
        _ => crate::host::caps::Privilege::Read,
    };
    if let Err(e) = Host::live().restrict_capabilities(privilege) {
        eprintln!("daos-preflight: could not drop capabilities: {e}");
    }
    let result = match cli.command {
        None => run_check(&cli.check),
        Some(Command::Check(args)) => run_check(&args),
        Some(Command::Facts(args)) => run_facts(args.format, &args.root),
        Some(Command::Fix(args)) => run_fix(&args),
        Some(Command::List) => run_list(),
        Some(Command::Explain { id }) => run_explain(&id),
        Some(Command::Generate { what }) => run_generate(what),
        Some(Command::Acpi { table }) => run_acpi(&table),
        Some(Command::Fleet(args)) => run_fleet(&args),
        Some(Command::Schema { what }) => run_schema(what),
        Some(Command::Probe(args)) => probe_cmd::run_probe(&args),
    };
    match result {
        Ok(code) => code,
        Err(msg) => fail_usage(&msg),
    }
}

fn run_generate(what: crate::cli::Generated) -> Result<i32, String> {
    use crate::cli::Generated;
    use clap::CommandFactory;
    let mut cmd = Cli::command();
    let mut buf: Vec<u8> = Vec::new();
    match what {
        Generated::Man => clap_mangen::Man::new(cmd)
            .render(&mut buf)
            .map_err(|e| e.to_string())?,
        Generated::Bash => clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut cmd,
            "daos-preflight",
            &mut buf,
        ),
        Generated::Zsh => clap_complete::generate(
            clap_complete::Shell::Zsh,
            &mut cmd,
            "daos-preflight",
            &mut buf,
        ),
        Generated::Fish => clap_complete::generate(
            clap_complete::Shell::Fish,
            &mut cmd,
            "daos-preflight",
            &mut buf,
        ),
    }
    emit(&String::from_utf8_lossy(&buf))?;
    Ok(0)
}

/// `list`: the checks of one host, then (after a blank line and a heading) the system
/// rules `fleet` judges over many reports.
fn run_list() -> Result<i32, String> {
    use crate::fleet::system;
    let width = checks::registry()
        .iter()
        .map(|c| c.id().len())
        .chain(system::RULES.iter().map(|(id, _)| id.len()))
        .max()
        .unwrap_or(0);
    let mut text: String = checks::registry()
        .iter()
        .map(|c| format!("{:width$}  {}\n", c.id(), c.title()))
        .collect();
    text.push_str("\nsystem rules (daos-preflight fleet, over the reports of many hosts):\n");
    for (id, _) in system::RULES {
        text.push_str(&format!("{id:width$}  {}\n", system::title(id)));
    }
    emit(&text)?;
    Ok(0)
}

fn run_explain(id: &str) -> Result<i32, String> {
    use crate::fleet::system;
    if let Some(e) = system::explain(id) {
        emit(&format!(
            "{id} — {} (system rule)\n\n{e}\n\nJudged by `daos-preflight fleet` over the reports of many hosts (the `daos` section each report carries); it appears in the `system` section of the fleet summary.\n",
            system::title(id)
        ))?;
        return Ok(0);
    }
    let check = checks::find(id).ok_or_else(|| {
        format!("unknown check or system rule {id:?}; `daos-preflight list` shows them all")
    })?;
    emit(&format!(
        "{} — {}\n\n{}\n",
        check.id(),
        check.title(),
        check.explain()
    ))?;
    Ok(0)
}

/// `acpi dmar|ivrs [FILE]`: decode a firmware IOMMU table. Exit 0 when it decodes
/// completely with a valid checksum, 1 when it is absent, malformed (the partial
/// decoding is printed, the error with its offset goes to stderr) or its checksum is
/// wrong, 2 when it cannot be read.
fn run_acpi(table: &AcpiTable) -> Result<i32, String> {
    let (name, args) = match table {
        AcpiTable::Dmar(a) => ("DMAR", a),
        AcpiTable::Ivrs(a) => ("IVRS", a),
    };
    let (source, bytes) = match &args.file {
        Some(file) => {
            let bytes = host::read_local_file(file).map_err(|e| e.to_string())?;
            (file.display().to_string(), bytes)
        }
        None => {
            let host = host_of(&args.root)?;
            let path = format!("{ACPI_TABLES_DIR}/{name}");
            let shown = host.path(&path).display().to_string();
            match host.read_bytes(&path) {
                Ok(bytes) => (shown, bytes),
                Err(e) if e.is_permission_denied() => {
                    return Err(format!(
                        "{shown}: permission denied: reading ACPI tables needs root \
                         (the kernel makes them mode 0400); run with sudo"
                    ));
                }
                Err(e) if e.is_not_found() => {
                    if !host.exists(ACPI_TABLES_DIR) {
                        eprintln!(
                            "daos-preflight: {}: not present: no ACPI tables are visible \
                             (no sysfs mounted, or not an ACPI system)",
                            host.path(ACPI_TABLES_DIR).display()
                        );
                    } else if name == "DMAR" {
                        eprintln!(
                            "daos-preflight: {shown}: not present: the firmware publishes no \
                             DMAR table, so VT-d (Intel Virtualization Technology for Directed \
                             I/O) is off in the BIOS/UEFI setup, or this is not an Intel platform"
                        );
                    } else {
                        eprintln!(
                            "daos-preflight: {shown}: not present: the firmware publishes no \
                             IVRS table, so the AMD IOMMU (AMD-Vi) is off in the BIOS/UEFI \
                             setup, or this is not an AMD platform"
                        );
                    }
                    return Ok(1);
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    match table {
        AcpiTable::Dmar(_) => show_decoding(
            &source,
            name,
            args.format,
            acpi::dmar::parse_dmar(&bytes),
            |t| t.checksum_valid,
            report::acpi_text::render_dmar,
        ),
        AcpiTable::Ivrs(_) => show_decoding(
            &source,
            name,
            args.format,
            acpi::ivrs::parse_ivrs(&bytes),
            |t| t.checksum_valid,
            report::acpi_text::render_ivrs,
        ),
    }
}

/// Prints a (possibly partial) decoding on stdout — JSON with an `error` member
/// (`null`, or `{offset, message}`) — and problems on stderr; returns the exit code.
fn show_decoding<T: serde::Serialize>(
    source: &str,
    name: &str,
    format: AcpiFormat,
    result: ParseResult<T>,
    checksum_valid: impl Fn(&T) -> bool,
    render: impl Fn(&T) -> String,
) -> Result<i32, String> {
    let (table, error) = match result {
        Ok(t) => (Some(t), None),
        Err(d) => (d.partial.map(|b| *b), Some(d.error)),
    };
    let text = match format {
        AcpiFormat::Json => {
            /// The decoding (its fields in declaration order) plus `error`.
            #[derive(serde::Serialize)]
            struct WithError<'a, T> {
                #[serde(flatten)]
                table: Option<&'a T>,
                error: Option<&'a acpi::TableError>,
            }
            let out = WithError {
                table: table.as_ref(),
                error: error.as_ref(),
            };
            let mut s = serde_json::to_string_pretty(&out).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        AcpiFormat::Text => table.as_ref().map(&render).unwrap_or_default(),
    };
    emit(&text)?;
    let mut code = 0;
    if let Some(e) = &error {
        eprintln!("daos-preflight: {source}: malformed {name} table: {e}");
        code = 1;
    }
    if let Some(t) = &table
        && !checksum_valid(t)
        && error.is_none()
    {
        eprintln!(
            "daos-preflight: {source}: {name} checksum is invalid (the bytes do not sum to 0)"
        );
        code = 1;
    }
    Ok(code)
}

fn run_facts(format: FactsFormat, root: &RootArgs) -> Result<i32, String> {
    let host = host_of(root)?;
    let facts = facts::collect(&host);
    let text = match format {
        FactsFormat::Json => {
            let mut s = serde_json::to_string_pretty(&facts).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        FactsFormat::Text => report::facts_text::render(&facts),
    };
    emit(&text)?;
    Ok(0)
}

/// Builds a report for `host` (exposed for tests and the fleet tooling).
pub fn build_report(host: &Host, version: DaosVersion, selection: &Selection) -> Report {
    build_report_with(host, version, selection, None)
}

/// Builds a report for `host` with the DAOS configuration read beforehand.
pub fn build_report_with(
    host: &Host,
    version: DaosVersion,
    selection: &Selection,
    config: Option<&LoadedConfigs>,
) -> Report {
    let start = Instant::now();
    // the paths the configuration names (logs, sockets, bdev files, certificates) are
    // facts too, so that the checks stay pure functions of facts and configuration
    let facts = match config {
        Some(c) => facts::collect_with_paths(host, &crate::daos::requirements::referenced_paths(c)),
        None => facts::collect(host),
    };
    let ctx = Context {
        facts: &facts,
        daos_version: version,
        config,
    };
    let checks: Vec<CheckResult> = checks::run_all(&ctx, selection)
        .into_iter()
        .map(CheckResult::from)
        .collect();
    let summary = Summary::of(&checks);
    let daos = match config {
        Some(c) => crate::daos::section::collect(host, c, &facts),
        None => crate::daos::section::empty(version, crate::daos::install::installed_version(host)),
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Report {
        schema: report::REPORT_SCHEMA.to_string(),
        tool: Tool {
            name: env!("CARGO_PKG_NAME").to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        },
        host: host_id(host, facts.kernel.release.clone()),
        generated_at: report::rfc3339(now),
        duration_ms: start.elapsed().as_millis() as u64,
        daos_version: version.to_string(),
        summary,
        checks,
        daos: Some(daos),
        facts,
    }
}

/// Who the host is: its names (hostname, the canonical name `/etc/hosts` gives it),
/// machine and boot ids, kernel, and (live only) its addresses.
fn host_id(host: &Host, kernel: Option<String>) -> HostId {
    let hostname = host.hostname();
    let fqdn = hostname.as_deref().and_then(|h| {
        let hosts = host.read_string("/etc/hosts").ok()?;
        facts::names::canonical_name(&hosts, h)
    });
    HostId {
        hostname,
        machine_id: host
            .read_attr_opt("/etc/machine-id")
            .filter(|s| !s.is_empty()),
        boot_id: host.read_attr_opt("/proc/sys/kernel/random/boot_id"),
        kernel,
        fqdn,
        addresses: host
            .addresses()
            .map(|a| a.iter().map(ToString::to_string).collect()),
    }
}

/// An explicit `--*-config F`: a real path on this machine (not under `--root`), made
/// absolute; it must exist (a typo must not silently judge nothing).
fn explicit_path(flag: &str, p: Option<&std::path::Path>) -> Result<Option<String>, String> {
    let Some(p) = p else { return Ok(None) };
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| format!("{flag}: current directory: {e}"))?
            .join(p)
    };
    // a missing file, a FIFO, a directory or a device: one class of error (exit 2)
    if let Some(why) = crate::host::config_path_problem(&abs) {
        return Err(format!("{flag} {}: {why}", p.display()));
    }
    Ok(Some(abs.display().to_string()))
}

/// What `check` and `fix` both start from: the host, the rules profile, the selection
/// and the DAOS configuration files.
struct Prepared {
    host: Host,
    version: DaosVersion,
    selection: Selection,
    configs: LoadedConfigs,
}

impl Prepared {
    fn report(&self) -> Report {
        build_report_with(
            &self.host,
            self.version,
            &self.selection,
            Some(&self.configs),
        )
    }
}

fn prepare(t: &TargetArgs) -> Result<Prepared, String> {
    let (root, daos_version, only, skip, config) =
        (&t.root, &t.daos_version, &t.only, &t.skip, &t.config);
    let host = host_of(root)?;
    let (version, version_source) = match daos_version {
        Some(v) => (
            v.parse::<DaosVersion>()
                .map_err(|e| format!("--daos-version: {e}"))?,
            "--daos-version".to_string(),
        ),
        None => match crate::daos::install::installed_server_version(&host) {
            Some((v, source)) => (v, format!("installed package ({source})")),
            None => (
                DaosVersion::DEFAULT,
                "default (no installed daos-server package found)".to_string(),
            ),
        },
    };
    let selection = Selection {
        only: only.to_vec(),
        skip: skip.to_vec(),
    };
    selection.validate()?;
    let paths = ConfigPaths {
        server: explicit_path("--server-config", config.server_config.as_deref())?,
        agent: explicit_path("--agent-config", config.agent_config.as_deref())?,
        control: explicit_path("--control-config", config.control_config.as_deref())?,
    };
    let role = match config.role {
        RoleArg::Auto => RoleChoice::Auto,
        RoleArg::Server => RoleChoice::Server,
        RoleArg::Agent => RoleChoice::Agent,
    };
    let configs = crate::daos::config::load::load(&host, &paths, version, &version_source, role);
    Ok(Prepared {
        host,
        version,
        selection,
        configs,
    })
}

fn run_fix(args: &FixArgs) -> Result<i32, String> {
    if args.undo {
        let host = host_of(&args.target.root)?;
        let (lines, ok) = crate::fix::undo(&host)?;
        emit(&(lines.join("\n") + "\n"))?;
        return Ok(if ok { 0 } else { 3 });
    }
    let p = prepare(&args.target)?;
    let opts = crate::fix::PlanOptions {
        persistent: args.persistent,
    };
    let report = match crate::fix::run(
        &p.host,
        p.configs.server_config(),
        opts,
        args.dry_run,
        || p.report(),
    ) {
        Ok(r) => r,
        Err(e) => {
            // lock held, journal unreadable: nothing was applied
            eprintln!("daos-preflight: fix: {e}");
            return Ok(3);
        }
    };
    let text = match args.format {
        FixFormat::Json => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())? + "\n",
        FixFormat::Text => crate::fix::render_text(&report),
    };
    emit(&text)?;
    Ok(report.exit_code())
}

fn run_check(args: &CheckArgs) -> Result<i32, String> {
    let p = prepare(&args.target)?;
    let report = p.report();
    let prom = report::prometheus::PromOptions {
        fabric_interfaces: p.configs.server_config().and_then(|c| {
            let names: Vec<String> = c.engines.iter().filter_map(|e| c.engine_iface(e)).collect();
            (!names.is_empty()).then_some(names)
        }),
    };
    if let Some(dir) = &args.textfile {
        let metrics = report::prometheus::render(&report, &prom);
        host::local::write_file_atomic(dir, TEXTFILE_NAME, metrics.as_bytes())
            .map_err(|e| format!("--textfile: {e}"))?;
    }
    let text = match args.format {
        ReportFormat::Prometheus => report::prometheus::render(&report, &prom),
        ReportFormat::Json => {
            let mut s = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            s.push('\n');
            s
        }
        ReportFormat::Text => {
            use std::io::IsTerminal;
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => {
                    io::stdout().is_terminal()
                        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                }
            };
            report::text::render(
                &report,
                report::text::TextOptions {
                    color,
                    quiet: args.quiet,
                },
            )
        }
    };
    emit(&text)?;
    Ok(report::exit_code(&report.summary, args.strict))
}

fn run_schema(what: SchemaKind) -> Result<i32, String> {
    let schema = match what {
        SchemaKind::Report => report::schema::report_schema(),
        SchemaKind::Facts => report::schema::facts_schema(),
    };
    emit(&(serde_json::to_string_pretty(&schema).map_err(|e| e.to_string())? + "\n"))?;
    Ok(0)
}

/// `fleet [PATH...|-]`: streams every input through one merger; only the small per-host
/// records are kept (see `fleet`).
fn run_fleet(args: &FleetArgs) -> Result<i32, String> {
    use crate::fleet::{FleetFormatKind, Merger};
    use host::local::{self, LocalKind};
    let mut merger = Merger::new(args.stale_after);
    let stdin_path = std::path::PathBuf::from("-");
    let paths = if args.paths.is_empty() {
        std::slice::from_ref(&stdin_path)
    } else {
        &args.paths[..]
    };
    for path in paths {
        if path.as_os_str() == "-" {
            merger
                .feed("<stdin>", io::stdin().lock())
                .map_err(|e| format!("reading standard input: {e}"))?;
            continue;
        }
        let shown = path.display().to_string();
        match local::local_kind(path).map_err(|e| e.to_string())? {
            LocalKind::Dir => {
                for file in local::list_local_files(path).map_err(|e| e.to_string())? {
                    let name = file.display().to_string();
                    match local::open_local(&file) {
                        Ok(r) => {
                            if let Err(e) = merger.feed(&name, r) {
                                merger.problem(&name, &format!("read error: {e}"));
                            }
                        }
                        Err(e) => merger.problem(&name, &e.to_string()),
                    }
                }
            }
            LocalKind::File => {
                let r = local::open_local(path).map_err(|e| e.to_string())?;
                merger
                    .feed(&shown, r)
                    .map_err(|e| format!("{shown}: {e}"))?;
            }
        }
    }
    let summary = merger.finish();
    let text = match args.format {
        FleetFormat::Text => summary.render(FleetFormatKind::Text),
        FleetFormat::Json => summary.render(FleetFormatKind::Json),
        FleetFormat::Prometheus => summary.render(FleetFormatKind::Prometheus),
        FleetFormat::Html => summary.render(FleetFormatKind::Html),
    };
    emit(&text)?;
    Ok(summary.exit_code())
}
