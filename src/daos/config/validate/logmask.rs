//! Engine logging: `log_mask` and the `DD_MASK` / `DD_SUBSYS` engine environment
//! variables (src/control/server/engine/utils.go `ValidateLogMasks`,
//! `ValidateLogStreams`, `ValidateLogSubsystems`, called from engine/config.go
//! `Config.Validate`, the same in DAOS 2.2 to 2.8). DAOS has no fault code of its own for
//! them: `Validate` wraps them into FaultBadConfig.

use super::Out;
use crate::daos::config::server::{EngineConfig, ServerConfig};

/// engine/utils.go `validLogLevels` (what `StrToLogLevel` knows, any case).
const LEVELS: &[&str] = &[
    "DEBUG", "DBUG", "INFO", "NOTE", "WARN", "ERROR", "ERR", "CRIT", "ALRT", "FATAL", "EMRG",
    "EMIT",
];

/// engine/utils.go `validLogStreams` (DD_MASK).
const STREAMS: &[&str] = &[
    "ALL",
    "MD",
    "PL",
    "MGMT",
    "EPC",
    "DF",
    "REBUILD",
    "SEC",
    "CSUM",
    "GROUP_DEFAULT",
    "GROUP_METADATA_ONLY",
    "GROUP_METADATA",
    "ANY",
    "TRACE",
    "MEM",
    "NET",
    "IO",
    "TEST",
];

/// engine/utils.go `validLogSubsystems` (DD_SUBSYS and the PREFIX of `log_mask`).
const SUBSYSTEMS: &[&str] = &[
    "ALL",
    "DAOS",
    "ARRAY",
    "KV",
    "COMMON",
    "TREE",
    "VOS",
    "CLIENT",
    "SERVER",
    "RDB",
    "RSVC",
    "POOL",
    "CONTAINER",
    "OBJECT",
    "PLACEMENT",
    "REBUILD",
    "MGMT",
    "BIO",
    "TESTS",
    "DFS",
    "DUNS",
    "DRPC",
    "SECURITY",
    "DTX",
    "DFUSE",
    "IL",
    "CSUM",
    "STACK",
    "MISC",
    "MEM",
    "SWIM",
    "FI",
    "TELEM",
    "CRT",
    "RPC",
    "BULK",
    "CORPC",
    "GRP",
    "LM",
    "HG",
    "EXTERNAL",
    "ST",
    "IV",
    "CTL",
];

/// engine/utils.go `logMasksStrMaxLen`.
const MAX_LEN: usize = 1023;

fn is_level(s: &str) -> bool {
    LEVELS.iter().any(|l| l.eq_ignore_ascii_case(s))
}

fn lower(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| n.to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// engine/utils.go `checkStrChars`: at most 1023 bytes of letters, `,`, `=` and `_`.
fn check_chars(s: &str) -> Result<(), String> {
    if s.len() > MAX_LEN {
        return Err(format!(
            "it is {} characters long, DAOS allows {MAX_LEN}",
            s.len()
        ));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphabetic() || matches!(c, ',' | '=' | '_')))
    {
        return Err(format!(
            "{c:?} is not allowed: only letters, ',', '=' and '_' (no digits, no spaces)"
        ));
    }
    Ok(())
}

/// engine/utils.go `validateLogNames`: a comma-separated list of known names, `all` alone.
fn check_names(s: &str, valid: &[&str], what: &str) -> Result<(), String> {
    if s.is_empty() {
        return Ok(());
    }
    check_chars(s)?;
    let toks: Vec<&str> = s.split(',').collect();
    for t in &toks {
        if !valid.iter().any(|v| *v == t.to_ascii_uppercase()) {
            return Err(format!(
                "{t:?} is not a {what}; DAOS knows {}",
                lower(valid)
            ));
        }
        if t.eq_ignore_ascii_case("all") && toks.len() != 1 {
            return Err("'all' can't be combined with other names".into());
        }
    }
    Ok(())
}

/// engine/utils.go `ValidateLogMasks`: `LEVEL[,SUBSYS=LEVEL...]`; the first token may be a
/// bare level, every later one must be `SUBSYS=LEVEL` with a known subsystem (not `all`).
pub fn check_log_mask(mask: &str) -> Result<(), String> {
    if mask.is_empty() {
        return Ok(());
    }
    check_chars(mask)?;
    let levels = lower(LEVELS);
    for (i, tok) in mask.split(',').enumerate() {
        if i == 0 && !tok.contains('=') {
            if !is_level(tok) {
                return Err(format!(
                    "the base level {tok:?} is not a log level; DAOS knows {levels}"
                ));
            }
            continue;
        }
        let parts: Vec<&str> = tok.split('=').collect();
        if parts.len() != 2 {
            return Err(format!(
                "token {i} is {tok:?}; after the first comma each token must be SUBSYSTEM=LEVEL"
            ));
        }
        let (sub, lvl) = (parts[0], parts[1]);
        if !is_level(lvl) {
            return Err(format!(
                "{lvl:?} (in {tok:?}) is not a log level; DAOS knows {levels}"
            ));
        }
        if sub.eq_ignore_ascii_case("all") {
            return Err(format!(
                "{tok:?}: 'all' can't be given a level; set the base level (the first token) instead"
            ));
        }
        check_names(sub, SUBSYSTEMS, "log subsystem")?;
    }
    Ok(())
}

/// The value DAOS reads for an engine environment variable (engine/config.go `GetEnvVar`
/// through common/env_utils.go `MergeKeyValues`: the first `NAME=value` of `env_vars`
/// with a non-empty value wins; `NAME=` is as good as unset). Returns the index too.
pub fn engine_env<'a>(e: &'a EngineConfig, name: &str) -> Option<(usize, &'a str)> {
    e.env_vars.iter().enumerate().find_map(|(i, kv)| {
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then_some((i, v))
    })
}

pub(super) fn validate_engine_logging(
    out: &mut Out,
    cfg: &ServerConfig,
    e: &EngineConfig,
    i: usize,
) {
    let base = format!("engines[{i}]");
    if let Some(m) = &e.log_mask
        && let Err(why) = check_log_mask(m)
    {
        let key = format!("{base}.log_mask");
        out.err(
            cfg.pos_of(&key).or(Some(e.pos)),
            &key,
            format!("engine {i}: log_mask {m:?} is refused by DAOS: {why}"),
            None,
            Some(
                "write log_mask as LEVEL[,SUBSYSTEM=LEVEL...], e.g. ERR or ERR,mgmt=DEBUG,bio=INFO"
                    .into(),
            ),
        );
    }
    for (var, valid, what, example) in [
        ("DD_MASK", STREAMS, "debug stream", "DD_MASK=mgmt,io"),
        (
            "DD_SUBSYS",
            SUBSYSTEMS,
            "log subsystem",
            "DD_SUBSYS=mgmt,bio",
        ),
    ] {
        if let Some((idx, val)) = engine_env(e, var)
            && let Err(why) = check_names(val, valid, what)
        {
            let key = format!("{base}.env_vars[{idx}]");
            out.err(
                cfg.pos_of(&key).or(Some(e.pos)),
                &key,
                format!("engine {i}: {var}={val} is refused by DAOS: {why}"),
                None,
                Some(format!(
                    "set {var} to a comma-separated list of {what}s (or all, alone), e.g. {example}"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_masks() {
        for ok in [
            "",
            "ERR",
            "err",
            "DEBUG,mgmt=ERR",
            "mgmt=DEBUG",
            "FATAL",
            "INFO,MGMT=warn",
        ] {
            assert!(check_log_mask(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ERR,bogus", "token 1 is \"bogus\""),
            ("3", "'3' is not allowed"),
            ("ERR,all=DEBUG", "'all' can't be given a level"),
            ("ERR,bogus=DEBUG", "\"bogus\" is not a log subsystem"),
            (
                "ERR,mgmt=bogus",
                "\"bogus\" (in \"mgmt=bogus\") is not a log level",
            ),
            ("ERR,mgmt=DEBUG=INFO", "token 1"),
            ("ERR,", "token 1 is \"\""),
            (",ERR", "base level \"\""),
            ("TRACE", "base level \"TRACE\""),
            ("ERR, mgmt=DEBUG", "' ' is not allowed"),
        ] {
            let e = check_log_mask(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert!(check_log_mask(&"E".repeat(1024)).is_err());
    }

    #[test]
    fn streams_and_subsystems() {
        assert!(check_names("mgmt,io", STREAMS, "s").is_ok());
        assert!(check_names("ALL", SUBSYSTEMS, "s").is_ok());
        assert!(check_names("trace", SUBSYSTEMS, "s").is_err());
        assert!(
            check_names("mem,all", SUBSYSTEMS, "s")
                .unwrap_err()
                .contains("'all'")
        );
        assert!(check_names("3", SUBSYSTEMS, "s").is_err());
    }

    #[test]
    fn first_non_empty_env_value_wins() {
        let e = EngineConfig {
            env_vars: vec!["DD_MASK=".into(), "DD_MASK=mgmt".into(), "DD_MASK=x".into()],
            ..Default::default()
        };
        assert_eq!(engine_env(&e, "DD_MASK"), Some((1, "mgmt")));
        assert_eq!(engine_env(&e, "DD_SUBSYS"), None);
    }
}
