use std::io::Write;

use clap::Parser;

use wwctl::cli::{self, Cli};
use wwctl::error::{self, ExitCode};

fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(clap_error) => return usage_error(&clap_error),
    };

    let code = match cli::run(cli) {
        Ok(code) => code,
        Err(run_error) if is_broken_pipe(&run_error) => ExitCode::Success,
        Err(run_error) => {
            let _ = std::io::stderr().write_all(error::render(&run_error).as_bytes());
            error::exit_code_for(&run_error)
        }
    };
    std::process::ExitCode::from(code.code())
}

/// Print a clap error; help and version requests are successes, not usage errors.
fn usage_error(clap_error: &clap::Error) -> std::process::ExitCode {
    let _ = clap_error.print();
    let code = match clap_error.kind() {
        clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
            ExitCode::Success
        }
        clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::Usage,
        _ => ExitCode::Usage,
    };
    std::process::ExitCode::from(code.code())
}

/// A closed stdout (`wwctl status | head`) ends the output early; that is not a failure.
fn is_broken_pipe(run_error: &anyhow::Error) -> bool {
    run_error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
