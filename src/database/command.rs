//! The narrow interface between the database layer and the machine a
//! command runs on: run an argument vector with some bytes on stdin, or
//! start one with piped stdin and stdout for streaming.
//!
//! `LocalRunner` spawns local processes. An SSH transport implements the
//! same trait, so every database function works on remote servers unchanged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::process::Stdio;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

pub type CommandFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, CommandError>> + Send + 'a>>;

pub type BoxedReader = Pin<Box<dyn AsyncRead + Send>>;
pub type BoxedWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// At most this much of a command's stderr is kept, from its end.
const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ExitStatus {
    Code(i32),
    /// Ended by a signal, or the transport could not tell the code.
    Signal(i32),
    Unknown,
}

impl ExitStatus {
    pub fn success(self) -> bool {
        self == ExitStatus::Code(0)
    }

    fn from_std(status: std::process::ExitStatus) -> Self {
        use std::os::unix::process::ExitStatusExt;

        match (status.code(), status.signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (None, Some(signal)) => ExitStatus::Signal(signal),
            (None, None) => ExitStatus::Unknown,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Code(code) => write!(f, "exit status {code}"),
            ExitStatus::Signal(signal) => write!(f, "killed by signal {signal}"),
            ExitStatus::Unknown => f.write_str("unknown exit status"),
        }
    }
}

/// The result of a finished command.
#[derive(Clone, Debug)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The end of stderr, at most 64 KiB.
    pub stderr: Vec<u8>,
}

impl CommandOutput {
    /// Stderr as trimmed text, lossy for invalid UTF-8.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// A command could not be started or waited for. A command that ran and
/// failed is not an error here: its status is in `CommandOutput`.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("cannot start `{program}` on {host}: {source}")]
    Start {
        program: String,
        host: String,
        source: std::io::Error,
    },
    #[error("lost `{program}` on {host}: {source}")]
    Io {
        program: String,
        host: String,
        source: std::io::Error,
    },
    #[error("empty command for {host}")]
    Empty { host: String },
}

/// A started command whose stdin and stdout are pipes.
pub trait Spawned: Send {
    /// The command's stdin; `None` after the first call.
    fn take_stdin(&mut self) -> Option<BoxedWriter>;

    /// The command's stdout; `None` after the first call.
    fn take_stdout(&mut self) -> Option<BoxedReader>;

    /// Wait for the command to end. Stdout in the result is empty when it
    /// was taken; stderr is always collected.
    fn wait(self: Box<Self>) -> CommandFuture<'static, CommandOutput>;
}

/// Runs argument vectors on one machine. Arguments are passed as a vector
/// and never joined into a shell string by callers; secrets go on stdin.
pub trait CommandRunner: Send + Sync + fmt::Debug {
    /// Where commands run, for messages: `local`, `root@10.77.0.5`.
    fn host(&self) -> &str;

    /// Run `argv` with `stdin` as its standard input and collect its output.
    fn run<'a>(&'a self, argv: &'a [String], stdin: &'a [u8]) -> CommandFuture<'a, CommandOutput>;

    /// Start `argv` with piped stdin and stdout, for streaming.
    fn spawn<'a>(&'a self, argv: &'a [String]) -> CommandFuture<'a, Box<dyn Spawned>>;
}

/// Runs commands as local child processes.
#[derive(Clone, Debug, Default)]
pub struct LocalRunner;

impl LocalRunner {
    fn command(argv: &[String]) -> Result<tokio::process::Command, CommandError> {
        let (program, args) = argv.split_first().ok_or_else(|| CommandError::Empty {
            host: "local".to_string(),
        })?;
        let mut command = tokio::process::Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        Ok(command)
    }
}

fn start_error(argv: &[String], source: std::io::Error) -> CommandError {
    CommandError::Start {
        program: argv.first().cloned().unwrap_or_default(),
        host: "local".to_string(),
        source,
    }
}

fn io_error(program: &str, source: std::io::Error) -> CommandError {
    CommandError::Io {
        program: program.to_string(),
        host: "local".to_string(),
        source,
    }
}

impl CommandRunner for LocalRunner {
    fn host(&self) -> &str {
        "local"
    }

    fn run<'a>(&'a self, argv: &'a [String], stdin: &'a [u8]) -> CommandFuture<'a, CommandOutput> {
        Box::pin(async move {
            let mut child = Self::command(argv)?
                .spawn()
                .map_err(|error| start_error(argv, error))?;
            let program = argv[0].as_str();

            // Write stdin while reading stdout and stderr, so a command that
            // answers before reading all its input cannot deadlock the pipe.
            let mut input = child.stdin.take().expect("stdin is piped");
            let writer = async move {
                let result = input.write_all(stdin).await;
                drop(input);
                match result {
                    // The command may end without reading all of stdin; its
                    // exit status tells whether that was a failure.
                    Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    other => other,
                }
            };
            let (written, output) = tokio::join!(writer, child.wait_with_output());
            let output = output.map_err(|error| io_error(program, error))?;
            written.map_err(|error| io_error(program, error))?;

            Ok(CommandOutput {
                status: ExitStatus::from_std(output.status),
                stdout: output.stdout,
                stderr: tail(output.stderr),
            })
        })
    }

    fn spawn<'a>(&'a self, argv: &'a [String]) -> CommandFuture<'a, Box<dyn Spawned>> {
        Box::pin(async move {
            let mut child = Self::command(argv)?
                .spawn()
                .map_err(|error| start_error(argv, error))?;

            // Stderr is drained at once so a chatty command never blocks on
            // a full pipe while the caller streams stdout.
            let mut stderr = child.stderr.take().expect("stderr is piped");
            let stderr_task = tokio::spawn(async move {
                let mut buffer = Vec::new();
                let _ = stderr.read_to_end(&mut buffer).await;
                tail(buffer)
            });

            Ok(Box::new(LocalChild {
                program: argv[0].clone(),
                child,
                stderr_task,
            }) as Box<dyn Spawned>)
        })
    }
}

struct LocalChild {
    program: String,
    child: tokio::process::Child,
    stderr_task: tokio::task::JoinHandle<Vec<u8>>,
}

impl Spawned for LocalChild {
    fn take_stdin(&mut self) -> Option<BoxedWriter> {
        self.child
            .stdin
            .take()
            .map(|stdin| Box::pin(stdin) as BoxedWriter)
    }

    fn take_stdout(&mut self) -> Option<BoxedReader> {
        self.child
            .stdout
            .take()
            .map(|stdout| Box::pin(stdout) as BoxedReader)
    }

    fn wait(self: Box<Self>) -> CommandFuture<'static, CommandOutput> {
        let LocalChild {
            program,
            mut child,
            stderr_task,
        } = *self;
        Box::pin(async move {
            // Closing an untaken stdin lets a command that reads it finish.
            drop(child.stdin.take());

            let mut stdout = Vec::new();
            if let Some(mut pipe) = child.stdout.take() {
                pipe.read_to_end(&mut stdout)
                    .await
                    .map_err(|error| io_error(&program, error))?;
            }
            let status = child
                .wait()
                .await
                .map_err(|error| io_error(&program, error))?;
            let stderr = stderr_task.await.unwrap_or_default();

            Ok(CommandOutput {
                status: ExitStatus::from_std(status),
                stdout,
                stderr,
            })
        })
    }
}

fn tail(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.len() > STDERR_TAIL_BYTES {
        bytes.drain(..bytes.len() - STDERR_TAIL_BYTES);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::{CommandRunner, ExitStatus, LocalRunner};

    fn argv(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[tokio::test]
    async fn local_run_pipes_stdin_to_stdout() {
        let output = LocalRunner.run(&argv(&["cat"]), b"hello\n").await.unwrap();
        assert_eq!(output.status, ExitStatus::Code(0));
        assert_eq!(output.stdout, b"hello\n");
    }

    #[tokio::test]
    async fn local_run_reports_exit_code_and_stderr() {
        let output = LocalRunner
            .run(&argv(&["sh", "-c", "echo oops >&2; exit 3"]), b"")
            .await
            .unwrap();
        assert_eq!(output.status, ExitStatus::Code(3));
        assert_eq!(output.stderr_text(), "oops");
    }

    #[tokio::test]
    async fn local_run_of_missing_program_fails_to_start() {
        let error = LocalRunner
            .run(&argv(&["wwctl-no-such-program"]), b"")
            .await
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot start `wwctl-no-such-program`")
        );
    }
}
