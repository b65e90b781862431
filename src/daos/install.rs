//! Which DAOS release is installed, to pick the default rules profile.
//!
//! Reading the RPM database is out of reach for a static tool (EL8 keeps it in Berkeley
//! DB, EL9 in SQLite), and `daos_server version` would mean running a binary of the
//! inspected tree. We look, in this order, at what is plain text and follows `--root`:
//!
//! 1. `/usr/share/doc/daos-server-<version>/`: a versioned documentation directory
//!    (SUSE, EL7 and builds with `%{_docdir}/%{name}-%{version}`);
//! 2. `/var/log/dnf.rpm.log` (EL8+): the last `Installed:`/`Upgrade:`/`Downgrade:`/
//!    `Reinstall(ed):` line for `daos-server-<version>`, unless a later `Erase:` removed
//!    it;
//! 3. `/var/log/yum.log` (EL7) the same way.
//!
//! Nothing found: the caller falls back to [`DaosVersion::DEFAULT`].

use crate::daos::DaosVersion;
use crate::host::Host;

/// The version string after `daos-server-` when it starts with a digit
/// (`daos-server-2.6.0-1.el8.x86_64` → `2.6.0-1.el8.x86_64`; not `daos-server-tests-…`).
fn server_package_version(word: &str) -> Option<&str> {
    package_version("daos-server", word)
}

/// The version string after `<package>-` when it starts with a digit.
fn package_version<'a>(package: &str, word: &'a str) -> Option<&'a str> {
    let rest = word.strip_prefix(package)?.strip_prefix('-')?;
    rest.chars()
        .next()
        .filter(char::is_ascii_digit)
        .map(|_| rest)
}

/// The installed daos-server version according to a dnf/yum log, or `None`.
pub fn version_from_package_log(text: &str) -> Option<String> {
    package_version_from_log(text, "daos-server")
}

/// The installed version of `package` according to a dnf/yum log, or `None`.
fn package_version_from_log(text: &str, package: &str) -> Option<String> {
    let mut current: Option<String> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let Some(next) = words.get(i + 1) else { break };
            let Some(ver) = package_version(package, next) else {
                continue;
            };
            match *w {
                "Installed:" | "Upgrade:" | "Downgrade:" | "Reinstall:" | "Reinstalled:"
                | "Updated:" => current = Some(ver.to_string()),
                "Erase:" | "Erased:" => current = None,
                _ => {}
            }
        }
    }
    current
}

/// The installed daos-server release and where it was read, when it can be known.
pub fn installed_server_version(host: &Host) -> Option<(DaosVersion, String)> {
    if let Ok(names) = host.list_dir("/usr/share/doc") {
        for n in names.iter().rev() {
            if let Some(v) = server_package_version(n)
                && let Ok(d) = v.parse::<DaosVersion>()
            {
                return Some((d, format!("/usr/share/doc/{n}")));
            }
        }
    }
    for log in ["/var/log/dnf.rpm.log", "/var/log/yum.log"] {
        if let Ok(text) = host.read_string(log)
            && let Some(v) = version_from_package_log(&text)
            && let Ok(d) = v.parse::<DaosVersion>()
        {
            return Some((d, format!("{log}: daos-server-{v}")));
        }
    }
    None
}

/// The upstream version of the installed DAOS: daos-server's, else daos-client's (a
/// client node), as `2.6.0` — the part of the package version before the release
/// (`2.6.0-2.el8.x86_64` → `2.6.0`), so that hosts whose version was found in different
/// places (a doc directory, a dnf log) compare equal. Same sources as
/// [`installed_server_version`]; `None` when none names a DAOS package.
pub fn installed_version(host: &Host) -> Option<String> {
    let upstream = |v: &str| v.split('-').next().unwrap_or(v).to_string();
    let docs = host.list_dir("/usr/share/doc").unwrap_or_default();
    let logs: Vec<String> = ["/var/log/dnf.rpm.log", "/var/log/yum.log"]
        .iter()
        .filter_map(|l| host.read_string(l).ok())
        .collect();
    for package in ["daos-server", "daos-client"] {
        if let Some(v) = docs.iter().rev().find_map(|n| package_version(package, n)) {
            return Some(upstream(v));
        }
        if let Some(v) = logs
            .iter()
            .find_map(|t| package_version_from_log(t, package))
        {
            return Some(upstream(&v));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnf_log_last_event_wins() {
        let log = "\
2024-05-01T10:00:00+0000 SUBDEBUG Installed: daos-server-2.4.1-1.el8.x86_64
2024-05-01T10:00:00+0000 SUBDEBUG Installed: daos-server-tests-2.4.1-1.el8.x86_64
2024-06-01T10:00:00+0000 SUBDEBUG Upgrade: daos-server-2.6.0-2.el8.x86_64
2024-06-01T10:00:00+0000 SUBDEBUG Upgraded: daos-server-2.4.1-1.el8.x86_64
";
        assert_eq!(
            version_from_package_log(log).as_deref(),
            Some("2.6.0-2.el8.x86_64")
        );
        let erased = format!(
            "{log}2024-07-01T10:00:00+0000 SUBDEBUG Erase: daos-server-2.6.0-2.el8.x86_64\n"
        );
        assert_eq!(version_from_package_log(&erased), None);
        assert_eq!(
            version_from_package_log("May 01 10:00:00 Installed: daos-server-2.0.3-1.el7.x86_64"),
            Some("2.0.3-1.el7.x86_64".into())
        );
    }
}
