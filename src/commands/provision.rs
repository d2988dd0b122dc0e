//! `wwctl provision <env-or-fleet>`.

use crate::cli::{GlobalArgs, ProvisionArgs};
use crate::commands::playbook_run::{self, PlaybookCommand};
use crate::engine::context::RunOptions;
use crate::error::ExitCode;
use crate::playbook::Params;

pub fn run(global: &GlobalArgs, args: &ProvisionArgs) -> anyhow::Result<ExitCode> {
    let inventory = playbook_run::load_inventory(global)?;
    let selector = inventory.selector(&args.target)?;

    let mut params = Params::new();
    params.insert("fleet".to_string(), Some(selector.fleet().to_string()));
    params.insert("env".to_string(), selector.env().map(str::to_string));
    let options = RunOptions {
        yes: global.yes,
        ..RunOptions::default()
    };
    playbook_run::run(
        global,
        PlaybookCommand {
            playbook: "provision",
            params,
            plan: &args.plan,
            options,
            distinct_fleets: None,
            preflight: None,
        },
    )
}
