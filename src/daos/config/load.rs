//! Reading the three files through [`Host`] and deciding the node's role.
//!
//! Default paths are the RPM's (`/etc/daos/daos_server.yml` ...) and follow `--root`;
//! paths given on the command line are real paths on the machine running the tool
//! (the caller passes them already absolute, and they are read from `/`).

use serde::{Deserialize, Serialize};

use super::agent::{AgentConfig, parse_agent};
use super::control::{ControlConfig, parse_control};
use super::server::{ServerConfig, parse_server};
use super::validate::{validate_agent, validate_control, validate_server};
use super::{ConfigError, DaosStage, Issue, Parsed};
use crate::daos::DaosVersion;
use crate::host::Host;

/// Default location of the server file (daos.spec `%{conf_dir}`).
pub const SERVER_PATH: &str = "/etc/daos/daos_server.yml";
/// Default location of the agent file.
pub const AGENT_PATH: &str = "/etc/daos/daos_agent.yml";
/// Default location of the dmg file.
pub const CONTROL_PATH: &str = "/etc/daos/daos_control.yml";

/// `--role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleChoice {
    /// A server when the server file exists, an agent (client) node when only the agent
    /// file exists.
    #[default]
    Auto,
    /// Judge the host as a DAOS server.
    Server,
    /// Judge the host as a client running `daos_agent`.
    Agent,
}

/// The role the host is judged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A DAOS server (`daos_server` + engines).
    Server,
    /// A client node (`daos_agent`).
    Agent,
    /// No DAOS file found and no `--role`: configuration checks skip.
    Unknown,
}

impl Role {
    /// `server`, `agent`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Agent => "agent",
            Role::Unknown => "unknown",
        }
    }
}

/// Where each file is read from. `explicit` paths are on the machine running the tool.
#[derive(Debug, Clone, Default)]
pub struct ConfigPaths {
    /// `--server-config`, absolute.
    pub server: Option<String>,
    /// `--agent-config`, absolute.
    pub agent: Option<String>,
    /// `--control-config`, absolute.
    pub control: Option<String>,
}

/// The outcome of loading one file.
#[derive(Debug, Clone, PartialEq)]
pub enum FileLoad<T> {
    /// Not there.
    Absent {
        /// The path looked at (including `--root`).
        path: String,
    },
    /// There, but not readable (permission denied, a directory ...).
    Unreadable {
        /// The path.
        path: String,
        /// The reason.
        error: String,
        /// EACCES/EPERM: "run as root".
        permission_denied: bool,
    },
    /// Not YAML DAOS could read.
    Invalid {
        /// The path.
        path: String,
        /// Where and why.
        error: ConfigError,
    },
    /// Parsed; `issues` holds the parse issues then the DAOS validation issues.
    Loaded {
        /// The path.
        path: String,
        /// The model.
        config: T,
        /// Unknown keys, types, DAOS validation rules.
        issues: Vec<Issue>,
    },
}

impl<T> FileLoad<T> {
    /// The model when the file was parsed.
    pub fn config(&self) -> Option<&T> {
        match self {
            FileLoad::Loaded { config, .. } => Some(config),
            _ => None,
        }
    }

    /// The path looked at.
    pub fn path(&self) -> &str {
        match self {
            FileLoad::Absent { path }
            | FileLoad::Unreadable { path, .. }
            | FileLoad::Invalid { path, .. }
            | FileLoad::Loaded { path, .. } => path,
        }
    }

    /// True unless the file is absent.
    pub fn exists(&self) -> bool {
        !matches!(self, FileLoad::Absent { .. })
    }
}

/// How one file was read, beside what it said: where it is on the host and the digest
/// of its bytes (the report's `daos.files`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileRead {
    /// The path on the host (`/etc/daos/daos_server.yml`, also under `--root`), or the
    /// `--*-config` path as given (absolute).
    pub host_path: String,
    /// Lowercase hex SHA-256 of the bytes read; `None` when nothing could be read.
    pub sha256: Option<String>,
}

/// The [`FileRead`] of each file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileReads {
    /// `daos_server.yml`.
    pub server: FileRead,
    /// `daos_agent.yml`.
    pub agent: FileRead,
    /// `daos_control.yml`.
    pub control: FileRead,
}

/// Everything the checks know about the DAOS configuration of this host.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfigs {
    /// The rules profile the files were judged under.
    pub version: DaosVersion,
    /// Where the profile came from (`--daos-version`, a package, the default).
    pub version_source: String,
    /// `--role` as given.
    pub role_choice: RoleChoice,
    /// The role the host is judged in.
    pub role: Role,
    /// `daos_server.yml`.
    pub server: FileLoad<ServerConfig>,
    /// `daos_agent.yml`.
    pub agent: FileLoad<AgentConfig>,
    /// `daos_control.yml`.
    pub control: FileLoad<ControlConfig>,
    /// Where each file was and the digest of what was read.
    pub reads: FileReads,
}

impl LoadedConfigs {
    /// The server model, when loaded.
    pub fn server_config(&self) -> Option<&ServerConfig> {
        self.server.config()
    }
}

fn read<T>(
    host: &Host,
    explicit: Option<&str>,
    default: &str,
    parse: impl Fn(&str, &str) -> Result<Parsed<T>, ConfigError>,
    validate: impl Fn(&T, &str) -> Vec<Issue>,
) -> (FileLoad<T>, FileRead) {
    let (reader, host_path) = match explicit {
        Some(p) => (Host::live(), p.to_string()),
        None => (host.clone(), default.to_string()),
    };
    let shown = match explicit {
        Some(p) => p.to_string(),
        None => reader.path(default).display().to_string(),
    };
    let mut file_read = FileRead {
        host_path: host_path.clone(),
        sha256: None,
    };
    // a FIFO or a device in place of the file is refused, never read (it would block)
    let bytes = match reader.read_regular(&host_path) {
        Err(e) if e.is_not_found() => return (FileLoad::Absent { path: shown }, file_read),
        Err(e) => {
            let load = FileLoad::Unreadable {
                path: shown,
                error: e.to_string(),
                permission_denied: e.is_permission_denied(),
            };
            return (load, file_read);
        }
        Ok(b) => b,
    };
    file_read.sha256 = Some(crate::daos::digest::sha256_hex(&bytes));
    // invalid UTF-8 is replaced (and then fails as YAML with its position), never fatal
    let text = String::from_utf8_lossy(&bytes);
    let load = match parse(&text, &shown) {
        Err(error) => FileLoad::Invalid { path: shown, error },
        Ok(parsed) => {
            // DAOS's order, which is the order it reports them in. While loading: the
            // first error of one of its YAML decoders (go-yaml stops there and drops
            // the rest), else go-yaml's type errors in file order (the walker's), else
            // Load's own checks; then the validation rules in the order `Validate`
            // runs them (top-level, each engine, across engines), which is the order
            // they were emitted in (the sort is stable); positionless issues last.
            let walker = parsed.issues.len();
            let mut issues: Vec<(usize, Issue)> = parsed
                .issues
                .into_iter()
                .chain(validate(&parsed.config, &shown))
                .enumerate()
                .collect();
            issues.sort_by_key(|(n, i)| {
                let at = i
                    .location
                    .as_ref()
                    .map_or((usize::MAX, 0), |l| (l.line, l.column));
                match i.stage {
                    DaosStage::Parse if i.decoder => (0, 0, at),
                    DaosStage::Parse if *n < walker => (0, 1, at),
                    DaosStage::Parse => (0, 2, at),
                    DaosStage::Validate => (1, 0, (0, 0)),
                    DaosStage::Start => (2, 0, (0, 0)),
                }
            });
            let issues: Vec<Issue> = issues.into_iter().map(|(_, i)| i).collect();
            FileLoad::Loaded {
                path: shown,
                config: parsed.config,
                issues,
            }
        }
    };
    (load, file_read)
}

/// Reads and judges the three files and decides the role.
pub fn load(
    host: &Host,
    paths: &ConfigPaths,
    version: DaosVersion,
    version_source: &str,
    role_choice: RoleChoice,
) -> LoadedConfigs {
    let (server, server_read) = read(
        host,
        paths.server.as_deref(),
        SERVER_PATH,
        |t, f| parse_server(t, f, version),
        |c, f| validate_server(c, version, f),
    );
    let (agent, agent_read) = read(
        host,
        paths.agent.as_deref(),
        AGENT_PATH,
        |t, f| parse_agent(t, f, version),
        |c, f| validate_agent(c, version, f),
    );
    let (control, control_read) = read(
        host,
        paths.control.as_deref(),
        CONTROL_PATH,
        |t, f| parse_control(t, f, version),
        |c, f| validate_control(c, version, f),
    );
    let role = match role_choice {
        RoleChoice::Server => Role::Server,
        RoleChoice::Agent => Role::Agent,
        RoleChoice::Auto if server.exists() => Role::Server,
        RoleChoice::Auto if agent.exists() => Role::Agent,
        RoleChoice::Auto => Role::Unknown,
    };
    LoadedConfigs {
        version,
        version_source: version_source.to_string(),
        role_choice,
        role,
        server,
        agent,
        control,
        reads: FileReads {
            server: server_read,
            agent: agent_read,
            control: control_read,
        },
    }
}
