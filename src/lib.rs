//! daos-preflight: checks that a host is ready to run DAOS before `daos_server` starts.
//!
//! Data flows one way: [`host`] → [`facts`] → [`checks`] → [`report`] (design.md §4).

pub mod app;
pub mod checks;
pub mod cli;
pub mod daos;
pub mod facts;
pub mod fix;
pub mod fleet;
pub mod host;
pub mod probe;
pub mod report;
pub mod units;
