//! `wwctl migrate --from <fleet> --to <fleet>`.

use crate::cli::{GlobalArgs, MigrateArgs};
use crate::commands::playbook_run::{self, PlaybookCommand};
use crate::engine::context::RunOptions;
use crate::error::ExitCode;
use crate::playbook::Params;

pub fn run(global: &GlobalArgs, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
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
            playbook: "migrate",
            params,
            plan: &args.plan,
            options,
            distinct_fleets: Some(("from", "to")),
            preflight: None,
        },
    )
}
