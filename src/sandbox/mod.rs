//! The sandbox: a local DigitalOcean API emulator with authoritative DNS,
//! whose droplets can be lab hosts.
//!
//! `wwctl sandbox up` starts `wwctl sandbox serve` as a background daemon.
//! `env`, `status`, `faults` and `down` find it through the files in the
//! sandbox folder and reach it through its admin API.

pub mod api;
pub mod app;
pub mod catalog;
pub mod control;
pub mod dns;
pub mod duration;
pub mod faults;
pub mod folder;
pub mod hosts;
pub mod lab;
pub mod lifecycle;
pub mod options;
pub mod ratelimit;
pub mod serve;
pub mod settings;
pub mod state;
pub mod token;
pub mod zone;

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::error::ExitCode;
use folder::SandboxDir;
use lab::cli::LabCommand;

#[derive(Debug, clap::Args)]
pub struct SandboxArgs {
    /// Folder holding the sandbox's state, log, pid and port files
    /// [default: /var/lib/wwctl/sandbox as root, else $XDG_STATE_HOME/wwctl/sandbox].
    #[arg(long, global = true, env = "WWCTL_SANDBOX_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: SandboxCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum SandboxCommand {
    /// Start the emulator in the background and wait until it responds.
    Up(Box<options::ServeOptions>),
    /// Run the emulator in the foreground (what `up` starts).
    #[command(hide = true)]
    Serve(Box<options::ServeOptions>),
    /// Print the `export` lines a shell needs to use the running sandbox.
    Env,
    /// Show whether the sandbox runs, where, and with which settings.
    Status,
    /// Stop the running sandbox; succeeds when none runs.
    Down,
    /// Show or change the injected faults of the sandbox token's account.
    Faults(control::FaultsArgs),
    /// The lab hosts behind the emulator's droplets.
    Lab(lab::cli::LabArgs),
    /// Run a command inside a droplet's lab host without SSH; its exit code is passed through.
    Exec(lab::cli::ExecArgs),
}

pub fn run(global: &GlobalArgs, args: &SandboxArgs) -> anyhow::Result<ExitCode> {
    let dir = folder::SandboxDir::resolve(args.dir.as_deref())?;
    match &args.command {
        SandboxCommand::Up(options) => control::up(global, &dir, options),
        SandboxCommand::Serve(options) => serve::run(global, &dir, options),
        SandboxCommand::Env => control::env(global, &dir),
        SandboxCommand::Status => control::status(global, &dir),
        SandboxCommand::Down => control::down(global, &dir),
        SandboxCommand::Faults(faults) => control::faults(global, &dir, faults),
        SandboxCommand::Lab(lab_args) => {
            // A sandbox folder given with --dir contains the lab to act on;
            // without it, the lab commands keep their own default folder.
            let mut command = lab_args.command.clone();
            if dir.non_default {
                use_sandbox_lab(&dir, &mut command);
            }
            lab::cli::run(global, &command)
        }
        SandboxCommand::Exec(exec_args) => {
            if exec_args.lab.lab_dir.is_none() {
                control::lab::require_lab_hosts(&dir)?;
            }
            let mut command = LabCommand::Exec(exec_args.clone());
            use_sandbox_lab(&dir, &mut command);
            lab::cli::run(global, &command)
        }
    }
}

/// Point `command` at the lab of the sandbox folder `dir`, unless --lab-dir
/// (or WWCTL_LAB_DIR) names another.
fn use_sandbox_lab(dir: &SandboxDir, command: &mut LabCommand) {
    if let Some(lab) = command.lab_dir_args_mut()
        && lab.lab_dir.is_none()
    {
        lab.lab_dir = Some(dir.path.join("lab"));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::use_sandbox_lab;
    use crate::sandbox::folder::SandboxDir;
    use crate::sandbox::lab::cli::{LabCommand, LabDirArgs};

    #[test]
    fn lab_status_uses_sandbox_folder() {
        let dir = SandboxDir {
            path: PathBuf::from("/tmp/sb"),
            non_default: true,
        };
        let mut command = LabCommand::Status(LabDirArgs { lab_dir: None });
        use_sandbox_lab(&dir, &mut command);

        let LabCommand::Status(args) = command else {
            panic!("the command changed kind");
        };
        assert_eq!(args.lab_dir, Some(PathBuf::from("/tmp/sb/lab")));
    }

    #[test]
    fn explicit_lab_dir_is_kept() {
        let dir = SandboxDir {
            path: PathBuf::from("/tmp/sb"),
            non_default: true,
        };
        let explicit = Some(PathBuf::from("/srv/lab"));
        let mut command = LabCommand::Status(LabDirArgs {
            lab_dir: explicit.clone(),
        });
        use_sandbox_lab(&dir, &mut command);

        let LabCommand::Status(args) = command else {
            panic!("the command changed kind");
        };
        assert_eq!(args.lab_dir, explicit);
    }
}
