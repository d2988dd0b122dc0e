//! `wwctl inventory check`.

use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::diagnostic::Diagnostics;
use crate::error::ExitCode;
use crate::inventory::{self, Inventory};
use crate::output::{Printer, count};
use crate::playbook;

#[derive(Serialize)]
struct CheckReport<'a> {
    schema: &'static str,
    ok: bool,
    diagnostics: &'a [crate::diagnostic::Diagnostic],
}

pub fn run(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let result =
        inventory::load(&global.inventory, global.overlay.as_deref()).and_then(|inventory| {
            playbook::check_all(&global.playbooks, &inventory)
                .into_result()
                .map(|()| inventory)
        });

    match result {
        Ok(inventory) => {
            report_ok(&printer, &inventory)?;
            Ok(ExitCode::Success)
        }
        Err(diagnostics) if printer.is_json() => {
            printer.json(&CheckReport {
                schema: "wwctl.inventory-check/v1",
                ok: false,
                diagnostics: &diagnostics.items,
            })?;
            Ok(ExitCode::Usage)
        }
        Err(diagnostics) => Err(invalid(diagnostics)),
    }
}

fn invalid(diagnostics: Diagnostics) -> anyhow::Error {
    let count = diagnostics.len();
    anyhow::Error::new(diagnostics).context(format!(
        "the inventory or playbooks have {count} problem{}",
        if count == 1 { "" } else { "s" }
    ))
}

fn report_ok(printer: &Printer, inventory: &Inventory) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json(&CheckReport {
            schema: "wwctl.inventory-check/v1",
            ok: true,
            diagnostics: &[],
        })?;
        return Ok(());
    }

    let droplets: usize = inventory
        .fleets
        .values()
        .map(|fleet| fleet.droplets.len())
        .sum();
    let records: usize = inventory
        .dns
        .zones
        .values()
        .map(|zone| zone.records.len())
        .sum();
    let overlay = inventory
        .overlay
        .as_deref()
        .map(|name| format!(" with overlay `{name}`"))
        .unwrap_or_default();
    printer.text(&format!(
        "inventory `{}`{overlay} is valid: {}, {}, {}, {} with {}; playbooks {} are valid",
        inventory.dir.display(),
        count(inventory.fleets.len(), "fleet"),
        count(droplets, "droplet"),
        count(inventory.sites.len(), "site"),
        count(inventory.dns.zones.len(), "zone"),
        count(records, "record"),
        playbook::COMMAND_PLAYBOOKS.join(", "),
    ))?;
    Ok(())
}
