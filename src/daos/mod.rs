//! DAOS knowledge: the rules profile (which release's rules apply) and, as it grows,
//! the configuration model and the requirements derived from it.

use std::fmt;
use std::str::FromStr;

pub mod config;
pub mod digest;
pub mod hugepage_start;
pub mod install;
pub mod requirements;
pub mod section;

use serde::{Deserialize, Serialize};

/// A DAOS release whose rules daos-preflight applies. Rules differ between releases
/// (e.g. `system_ram_reserved` default 16 GiB in 2.6, 64 GiB in 2.8; THP refused in 2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DaosVersion {
    /// DAOS 2.0
    #[serde(rename = "2.0")]
    V2_0,
    /// DAOS 2.2
    #[serde(rename = "2.2")]
    V2_2,
    /// DAOS 2.4
    #[serde(rename = "2.4")]
    V2_4,
    /// DAOS 2.6 (the default: the release of the deployment guide this tool started from)
    #[serde(rename = "2.6")]
    V2_6,
    /// DAOS 2.8
    #[serde(rename = "2.8")]
    V2_8,
}

impl DaosVersion {
    /// The default profile when nothing better is known.
    pub const DEFAULT: DaosVersion = DaosVersion::V2_6;

    /// `"2.6"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DaosVersion::V2_0 => "2.0",
            DaosVersion::V2_2 => "2.2",
            DaosVersion::V2_4 => "2.4",
            DaosVersion::V2_6 => "2.6",
            DaosVersion::V2_8 => "2.8",
        }
    }
}

impl fmt::Display for DaosVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DaosVersion {
    type Err = String;

    /// Accepts `2.6`, `2.6.0`, `v2.6.1`, `2.6.1-2.el8` (a package version).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().trim_start_matches('v');
        let mut it = t.split(['.', '-']);
        let major = it.next().unwrap_or("");
        let minor = it.next().unwrap_or("");
        match (major, minor) {
            ("2", "0") => Ok(DaosVersion::V2_0),
            ("2", "2") => Ok(DaosVersion::V2_2),
            ("2", "4") => Ok(DaosVersion::V2_4),
            ("2", "6") => Ok(DaosVersion::V2_6),
            ("2", "8") => Ok(DaosVersion::V2_8),
            _ => Err(format!(
                "unsupported DAOS version {s:?}: expected one of 2.0, 2.2, 2.4, 2.6, 2.8"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_package_strings() {
        assert_eq!("2.6".parse::<DaosVersion>().unwrap(), DaosVersion::V2_6);
        assert_eq!(
            "2.6.1-2.el8".parse::<DaosVersion>().unwrap(),
            DaosVersion::V2_6
        );
        assert_eq!("v2.8.0".parse::<DaosVersion>().unwrap(), DaosVersion::V2_8);
        assert!("1.2".parse::<DaosVersion>().is_err());
        assert!("2.10".parse::<DaosVersion>().is_err());
        assert!("".parse::<DaosVersion>().is_err());
    }
}
