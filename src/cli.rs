//! The command line: arguments, and one dispatch line per command.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::commands;
use crate::error::{ExitCode, UserError};

#[derive(Debug, Parser)]
#[command(
    name = "wwctl",
    version,
    about = "Move a small web property on DigitalOcean from one server layout to another, safely",
    long_about = None,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Folder holding the inventory files.
    #[arg(
        long,
        global = true,
        env = "WWCTL_INVENTORY",
        default_value = "inventory",
        value_name = "DIR"
    )]
    pub inventory: PathBuf,

    /// Inventory overlay to apply, from `<inventory>/overlays/NAME.yaml` (the sandbox sets `sandbox`).
    #[arg(
        long,
        global = true,
        env = "WWCTL_OVERLAY",
        value_name = "NAME",
        value_parser = parse_overlay_name
    )]
    pub overlay: Option<String>,

    /// Folder holding the playbooks.
    #[arg(
        long,
        global = true,
        env = "WWCTL_PLAYBOOKS",
        default_value = "playbooks",
        value_name = "DIR"
    )]
    pub playbooks: PathBuf,

    /// Folder for journals, the lock, known host keys and logs [default: .wwctl].
    #[arg(long, global = true, env = "WWCTL_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Output format on stdout.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Human)]
    pub output: OutputFormat,

    /// Answer yes to confirmation prompts (for CI).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,

    /// More log output on stderr: -v for debug, -vv for trace.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Base URL of the DigitalOcean API, such as the sandbox's.
    #[arg(
        long,
        global = true,
        env = "WWCTL_API_URL",
        value_name = "URL",
        default_value = "https://api.digitalocean.com"
    )]
    pub api_url: String,

    /// Private key for SSH logins [default: the SSH agent's keys].
    #[arg(long, global = true, env = "WWCTL_SSH_IDENTITY", value_name = "FILE")]
    pub ssh_identity: Option<PathBuf>,

    /// Extra root certificates (PEM) trusted for site checks; the sandbox sets its own.
    #[arg(long, global = true, env = "WWCTL_CA_FILE", value_name = "FILE")]
    pub ca_file: Option<PathBuf>,

    /// DNS server to query instead of the zone's nameservers, as IP:PORT (the sandbox's).
    #[arg(
        long,
        global = true,
        env = "WWCTL_DNS_SERVER",
        value_name = "IP:PORT",
        value_parser = parse_dns_server
    )]
    pub dns_server: Option<SocketAddr>,

    /// File holding the DigitalOcean API token, readable by its owner only.
    /// Without it the token comes from DIGITALOCEAN_TOKEN or DIGITALOCEAN_ACCESS_TOKEN.
    #[arg(long, global = true, env = "WWCTL_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

impl GlobalArgs {
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(".wwctl"))
    }

    /// Check that `--ssh-identity` and `--ca-file` name existing files. It
    /// runs when a command is about to use them rather than while parsing,
    /// so a stale WWCTL_CA_FILE does not break commands that never read it.
    pub fn check_files(&self) -> Result<(), UserError> {
        let flags = [
            ("--ssh-identity", "WWCTL_SSH_IDENTITY", &self.ssh_identity),
            ("--ca-file", "WWCTL_CA_FILE", &self.ca_file),
        ];
        for (flag, variable, path) in flags {
            if let Some(path) = path {
                check_file_flag(flag, variable, path)?;
            }
        }
        Ok(())
    }
}

fn check_file_flag(flag: &str, variable: &str, path: &Path) -> Result<(), UserError> {
    let problem = match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_file() => return Ok(()),
        Ok(metadata) if metadata.is_dir() => "is a folder, not a file".to_string(),
        Ok(_) => "is not a regular file".to_string(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => "does not exist".to_string(),
        Err(error) => format!("cannot be read: {error}"),
    };
    Err(
        UserError::usage(format!("{flag} `{}` {problem}", path.display())).with_hint(format!(
            "pass an existing file with {flag}, or unset {variable} if it is set"
        )),
    )
}

/// Parse `--overlay`: a plain name of letters, digits, `-` and `_`, so it
/// cannot reach a file outside `<inventory>/overlays/`.
fn parse_overlay_name(text: &str) -> Result<String, String> {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        Ok(text.to_string())
    } else {
        Err("an overlay name has only letters, digits, `-` and `_`, such as `sandbox`; it names `<inventory>/overlays/NAME.yaml`".to_string())
    }
}

/// Parse `--dns-server`: an IP address and a port, such as `127.0.0.1:5353`.
fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    text.parse().map_err(|_| {
        "expected an IP address and a port, such as `127.0.0.1:53` or `[::1]:53`".to_string()
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Human,
    Json,
}

/// Flags shared by every command that changes something.
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// Show what would change and exit: 0 for no changes, 2 for changes pending.
    #[arg(long)]
    pub dry_run: bool,

    /// With --dry-run, plan from the inventory alone: no API token, no SSH.
    #[arg(long, requires = "dry_run")]
    pub offline: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and configure the servers of an environment (`prod`, `staging`) or a whole fleet (`2022`).
    Provision(ProvisionArgs),
    /// Move production from one fleet to another: new server, configs, apps, database, DNS.
    Migrate(MigrateArgs),
    /// Point DNS back at the old fleet after a migration, while its servers exist.
    Rollback(RollbackArgs),
    /// Delete the droplets of a fleet after its traffic has drained.
    Teardown(TeardownArgs),
    /// Show runs and the state of their steps.
    Status(StatusArgs),
    /// Remove the lock left by a run that no longer runs.
    Unlock(UnlockArgs),
    /// Check the inventory.
    #[command(subcommand)]
    Inventory(InventoryCommand),
    /// Manage the SSH host keys wwctl trusts.
    #[command(subcommand)]
    Hosts(HostsCommand),
    /// Write the rendered configuration files of a fleet to a folder.
    Render(crate::render::RenderArgs),
    /// Run the local DigitalOcean emulator and its lab hosts.
    Sandbox(crate::sandbox::SandboxArgs),
}

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// An environment of the current fleet (`prod`, `staging`) or a fleet name or alias.
    pub target: String,

    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The fleet production runs on now.
    #[arg(long)]
    pub from: String,

    /// The fleet production moves to.
    #[arg(long)]
    pub to: String,

    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The fleet production moved away from, whose servers still exist.
    #[arg(long)]
    pub to: String,

    /// The fleet production runs on now.
    #[arg(long)]
    pub from: String,

    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct TeardownArgs {
    /// The fleet to delete, or an alias such as `old-fleet`.
    pub fleet: String,

    /// Delete before the DNS drain time has passed (prompts for the fleet name to be typed).
    #[arg(long)]
    pub force: bool,

    /// Skip the final snapshot of the database server.
    #[arg(long)]
    pub no_snapshot: bool,

    #[command(flatten)]
    pub plan: PlanArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Show only this run.
    #[arg(long, value_name = "RUN_ID")]
    pub run: Option<String>,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Remove the lock even when its holder may still run (on another machine, say).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Subcommand)]
pub enum HostsCommand {
    /// Show the host keys a server presents and pin them after confirmation.
    Trust(TrustArgs),
}

#[derive(Debug, Args)]
pub struct TrustArgs {
    /// The droplet's name in the inventory.
    pub host: String,

    /// Its IP address [default: the one wwctl recorded].
    #[arg(long, value_name = "IP")]
    pub address: Option<IpAddr>,

    /// Its SSH port.
    #[arg(long, default_value_t = 22)]
    pub port: u16,

    /// Replace keys pinned earlier (a server rebuilt on purpose).
    #[arg(long)]
    pub replace: bool,
}

#[derive(Debug, Subcommand)]
pub enum InventoryCommand {
    /// Validate the inventory and the playbooks, reporting every problem with its file, line and column.
    Check,
}

/// Run the parsed command and return its exit code.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Provision(args) => commands::provision::run(global, &args),
        Command::Migrate(args) => commands::migrate::run(global, &args),
        Command::Rollback(args) => commands::rollback::run(global, &args),
        Command::Teardown(args) => commands::teardown::run(global, &args),
        Command::Status(args) => commands::status::run(global, &args),
        Command::Unlock(args) => commands::unlock::run(global, &args),
        Command::Inventory(InventoryCommand::Check) => commands::inventory_check::run(global),
        Command::Hosts(command) => commands::hosts::run(global, &command),
        Command::Render(args) => crate::render::run(global, &args),
        Command::Sandbox(args) => crate::sandbox::run(global, &args),
    }
}
