//! `wwctl rollback`.

use crate::cli::{GlobalArgs, RollbackArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl rollback` is not built yet").into())
}
