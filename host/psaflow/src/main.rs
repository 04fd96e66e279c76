//! The `psaflow` command. Each subcommand lives in `cli/`; exit codes follow the product
//! contract (see README, "Commands").

mod cli;
mod serve;

fn main() -> std::process::ExitCode {
    cli::main()
}
