//! The `casevault` binary: see [`casevault_server::cli`].

fn main() -> std::process::ExitCode {
    casevault_server::cli::main()
}
