//! The `kroniek` binary: see [`kroniek_api::cli`].

fn main() -> std::process::ExitCode {
    kroniek_api::cli::run()
}
