//! `wwctl teardown <fleet>`.

use crate::cli::{GlobalArgs, TeardownArgs};
use crate::commands::playbook_run::{self, PlaybookCommand};
use crate::engine::context::RunOptions;
use crate::error::ExitCode;
use crate::playbook::Params;

pub fn run(global: &GlobalArgs, args: &TeardownArgs) -> anyhow::Result<ExitCode> {
    let mut params = Params::new();
    params.insert("fleet".to_string(), Some(args.fleet.clone()));
    let options = RunOptions {
        yes: global.yes,
        force: args.force,
        no_snapshot: args.no_snapshot,
    };
    playbook_run::run(
        global,
        PlaybookCommand {
            playbook: "teardown",
            params,
            plan: &args.plan,
            options,
            distinct_fleets: None,
            preflight: None,
        },
    )
}
