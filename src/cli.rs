//! Command-line definitions (clap). Only definitions here; behaviour is in `app`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, shown in `--help` and the man page (design.md §3).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  no check failed
  1  at least one check failed (with --strict: also a warning or an error)
  2  usage error, or an unreadable/invalid input (file, check id)
  3  fix could not apply everything
  4  fix applied changes that need a reboot";

/// Checks that a host is ready to run DAOS, explains what is not, and how to fix it.
#[derive(Debug, Parser)]
#[command(
    name = "daos-preflight",
    version,
    about,
    after_help = EXIT_CODES,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; without a subcommand, `check` runs.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options of `check`, accepted without the subcommand name.
    #[command(flatten)]
    pub check: CheckArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the checks and report (the default).
    Check(CheckArgs),
    /// Print the facts read from the host.
    Facts(FactsArgs),
    /// List every check with its id and title, then the system rules of `fleet`.
    List,
    /// Fix what can be fixed from the host: plan, apply, read back, re-check.
    /// `daos-preflight --fix` is the same.
    Fix(FixArgs),
    /// Explain what a check (or a `system.*` rule of `fleet`) looks at and what its statuses mean.
    Explain {
        /// Check id (`iommu.kernel`) or system rule id (`system.name`).
        id: String,
    },
    /// Write the man page or a shell completion script to stdout (used by packaging).
    #[command(hide = true)]
    Generate {
        /// What to generate.
        #[arg(value_enum)]
        what: Generated,
    },
    /// Merge many reports (clush/pdsh/Ansible output, files, directories): statuses per
    /// check as host lists, failing hosts, drift between hosts, stale reports.
    #[command(after_help = FLEET_EXIT_CODES)]
    Fleet(FleetArgs),
    /// Print the JSON Schema (draft 2020-12) of the report or the facts.
    Schema {
        /// Which contract.
        #[arg(value_enum)]
        what: SchemaKind,
    },
    /// Probe the DAOS ports and clocks of the peers (`probe serve` answers on a server).
    Probe(ProbeArgs),
    /// Decode the firmware's IOMMU tables (ACPI DMAR, IVRS).
    #[command(after_help = ACPI_EXIT_CODES)]
    Acpi {
        /// Which table.
        #[command(subcommand)]
        table: AcpiTable,
    },
}

/// Build artefacts generated from these definitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generated {
    /// daos-preflight(1) in roff.
    Man,
    /// bash completion.
    Bash,
    /// zsh completion.
    Zsh,
    /// fish completion.
    Fish,
}

/// Exit codes of `acpi dmar|ivrs`.
pub const ACPI_EXIT_CODES: &str = "\
Exit codes:
  0  the table decoded completely and its checksum is valid
  1  the firmware publishes no such table, or it is malformed (the partial decoding
     and the offset of the problem are printed) or its checksum is wrong
  2  usage error, or the table could not be read (reading /sys/firmware/acpi/tables
     needs root)";

/// The ACPI tables `acpi` decodes.
#[derive(Debug, Subcommand)]
pub enum AcpiTable {
    /// Decode an Intel DMAR (VT-d) table: remapping units, reserved regions, scopes.
    #[command(after_help = ACPI_EXIT_CODES)]
    Dmar(AcpiTableArgs),
    /// Decode an AMD IVRS (AMD-Vi) table: IOMMU units.
    #[command(after_help = ACPI_EXIT_CODES)]
    Ivrs(AcpiTableArgs),
}

/// Output format of `acpi`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum AcpiFormat {
    /// One line per structure, scopes indented.
    #[default]
    Text,
    /// The decoding as JSON (addresses as `0x…` strings).
    Json,
}

/// Options of `acpi dmar` / `acpi ivrs`.
#[derive(Debug, Clone, Args, Default)]
pub struct AcpiTableArgs {
    /// The raw table (as in /sys/firmware/acpi/tables, or from `acpidump -b`);
    /// default: the host's /sys/firmware/acpi/tables/<TABLE> (under --root when given).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = AcpiFormat::Text)]
    pub format: AcpiFormat,

    #[command(flatten)]
    pub root: RootArgs,
}

/// Output format of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportFormat {
    /// Aligned text for people.
    #[default]
    Text,
    /// `daos-preflight/report/v1` JSON.
    Json,
    /// Prometheus text exposition format (what `--textfile` writes).
    Prometheus,
}

/// Output format of `facts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FactsFormat {
    /// Text for people.
    #[default]
    Text,
    /// `daos-preflight/facts/v1` JSON.
    Json,
}

/// When to colour text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// On a terminal, unless NO_COLOR is set.
    #[default]
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Where to read the host from.
#[derive(Debug, Clone, Args, Default)]
pub struct RootArgs {
    /// Read DIR/sys, DIR/proc, DIR/etc ... instead of the live host (a captured tree).
    /// Facts only a running kernel knows (clock state, addresses, limits) are null.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
}

/// Options of `check`.
#[derive(Debug, Clone, Args, Default)]
pub struct CheckArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Exit 1 on warnings and errors too, not only on failures.
    #[arg(long)]
    pub strict: bool,

    /// Print only warn/fail/error lines; nothing when all is well (for ExecStartPre=).
    #[arg(long, short)]
    pub quiet: bool,

    /// Colour the text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Also write the metrics atomically to DIR/daos_preflight.prom for node_exporter's
    /// textfile collector (--collector.textfile.directory), whatever --format says.
    #[arg(long, value_name = "DIR")]
    pub textfile: Option<PathBuf>,
}

/// Which contract `schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// `daos-preflight/report/v1` (`check --format json`).
    Report,
    /// `daos-preflight/facts/v1` (`facts --format json`).
    Facts,
}

/// Exit codes of `fleet`.
pub const FLEET_EXIT_CODES: &str = "\
Exit codes:
  0  every report was read and no host failed a check
  1  some host failed a check, or some input was not a readable report
  2  usage error, or an input path could not be opened";

/// Output format of `fleet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FleetFormat {
    /// Text for people.
    #[default]
    Text,
    /// `daos-preflight/fleet/v1` JSON.
    Json,
    /// Prometheus text exposition format (fleet-wide gauges).
    Prometheus,
    /// One self-contained HTML page (inline CSS, no scripts, no network fetches).
    Html,
}

/// Options of `fleet`.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// Reports: JSON files (one document, JSON lines, or `host: ` prefixed clush/pdsh
    /// output), directories of them, or `-` for standard input [default: -].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormat::Text)]
    pub format: FleetFormat,

    /// A report is stale when it is older than this relative to the newest one
    /// (`90s`, `30m`, `24h`, `7d`).
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration_secs)]
    pub stale_after: u64,
}

/// Parses `90`, `90s`, `30m`, `24h`, `7d` into seconds.
pub fn parse_duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not a duration (e.g. 90s, 30m, 24h, 7d)"))
}

/// What `check` and `fix` work on: the host, the rules profile, the selection of checks
/// and the DAOS files.
#[derive(Debug, Clone, Args, Default)]
pub struct TargetArgs {
    #[command(flatten)]
    pub root: RootArgs,

    /// DAOS rules profile: 2.0, 2.2, 2.4, 2.6 or 2.8 [default: the installed daos-server
    /// package's release when it can be read (versioned /usr/share/doc directory, dnf or yum
    /// log under ROOT), else 2.6].
    #[arg(long, value_name = "VERSION")]
    pub daos_version: Option<String>,

    /// Only these checks or families (comma-separated: `iommu,time.sync`).
    #[arg(long, value_name = "ID|PREFIX,...", value_delimiter = ',')]
    pub only: Vec<String>,

    /// Not these checks or families (comma-separated).
    #[arg(long, value_name = "ID|PREFIX,...", value_delimiter = ',')]
    pub skip: Vec<String>,

    #[command(flatten)]
    pub config: ConfigArgs,
}

/// The DAOS configuration files to judge, and the node's role.
#[derive(Debug, Clone, Args, Default)]
pub struct ConfigArgs {
    /// daos_server.yml to judge, a path on this machine [default: ROOT/etc/daos/daos_server.yml].
    #[arg(long, value_name = "F")]
    pub server_config: Option<PathBuf>,

    /// daos_agent.yml to judge, a path on this machine [default: ROOT/etc/daos/daos_agent.yml].
    #[arg(long, value_name = "F")]
    pub agent_config: Option<PathBuf>,

    /// daos_control.yml to judge, a path on this machine [default: ROOT/etc/daos/daos_control.yml].
    #[arg(long, value_name = "F")]
    pub control_config: Option<PathBuf>,

    /// Judge the host as a server, a client (agent) node, or decide from the files present
    /// (auto: server when daos_server.yml exists, agent when only daos_agent.yml does).
    #[arg(long, value_enum, default_value_t = RoleArg::Auto)]
    pub role: RoleArg,
}

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum RoleArg {
    /// From the files present.
    #[default]
    Auto,
    /// A DAOS server.
    Server,
    /// A client node running daos_agent.
    Agent,
}

/// Output format of `fix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FixFormat {
    /// Text for people.
    #[default]
    Text,
    /// `daos-preflight/fix/v1` JSON.
    Json,
}

/// Options of `fix`.
#[derive(Debug, Clone, Args, Default)]
pub struct FixArgs {
    /// Show exactly what would be written, loaded or run; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = FixFormat::Text)]
    pub format: FixFormat,

    #[command(flatten)]
    pub target: TargetArgs,

    /// Also make boot-time changes: kernel command line (grubby or /etc/default/grub),
    /// sysctl.d. They need a reboot (exit code 4).
    #[arg(long)]
    pub persistent: bool,

    /// Restore what earlier runs changed (from /var/lib/daos-preflight/journal.json).
    #[arg(long, conflicts_with_all = ["dry_run", "persistent"])]
    pub undo: bool,
}

/// Rewrites the spelling admins type from the docs, `daos-preflight --fix ...`, into
/// `daos-preflight fix ...`.
pub fn normalize_args<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    let mut v: Vec<std::ffi::OsString> = args.into_iter().collect();
    if let Some(pos) = v.iter().position(|a| a == "--fix") {
        v.remove(pos);
        v.insert(1.min(v.len()), "fix".into());
    }
    v
}

/// Options of `facts`.
#[derive(Debug, Clone, Args, Default)]
pub struct FactsArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FactsFormat::Text)]
    pub format: FactsFormat,

    #[command(flatten)]
    pub root: RootArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_invocation_and_flags_without_subcommand() {
        let cli = Cli::try_parse_from(["daos-preflight"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["daos-preflight", "--format", "json", "--quiet"]).unwrap();
        assert_eq!(cli.check.format, ReportFormat::Json);
        assert!(cli.check.quiet);
        let cli =
            Cli::try_parse_from(["daos-preflight", "check", "--only", "iommu,time.sync"]).unwrap();
        match cli.command {
            Some(Command::Check(a)) => assert_eq!(a.target.only, vec!["iommu", "time.sync"]),
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["daos-preflight", "--format", "yaml"]).is_err());
        let args = normalize_args(["daos-preflight", "--fix", "--dry-run"].map(Into::into));
        match Cli::try_parse_from(args).unwrap().command {
            Some(Command::Fix(f)) => assert!(f.dry_run),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "daos-preflight",
            "--server-config",
            "s.yml",
            "--role",
            "agent",
        ])
        .unwrap();
        assert_eq!(cli.check.target.config.role, RoleArg::Agent);
        assert_eq!(
            cli.check.target.config.server_config,
            Some(PathBuf::from("s.yml"))
        );
        assert!(Cli::try_parse_from(["daos-preflight", "--role", "client"]).is_err());
    }

    #[test]
    fn acpi_subcommands() {
        let cli = Cli::try_parse_from([
            "daos-preflight",
            "acpi",
            "dmar",
            "/tmp/DMAR",
            "--format",
            "json",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Acpi {
                table: AcpiTable::Dmar(a),
            }) => {
                assert_eq!(a.file, Some(PathBuf::from("/tmp/DMAR")));
                assert_eq!(a.format, AcpiFormat::Json);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["daos-preflight", "acpi", "ivrs"]).unwrap();
        match cli.command {
            Some(Command::Acpi {
                table: AcpiTable::Ivrs(a),
            }) => {
                assert_eq!(a.file, None);
                assert_eq!(a.format, AcpiFormat::Text);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["daos-preflight", "acpi", "srat"]).is_err());
    }

    #[test]
    fn fleet_schema_and_prometheus_options() {
        let cli = Cli::try_parse_from([
            "daos-preflight",
            "fleet",
            "-",
            "dir",
            "--stale-after",
            "2h",
            "--format",
            "json",
        ])
        .unwrap();
        match cli.command {
            Some(Command::Fleet(a)) => {
                assert_eq!(a.paths, vec![PathBuf::from("-"), PathBuf::from("dir")]);
                assert_eq!(a.stale_after, 7200);
                assert_eq!(a.format, FleetFormat::Json);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["daos-preflight", "fleet", "--stale-after", "soon"]).is_err());
        assert_eq!(parse_duration_secs("90"), Ok(90));
        assert_eq!(parse_duration_secs("7d"), Ok(604_800));
        let cli = Cli::try_parse_from(["daos-preflight", "schema", "facts"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Schema {
                what: SchemaKind::Facts
            })
        ));
        let cli = Cli::try_parse_from([
            "daos-preflight",
            "--format",
            "prometheus",
            "--textfile",
            "/tmp",
        ])
        .unwrap();
        assert_eq!(cli.check.format, ReportFormat::Prometheus);
        assert_eq!(cli.check.textfile, Some(PathBuf::from("/tmp")));
    }
}

/// `probe`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ProbeArgs {
    /// `serve`: answer probes on this host's DAOS ports.
    #[command(subcommand)]
    pub serve: Option<ProbeServe>,
    /// Peers (nodesets `node[0-2]` accepted) [default: from the DAOS files].
    pub peers: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FleetFormatProbe::Text)]
    pub format: FleetFormatProbe,
    /// Per-connection timeout in milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub timeout_ms: u64,
    #[command(flatten)]
    pub root: RootArgs,
    /// DAOS rules profile.
    #[arg(long, value_name = "VERSION")]
    pub daos_version: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// `probe serve`.
#[derive(Debug, Clone, Subcommand)]
pub enum ProbeServe {
    /// Listen on the DAOS ports of the local server file and answer the handshake.
    Serve {
        /// Seconds to serve (bounded; SIGINT/SIGTERM stop earlier).
        #[arg(long, default_value_t = 60)]
        duration: u64,
        #[command(flatten)]
        root: RootArgs,
        /// DAOS rules profile.
        #[arg(long, value_name = "VERSION")]
        daos_version: Option<String>,
        #[command(flatten)]
        config: ConfigArgs,
    },
}

/// `probe --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FleetFormatProbe {
    /// One line per path.
    Text,
    /// daos-preflight/probe/v1.
    Json,
}
