//! `wwctl provision`.

use crate::cli::{GlobalArgs, ProvisionArgs};
use crate::error::{ExitCode, UserError};

pub fn run(_global: &GlobalArgs, _args: &ProvisionArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl provision` is not built yet").into())
}
