//! DAOS 2.8's checks of engine environment variables against the engine's setup
//! (src/control/server/engine/config.go `UpdateABTEnvarsUCX`, `UpdatePMDKEnvars`,
//! `UpdateABTEnvarsMdOnSsd`, run for each engine at the end of server/server.go
//! `processConfig`, before any engine starts). A missing variable is added by DAOS; a
//! value that is given must be a number at least as large as the setup needs.

use super::Out;
use super::logmask::engine_env;
use crate::daos::config::server::{EngineConfig, ServerConfig, StorageClass};

const STACK: &str = "ABT_THREAD_STACKSIZE";

/// Go `strconv.Atoi`: optional sign, decimal digits.
fn atoi(s: &str) -> Option<i64> {
    let d = s.strip_prefix(['+', '-']).unwrap_or(s);
    if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn stack_rule(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize, min: i64, why: &str) {
    let Some((idx, val)) = engine_env(e, STACK) else {
        return;
    };
    let key = format!("engines[{i}].env_vars[{idx}]");
    let pos = cfg.pos_of(&key).or(Some(e.pos));
    match atoi(val) {
        None => out.err(
            pos,
            &key,
            format!("engine {i}: {STACK}={val} is not a number"),
            None,
            Some(format!(
                "set {STACK}={min} or more, or remove it (DAOS then sets {min})"
            )),
        ),
        Some(n) if n < min => out.err(
            pos,
            &key,
            format!("engine {i}: {STACK}={n} is too small {why}: DAOS 2.8 requires at least {min}"),
            None,
            Some(format!("set {STACK}={min} or more, or remove it")),
        ),
        _ => {}
    }
}

pub(super) fn validate_engine_env(out: &mut Out, cfg: &ServerConfig, e: &EngineConfig, i: usize) {
    // UpdateABTEnvarsUCX: the primary provider is the top-level one (processFabricProvider)
    let provider = cfg.engine_provider(e).unwrap_or_default();
    let primary = super::fabric::split_multi(&provider)
        .first()
        .copied()
        .unwrap_or("");
    if primary.starts_with("ucx+") {
        stack_rule(out, cfg, e, i, 32768, "for the UCX provider");
    }
    // UpdatePMDKEnvars
    let Some(tier0) = e.storage.first() else {
        return;
    };
    let dcpm = tier0.class == Some(StorageClass::Dcpm);
    if let Some((idx, conf)) = engine_env(e, "PMEMOBJ_CONF") {
        let key = format!("engines[{i}].env_vars[{idx}]");
        let pos = cfg.pos_of(&key).or(Some(e.pos));
        if dcpm && conf.contains("sds.at_create") {
            out.err(pos, &key, format!("engine {i}: PMEMOBJ_CONF={conf} sets sds.at_create, which DAOS 2.8 refuses with class dcpm"), None, Some("remove sds.at_create from PMEMOBJ_CONF (DAOS keeps PMDK's shutdown-state handling for pmem)".into()));
            return;
        }
        if !dcpm && conf.contains("sds.at_create=1") {
            out.err(pos, &key, format!("engine {i}: PMEMOBJ_CONF={conf} enables sds.at_create, which DAOS 2.8 refuses for a RAM-disk SCM tier"), None, Some("use sds.at_create=0 or remove it (DAOS adds it)".into()));
            return;
        }
    }
    if dcpm {
        stack_rule(out, cfg, e, i, 20480, "for class dcpm");
        return;
    }
    // UpdateABTEnvarsMdOnSsd
    if e.is_md_on_ssd() {
        stack_rule(out, cfg, e, i, 24576, "for MD-on-SSD");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn atoi_as_go() {
        assert_eq!(super::atoi("+12"), Some(12));
        assert_eq!(super::atoi("abc"), None);
        assert_eq!(super::atoi("1 "), None);
        assert_eq!(super::atoi(""), None);
    }
}
