//! The `fwlog` command: a thin layer over the library. Wiring only; see `cli/`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::run()
}
