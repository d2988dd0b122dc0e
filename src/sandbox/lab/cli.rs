//! `wwctl sandbox lab ...`: bringing the lab up and down, its status,
//! running commands in hosts, and the hidden commands that run inside
//! hosts (PID 1, the `systemctl` and `cloud-init` stand-ins, power).

use std::path::PathBuf;

use anyhow::Context;

use super::{Lab, LabConfig};
use crate::cli::GlobalArgs;
use crate::error::ExitCode;
use crate::output::Printer;

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    #[command(subcommand)]
    pub command: LabCommand,
}

/// The lab folder option shared by the lab commands.
#[derive(Debug, Clone, clap::Args)]
pub struct LabDirArgs {
    /// Folder the lab keeps its hosts, keys and repositories in [default: /var/lib/wwctl/sandbox/lab].
    #[arg(long, env = "WWCTL_LAB_DIR", value_name = "DIR")]
    pub lab_dir: Option<PathBuf>,
}

impl LabDirArgs {
    fn config(&self) -> anyhow::Result<LabConfig> {
        LabConfig::new(self.lab_dir.clone())
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub lab: LabDirArgs,

    /// The droplet whose host runs the command, by name or id.
    pub droplet: String,

    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// A host booted without the emulator, for trying the lab by hand.
#[derive(Debug, Clone, clap::Args)]
pub struct BootArgs {
    #[command(flatten)]
    pub lab: LabDirArgs,

    /// The droplet id the host stands for.
    #[arg(long)]
    pub id: u64,

    /// The host name.
    #[arg(long)]
    pub name: String,

    /// The host's address, in 10.77.0.0/16.
    #[arg(long)]
    pub address: std::net::Ipv4Addr,

    /// A cloud-config or script file to boot with.
    #[arg(long, value_name = "FILE")]
    pub user_data: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum PowerAction {
    On,
    Shutdown,
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LabCommand {
    /// Set up the lab alone (bridge, host template, CA, controller key, git daemon), without the emulator.
    Up(LabDirArgs),
    /// Remove every host, namespace, link, mount and process of the lab, and its folder.
    Down(LabDirArgs),
    /// List the lab's hosts with droplet id, name, address, power and services.
    Status(LabDirArgs),
    /// Run a command inside a droplet's host without SSH; its exit code is passed through.
    Exec(ExecArgs),
    /// Boot a host without the emulator; root's authorized key is the controller key.
    #[command(hide = true)]
    Boot(BootArgs),
    /// Destroy a host booted with `boot`.
    #[command(hide = true)]
    Destroy {
        #[command(flatten)]
        lab: LabDirArgs,
        #[arg(long)]
        id: u64,
    },
    /// A host's PID 1 (run by the lab).
    #[command(hide = true)]
    HostInit {
        #[arg(long, value_name = "DIR")]
        host_dir: PathBuf,
    },
    /// The `systemctl` stand-in inside hosts.
    #[command(hide = true)]
    Systemctl {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The `cloud-init` stand-in inside hosts.
    #[command(hide = true, name = "cloud-init")]
    CloudInit {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Start or stop all of a host's services (run inside the host).
    #[command(hide = true)]
    HostPower { action: PowerAction },
    /// Print the host's services and states as JSON (run inside the host).
    #[command(hide = true)]
    Services,
}

impl LabCommand {
    /// Returns the lab folder option of the commands that take one.
    pub fn lab_dir_args_mut(&mut self) -> Option<&mut LabDirArgs> {
        match self {
            LabCommand::Up(args) | LabCommand::Down(args) | LabCommand::Status(args) => Some(args),
            LabCommand::Exec(args) => Some(&mut args.lab),
            LabCommand::Boot(args) => Some(&mut args.lab),
            LabCommand::Destroy { lab, .. } => Some(lab),
            _ => None,
        }
    }
}

/// Run a lab command. The stand-ins and `exec` exit the process with the
/// exit code of the program they stand for, which is not one of wwctl's
/// own codes.
pub fn run(global: &GlobalArgs, command: &LabCommand) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    match command {
        LabCommand::Up(args) => up(&printer, args),
        LabCommand::Down(args) => down(&printer, args),
        LabCommand::Status(args) => status(&printer, args),
        LabCommand::Exec(args) => exec(args),
        LabCommand::Boot(args) => boot(&printer, args),
        LabCommand::Destroy { lab, id } => {
            let config = lab.config()?;
            super::host::destroy(Lab::open(&config.dir)?.layout(), *id)?;
            Ok(ExitCode::Success)
        }
        LabCommand::HostInit { host_dir } => {
            super::init::run(host_dir)?;
            Ok(ExitCode::Failure)
        }
        LabCommand::Systemctl { args } => std::process::exit(super::systemctl::run(args)),
        LabCommand::CloudInit { args } => std::process::exit(super::cloud_init::command::run(args)),
        LabCommand::HostPower { action } => host_power(*action),
        LabCommand::Services => {
            printer.json(&super::systemctl::status::all_services())?;
            Ok(ExitCode::Success)
        }
    }
}

fn up(printer: &Printer, args: &LabDirArgs) -> anyhow::Result<ExitCode> {
    let lab = Lab::up(&args.config()?)?;
    let key = lab.controller_key()?;
    let mut urls = Vec::new();
    for app in super::apps::STAND_IN_APPS {
        urls.push(super::git::url(app));
    }
    if printer.is_json() {
        printer.json(&serde_json::json!({
            "dir": lab.dir(),
            "ca_certificate": lab.ca_certificate_path(),
            "controller_key": key.private_key_path,
            "controller_public_key": key.public_key_path,
            "git_urls": urls,
        }))?;
    } else {
        printer.text(&format!(
            "lab up in {}\nCA certificate: {}\ncontroller key ({}): {}\nrepositories:\n  {}",
            lab.dir().display(),
            lab.ca_certificate_path().display(),
            key.name,
            key.private_key_path.display(),
            urls.join("\n  ")
        ))?;
    }
    Ok(ExitCode::Success)
}

fn down(printer: &Printer, args: &LabDirArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let report = Lab::open(&config.dir)?.down()?;
    if printer.is_json() {
        printer.json(&report)?;
    } else {
        printer.text(&format!(
            "lab down: {} host(s), {} other namespace(s), {} link(s), {} process(es), {} mount(s) removed",
            report.hosts, report.namespaces, report.links, report.processes, report.mounts
        ))?;
    }
    Ok(ExitCode::Success)
}

fn status(printer: &Printer, args: &LabDirArgs) -> anyhow::Result<ExitCode> {
    let config = args.config()?;
    let status = Lab::open(&config.dir)?.status();
    if printer.is_json() {
        printer.json(&status)?;
    } else {
        printer.text(&status.to_text())?;
    }
    Ok(ExitCode::Success)
}

fn boot(printer: &Printer, args: &BootArgs) -> anyhow::Result<ExitCode> {
    let config = args.lab.config()?;
    let lab = Lab::open(&config.dir)?;
    let user_data = match &args.user_data {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read `{}`", path.display()))?,
        ),
        None => None,
    };
    let request = crate::sandbox::hosts::BootRequest {
        droplet_id: args.id,
        name: args.name.clone(),
        address: args.address,
        authorized_keys: vec![lab.controller_key()?.public_key],
        user_data,
    };
    let report = super::host::boot(lab.layout(), &request)?;
    printer.text(&format!(
        "booted {} ({}) in {} ms",
        args.name,
        args.address,
        report.elapsed.as_millis()
    ))?;
    for failure in &report.failed_units {
        printer.note(&format!("warning: unit failed at boot: {failure}"));
    }
    Ok(ExitCode::Success)
}

fn exec(args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let config = args.lab.config()?;
    let code = Lab::open(&config.dir)?
        .exec(&args.droplet, &args.command)
        .with_context(|| format!("cannot run the command in `{}`", args.droplet))?;
    std::process::exit(code)
}

fn host_power(action: PowerAction) -> anyhow::Result<ExitCode> {
    match action {
        PowerAction::On => {
            if super::init::power::power_on() {
                Ok(ExitCode::Success)
            } else {
                Ok(ExitCode::Failure)
            }
        }
        PowerAction::Shutdown => {
            super::init::power::shutdown();
            Ok(ExitCode::Success)
        }
    }
}
