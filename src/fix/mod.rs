//! `daos-preflight fix`: failing checks → a plan (pure, printable) → apply (host writes,
//! read back) → verify (a fresh check).

pub mod cmdline;
