//! Configuration files rendered from templates. (Placeholder: the templates module replaces it.)

use std::path::PathBuf;

use crate::cli::GlobalArgs;
use crate::error::{ExitCode, UserError};

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The fleet whose files to render.
    #[arg(long)]
    pub fleet: String,

    /// Render only this droplet's files.
    #[arg(long)]
    pub host: Option<String>,

    /// Folder to write the files into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

pub fn run(_global: &GlobalArgs, _args: &RenderArgs) -> anyhow::Result<ExitCode> {
    Err(UserError::usage("`wwctl render` is not built yet").into())
}
