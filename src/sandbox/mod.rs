//! The sandbox: a local DigitalOcean emulator whose droplets are lab hosts.
//! (Placeholder: the emulator module replaces the command.)

pub mod hosts;
pub mod lab;

use crate::cli::GlobalArgs;
use crate::error::{ExitCode, UserError};

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Start the emulator.
    Up,
    /// The lab hosts behind the emulator's droplets.
    Lab(lab::cli::LabArgs),
    /// Run a command inside a droplet's lab host without SSH; its exit code is passed through.
    Exec(lab::cli::ExecArgs),
}

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        SandboxCommand::Up => Err(UserError::usage("`wwctl sandbox` is not built yet").into()),
        SandboxCommand::Lab(lab_args) => lab::cli::run(global, &lab_args.command),
        SandboxCommand::Exec(exec_args) => {
            lab::cli::run(global, &lab::cli::LabCommand::Exec(exec_args.clone()))
        }
    }
}
