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
