//! Compression of dump streams on the wire. A compressed dump leaves the
//! source as zstd, wwctl decompresses it to filter it, and compresses it
//! again towards the target, which decompresses it before loading. Both
//! hops carry a fraction of the dump's bytes, which matters when wwctl runs
//! far from the servers.
//!
//! The remote ends are `bash` pipelines whose script is a constant: the
//! dump or load argument vector follows it as positional parameters, so no
//! argument is ever pasted into shell text. `pipefail` makes the pipeline
//! fail when the dump or the load fails, not only when zstd does.

use std::pin::Pin;
use std::time::{Duration, Instant};

use async_compression::Level;
use async_compression::tokio::bufread::ZstdDecoder;
use async_compression::tokio::write::ZstdEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use crate::database::command::{BoxedReader, BoxedWriter, CommandRunner, ExitStatus};

/// zstd's fastest standard level: it shrinks SQL text several times for
/// little CPU. On a fast link with busy CPUs, `database.sync.compress:
/// false` is faster still.
const LEVEL: i32 = 1;

const DUMP_SCRIPT: &str = "set -o pipefail; \"$@\" | zstd -q -1 -c";
const LOAD_SCRIPT: &str = "set -o pipefail; zstd -q -d -c | \"$@\"";

/// The encoding of one side of a stream between its server and wwctl.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    #[default]
    Plain,
    Zstd,
}

/// The codec of each side of a stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Codecs {
    pub dump: Codec,
    pub load: Codec,
}

impl Codecs {
    pub const PLAIN: Codecs = Codecs {
        dump: Codec::Plain,
        load: Codec::Plain,
    };
}

/// Wrap the dump command for `codec`: unchanged, or piped through zstd.
pub fn dump_argv(codec: Codec, argv: Vec<String>) -> Vec<String> {
    wrap(codec, DUMP_SCRIPT, "wwctl-dump", argv)
}

/// Wrap the load command for `codec`: unchanged, or fed through `zstd -d`.
pub fn load_argv(codec: Codec, argv: Vec<String>) -> Vec<String> {
    wrap(codec, LOAD_SCRIPT, "wwctl-load", argv)
}

fn wrap(codec: Codec, script: &str, name: &str, argv: Vec<String>) -> Vec<String> {
    match codec {
        Codec::Plain => argv,
        Codec::Zstd => {
            let mut wrapped = vec![
                "bash".to_string(),
                "-c".to_string(),
                script.to_string(),
                name.to_string(),
            ];
            wrapped.extend(argv);
            wrapped
        }
    }
}

/// Turn the dump's output back into SQL text.
pub fn decode(codec: Codec, reader: BoxedReader) -> BoxedReader {
    match codec {
        Codec::Plain => reader,
        Codec::Zstd => {
            let mut decoder = ZstdDecoder::new(BufReader::new(reader));
            decoder.multiple_members(true);
            Box::pin(decoder)
        }
    }
}

/// Give the load's input a writer that takes SQL text.
pub fn encode(codec: Codec, writer: BoxedWriter) -> BoxedWriter {
    match codec {
        Codec::Plain => writer,
        Codec::Zstd => Box::pin(ZstdEncoder::with_quality(writer, Level::Precise(LEVEL)))
            as Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
    }
}

/// When the streams travel compressed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Compress each hop that is slower than `FAST_LINK`, as a short
    /// timed transfer measures it.
    #[default]
    Auto,
    /// Compress every hop where the server has zstd.
    Always,
    /// Send plain text.
    Never,
}

/// A hop at least this fast, in bytes a second, does not hold up the copy:
/// the benchmark's copy moved its 220 MB of row text in about 15 s, under
/// 20 MB/s. On such a hop zstd only takes CPU from the servers.
pub const FAST_LINK: f64 = 50e6;

/// The maximum size of the timed transfer. On the lab's loopback links an
/// 8 MiB transfer lasted about 30 ms and still measured the link's start-up,
/// from 31 to 280 MB/s; 32 MiB measured 145 to 307 MB/s.
const PROBE_BYTES: usize = 32 << 20;

/// How long the sender sends: a slow link stops the probe after this, not
/// after `PROBE_BYTES`.
const PROBE_TIME: Duration = Duration::from_millis(250);

/// The remote end of an incoming probe: `$2` zeros, for `$1` seconds at
/// most. `timeout` exits with status 124 when it stops `head`.
const SEND_SCRIPT: &str = "timeout \"$1\" head -c \"$2\" /dev/zero";

/// The exit status of `timeout` when the time ran out.
const TIMED_OUT: ExitStatus = ExitStatus::Code(124);

/// The remote end of an outgoing probe: it reads one byte, prints
/// `ready`, then counts the bytes that follow. The clock starts at
/// `ready`, so the time to start a command on the server is not counted.
const COUNT_SCRIPT: &str = "head -c 1 >/dev/null && echo ready && wc -c";

/// The size of each read and write of the probe.
const PROBE_BLOCK: usize = 64 << 10;

/// The direction of a hop, seen from wwctl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Source to wwctl: the dump's hop.
    FromServer,
    /// Wwctl to target: the load's hop.
    ToServer,
}

/// Measure the speed of the hop between wwctl and `runner`'s machine in
/// `direction`, in bytes a second, by timing a transfer of zeros. Only
/// the transfer is timed, not the start of the command that sends or
/// receives it: a link with a long round trip can still carry bulk data
/// fast. `None` when the transfer failed.
pub async fn link_speed(runner: &dyn CommandRunner, direction: Direction) -> Option<f64> {
    let timed = match direction {
        Direction::FromServer => time_receive(runner).await,
        Direction::ToServer => time_send(runner).await,
    };
    if timed.is_none() {
        tracing::debug!(
            host = runner.host(),
            ?direction,
            "the link's speed could not be measured"
        );
    }
    timed.map(|(bytes, seconds)| bytes as f64 / seconds.max(1e-6))
}

/// Measure the hop like `link_speed`, and once more when the first
/// measurement finds it slower than `FAST_LINK`. A busy moment on either
/// end can only make a link look slower, so the faster of the two counts.
pub async fn hop_speed(runner: &dyn CommandRunner, direction: Direction) -> Option<f64> {
    let first = link_speed(runner, direction).await;
    if first.is_some_and(|speed| speed >= FAST_LINK) {
        return first;
    }

    let second = link_speed(runner, direction).await;
    match (first, second) {
        (Some(first), Some(second)) => Some(first.max(second)),
        (first, second) => first.or(second),
    }
}

/// Receive zeros from the server for `PROBE_TIME`, or `PROBE_BYTES` of
/// them. The clock starts at the first bytes that arrive; returns the
/// bytes after them and their time.
async fn time_receive(runner: &dyn CommandRunner) -> Option<(usize, f64)> {
    let (time, size) = (
        PROBE_TIME.as_secs_f64().to_string(),
        PROBE_BYTES.to_string(),
    );
    let argv = ["sh", "-c", SEND_SCRIPT, "wwctl-probe", &time, &size].map(String::from);
    let mut child = runner.spawn(&argv).await.ok()?;
    let mut stdout = child.take_stdout()?;
    let mut block = vec![0_u8; PROBE_BLOCK];

    let first = stdout.read(&mut block).await.ok()?;
    let started = Instant::now();
    let mut rest = 0;
    loop {
        match stdout.read(&mut block).await.ok()? {
            0 => break,
            read => rest += read,
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    drop(stdout);
    let output = child.wait().await.ok()?;
    let ended = output.status.success() || output.status == TIMED_OUT;
    (ended && first > 0 && rest > 0).then_some((rest, seconds))
}

/// Send zeros to the server for `PROBE_TIME`, or `PROBE_BYTES` of them,
/// timed from its `ready` to its count of what arrived.
async fn time_send(runner: &dyn CommandRunner) -> Option<(usize, f64)> {
    let argv = ["sh", "-c", COUNT_SCRIPT].map(String::from);
    let mut child = runner.spawn(&argv).await.ok()?;
    let mut stdin = child.take_stdin()?;
    let mut stdout = child.take_stdout()?;

    stdin.write_all(b"\0").await.ok()?;
    stdin.flush().await.ok()?;
    let mut ready = [0_u8; 6];
    stdout.read_exact(&mut ready).await.ok()?;
    if &ready != b"ready\n" {
        return None;
    }

    let started = Instant::now();
    let block = vec![0_u8; PROBE_BLOCK];
    let mut sent = 0;
    while sent < PROBE_BYTES && started.elapsed() < PROBE_TIME {
        let size = block.len().min(PROBE_BYTES - sent);
        stdin.write_all(&block[..size]).await.ok()?;
        sent += size;
    }
    stdin.shutdown().await.ok()?;
    drop(stdin);
    let mut counted = String::new();
    stdout.read_to_string(&mut counted).await.ok()?;
    let seconds = started.elapsed().as_secs_f64();

    drop(stdout);
    let output = child.wait().await.ok()?;
    let complete = output.status.success() && counted.trim() == sent.to_string();
    complete.then_some((sent, seconds))
}

/// Pick zstd when the machine has both `bash` and `zstd`, plain otherwise.
pub async fn available(runner: &dyn CommandRunner) -> Codec {
    let probe = [
        "bash".to_string(),
        "-c".to_string(),
        "command -v zstd".to_string(),
    ];
    match runner.run(&probe, b"").await {
        Ok(output) if output.status.success() => Codec::Zstd,
        _ => Codec::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::{Codec, dump_argv, load_argv};

    fn words(argv: &[&str]) -> Vec<String> {
        argv.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn plain_leaves_commands_alone() {
        let argv = words(&["mariadb-dump", "--", "wwdtm"]);
        assert_eq!(dump_argv(Codec::Plain, argv.clone()), argv);
        assert_eq!(load_argv(Codec::Plain, argv.clone()), argv);
    }

    #[test]
    fn zstd_passes_arguments_after_a_constant_script() {
        let argv = words(&["mariadb-dump", "--", "it's; rm -rf /"]);
        let wrapped = dump_argv(Codec::Zstd, argv);
        assert_eq!(
            wrapped,
            words(&[
                "bash",
                "-c",
                "set -o pipefail; \"$@\" | zstd -q -1 -c",
                "wwctl-dump",
                "mariadb-dump",
                "--",
                "it's; rm -rf /",
            ])
        );
        let load = load_argv(Codec::Zstd, words(&["mariadb", "--database=wwdtm"]));
        assert_eq!(load[2], "set -o pipefail; zstd -q -d -c | \"$@\"");
        assert_eq!(&load[4..], words(&["mariadb", "--database=wwdtm"]));
    }
}
