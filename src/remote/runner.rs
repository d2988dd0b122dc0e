//! The database layer's command transport over SSH: the same functions that
//! run against a local MariaDB in tests run on servers through this.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::database::command::{
    BoxedReader, BoxedWriter, CommandError, CommandFuture, CommandOutput, CommandRunner,
    ExitStatus, Spawned,
};

use super::host::{Cmd, Host, StreamingChild};

/// At most this much of a command's stderr is kept, from its end.
const STDERR_TAIL_BYTES: usize = 64 * 1024;
/// Database commands may stream large dumps, so they get a long limit.
const DATABASE_COMMAND_TIMEOUT: Duration = Duration::from_secs(6 * 3600);

/// Runs the database layer's commands on one server.
#[derive(Debug)]
pub struct SshRunner {
    host: Arc<Host>,
    label: String,
}

impl SshRunner {
    pub fn new(host: Arc<Host>) -> Self {
        let label = format!("{}@{}", host.target.user, host.target.name);
        Self { host, label }
    }
}

fn io_error(host: &str, program: &str, error: impl std::fmt::Display) -> CommandError {
    CommandError::Io {
        program: program.to_string(),
        host: host.to_string(),
        source: std::io::Error::other(error.to_string()),
    }
}

impl CommandRunner for SshRunner {
    fn host(&self) -> &str {
        &self.label
    }

    fn run<'a>(&'a self, argv: &'a [String], stdin: &'a [u8]) -> CommandFuture<'a, CommandOutput> {
        Box::pin(async move {
            if argv.is_empty() {
                return Err(CommandError::Empty {
                    host: self.label.clone(),
                });
            }
            let cmd = Cmd::new(argv).timeout(DATABASE_COMMAND_TIMEOUT);
            let output = self
                .host
                .run_unchecked_with_input(&cmd, stdin)
                .await
                .map_err(|error| io_error(&self.label, &argv[0], error))?;
            Ok(CommandOutput {
                status: ExitStatus::Code(output.status),
                stdout: output.stdout,
                stderr: tail(output.stderr),
            })
        })
    }

    fn spawn<'a>(&'a self, argv: &'a [String]) -> CommandFuture<'a, Box<dyn Spawned>> {
        Box::pin(async move {
            if argv.is_empty() {
                return Err(CommandError::Empty {
                    host: self.label.clone(),
                });
            }
            let mut streaming =
                self.host
                    .spawn_streaming(&Cmd::new(argv))
                    .await
                    .map_err(|error| CommandError::Start {
                        program: argv[0].clone(),
                        host: self.label.clone(),
                        source: std::io::Error::other(error.to_string()),
                    })?;

            // Stderr is drained at once so a chatty command never blocks on
            // a full pipe while the caller streams stdout.
            let stderr_task = streaming.child.stderr().take().map(|mut stderr| {
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let _ = stderr.read_to_end(&mut buffer).await;
                    tail(buffer)
                })
            });
            Ok(Box::new(RemoteChild {
                label: self.label.clone(),
                program: argv[0].clone(),
                streaming,
                stderr_task,
            }) as Box<dyn Spawned>)
        })
    }
}

struct RemoteChild {
    label: String,
    program: String,
    streaming: StreamingChild,
    stderr_task: Option<tokio::task::JoinHandle<Vec<u8>>>,
}

impl Spawned for RemoteChild {
    fn take_stdin(&mut self) -> Option<BoxedWriter> {
        self.streaming
            .child
            .stdin()
            .take()
            .map(|stdin| Box::pin(stdin) as BoxedWriter)
    }

    fn take_stdout(&mut self) -> Option<BoxedReader> {
        self.streaming
            .child
            .stdout()
            .take()
            .map(|stdout| Box::pin(stdout) as BoxedReader)
    }

    fn wait(self: Box<Self>) -> CommandFuture<'static, CommandOutput> {
        let RemoteChild {
            label,
            program,
            mut streaming,
            stderr_task,
        } = *self;
        Box::pin(async move {
            drop(streaming.child.stdin().take());
            let mut stdout = Vec::new();
            if let Some(mut pipe) = streaming.child.stdout().take() {
                pipe.read_to_end(&mut stdout)
                    .await
                    .map_err(|error| io_error(&label, &program, error))?;
            }
            let status = streaming
                .child
                .wait()
                .await
                .map_err(|error| io_error(&label, &program, error))?;
            let stderr = match stderr_task {
                Some(task) => task.await.unwrap_or_default(),
                None => Vec::new(),
            };
            let status = match status.code() {
                Some(code) => ExitStatus::Code(code),
                None => ExitStatus::Unknown,
            };
            Ok(CommandOutput {
                status,
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
