//! Whether a load writes the target's binary log. A server without
//! replicas gains nothing from a binary log of a full copy, which in row
//! format repeats every loaded row. So the load turns the binary log off
//! for its own sessions, as myloader does unless given `--enable-binlog`.

use crate::database::dump::SyncMode;
use crate::database::sql::SqlRunner;

/// The statement each load session runs first when the binary log is
/// skipped.
pub const SKIP_STATEMENT: &str = "SET SESSION sql_log_bin = 0";

/// Whether the binary log is on, the connected replicas, and the accounts
/// that may replicate from another machine, which an absent replica would
/// use. Local admins, such as Debian's `mysql`@`localhost`, do not count.
/// The probe runs `SKIP_STATEMENT` first, so a missing privilege fails the
/// probe and not the load.
const PROBE_COUNTS: &str = "SELECT @@GLOBAL.log_bin, \
    (SELECT COUNT(*) FROM information_schema.PROCESSLIST \
        WHERE COMMAND LIKE 'Binlog Dump%'), \
    (SELECT COUNT(*) FROM mysql.user WHERE Repl_slave_priv = 'Y' \
        AND Host NOT IN ('localhost', '127.0.0.1', '::1'))";

/// The use of the target's binary log by a load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadBinlog {
    /// The loaded rows go to the binary log: replicas may read it, or the
    /// probe could not tell.
    #[default]
    Written,
    /// The load sessions turn the binary log off: the target has one, but
    /// no replica and no account a replica on another machine could use.
    Skipped,
    /// The target runs without a binary log.
    Disabled,
}

impl LoadBinlog {
    /// Decide for a copy in `mode` to `target`. A replication seed keeps
    /// the binary log as the dump sets it; a failed probe keeps it too.
    pub async fn decide(target: &dyn SqlRunner, mode: SyncMode) -> LoadBinlog {
        if mode != SyncMode::DumpLoad {
            return LoadBinlog::Written;
        }
        let probe = format!("{SKIP_STATEMENT}; {PROBE_COUNTS}");
        let rows = match target.query(&probe).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::debug!(
                    host = target.host(),
                    error = %error,
                    "binary log probe failed, so the load writes the binary log"
                );
                return LoadBinlog::Written;
            }
        };

        let value = |index: usize| {
            rows.first()
                .and_then(|row| row.get(index).cloned().flatten())
                .unwrap_or_default()
        };
        let (log_bin, connected, accounts) = (value(0), value(1), value(2));
        match (log_bin.as_str(), connected.as_str(), accounts.as_str()) {
            ("0", _, _) => LoadBinlog::Disabled,
            ("1", "0", "0") => LoadBinlog::Skipped,
            _ => LoadBinlog::Written,
        }
    }

    /// Client options for each load session.
    pub fn load_options(self) -> Vec<String> {
        match self {
            LoadBinlog::Skipped => vec![format!("--init-command={SKIP_STATEMENT}")],
            LoadBinlog::Written | LoadBinlog::Disabled => Vec::new(),
        }
    }
}
