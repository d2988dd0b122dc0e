//! `local.run`: a command on the machine running wwctl, such as a hook or a
//! check. It gets `WWCTL_RUN_ID` and `WWCTL_STEP_ID` in its environment.

use std::time::Duration;

use anyhow::Context;
use serde::Deserialize;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, StepPlan};
use crate::error::HintExt;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalRun {
    /// The program and its arguments; no shell is involved.
    pub argv: Vec<String>,
    /// Maximum time the command may take, such as `30s` [default: 10m].
    pub timeout: Option<String>,
}

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
const STDERR_TAIL_LINES: usize = 10;

pub fn plan(params: &LocalRun) -> StepPlan {
    StepPlan::with_changes(vec![Change::run(
        None,
        format!("run `{}`", params.argv.join(" ")),
    )])
}

pub async fn apply(params: &LocalRun, ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let Some((program, args)) = params.argv.split_first() else {
        anyhow::bail!("step `{}` has an empty `argv`", ctx.step.id);
    };
    let timeout = match &params.timeout {
        Some(text) => crate::inventory::parse_duration(text)
            .map_err(|reason| {
                anyhow::anyhow!(
                    "step `{}` has an invalid timeout: `{text}` {reason}",
                    ctx.step.id
                )
            })
            .hint(crate::inventory::DURATION_HINT)?,
        None => DEFAULT_TIMEOUT,
    };

    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .env("WWCTL_RUN_ID", ctx.run_id)
        .env("WWCTL_STEP_ID", &ctx.step.id)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output())
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "`{}` timed out after {}s",
                params.argv.join(" "),
                timeout.as_secs()
            )
        })?
        .with_context(|| format!("cannot start `{program}`"))?;

    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = stderr.lines().rev().take(STDERR_TAIL_LINES).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    anyhow::bail!(
        "`{}` failed with {}{}",
        params.argv.join(" "),
        output.status,
        if tail.is_empty() {
            String::new()
        } else {
            format!("; stderr ends with:\n{}", tail.join("\n"))
        }
    )
}
