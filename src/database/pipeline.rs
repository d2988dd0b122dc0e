//! One dump-to-load stream: the dump command's stdout flows through the
//! line filter into the load command's stdin, a chunk at a time, so the
//! whole dump is never held in memory.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::database::command::{CommandError, CommandOutput, CommandRunner, ExitStatus};
use crate::database::compression::{self, Codecs};
use crate::database::filter::{FilterRules, FilterStats, LineFilter};

/// Bytes read from the dump per step.
const CHUNK_BYTES: usize = 256 * 1024;

/// A command on one machine.
#[derive(Clone, Debug)]
pub struct Command {
    pub runner: Arc<dyn CommandRunner>,
    pub argv: Vec<String>,
}

/// Progress of one stream, reported after every chunk.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Progress {
    /// A name for the stream, such as `schema` or `table ww_shows`.
    pub stream: String,
    pub bytes_read: u64,
    pub bytes_written: u64,
    /// Tables whose data section has started.
    pub tables: u64,
    pub current_table: Option<String>,
}

/// What a finished stream did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StreamStats {
    pub stream: String,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub filter: FilterStats,
}

#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("cannot run the {side} of stream `{stream}`")]
    Command {
        stream: String,
        side: &'static str,
        #[source]
        source: CommandError,
    },
    #[error("the dump of stream `{stream}` failed on {host} ({status}): {stderr}")]
    Dump {
        stream: String,
        host: String,
        status: ExitStatus,
        stderr: String,
    },
    #[error("the load of stream `{stream}` failed on {host} ({status}): {stderr}")]
    Load {
        stream: String,
        host: String,
        status: ExitStatus,
        stderr: String,
    },
}

impl StreamError {
    fn command(stream: &str, side: &'static str, source: CommandError) -> StreamError {
        StreamError::Command {
            stream: stream.to_string(),
            side,
            source,
        }
    }
}

/// Run `dump` into `load` through a filter with `rules`, both uncompressed.
/// `progress` is called after each chunk.
pub async fn run_stream(
    name: &str,
    dump: &Command,
    load: &Command,
    rules: FilterRules,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<StreamStats, StreamError> {
    run_stream_with(name, dump, load, rules, Codecs::PLAIN, progress).await
}

/// Run `dump` into `load` through a filter with `rules`, each side on the
/// wire with its codec. Byte counts are of the SQL text.
pub async fn run_stream_with(
    name: &str,
    dump: &Command,
    load: &Command,
    rules: FilterRules,
    codecs: Codecs,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<StreamStats, StreamError> {
    let load_argv = compression::load_argv(codecs.load, load.argv.clone());
    let dump_argv = compression::dump_argv(codecs.dump, dump.argv.clone());

    // The load starts first, so it is ready when the first bytes arrive.
    let mut loader = load
        .runner
        .spawn(&load_argv)
        .await
        .map_err(|error| StreamError::command(name, "load", error))?;
    let mut dumper = dump
        .runner
        .spawn(&dump_argv)
        .await
        .map_err(|error| StreamError::command(name, "dump", error))?;

    // The load's own output is drained, so a chatty load never blocks on
    // a full pipe.
    if let Some(mut load_stdout) = loader.take_stdout() {
        tokio::spawn(async move {
            let _ = tokio::io::copy(&mut load_stdout, &mut tokio::io::sink()).await;
        });
    }

    let mut reader = compression::decode(
        codecs.dump,
        dumper.take_stdout().expect("a new command has stdout"),
    );
    let mut writer = compression::encode(
        codecs.load,
        loader.take_stdin().expect("a new command has stdin"),
    );
    let mut filter = LineFilter::new(rules);
    let mut chunk = vec![0_u8; CHUNK_BYTES];
    let mut filtered = Vec::with_capacity(CHUNK_BYTES + 4096);
    let mut state = Progress {
        stream: name.to_string(),
        ..Progress::default()
    };

    // Copy until the dump ends or the load stops reading. A read or write
    // error ends the copy; the exit statuses below say which side failed.
    let mut load_closed = false;
    loop {
        let read = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        state.bytes_read += read as u64;

        filtered.clear();
        filter.push(&chunk[..read], &mut filtered);
        if writer.write_all(&filtered).await.is_err() {
            load_closed = true;
            break;
        }
        state.bytes_written += filtered.len() as u64;
        state.tables = filter.stats().tables;
        state.current_table = filter.stats().current_table.clone();
        progress(&state);
    }

    if !load_closed {
        filtered.clear();
        filter.finish(&mut filtered);
        if writer.write_all(&filtered).await.is_ok() {
            state.bytes_written += filtered.len() as u64;
        }
        let _ = writer.shutdown().await;
    }
    drop(writer);
    // Closing the dump's stdout makes a dump that still writes fail with
    // a broken pipe instead of blocking forever.
    drop(reader);

    let (dump_output, load_output) = tokio::join!(dumper.wait(), loader.wait());
    let dump_output = dump_output.map_err(|error| StreamError::command(name, "dump", error))?;
    let load_output = load_output.map_err(|error| StreamError::command(name, "load", error))?;

    // A failed load is the root cause when both fail: the dump then only
    // saw its reader go away.
    check_load(name, load, &load_output)?;
    check_dump(name, dump, &dump_output)?;

    progress(&state);
    Ok(StreamStats {
        stream: name.to_string(),
        bytes_read: state.bytes_read,
        bytes_written: state.bytes_written,
        filter: filter.stats().clone(),
    })
}

fn check_load(name: &str, load: &Command, output: &CommandOutput) -> Result<(), StreamError> {
    if output.status.success() {
        return Ok(());
    }
    Err(StreamError::Load {
        stream: name.to_string(),
        host: load.runner.host().to_string(),
        status: output.status,
        stderr: output.stderr_text(),
    })
}

fn check_dump(name: &str, dump: &Command, output: &CommandOutput) -> Result<(), StreamError> {
    if output.status.success() {
        return Ok(());
    }
    Err(StreamError::Dump {
        stream: name.to_string(),
        host: dump.runner.host().to_string(),
        status: output.status,
        stderr: output.stderr_text(),
    })
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::{Command, StreamError, run_stream, run_stream_with};
    use crate::database::command::LocalRunner;
    use crate::database::compression::{Codec, Codecs};
    use crate::database::filter::FilterRules;

    fn command(words: &[&str]) -> Command {
        Command {
            runner: Arc::new(LocalRunner),
            argv: words.iter().map(|word| word.to_string()).collect(),
        }
    }

    #[tokio::test]
    async fn stream_copies_and_filters_through_processes() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.sql");
        let dump = command(&[
            "printf",
            "SET @@GLOBAL.GTID_PURGED='x:1-2';\\nCREATE TABLE t (id int);\\n",
        ]);
        let load = command(&["sh", "-c", &format!("cat > {}", output.display())]);
        let rules = FilterRules {
            drop_gtid_state: true,
            ..FilterRules::default()
        };
        let calls = Mutex::new(0);

        let stats = run_stream("test", &dump, &load, rules, &|_| {
            *calls.lock().unwrap() += 1
        })
        .await
        .unwrap();

        assert_eq!(
            std::fs::read_to_string(&output).unwrap(),
            "CREATE TABLE t (id int);\n"
        );
        assert_eq!(stats.filter.dropped_lines, 1);
        assert!(*calls.lock().unwrap() >= 1);
    }

    const ZSTD: Codecs = Codecs {
        dump: Codec::Zstd,
        load: Codec::Zstd,
    };

    /// Run a stream from `dump` to `load` that must fail, and return the error.
    async fn stream_error(dump: &Command, load: &Command, codecs: Codecs) -> StreamError {
        run_stream_with("test", dump, load, FilterRules::default(), codecs, &|_| {})
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn failing_load_is_reported_with_stderr() {
        // With zstd, the load's status and stderr come through the pipeline,
        // not zstd's.
        for codecs in [Codecs::PLAIN, ZSTD] {
            let dump = command(&["printf", "data\\n"]);
            let load = command(&["sh", "-c", "cat >/dev/null; echo 'ERROR 1273' >&2; exit 3"]);
            let error = stream_error(&dump, &load, codecs).await;
            assert!(
                matches!(error, StreamError::Load { .. }),
                "{codecs:?}: {error}"
            );
            assert!(
                error.to_string().contains("ERROR 1273"),
                "{codecs:?}: {error}"
            );
            assert!(
                error.to_string().contains("exit status 3"),
                "{codecs:?}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn failing_dump_is_reported() {
        for codecs in [Codecs::PLAIN, ZSTD] {
            let dump = command(&["sh", "-c", "echo partial; echo 'access denied' >&2; exit 2"]);
            let load = command(&["cat"]);
            let error = stream_error(&dump, &load, codecs).await;
            assert!(
                matches!(error, StreamError::Dump { .. }),
                "{codecs:?}: {error}"
            );
            assert!(
                error.to_string().contains("access denied"),
                "{codecs:?}: {error}"
            );
            assert!(
                error.to_string().contains("exit status 2"),
                "{codecs:?}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn zstd_stream_arrives_filtered_and_whole() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.sql");
        let lines: String = (0..20_000)
            .map(|row| format!("INSERT INTO t VALUES ({row}, 'emoji \u{1F600}');\n"))
            .collect();
        let input = dir.path().join("in.sql");
        std::fs::write(
            &input,
            format!("SET @@GLOBAL.GTID_PURGED='x:1-2';\n{lines}"),
        )
        .unwrap();
        let dump = command(&["cat", &input.display().to_string()]);
        let load = command(&["sh", "-c", &format!("cat > {}", output.display())]);
        let rules = FilterRules {
            drop_gtid_state: true,
            ..FilterRules::default()
        };

        let stats = run_stream_with("test", &dump, &load, rules, ZSTD, &|_| {})
            .await
            .unwrap();

        assert_eq!(std::fs::read_to_string(&output).unwrap(), lines);
        assert_eq!(stats.filter.dropped_lines, 1);
        assert_eq!(stats.bytes_written, lines.len() as u64);
    }
}
