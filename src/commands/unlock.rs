//! `wwctl unlock`.

use crate::cli::{GlobalArgs, UnlockArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &UnlockArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl unlock` is not built yet").into())
}
