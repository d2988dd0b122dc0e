//! The sandbox: a local DigitalOcean emulator whose droplets are lab hosts.
//! (Placeholder: the emulator module replaces the command.)

pub mod hosts;

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
}

pub fn run(_global: &GlobalArgs, _args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl sandbox` is not built yet").into())
}
