//! Local users and groups (`/etc/passwd`, `/etc/group`): the DAOS accounts the RPMs
//! create (daos.spec `%pre server`/`%pre client`: `daos_server` in groups `daos_metrics`
//! and `daos_daemons`; `daos_agent` in `daos_daemons`), and name lookups for file owners.

use super::{Accounts, CollectionError, GroupAccount, Services, UserAccount, note};
use crate::host::Host;

/// Accounts always reported when present.
pub const DAOS_USERS: &[&str] = &["daos_server", "daos_agent"];
/// Groups always reported when present.
pub const DAOS_GROUPS: &[&str] = &["daos_server", "daos_agent", "daos_daemons", "daos_metrics"];

/// One line of `/etc/passwd`: (name, uid, gid).
pub fn parse_passwd(text: &str) -> Vec<(String, u32, u32)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 || f[0].is_empty() {
                return None;
            }
            Some((f[0].to_string(), f[2].parse().ok()?, f[3].parse().ok()?))
        })
        .collect()
}

/// One line of `/etc/group`: (name, gid, members).
pub fn parse_group(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 3 || f[0].is_empty() {
                return None;
            }
            let members = f
                .get(3)
                .map(|m| {
                    m.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// The whole local account database, for name lookups.
#[derive(Debug, Default)]
pub struct AccountDb {
    /// `/etc/passwd` entries, or `None` when unreadable.
    pub passwd: Option<Vec<(String, u32, u32)>>,
    /// `/etc/group` entries, or `None` when unreadable.
    pub group: Option<Vec<(String, u32, Vec<String>)>>,
}

impl AccountDb {
    /// Reads `/etc/passwd` and `/etc/group`.
    pub fn read(host: &Host, errors: &mut Vec<CollectionError>) -> Self {
        AccountDb {
            passwd: note(errors, host.read_string("/etc/passwd")).map(|t| parse_passwd(&t)),
            group: note(errors, host.read_string("/etc/group")).map(|t| parse_group(&t)),
        }
    }

    /// The user name of `uid`.
    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.passwd
            .as_ref()?
            .iter()
            .find(|(_, u, _)| *u == uid)
            .map(|(n, _, _)| n.clone())
    }

    /// The group name of `gid`.
    pub fn group_name(&self, gid: u32) -> Option<String> {
        self.group
            .as_ref()?
            .iter()
            .find(|(_, g, _)| *g == gid)
            .map(|(n, _, _)| n.clone())
    }
}

/// The DAOS accounts, plus the `User=`/`Group=` of the DAOS units.
pub fn collect(host: &Host, services: &Services, errors: &mut Vec<CollectionError>) -> Accounts {
    let db = AccountDb::read(host, errors);
    let mut want_users: Vec<String> = DAOS_USERS.iter().map(|s| s.to_string()).collect();
    let mut want_groups: Vec<String> = DAOS_GROUPS.iter().map(|s| s.to_string()).collect();
    for unit in [&services.daos_server, &services.daos_agent]
        .into_iter()
        .flatten()
    {
        want_users.extend(unit.user.clone());
        want_groups.extend(unit.group.clone());
    }
    let groups_all = db.group.clone().unwrap_or_default();
    let users = db
        .passwd
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|(n, _, _)| want_users.contains(n))
        .map(|(name, uid, gid)| UserAccount {
            primary_group: db.group_name(gid),
            groups: groups_all
                .iter()
                .filter(|(_, _, m)| m.contains(&name))
                .map(|(g, _, _)| g.clone())
                .collect(),
            name,
            uid,
            gid,
        })
        .collect();
    let groups = groups_all
        .into_iter()
        .filter(|(n, _, _)| want_groups.contains(n))
        .map(|(name, gid, members)| GroupAccount { name, gid, members })
        .collect();
    Accounts {
        passwd_readable: db.passwd.is_some(),
        group_readable: db.group.is_some(),
        users,
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        // as daos.spec's useradd/groupadd leave them on EL8
        let p = parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# comment\nbroken\ndaos_server:x:994:991::/home/daos_server:/sbin/nologin\n",
        );
        assert_eq!(p.len(), 2);
        assert_eq!(p[1], ("daos_server".to_string(), 994, 991));
        let g = parse_group("daos_daemons:x:992:daos_server,daos_agent\ndaos_server:x:991:\n");
        assert_eq!(g[0].2, ["daos_server", "daos_agent"]);
        assert!(g[1].2.is_empty());
    }
}
