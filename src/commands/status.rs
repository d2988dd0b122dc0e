//! `wwctl status`.

use crate::cli::{GlobalArgs, StatusArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &StatusArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl status` is not built yet").into())
}
