//! The part `provision`, `migrate`, `rollback` and `teardown` share: load
//! the inventory and playbook, then plan (dry run) or apply the steps.

use crate::cli::{GlobalArgs, PlanArgs};
use crate::diagnostic::Diagnostics;
use crate::engine::context::{RunOptions, Services};
use crate::engine::interrupt::Interrupt;
use crate::engine::journal::Journal;
use crate::engine::plan::Plan;
use crate::engine::runner::{self, RunRequest};
use crate::error::{ExitCode, UserError};
use crate::inventory::{self, Inventory};
use crate::output::progress::Progress;
use crate::output::{Printer, count, logging};
use crate::playbook::{self, Params};
use crate::resources::{ResourceStore, Resources};
use crate::state::StateDir;

/// A command to run as a playbook.
pub struct PlaybookCommand<'a> {
    pub playbook: &'a str,
    pub params: Params,
    pub plan: &'a PlanArgs,
    pub options: RunOptions,
    /// Two fleet parameters that must name different fleets once aliases
    /// are resolved, such as `from` and `to` of a migration.
    pub distinct_fleets: Option<(&'static str, &'static str)>,
    /// A check of the recorded resources that runs before a real run or an
    /// online dry run, so a run that cannot succeed stops before any change.
    pub preflight: Option<Preflight>,
}

/// Rejects a run that cannot succeed with the resources recorded in the
/// state folder.
pub type Preflight = fn(&Inventory, &RunRequest, &Resources) -> Result<(), UserError>;

pub fn run(global: &GlobalArgs, command: PlaybookCommand<'_>) -> anyhow::Result<ExitCode> {
    let inventory = load_inventory(global)?;
    let playbook = playbook::load(&global.playbooks, command.playbook, &inventory)
        .map_err(invalid("playbook"))?;
    let params = playbook.check_params(&inventory, &command.params)?;
    if let Some(names) = command.distinct_fleets {
        check_distinct_fleets(&inventory, &command.params, &params, names)?;
    }
    let steps = playbook.resolve(&inventory, &params)?;
    let request = RunRequest {
        command: command_line(),
        playbook,
        params,
        steps,
    };

    if !command.plan.offline {
        global.check_files()?;
        if let Some(preflight) = command.preflight {
            let resources =
                ResourceStore::open(&StateDir::at(&global.state_dir()).resources_path())?;
            preflight(&inventory, &request, &resources.snapshot())?;
        }
    }

    let printer = Printer::new(global.output, global.quiet);
    let dry_run = command.plan.dry_run;
    let progress = if dry_run {
        Progress::hidden()
    } else {
        Progress::new(global.quiet)
    };
    let state = if dry_run {
        StateDir::at(&global.state_dir())
    } else {
        StateDir::open(&global.state_dir())?
    };
    let log_file = (!dry_run).then(|| state.log_file());
    logging::init(global.verbose, global.quiet, log_file.as_deref(), &progress);

    let services = Services {
        global: global.clone(),
        inventory,
        state,
        printer,
        progress,
        clock: crate::clock::from_env(),
        interrupt: Interrupt::default(),
        options: command.options,
        lazy: Default::default(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    if dry_run {
        let plan = runtime.block_on(async {
            let plan = runner::plan(&services, &request, command.plan.offline).await;
            services.close().await;
            plan
        })?;
        print_plan(&printer, &plan)?;
        return Ok(if plan.has_changes() {
            ExitCode::ChangesPending
        } else {
            ExitCode::Success
        });
    }

    let journal = runtime.block_on(async {
        services.interrupt.listen();
        let result = runner::apply(&services, &request).await;
        services.close().await;
        result
    })?;
    print_result(&printer, &journal)?;
    Ok(ExitCode::Success)
}

pub fn load_inventory(global: &GlobalArgs) -> anyhow::Result<Inventory> {
    inventory::load(&global.inventory, global.overlay.as_deref()).map_err(invalid("inventory"))
}

/// Rejects two fleet parameters that resolve to the same fleet, such as
/// `--from 2022 --to old-fleet` when `old-fleet` is an alias of `2022`.
fn check_distinct_fleets(
    inventory: &Inventory,
    typed: &Params,
    resolved: &Params,
    (first, second): (&str, &str),
) -> Result<(), UserError> {
    let value = |params: &Params, name: &str| params.get(name).cloned().flatten();
    let Some(fleet) = value(resolved, first) else {
        return Ok(());
    };
    if value(resolved, second).as_deref() != Some(fleet.as_str()) {
        return Ok(());
    }

    let first_typed = value(typed, first).unwrap_or_default();
    let second_typed = value(typed, second).unwrap_or_default();
    let others: Vec<String> = inventory
        .fleets
        .keys()
        .filter(|name| **name != fleet)
        .map(|name| format!("`{name}`"))
        .collect();
    let hint = if others.is_empty() {
        "define a second fleet in the inventory to move to".to_string()
    } else {
        format!("give --{second} another fleet: {}", others.join(", "))
    };
    Err(UserError::usage(format!(
        "--{first} `{first_typed}` and --{second} `{second_typed}` name the same fleet `{fleet}`"
    ))
    .with_hint(hint))
}

/// Wrap file diagnostics in an error that counts them.
pub fn invalid(what: &'static str) -> impl Fn(Diagnostics) -> anyhow::Error {
    move |diagnostics| {
        let count = diagnostics.len();
        let plural = if count == 1 { "" } else { "s" };
        anyhow::Error::new(diagnostics).context(format!("the {what} has {count} problem{plural}"))
    }
}

/// Returns the command line as typed, for journals, the lock and hints.
fn command_line() -> String {
    let mut words = vec!["wwctl".to_string()];
    words.extend(std::env::args().skip(1));
    words.join(" ")
}

fn print_plan(printer: &Printer, plan: &Plan) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json(plan)?;
    } else {
        printer.text(&plan.render_text())?;
    }
    Ok(())
}

fn print_result(printer: &Printer, journal: &Journal) -> anyhow::Result<()> {
    if printer.is_json() {
        printer.json(journal)?;
    } else {
        printer.text(&format!(
            "run {} finished: {} done",
            journal.run_id,
            count(journal.steps.len(), "step")
        ))?;
    }
    Ok(())
}
