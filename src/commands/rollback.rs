//! `wwctl rollback --from <fleet> --to <fleet>`: point DNS back at the old fleet.

use crate::cli::{GlobalArgs, RollbackArgs};
use crate::commands::playbook_run::{self, PlaybookCommand};
use crate::engine::context::RunOptions;
use crate::error::ExitCode;
use crate::playbook::Params;

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut params = Params::new();
    params.insert("from".to_string(), Some(args.from.clone()));
    params.insert("to".to_string(), Some(args.to.clone()));
    let options = RunOptions {
        yes: global.yes,
        ..RunOptions::default()
    };
    playbook_run::run(
        global,
        PlaybookCommand {
            playbook: "rollback",
            params,
            plan: &args.plan,
            options,
            distinct_fleets: Some(("from", "to")),
        },
    )
}
