//! `wwctl migrate`.

use crate::cli::{GlobalArgs, MigrateArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl migrate` is not built yet").into())
}
