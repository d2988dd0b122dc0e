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

use async_compression::Level;
use async_compression::tokio::bufread::ZstdDecoder;
use async_compression::tokio::write::ZstdEncoder;
use tokio::io::BufReader;

use crate::database::command::{BoxedReader, BoxedWriter, CommandRunner};

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

/// Bytes of the timed transfer: enough to fill a slow link for a moment.
const PROBE_BYTES: usize = 8 << 20;

/// The direction of a hop, seen from wwctl.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Source to wwctl: the dump's hop.
    FromServer,
    /// Wwctl to target: the load's hop.
    ToServer,
}

/// Measure the speed of the hop between wwctl and `runner`'s machine in
/// `direction`, in bytes a second, by timing a transfer of zeros. `None`
/// when the transfer failed.
pub async fn link_speed(runner: &dyn CommandRunner, direction: Direction) -> Option<f64> {
    let size = PROBE_BYTES.to_string();
    let started = std::time::Instant::now();
    let transferred = match direction {
        Direction::FromServer => {
            let argv = ["head", "-c", size.as_str(), "/dev/zero"].map(String::from);
            let output = runner.run(&argv, b"").await.ok()?;
            output.status.success() && output.stdout.len() == PROBE_BYTES
        }
        Direction::ToServer => {
            let argv = ["wc", "-c"].map(String::from);
            let output = runner.run(&argv, &vec![0_u8; PROBE_BYTES]).await.ok()?;
            output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == size
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    transferred.then(|| PROBE_BYTES as f64 / seconds.max(1e-6))
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
