//! The `daos-preflight` binary: parse the command line, run, exit with the code.

use clap::Parser;

fn main() {
    let cli = daos_preflight::cli::Cli::parse();
    std::process::exit(daos_preflight::app::run(cli));
}
