//! A server access point (`access_points`, 2.8 `mgmt_svc_replicas`) as daos_server
//! reads it: config/server.go `GetAccessPointPort` (2.8 `GetMSReplicaPort`). An entry
//! with a `:` (common/net_utils.go `HasPort`) goes through Go's `net.SplitHostPort`
//! (refused: `FaultConfigBadAccessPoints` / `FaultConfigBadMgmtSvcReplicas`) and its port
//! through `strconv.Atoi` (not a number, zero or negative: `FaultConfigBadControlPort`).
//! An entry without one gets the control port appended.

/// How one access point reads.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum AccessPoint {
    /// No `:`: DAOS appends the control port.
    NoPort,
    /// Host and a positive port.
    WithPort(i64),
    /// `net.SplitHostPort` refuses it (the reason, in Go's words).
    BadAddress(&'static str),
    /// The port is not a positive whole number.
    BadPort(String),
}

/// Go's `net.SplitHostPort` (net/ipsock.go): the port starts after the last `:`; a
/// bracketed host must be `[host]:port`; an unbracketed host may not hold a `:`.
pub(super) fn split_host_port(s: &str) -> Result<(&str, &str), &'static str> {
    const MISSING_PORT: &str = "missing port in address";
    const TOO_MANY_COLONS: &str = "too many colons in address";
    let Some(i) = s.rfind(':') else {
        return Err(MISSING_PORT);
    };
    let (host, j, k) = if s.starts_with('[') {
        let Some(end) = s.find(']') else {
            return Err("missing ']' in address");
        };
        if end + 1 == s.len() {
            return Err(MISSING_PORT);
        }
        if end + 1 != i {
            return Err(if s.as_bytes()[end + 1] == b':' {
                TOO_MANY_COLONS
            } else {
                MISSING_PORT
            });
        }
        (&s[1..end], 1, end + 1)
    } else {
        let host = &s[..i];
        if host.contains(':') {
            return Err(TOO_MANY_COLONS);
        }
        (host, 0, 0)
    };
    if s[j..].contains('[') {
        return Err("unexpected '[' in address");
    }
    if s[k..].contains(']') {
        return Err("unexpected ']' in address");
    }
    Ok((host, &s[i + 1..]))
}

/// One access point, as `GetAccessPointPort` reads it.
pub(super) fn access_point(s: &str) -> AccessPoint {
    if !s.contains(':') {
        return AccessPoint::NoPort;
    }
    match split_host_port(s) {
        Err(why) => AccessPoint::BadAddress(why),
        // strconv.Atoi: an optional sign and decimal digits within 64 bits
        Ok((_, port)) => match port.parse::<i64>() {
            Ok(n) if n > 0 => AccessPoint::WithPort(n),
            _ => AccessPoint::BadPort(port.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_split_host_port() {
        // net/ipsock_test.go's cases, by their outcome
        assert_eq!(
            split_host_port("localhost:10001"),
            Ok(("localhost", "10001"))
        );
        assert_eq!(split_host_port("[::1]:10001"), Ok(("::1", "10001")));
        assert_eq!(split_host_port("[::1]:"), Ok(("::1", "")));
        assert_eq!(split_host_port(":10001"), Ok(("", "10001")));
        assert_eq!(split_host_port("::1"), Err("too many colons in address"));
        assert_eq!(
            split_host_port("a:10001:2"),
            Err("too many colons in address")
        );
        assert_eq!(split_host_port("[::1]"), Err("missing port in address"));
        assert_eq!(split_host_port("[::1]x:1"), Err("missing port in address"));
        assert_eq!(
            split_host_port("[::1]:1:2"),
            Err("too many colons in address")
        );
        assert_eq!(split_host_port("[::1:1"), Err("missing ']' in address"));
        assert_eq!(split_host_port("a[b]:1"), Err("unexpected '[' in address"));
        assert_eq!(split_host_port("ab]:1"), Err("unexpected ']' in address"));
    }

    #[test]
    fn access_points_as_daos_reads_them() {
        assert_eq!(access_point("node0"), AccessPoint::NoPort);
        assert_eq!(access_point("node0:10001"), AccessPoint::WithPort(10001));
        assert_eq!(access_point("node0:+5"), AccessPoint::WithPort(5));
        assert_eq!(
            access_point("[fe80::1]:10001"),
            AccessPoint::WithPort(10001)
        );
        assert!(matches!(
            access_point("0000:5e:00.0"),
            AccessPoint::BadAddress(_)
        ));
        assert!(matches!(access_point("node0:"), AccessPoint::BadPort(_)));
        assert!(matches!(access_point("node0:0"), AccessPoint::BadPort(_)));
        assert!(matches!(access_point("node0:-1"), AccessPoint::BadPort(_)));
        assert!(matches!(access_point("node0:x"), AccessPoint::BadPort(_)));
        assert!(matches!(
            access_point("node0:99999999999999999999"),
            AccessPoint::BadPort(_)
        ));
    }
}
