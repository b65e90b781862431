//! DAOS host lists: the agent's `access_points` and dmg's `hostlist`, as
//! src/control/common/net_utils.go `ParseHostList` reads them (joined with `,`, parsed
//! by src/control/lib/hostlist `CreateSet`, then each host split at `:` for the port).
//!
//! The rules, from lib/hostlist/hostlist.go (`nextToken`, `parseBracketedHostList`,
//! `parseRange`, `hostName.Parse`): entries are separated by `,`, space or tab outside
//! brackets; a bracketed range `prefix[lo-hi,n]suffix` needs a prefix, unsigned decimal
//! bounds, lo ≤ hi and at most 16384 hosts per range; a plain host is letters then
//! optional digits then anything (`node1`, `node-1.ib`), or with a `-`, letters, digits
//! and dashes ending in `-` first; otherwise a dotted IPv4 start (`10.0.0.1`, optionally
//! `:port`). Finally each host has at most one `:` and the port after it is an integer.

/// Most hosts one range may name (lib/hostlist/hostlist.go `MaxRange`).
const MAX_RANGE: u64 = 16384;
const SEPARATORS: &[char] = &['\t', ',', ' '];

/// Go's `strconv.ParseUint(s, 10, 64)`: digits only, no sign, no overflow.
fn parse_uint(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.Atoi`: an optional sign, then digits, within 64 bits.
fn atoi(s: &str) -> bool {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && s.parse::<i64>().is_ok()
}

/// lib/hostlist `nextToken`: (rest of the input, the token).
fn next_token(input: &str) -> (&str, &str) {
    let start = input
        .char_indices()
        .find(|(_, c)| !SEPARATORS.contains(c))
        .map_or(0, |(i, _)| i);
    let token = &input[start..];
    let mut output = &input[start..];
    let mut level = 0i32;
    for (i, ch) in token.char_indices() {
        match ch {
            '[' => level += 1,
            ']' => level -= 1,
            c if level <= 0 && SEPARATORS.contains(&c) => {
                if !output[i..].is_empty() {
                    output = &output[i + c.len_utf8()..];
                }
                return (output, &token[..i]);
            }
            _ => {}
        }
    }
    (&output[token.len()..], token)
}

/// lib/hostlist `hostName.Parse`: is `input` a host name DAOS accepts?
fn host_name_ok(input: &str) -> Result<(), String> {
    let b = input.as_bytes();
    let named = if input.contains('-') {
        // ^([a-zA-Z0-9\-]+\-)(\d+)?(.*)?  — a run of letters, digits, dashes ending in '-'
        let run = b
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
            .count();
        b[..run]
            .iter()
            .rposition(|c| *c == b'-')
            .filter(|&i| i >= 1)
    } else {
        // ^([a-zA-Z]+)(\d+)?(.*)?
        let letters = b.iter().take_while(|c| c.is_ascii_alphabetic()).count();
        (letters > 0).then(|| letters - 1)
    };
    if let Some(end) = named {
        let digits: String = input[end + 1..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && parse_uint(&digits).is_none() {
            return Err(format!("the number in host {input:?} is too large"));
        }
        return Ok(());
    }
    // ^(\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})(.*) and the rest, if any, ":<uint>"
    let mut rest = input;
    for _ in 0..3 {
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        if !(1..=3).contains(&n) || rest.as_bytes().get(n) != Some(&b'.') {
            return Err(invalid_host(input));
        }
        rest = &rest[n + 1..];
    }
    let n = rest.bytes().take_while(u8::is_ascii_digit).count().min(3);
    if n == 0 {
        return Err(invalid_host(input));
    }
    let tail = &rest[n..];
    if !tail.is_empty() && parse_uint(&tail[1..]).is_none() {
        return Err(invalid_host(input));
    }
    Ok(())
}

fn invalid_host(h: &str) -> String {
    format!(
        "{h:?} is not a host name DAOS accepts: a name starts with a letter (node1, node-1), an address is dotted IPv4 (10.0.0.1); a port follows one ':'"
    )
}

/// One bracketed range `lo-hi` or `n` (lib/hostlist `parseRange`): the first number.
fn range_ok(r: &str, tok: &str) -> Result<u64, String> {
    let lohi: Vec<&str> = r.split('-').collect();
    if lohi.len() > 2 {
        return Err(format!("range {r:?} in {tok:?} has more than one '-'"));
    }
    let bound = |s: &str| {
        parse_uint(s.trim())
            .ok_or_else(|| format!("range {r:?} in {tok:?}: {s:?} is not an unsigned whole number"))
    };
    let lo = bound(lohi[0])?;
    let hi = match lohi.get(1) {
        Some(h) => bound(h)?,
        None => lo,
    };
    if hi < lo {
        return Err(format!(
            "range {r:?} in {tok:?} runs backwards ({hi} < {lo})"
        ));
    }
    if hi - lo > MAX_RANGE {
        return Err(format!(
            "range {r:?} in {tok:?} names more than {MAX_RANGE} hosts"
        ));
    }
    Ok(lo)
}

/// `host[:port]`: at most one ':' and an integer port (net_utils.go `ParseHostList`).
fn port_ok(host: &str) -> Result<(), String> {
    let parts: Vec<&str> = host.split(':').collect();
    match parts.len() {
        1 => Ok(()),
        2 if atoi(parts[1]) => Ok(()),
        2 => Err(format!(
            "{host:?}: the port {:?} is not a whole number",
            parts[1]
        )),
        _ => Err(format!(
            "{host:?} has more than one ':': write hostname or hostname:port (IPv6 addresses are not accepted)"
        )),
    }
}

/// Checks a DAOS host list the way `ParseHostList` does; the first problem, as DAOS
/// stops at it.
pub fn check_host_list(entries: &[String]) -> Result<(), String> {
    if entries.is_empty() {
        return Ok(());
    }
    let joined = entries.join(",");
    if joined.is_empty() {
        return Ok(());
    }
    // (prefix + first number + suffix) of each range, or the plain host
    let mut hosts: Vec<String> = Vec::new();
    let (mut scan, mut tok) = next_token(&joined);
    loop {
        let done = scan.is_empty();
        match tok.find('[') {
            None => {
                host_name_ok(tok)?;
                hosts.push(tok.to_string());
            }
            Some(l) => {
                let r = tok
                    .find(']')
                    .filter(|&r| r > l)
                    .ok_or_else(|| format!("{tok:?}: a '[' range is not closed by ']'"))?;
                let mut firsts = Vec::new();
                for part in tok[l + 1..r].split(',') {
                    firsts.push(range_ok(part, tok)?);
                }
                let prefix = &tok[..l];
                if prefix.is_empty() {
                    return Err(format!("{tok:?}: a range needs a host name before '['"));
                }
                let suffix = &tok[r + 1..];
                for n in firsts {
                    hosts.push(format!("{prefix}{n}{suffix}"));
                }
            }
        }
        if done {
            break;
        }
        (scan, tok) = next_token(scan);
    }
    hosts.iter().try_for_each(|h| port_ok(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &[&str]) -> bool {
        check_host_list(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>()).is_ok()
    }

    #[test]
    fn what_daos_parse_host_list_accepts() {
        // accepted by daos-config-oracle-2.6 --kind agent (access_points)
        for v in [
            &["node0", "node1"][..],
            &["node[1-3]"],
            &["node[01-10]:10001"],
            &["10.0.0.1", "10.0.0.2:10001"],
            &["a:99999"],
            &["a-"],
            &["x@y"],
            &["a b"],
            &[""],
            &["a", ""],
            &["node-1", "node_2", "node.3"],
            &["a,b,c"],
        ] {
            assert!(ok(v), "{v:?}");
        }
        // refused by it
        for v in [
            &["0000:5e:20.0"][..],
            &["5e:00.0"],
            &["[::1]:10001"],
            &["::1"],
            &["a:"],
            &[":10001"],
            &["a:b:c"],
            &["node[3-1]"],
            &["node[1-"],
            &["node[a-b]"],
            &["@@bad"],
            &["10.0.0.1:abc"],
            &["", ""],
            &["a:10001:2"],
            &["[1-2]"],
            &["a:-1"],
            &["a,,"],
            &["10.0.0.1234"],
            &["-a"],
            &["1a"],
            &["node[1-2]x:y:z"],
        ] {
            assert!(!ok(v), "{v:?}");
        }
    }
}
