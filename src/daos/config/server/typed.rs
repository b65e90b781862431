//! Typed readers for the Go field types the generic walker does not know: unsigned
//! integers (`uint`, `uint8`, `uint32`: go-yaml v2 refuses a negative or too large
//! number for them, and DAOS refuses the file at load) and nested sections whose values
//! DAOS decodes into typed fields (spdk_rpc_server, bdev_auto_faulty, spdk_iobuf).

use crate::daos::config::KeySpec;
use crate::daos::config::walk::{Walker, join};
use crate::daos::config::yaml::Node;
use crate::daos::config::yaml::scalar::IntType;

/// The Go type of a value, for [`typed_section`].
#[derive(Clone, Copy)]
pub(super) enum Ty {
    Bool,
    Str,
    /// An unsigned integer up to this maximum.
    Uint(u64),
}

/// `uint32` maximum.
pub(super) const U32: u64 = u32::MAX as u64;
/// `uint` maximum on x86-64. [`uint`] returns values above `i64::MAX` saturated there
/// (no DAOS limit comes near it), but accepts them as go-yaml does.
pub(super) const UINT: u64 = u64::MAX;

/// A whole number read into a Go unsigned field of maximum `max`.
pub(super) fn uint(w: &mut Walker, v: &Node, p: &str, max: u64) -> Option<i64> {
    // a negative number is a type error for go-yaml (`cannot unmarshal !!int into uint`)
    let n = w.int_as(v, p, IntType::Uint)?;
    if n as u64 > max {
        w.error(
            v.pos,
            p,
            format!(
                "{p}: {n} is out of range: DAOS reads it as an unsigned number (0 to {max}) and refuses the file"
            ),
        );
        return None;
    }
    Some(n)
}

/// A Go `uint` read exactly (0 to 2^64 − 1), for values DAOS does arithmetic on.
pub(super) fn uint64(w: &mut Walker, v: &Node, p: &str) -> Option<u64> {
    w.int_exact(v, p, IntType::Uint)
        .and_then(|n| u64::try_from(n).ok())
}

/// A list of whole numbers (`[]int`); null is empty.
pub(super) fn ints(w: &mut Walker, v: &Node, p: &str) -> Vec<i64> {
    w.items(v, p)
        .into_iter()
        .enumerate()
        .filter_map(|(i, it)| w.int(it, &format!("{p}[{i}]")))
        .collect()
}

/// A nested section: unknown keys are reported, each known value is read as its type.
pub(super) fn typed_section(
    w: &mut Walker,
    node: &Node,
    path: &str,
    specs: &[KeySpec],
    types: &[(&str, Ty)],
) {
    for (name, k, v) in w.entries(node, path) {
        if !w.known(specs, name) {
            w.unknown_key(k, name, path, specs, &[]);
            continue;
        }
        let p = join(path, name);
        match types.iter().find(|(n, _)| *n == name).map(|(_, t)| *t) {
            Some(Ty::Bool) => {
                let _ = w.bool(v, &p);
            }
            Some(Ty::Str) => {
                let _ = w.string(v, &p);
            }
            Some(Ty::Uint(max)) => {
                let _ = uint(w, v, &p, max);
            }
            None => {}
        }
    }
}
