//! The `daos-preflight` binary: parse the command line, run, exit with the code.

use clap::Parser;

fn main() {
    let cli = daos_preflight::cli::Cli::parse_from(daos_preflight::cli::normalize_args(
        std::env::args_os(),
    ));
    std::process::exit(daos_preflight::app::run(cli));
}
