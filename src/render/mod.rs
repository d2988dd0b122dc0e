//! Configuration files rendered from the templates in `templates/`: NGINX,
//! the MySQL/MariaDB option file, each app's Gunicorn settings, systemd unit
//! and `config.json`, and cloud-init user data.
//!
//! Rendering is pure and deterministic: the same inventory, facts and
//! secrets give byte-identical files, in path order, with no timestamps.
//! Every host's NGINX configuration passes wwctl's lints before it is
//! returned.

mod apps;
mod cloud_init;
mod command;
mod diff;
mod directories;
mod engine;
mod error;
mod facts;
mod file;
mod host;
mod invariants;
pub mod lint;
mod mysql;
mod nginx;

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::error::ExitCode;
use crate::inventory::Inventory;

pub use apps::LOG_ROOT;
pub use cloud_init::{CloudInitKeys, HostKey, USER_DATA_LIMIT, UserData};
pub use diff::{FileChange, diff_file, unified_diff};
pub use directories::Directory;
pub use engine::nginx_quote;
pub use error::RenderError;
pub use facts::{Facts, PLACEHOLDER_PASSWORD, Secrets};
pub use file::{Contents, FileSummary, RenderedFile, Validation};
pub use host::NginxRole;
pub use lint::{Finding, NoCacheRoute, Rule, lint_nginx};
pub use mysql::{MYSQL_CONFIG_PATH, MYSQL_PORT, MYSQL_SOCKET, buffer_pool_mb, server_id};
pub use nginx::{CACHE_DIR, SITES_DIR};

use host::Host;

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The fleet whose files to render.
    #[arg(long)]
    pub fleet: String,

    /// Render only this droplet's files.
    #[arg(long)]
    pub host: Option<String>,

    /// Folder to write the files into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// The files of one droplet, and the folders to create before writing them.
#[derive(Clone, Debug)]
pub struct HostFiles {
    pub droplet: String,
    pub directories: Vec<Directory>,
    pub files: Vec<RenderedFile>,
}

/// `wwctl render`: write a fleet's files, with placeholder addresses and
/// passwords, under `--out`.
pub fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    command::run(global, args)
}

/// Render the files of `droplet` in `fleet` (a fleet name or alias), lint its
/// NGINX configuration, and return them sorted by path.
pub fn host_files(
    inventory: &Inventory,
    fleet: &str,
    droplet: &str,
    facts: &Facts,
    secrets: &Secrets,
) -> Result<Vec<RenderedFile>, RenderError> {
    let host = Host::new(inventory, fleet, droplet)?;

    let (mut files, no_cache_routes) = nginx::nginx_files(&host, facts)?;
    if !files.is_empty() {
        let findings = lint::lint_nginx(&files, &no_cache_routes);
        if !findings.is_empty() {
            return Err(RenderError::Lint {
                droplet: host.droplet.name.clone(),
                findings,
            });
        }
    }
    files.extend(mysql::mysql_file(&host, facts)?);
    files.extend(apps::app_files(&host, facts, secrets)?);

    files.sort_by(|a, b| a.path.cmp(&b.path));
    check_unique_paths(&host, &files)?;
    Ok(files)
}

/// Renders the files of every droplet of `fleet`, or of the one named
/// `only`, in inventory order.
pub fn fleet_files(
    inventory: &Inventory,
    fleet: &str,
    only: Option<&str>,
    facts: &Facts,
    secrets: &Secrets,
) -> Result<Vec<HostFiles>, RenderError> {
    let names = droplet_names(inventory, fleet, only)?;
    names
        .into_iter()
        .map(|droplet| {
            let files = host_files(inventory, fleet, &droplet, facts, secrets)?;
            let directories = host_directories(inventory, fleet, &droplet)?;
            Ok(HostFiles {
                droplet,
                directories,
                files,
            })
        })
        .collect()
}

/// Lists the folders to create on `droplet` before its files are written,
/// such as the parent of the NGINX cache folders.
pub fn host_directories(
    inventory: &Inventory,
    fleet: &str,
    droplet: &str,
) -> Result<Vec<Directory>, RenderError> {
    let host = Host::new(inventory, fleet, droplet)?;
    Ok(directories::host_directories(&host))
}

/// cloud-init user data for creating `droplet` of `fleet`, checked against
/// DigitalOcean's size limit.
pub fn user_data(
    inventory: &Inventory,
    fleet: &str,
    droplet: &str,
    keys: &CloudInitKeys,
) -> Result<UserData, RenderError> {
    let host = Host::new(inventory, fleet, droplet)?;
    cloud_init::user_data(&host, keys)
}

/// Returns the names of the droplets to render: all of the fleet, or the
/// one requested.
fn droplet_names(
    inventory: &Inventory,
    fleet: &str,
    only: Option<&str>,
) -> Result<Vec<String>, RenderError> {
    let resolved = inventory
        .fleet(fleet)
        .map_err(|error| RenderError::UnknownFleet {
            fleet: fleet.to_string(),
            hint: error.hint.unwrap_or_default(),
        })?;
    let names: Vec<String> = resolved.droplets.keys().cloned().collect();
    match only {
        None => Ok(names),
        Some(name) if names.iter().any(|known| known == name) => Ok(vec![name.to_string()]),
        Some(name) => Err(RenderError::UnknownDroplet {
            fleet: resolved.name.clone(),
            droplet: name.to_string(),
            hint: crate::suggest::hint_for(name, names.iter().map(String::as_str)),
        }),
    }
}

/// Two inventory names can map to one file name (`a.b` and `a_b` sites);
/// one file would silently replace the other.
fn check_unique_paths(host: &Host<'_>, files: &[RenderedFile]) -> Result<(), RenderError> {
    for pair in files.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(RenderError::Inventory {
                key_path: format!("fleets/{}/droplets/{}", host.fleet.name, host.droplet.name),
                message: format!(
                    "two rendered files of this droplet have the path `{}`",
                    pair[0].path
                ),
                hint: "rename the sites, apps or services so their file names differ".to_string(),
            });
        }
    }
    Ok(())
}
