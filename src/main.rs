//! The `golden` binary: everything happens in `golden::cli`.

fn main() -> std::process::ExitCode {
    golden::cli::main()
}
