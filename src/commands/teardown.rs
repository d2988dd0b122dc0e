//! `wwctl teardown`.

use crate::cli::{GlobalArgs, TeardownArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &TeardownArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl teardown` is not built yet").into())
}
