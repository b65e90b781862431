//! The host's names as the system knows them without asking DNS: `/etc/hostname`
//! (hostname(5)) and the canonical name `/etc/hosts` gives the hostname (hosts(5)).
//!
//! Pure parsers; [`crate::host::Host`] reads the files. DAOS resolves the names of
//! `access_points` and `hostlist` through the system resolver, which on a DAOS cluster
//! is `/etc/hosts` first (`files dns` in nsswitch.conf), so that is the view `fleet`
//! matches server names against.

/// The hostname in an `/etc/hostname` text: the first line that is neither blank nor
/// a `#` comment, trimmed (hostname(5)); `None` when there is none.
pub fn parse_etc_hostname(text: &str) -> Option<String> {
    text.lines()
        .map(|l| l.trim_matches(|c: char| c.is_whitespace() || c == '\0'))
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
}

/// The canonical name of `hostname` in an `/etc/hosts` text: the first name of the
/// first line that lists `hostname` among its names (as the canonical name or an
/// alias, compared without case, as the resolver's files backend does); `None` when no
/// line names it. `#` starts a comment anywhere on a line.
pub fn canonical_name(hosts: &str, hostname: &str) -> Option<String> {
    if hostname.is_empty() {
        return None;
    }
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(_address) = fields.next() else {
            continue;
        };
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(hostname)) {
            return names.first().map(|n| n.to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_hostname_skips_comments() {
        assert_eq!(parse_etc_hostname("node0\n").as_deref(), Some("node0"));
        assert_eq!(
            parse_etc_hostname("# written by anaconda\n\n  node1.example.org  \n").as_deref(),
            Some("node1.example.org")
        );
        assert_eq!(parse_etc_hostname("\n# only a comment\n"), None);
        assert_eq!(parse_etc_hostname(""), None);
    }

    #[test]
    fn hosts_canonical_names() {
        // the EL8 default /etc/hosts (setup package) plus the deployment guide's nodes
        let hosts = "127.0.0.1   localhost localhost.localdomain localhost4 localhost4.localdomain4\n\
::1         localhost localhost.localdomain localhost6 localhost6.localdomain6\n\
198.51.100.10 node0.example.org node0   # server\n\
198.51.100.11\tnode1.example.org\tnode1\n\
#198.51.100.12 node2.example.org node2\n\
198.51.100.12 node2\n";
        assert_eq!(
            canonical_name(hosts, "node0").as_deref(),
            Some("node0.example.org")
        );
        assert_eq!(
            canonical_name(hosts, "NODE1").as_deref(),
            Some("node1.example.org")
        );
        assert_eq!(
            canonical_name(hosts, "node1.example.org").as_deref(),
            Some("node1.example.org")
        );
        // the commented line does not count; the later one gives the short name
        assert_eq!(canonical_name(hosts, "node2").as_deref(), Some("node2"));
        assert_eq!(canonical_name(hosts, "node3"), None);
        assert_eq!(canonical_name(hosts, ""), None);
        // a line with an address and no names, or garbage, is skipped
        assert_eq!(canonical_name("198.51.100.9\n\n", "198.51.100.9"), None);
    }
}
