//! The probe handshake (pure): what the client sends, what `probe serve` answers, and
//! the NTP-style offset and round-trip arithmetic.
//!
//! Client → server: one line `DPPROBE1 <t1>\n` (t1 = client send time, ns since the Unix
//! epoch). Server → client: one JSON line (at most [`MAX_REPLY`] bytes) with its names,
//! tool version, system name, t2 (request received) and t3 (reply sent), then it closes.

use serde::{Deserialize, Serialize};

/// The request line's magic word.
pub const MAGIC: &str = "DPPROBE1";
/// Longest request the server reads.
pub const MAX_REQUEST: usize = 64;
/// Longest reply the client reads.
pub const MAX_REPLY: usize = 1024;

/// What the server answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// `daos-preflight/probe/v1`.
    pub proto: String,
    /// Short host name.
    pub hostname: String,
    /// Fully qualified name when known.
    pub fqdn: Option<String>,
    /// Tool version.
    pub version: String,
    /// DAOS system name of the server file.
    pub system_name: Option<String>,
    /// `sha256:<hex>` of the server file as read.
    pub config_digest: Option<String>,
    /// Request receive time (ns, Unix epoch).
    pub t2: i128,
    /// Reply send time (ns, Unix epoch).
    pub t3: i128,
}

/// The request line for send time `t1`.
pub fn encode_request(t1: i128) -> String {
    format!("{MAGIC} {t1}\n")
}

/// The client's send time from a request, `None` when it is not a probe request.
pub fn decode_request(bytes: &[u8]) -> Option<i128> {
    let s = std::str::from_utf8(bytes).ok()?;
    let line = s.lines().next()?;
    let rest = line.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    rest.trim().parse().ok()
}

/// The reply line.
pub fn encode_reply(h: &Hello) -> String {
    let mut s = serde_json::to_string(h).unwrap_or_default();
    s.push('\n');
    s
}

/// The reply, or why it is not one.
pub fn decode_reply(bytes: &[u8]) -> Result<Hello, String> {
    let s = std::str::from_utf8(bytes).map_err(|_| "reply is not UTF-8".to_string())?;
    let line = s.lines().next().unwrap_or("");
    let h: Hello =
        serde_json::from_str(line).map_err(|e| format!("not a daos-preflight handshake: {e}"))?;
    if h.proto != crate::probe::SCHEMA {
        return Err(format!("unknown handshake protocol {:?}", h.proto));
    }
    Ok(h)
}

/// (offset, rtt) in ns: offset = ((t2-t1)+(t3-t4))/2 (peer minus local), rtt = (t4-t1)-(t3-t2).
pub fn offset_rtt(t1: i128, t2: i128, t3: i128, t4: i128) -> (i128, i128) {
    (((t2 - t1) + (t3 - t4)) / 2, (t4 - t1) - (t3 - t2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_of_a_peer_5s_ahead_with_symmetric_delay() {
        // 1 ms each way, peer 5 s ahead, 0.5 ms server processing
        let t1 = 1_000_000_000_000;
        let t2 = t1 + 1_000_000 + 5_000_000_000;
        let t3 = t2 + 500_000;
        let t4 = t1 + 2_000_000 + 500_000;
        assert_eq!(offset_rtt(t1, t2, t3, t4), (5_000_000_000, 2_000_000));
    }

    #[test]
    fn request_round_trip_and_garbage() {
        assert_eq!(decode_request(encode_request(42).as_bytes()), Some(42));
        assert_eq!(decode_request(b"GET / HTTP/1.0\r\n"), None);
        assert_eq!(decode_request(b"DPPROBE1 x\n"), None);
        assert!(decode_reply(b"SSH-2.0-OpenSSH\r\n").is_err());
    }
}
