//! `wwctl hosts trust <host>`: pin the host keys of an existing server (one
//! wwctl did not create) after a person compared their fingerprints.

use std::io::{BufRead, Write};
use std::time::Duration;

use crate::cli::{GlobalArgs, HostsCommand, TrustArgs};
use crate::commands::playbook_run::load_inventory;
use crate::error::{ExitCode, UserError};
use crate::output::Printer;
use crate::remote::keyscan;
use crate::remote::known_hosts::{KnownHosts, fingerprint, host_pattern, same_key};
use crate::resources::ResourceStore;
use crate::state::StateDir;
use crate::suggest;

const SCAN_TIMEOUT: Duration = Duration::from_secs(10);

pub fn run(global: &GlobalArgs, command: &HostsCommand) -> anyhow::Result<ExitCode> {
    match command {
        HostsCommand::Trust(args) => trust(global, args),
    }
}

fn trust(global: &GlobalArgs, args: &TrustArgs) -> anyhow::Result<ExitCode> {
    let inventory = load_inventory(global)?;
    if inventory.find_droplet(&args.host).is_none() {
        let names = inventory
            .fleets
            .values()
            .flat_map(|fleet| fleet.droplets.keys())
            .map(String::as_str);
        return Err(
            UserError::usage(format!("no droplet `{}` in the inventory", args.host))
                .with_hint(suggest::hint_for(&args.host, names))
                .into(),
        );
    }
    let state = StateDir::open(&global.state_dir())?;
    let resources = ResourceStore::open(&state.resources_path())?;
    let recorded = resources
        .snapshot()
        .droplet(&args.host)
        .and_then(|owned| owned.address.clone());
    let address = match args.address.map(|ip| ip.to_string()).or(recorded) {
        Some(address) => address,
        None => {
            return Err(
                UserError::usage(format!("wwctl knows no address for `{}`", args.host))
                    .with_hint("pass it with `--address`")
                    .into(),
            );
        }
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let presented = runtime.block_on(keyscan::presented_keys(&address, args.port, SCAN_TIMEOUT))?;
    if presented.is_empty() {
        return Err(UserError::new(
            ExitCode::Remote,
            format!("`{}` ({address}) presented no host key", args.host),
        )
        .with_hint("check that the server runs and that SSH reaches it from here")
        .into());
    }

    let pattern = host_pattern(&address, args.port);
    let mut known = KnownHosts::load(&state.known_hosts())?;
    let pinned: Vec<_> = known.keys_for(&pattern).into_iter().cloned().collect();
    if !pinned.is_empty()
        && presented
            .iter()
            .all(|key| pinned.iter().any(|known| same_key(known, key)))
    {
        Printer::new(global.output, global.quiet)
            .text(&format!("`{}` ({address}) is trusted already", args.host))?;
        return Ok(ExitCode::Success);
    }
    if !pinned.is_empty() && !args.replace {
        return Err(UserError::refused(format!(
            "`{}` ({address}) presents other keys than the ones pinned for it",
            args.host
        ))
        .with_hint("if the server was rebuilt on purpose, compare the new fingerprints with the provider's console and pass `--replace`")
        .into());
    }

    let mut lines = vec![format!(
        "`{}` at {address} presents these host keys:",
        args.host
    )];
    lines.extend(
        presented
            .iter()
            .map(|key| format!("  {} {}", key.algorithm(), fingerprint(key))),
    );
    lines.push("Compare them with the fingerprints on the provider's console (or the server's own `ssh-keygen -lf`).".to_string());
    confirm(global, &lines.join("\n"))?;

    if args.replace {
        known.replace(&pattern, &presented);
    } else {
        known.pin(&pattern, &presented)?;
    }
    known.save()?;
    Printer::new(global.output, global.quiet).text(&format!(
        "pinned {} host keys for `{}` ({address})",
        presented.len(),
        args.host
    ))?;
    Ok(ExitCode::Success)
}

fn confirm(global: &GlobalArgs, text: &str) -> anyhow::Result<()> {
    let mut stderr = std::io::stderr().lock();
    writeln!(stderr, "{text}")?;
    if global.yes {
        return Ok(());
    }
    write!(stderr, "Type `yes` to trust them: ")?;
    stderr.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        return Err(UserError::refused("the keys were not confirmed; nothing was pinned").into());
    }
    Ok(())
}
