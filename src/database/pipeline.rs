//! One dump-to-load stream: the dump command's stdout flows through a
//! filter into the load command's stdin, a chunk at a time, so the whole
//! dump is never held in memory. SQL text goes through the line filter,
//! a table's row text through the row filter.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::database::command::{CommandError, CommandOutput, CommandRunner, ExitStatus};
use crate::database::compression::{self, Codecs};
use crate::database::filter::{FilterRules, FilterStats, LineFilter};
use crate::database::rows::{RowError, RowFilter};

/// Bytes read from the dump per step.
const CHUNK_BYTES: usize = 256 * 1024;

/// At most this much of the load's own output is kept, and at most
/// `MAX_LOAD_MESSAGES` of its lines are reported.
const LOAD_OUTPUT_BYTES: usize = 64 * 1024;
const MAX_LOAD_MESSAGES: usize = 10;

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

/// The content of a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamFormat {
    /// SQL statements from a dump.
    #[default]
    Sql,
    /// One table's rows, loaded with `LOAD DATA`.
    Rows,
}

/// The filter a stream passes through between the dump and the load.
pub enum Transform {
    /// SQL text through the line filter with these rules.
    Sql(FilterRules),
    /// A table's row text through its row filter.
    Rows(RowFilter),
}

/// What a finished stream did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct StreamStats {
    pub stream: String,
    pub format: StreamFormat,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub filter: FilterStats,
    /// Seconds from starting the load to the end of both commands.
    pub seconds: f64,
    /// Lines the load printed, such as the warnings of a `LOAD DATA`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub load_messages: Vec<String>,
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
    #[error("stream `{stream}` stopped: the source's output does not match the table's columns")]
    Rows {
        stream: String,
        #[source]
        source: RowError,
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
    run_stream_with(
        name,
        dump,
        load,
        Transform::Sql(rules),
        Codecs::PLAIN,
        progress,
    )
    .await
}

/// Run `dump` into `load` through `transform`, each side on the wire with
/// its codec. Byte counts are of the uncompressed text.
pub async fn run_stream_with(
    name: &str,
    dump: &Command,
    load: &Command,
    transform: Transform,
    codecs: Codecs,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<StreamStats, StreamError> {
    let load_argv = compression::load_argv(codecs.load, load.argv.clone());
    let dump_argv = compression::dump_argv(codecs.dump, dump.argv.clone());

    // The load starts first, so it is ready when the first bytes arrive.
    let started = std::time::Instant::now();
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
    // a full pipe; its start is kept for the report.
    let load_stdout = loader.take_stdout().map(|mut stdout| {
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buffer = vec![0_u8; 8192];
            while let Ok(read) = stdout.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                let room = LOAD_OUTPUT_BYTES.saturating_sub(head.len());
                head.extend_from_slice(&buffer[..read.min(room)]);
            }
            head
        })
    });

    let mut reader = compression::decode(
        codecs.dump,
        dumper.take_stdout().expect("a new command has stdout"),
    );
    let mut writer = compression::encode(
        codecs.load,
        loader.take_stdin().expect("a new command has stdin"),
    );
    let format = match transform {
        Transform::Sql(_) => StreamFormat::Sql,
        Transform::Rows(_) => StreamFormat::Rows,
    };
    let mut filter = Filter::new(transform);
    let mut chunk = vec![0_u8; CHUNK_BYTES];
    let mut filtered = Vec::with_capacity(CHUNK_BYTES + 4096);
    let mut state = Progress {
        stream: name.to_string(),
        ..Progress::default()
    };

    // Copy until the dump ends or the load stops reading. A read or write
    // error ends the copy; the exit statuses below say which side failed.
    let mut load_closed = false;
    let mut malformed = None;
    loop {
        let read = match reader.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        state.bytes_read += read as u64;

        filtered.clear();
        if let Err(error) = filter.push(&chunk[..read], &mut filtered) {
            malformed = Some(error);
            break;
        }
        if writer.write_all(&filtered).await.is_err() {
            load_closed = true;
            break;
        }
        state.bytes_written += filtered.len() as u64;
        state.tables = filter.stats().tables;
        state.current_table = filter.stats().current_table.clone();
        progress(&state);
    }

    // After a malformed row nothing more is written, and the stream fails
    // below whatever the load makes of what it got.
    let mut cut_off = None;
    if !load_closed && malformed.is_none() {
        filtered.clear();
        if let Err(error) = filter.finish(&mut filtered) {
            cut_off = Some(error);
        }
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
    let load_messages = match load_stdout {
        Some(task) => messages(&task.await.unwrap_or_default()),
        None => Vec::new(),
    };
    let rows_error = |source| StreamError::Rows {
        stream: name.to_string(),
        source,
    };

    // A malformed row is the root cause: the dump then only saw its reader
    // go away. Otherwise a failed load is: the dump, too, only saw its
    // reader go away. A row cut off at the end comes from a failed dump.
    if let Some(error) = malformed {
        return Err(rows_error(error));
    }
    check_load(name, load, &load_output)?;
    check_dump(name, dump, &dump_output)?;
    if let Some(error) = cut_off {
        return Err(rows_error(error));
    }

    progress(&state);
    Ok(StreamStats {
        stream: name.to_string(),
        format,
        bytes_read: state.bytes_read,
        bytes_written: state.bytes_written,
        filter: filter.stats().clone(),
        seconds: started.elapsed().as_secs_f64(),
        load_messages,
    })
}

/// The line filter or the row filter, behind one interface.
enum Filter {
    Sql(LineFilter),
    Rows(RowFilter),
}

impl Filter {
    fn new(transform: Transform) -> Filter {
        match transform {
            Transform::Sql(rules) => Filter::Sql(LineFilter::new(rules)),
            Transform::Rows(filter) => Filter::Rows(filter),
        }
    }

    fn push(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), RowError> {
        match self {
            Filter::Sql(filter) => {
                filter.push(input, out);
                Ok(())
            }
            Filter::Rows(filter) => filter.push(input, out),
        }
    }

    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), RowError> {
        match self {
            Filter::Sql(filter) => {
                filter.finish(out);
                Ok(())
            }
            Filter::Rows(filter) => filter.finish(),
        }
    }

    fn stats(&self) -> &FilterStats {
        match self {
            Filter::Sql(filter) => filter.stats(),
            Filter::Rows(filter) => filter.stats(),
        }
    }
}

/// Return the non-blank lines of the load's output, at most
/// `MAX_LOAD_MESSAGES`.
fn messages(output: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(output)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .take(MAX_LOAD_MESSAGES)
        .map(String::from)
        .collect()
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

    use super::{Command, StreamError, Transform, run_stream, run_stream_with};
    use crate::database::command::LocalRunner;
    use crate::database::compression::{Codec, Codecs};
    use crate::database::filter::FilterRules;
    use crate::database::rows::RowFilter;
    use crate::database::rows::layout::{Encoding, RowColumn, RowLayout};

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
        run_stream_with(
            "test",
            dump,
            load,
            Transform::Sql(FilterRules::default()),
            codecs,
            &|_| {},
        )
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
    async fn load_output_is_reported_line_by_line() {
        let dump = command(&["printf", "1\\n"]);
        let load = command(&[
            "sh",
            "-c",
            "cat >/dev/null; printf 'Warning\\t1366\\tbad value\\n\\n'; seq 20",
        ]);

        let stats = run_stream("test", &dump, &load, FilterRules::default(), &|_| {})
            .await
            .unwrap();

        assert_eq!(stats.load_messages.len(), 10);
        assert_eq!(stats.load_messages[0], "Warning\t1366\tbad value");
        assert_eq!(stats.load_messages[1], "1");
    }

    #[tokio::test]
    async fn malformed_rows_stop_the_stream_naming_the_row() {
        let layout = RowLayout {
            table: "ww_shows".to_string(),
            columns: vec![RowColumn {
                name: "showurl".to_string(),
                encoding: Encoding::Text,
                nullable: true,
                auto_increment: false,
            }],
        };
        for codecs in [Codecs::PLAIN, ZSTD] {
            let dump = command(&["printf", "0\\tok\\n2\\tbad\\n"]);
            let load = command(&["cat"]);
            let transform = Transform::Rows(RowFilter::new(&layout));
            let error = run_stream_with("test", &dump, &load, transform, codecs, &|_| {})
                .await
                .unwrap_err();
            let StreamError::Rows { source, .. } = &error else {
                panic!("{codecs:?}: expected a row error, got {error}");
            };
            assert_eq!(
                source.to_string(),
                "row 2 of table `ww_shows` has the NULL flag `2`, where only 0 or 1 can be"
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

        let stats = run_stream_with("test", &dump, &load, Transform::Sql(rules), ZSTD, &|_| {})
            .await
            .unwrap();

        assert_eq!(std::fs::read_to_string(&output).unwrap(), lines);
        assert_eq!(stats.filter.dropped_lines, 1);
        assert_eq!(stats.bytes_written, lines.len() as u64);
    }
}
