//! The `graphd` command.

fn main() -> std::process::ExitCode {
    graphd::cli::main()
}
