//! `wwctl render`: write a fleet's rendered files to a folder, with
//! placeholder addresses, passwords and keys, never real secrets.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::diagnostic::Diagnostics;
use crate::error::{ExitCode, UserError};
use crate::inventory::{self, Inventory};
use crate::output::Printer;
use crate::render::{
    self, CloudInitKeys, Facts, FileSummary, HostFiles, HostKey, RenderArgs, RenderError, Secrets,
};
use crate::secret::Secret;

/// Path of the user data on a droplet. The rendered copy goes to the same
/// path under the host's folder.
const USER_DATA_PATH: &str = "/var/lib/cloud/instance/user-data.txt";

const PLACEHOLDER_HOST_PUBLIC_KEY: &str =
    "ssh-ed25519 PLACEHOLDER wwctl-generates-the-host-key-when-it-creates-the-droplet";
const PLACEHOLDER_HOST_PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\nPLACEHOLDER: wwctl generates the host key when it creates the droplet\n-----END OPENSSH PRIVATE KEY-----\n";

/// A file ready to write: where under `--out`, and what.
struct Output {
    target: PathBuf,
    contents: String,
    mode: u32,
    summary: FileSummary,
}

#[derive(Serialize)]
struct Report {
    schema: &'static str,
    out: PathBuf,
    hosts: Vec<HostReport>,
}

#[derive(Serialize)]
struct HostReport {
    droplet: String,
    directories: Vec<PathBuf>,
    files: Vec<WrittenFile>,
}

/// The folders and files to write for one droplet.
struct HostOutput {
    droplet: String,
    directories: Vec<(PathBuf, u32)>,
    files: Vec<Output>,
}

#[derive(Serialize)]
struct WrittenFile {
    written_to: PathBuf,
    #[serde(flatten)]
    summary: FileSummary,
}

pub fn run(global: &GlobalArgs, args: &RenderArgs) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let inventory =
        inventory::load(&global.inventory, global.overlay.as_deref()).map_err(invalid)?;

    check_out_folder(&args.out)?;
    let hosts = render_all(&inventory, args).map_err(user_error)?;
    let outputs = plan_outputs(&args.out, &hosts)?;

    let mut report = Report {
        schema: "wwctl.render/v1",
        out: args.out.clone(),
        hosts: Vec::new(),
    };
    for host in outputs {
        let mut created = Vec::new();
        for (directory, mode) in host.directories {
            create_directory(&directory, mode)?;
            created.push(directory);
        }
        let mut written = Vec::new();
        for output in host.files {
            write_file(&output)?;
            written.push(WrittenFile {
                written_to: output.target,
                summary: output.summary,
            });
        }
        report.hosts.push(HostReport {
            droplet: host.droplet,
            directories: created,
            files: written,
        });
    }

    print_report(&printer, &report)?;
    Ok(ExitCode::Success)
}

/// Reject an `--out` that exists and is not a folder, before anything is
/// rendered or written. A missing folder is created later.
fn check_out_folder(out: &Path) -> Result<(), UserError> {
    match std::fs::metadata(out) {
        Ok(metadata) if !metadata.is_dir() => Err(UserError::usage(format!(
            "--out `{}` is a file, not a folder",
            out.display()
        ))
        .with_hint("pass a folder to write the rendered files into, such as `--out rendered`")),
        _ => Ok(()),
    }
}

/// Render every file and the user data of every droplet before anything is
/// written, so bad input leaves the folder untouched.
fn render_all(
    inventory: &Inventory,
    args: &RenderArgs,
) -> Result<Vec<(HostFiles, render::UserData)>, RenderError> {
    let facts = Facts::placeholder(inventory)?;
    let secrets = Secrets::placeholder(inventory);
    let keys = placeholder_keys(inventory);

    let hosts = render::fleet_files(
        inventory,
        &args.fleet,
        args.host.as_deref(),
        &facts,
        &secrets,
    )?;
    hosts
        .into_iter()
        .map(|host| {
            let user_data = render::user_data(inventory, &args.fleet, &host.droplet, &keys)?;
            Ok((host, user_data))
        })
        .collect()
}

/// Builds stand-ins for the keys of the DigitalOcean account and the
/// generated host key, marked `PLACEHOLDER` so they cannot pass for real ones.
fn placeholder_keys(inventory: &Inventory) -> CloudInitKeys {
    CloudInitKeys {
        root_keys: inventory
            .project
            .ssh_keys
            .iter()
            .map(|name| format!("ssh-ed25519 PLACEHOLDER {name}"))
            .collect(),
        host_key: Some(HostKey {
            public: PLACEHOLDER_HOST_PUBLIC_KEY.to_string(),
            private: Secret::new(PLACEHOLDER_HOST_PRIVATE_KEY),
        }),
    }
}

fn plan_outputs(
    out: &Path,
    hosts: &[(HostFiles, render::UserData)],
) -> anyhow::Result<Vec<HostOutput>> {
    let mut planned = Vec::new();
    for (host, user_data) in hosts {
        let mut directories = Vec::new();
        for directory in &host.directories {
            directories.push((
                target_path(out, &host.droplet, &directory.path)?,
                directory.mode,
            ));
        }

        let mut outputs = Vec::new();
        for file in &host.files {
            outputs.push(Output {
                target: target_path(out, &host.droplet, &file.path)?,
                contents: file.contents.expose().to_string(),
                mode: file.mode,
                summary: FileSummary::from(file),
            });
        }

        let summary = FileSummary {
            path: USER_DATA_PATH.to_string(),
            mode: "0600".to_string(),
            owner: "root".to_string(),
            group: "root".to_string(),
            secret: user_data.is_secret(),
            bytes: user_data.len(),
            validate: Some(render::Validation::CloudConfig),
        };
        outputs.push(Output {
            target: target_path(out, &host.droplet, USER_DATA_PATH)?,
            contents: user_data.contents.expose().to_string(),
            mode: 0o600,
            summary,
        });
        planned.push(HostOutput {
            droplet: host.droplet.clone(),
            directories,
            files: outputs,
        });
    }
    Ok(planned)
}

/// `out/<droplet>/<path on the server>`. A path that would leave the
/// droplet's folder (`..`) is rejected.
fn target_path(out: &Path, droplet: &str, server_path: &str) -> anyhow::Result<PathBuf> {
    let relative = Path::new(server_path.trim_start_matches('/'));
    let escapes = relative
        .components()
        .any(|component| !matches!(component, Component::Normal(_)));
    if escapes || relative.as_os_str().is_empty() {
        return Err(UserError::usage(format!(
            "rendered path `{server_path}` of droplet `{droplet}` is not a plain absolute path"
        ))
        .with_hint("remove `..` and `.` from the app paths in the inventory")
        .into());
    }
    Ok(out.join(droplet).join(relative))
}

fn create_directory(path: &Path, mode: u32) -> anyhow::Result<()> {
    fs::create_dir_all(path)
        .and_then(|()| fs::set_permissions(path, fs::Permissions::from_mode(mode)))
        .with_context(|| format!("cannot create folder `{}`", path.display()))
}

/// Write through a temporary file in the same folder and rename it, so a
/// reader never sees half a file.
fn write_file(output: &Output) -> anyhow::Result<()> {
    let folder = output
        .target
        .parent()
        .context("a rendered file has no parent folder")?;
    fs::create_dir_all(folder)
        .with_context(|| format!("cannot create folder `{}`", folder.display()))?;

    let name = output
        .target
        .file_name()
        .context("a rendered file has no file name")?
        .to_string_lossy();
    let temporary = folder.join(format!(".{name}.wwctl-{}", std::process::id()));
    let written =
        write_new(&temporary, output).and_then(|()| fs::rename(&temporary, &output.target));
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error).with_context(|| format!("cannot write `{}`", output.target.display()));
    }
    Ok(())
}

fn write_new(path: &Path, output: &Output) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(output.mode)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(output.mode))?;
    file.write_all(output.contents.as_bytes())?;
    file.sync_all()
}

fn print_report(printer: &Printer, report: &Report) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json(report)?;
        return Ok(());
    }

    let mut text = String::new();
    for host in &report.hosts {
        text.push_str(&format!("{}:\n", host.droplet));
        for directory in &host.directories {
            text.push_str(&format!("  created {}/\n", directory.display()));
        }
        for file in &host.files {
            let summary = &file.summary;
            let secret = if summary.secret {
                ", secret with placeholder values"
            } else {
                ""
            };
            text.push_str(&format!(
                "  wrote {} ({} {}:{}{secret})\n",
                file.written_to.display(),
                summary.mode,
                summary.owner,
                summary.group
            ));
        }
    }
    printer.text(&text)?;
    printer.note(
        "addresses are placeholders from 192.0.2.0/24, and passwords and keys are placeholders",
    );
    Ok(())
}

fn invalid(diagnostics: Diagnostics) -> anyhow::Error {
    let count = diagnostics.len();
    anyhow::Error::new(diagnostics).context(format!(
        "the inventory has {count} problem{}",
        if count == 1 { "" } else { "s" }
    ))
}

fn user_error(error: RenderError) -> anyhow::Error {
    let hint = error.hint();
    let mut user = UserError::usage(error.to_string());
    if let Some(hint) = hint {
        user = user.with_hint(hint);
    }
    user.into()
}
