//! Rendered configuration on servers: facts from the registry, rendered files
//! to sync specs, folders, and checks of a candidate configuration at its
//! real path before it goes live.

use std::net::Ipv4Addr;

use zeroize::Zeroizing;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction};
use crate::output::count;
use crate::remote::sync::{self, Contents, FileSpec, FileStatus, Validation};
use crate::remote::{Cmd, Host};
use crate::render::{self, Directory, Facts, RenderedFile, Secrets};

/// Diff lines a plan shows per file before cutting the rest.
const MAX_DIFF_LINES: usize = 60;

/// Creates folders and sets their owner and mode: groups of
/// `path mode owner group`.
const DIRECTORIES_SCRIPT: &str = r#"set -e
while [ $# -gt 0 ]; do
  install -d -m "$2" -o "$3" -g "$4" -- "$1"
  chmod -- "$2" "$1"
  chown -- "$3:$4" "$1"
  shift 4
done"#;

/// Binds the candidate tree `$1` over the live folder `$2` in a private
/// mount namespace, so the check command (the remaining arguments) reads
/// the candidate at the paths the configuration names.
const CHECK_IN_PLACE_SCRIPT: &str = r#"mount --bind -- "$1" "$2" && shift 2 && exec "$@""#;

/// Addresses of the droplets of `fleet` that have one, from the registry.
pub async fn facts(ctx: &StepContext<'_>, fleet: &str) -> anyhow::Result<Facts> {
    let resources = ctx.services.resources().await?.snapshot();
    let mut facts = Facts::new();
    for droplet in ctx.inventory().droplets(fleet, None) {
        if let Some(address) = resources
            .droplet(&droplet.name)
            .and_then(|owned| owned.address.clone())
        {
            let address: Ipv4Addr = address.parse()?;
            facts = facts.with_public_address(droplet.name.clone(), address);
        }
    }
    Ok(facts)
}

/// Checks whether every droplet whose address droplet `name`'s configuration
/// may mention (those of its fleet and environment) has one recorded.
pub async fn peer_addresses_known(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<bool> {
    let droplet = ctx.droplet(name)?;
    let resources = ctx.services.resources().await?.snapshot();
    let peers = ctx.inventory().droplets(&droplet.fleet, Some(&droplet.env));
    Ok(peers.iter().all(|peer| {
        resources
            .droplet(&peer.name)
            .is_some_and(|owned| owned.address.is_some())
    }))
}

/// Renders the files of droplet `name` whose paths start with `prefix`, with
/// placeholder secrets (for files that contain none).
pub fn files_under(
    ctx: &StepContext<'_>,
    name: &str,
    facts: &Facts,
    prefix: &str,
) -> anyhow::Result<Vec<RenderedFile>> {
    let droplet = ctx.droplet(name)?;
    let files = render::host_files(
        ctx.inventory(),
        &droplet.fleet,
        name,
        facts,
        &Secrets::placeholder(ctx.inventory()),
    )?;
    Ok(files
        .into_iter()
        .filter(|file| file.path.starts_with(prefix))
        .collect())
}

pub fn to_spec(file: &RenderedFile) -> FileSpec {
    let contents = match &file.contents {
        render::Contents::Text(text) => Contents::Plain(text.as_bytes().to_vec()),
        render::Contents::Secret(secret) => {
            Contents::Secret(Zeroizing::new(secret.expose().as_bytes().to_vec()))
        }
    };
    FileSpec::new(&file.path, contents, file.mode).owned_by(&file.owner, &file.group)
}

/// Builds a check that bind-mounts the candidate copy of `root` over `root`
/// and runs `check` there. The live configuration is not touched.
pub fn check_in_place(root: &str, check: &[&str]) -> Validation {
    let mut argv: Vec<String> = [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "--",
        "sh",
        "-c",
        CHECK_IN_PLACE_SCRIPT,
        "sh",
        "{tree}",
        root,
    ]
    .iter()
    .map(|word| word.to_string())
    .collect();
    argv.extend(check.iter().map(|word| word.to_string()));
    Validation::Tree {
        root: root.to_string(),
        argv,
    }
}

pub async fn ensure_directories(host: &Host, directories: &[Directory]) -> anyhow::Result<()> {
    if directories.is_empty() {
        return Ok(());
    }
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        DIRECTORIES_SCRIPT.to_string(),
        "sh".to_string(),
    ];
    for directory in directories {
        argv.extend([
            directory.path.clone(),
            format!("{:o}", directory.mode),
            directory.owner.clone(),
            directory.group.clone(),
        ]);
    }
    host.run(&Cmd::new(&argv)).await?;
    Ok(())
}

/// Plan changes for `files` on `host`: one change per file that differs,
/// with a unified diff unless the file contains a secret.
pub async fn plan_files(
    host: &Host,
    target: &str,
    files: &[RenderedFile],
) -> anyhow::Result<Vec<Change>> {
    let specs: Vec<FileSpec> = files.iter().map(to_spec).collect();
    let results = sync::compare(host, &specs).await?;
    let mut changes = Vec::new();

    for (file, result) in files.iter().zip(results) {
        let (action, verb) = match result.status {
            FileStatus::Unchanged => continue,
            FileStatus::Created => (ChangeAction::Create, "create"),
            FileStatus::Updated => (ChangeAction::Update, "update"),
        };
        let mut change = Change::new(
            action,
            Some(target.to_string()),
            format!("{verb} {}", file.path),
        );
        match file.contents.text() {
            Some(new) => {
                let old = sync::read_text(host, &file.path).await?.unwrap_or_default();
                let diff = render::unified_diff(
                    &file.path,
                    &old,
                    new,
                    result.status == FileStatus::Created,
                );
                for line in diff.lines().take(MAX_DIFF_LINES) {
                    change = change.detail(line.to_string());
                }
                if diff.lines().count() > MAX_DIFF_LINES {
                    change = change.detail("(diff cut)");
                }
            }
            None => change = change.detail("holds a secret; content not shown"),
        }
        changes.push(change);
    }
    if changes.is_empty() {
        changes.push(Change::no_change(
            Some(target.to_string()),
            format!("{} up to date", count(files.len(), "file")),
        ));
    }
    Ok(changes)
}
