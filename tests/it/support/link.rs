//! A command runner that simulates a distant server: every command starts
//! after a delay, and its stdin and stdout carry a limited number of bytes
//! a second. Commands run on this machine.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;
use wwctl::database::command::{
    BoxedReader, BoxedWriter, CommandFuture, CommandOutput, CommandRunner, LocalRunner, Spawned,
};

/// The largest write passed on at once, so a limited stream moves in steps.
const STEP: usize = 64 << 10;

#[derive(Debug)]
pub struct Link {
    pub host: &'static str,
    /// Time before each command starts: the link's round trips.
    pub start_delay: Duration,
    /// Bytes a second each way; `f64::INFINITY` for no limit.
    pub bytes_per_second: f64,
}

impl Link {
    fn transfer_time(&self, bytes: usize) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_second)
    }
}

impl CommandRunner for Link {
    fn host(&self) -> &str {
        self.host
    }

    fn run<'a>(&'a self, argv: &'a [String], stdin: &'a [u8]) -> CommandFuture<'a, CommandOutput> {
        Box::pin(async move {
            tokio::time::sleep(self.start_delay + self.transfer_time(stdin.len())).await;
            let output = LocalRunner.run(argv, stdin).await?;
            tokio::time::sleep(self.transfer_time(output.stdout.len())).await;
            Ok(output)
        })
    }

    fn spawn<'a>(&'a self, argv: &'a [String]) -> CommandFuture<'a, Box<dyn Spawned>> {
        Box::pin(async move {
            tokio::time::sleep(self.start_delay).await;
            let inner = LocalRunner.spawn(argv).await?;
            Ok(Box::new(LimitedChild {
                inner,
                bytes_per_second: self.bytes_per_second,
            }) as Box<dyn Spawned>)
        })
    }
}

struct LimitedChild {
    inner: Box<dyn Spawned>,
    bytes_per_second: f64,
}

impl Spawned for LimitedChild {
    fn take_stdin(&mut self) -> Option<BoxedWriter> {
        let writer = self.inner.take_stdin()?;
        Some(Box::pin(Limited::new(writer, self.bytes_per_second)))
    }

    fn take_stdout(&mut self) -> Option<BoxedReader> {
        let reader = self.inner.take_stdout()?;
        Some(Box::pin(Limited::new(reader, self.bytes_per_second)))
    }

    fn wait(self: Box<Self>) -> CommandFuture<'static, CommandOutput> {
        self.inner.wait()
    }
}

/// A reader or writer that pauses after each step for as long as its
/// bytes take at the link's speed.
struct Limited<T> {
    inner: T,
    bytes_per_second: f64,
    pause: Option<Pin<Box<Sleep>>>,
}

impl<T> Limited<T> {
    fn new(inner: T, bytes_per_second: f64) -> Self {
        Limited {
            inner,
            bytes_per_second,
            pause: None,
        }
    }

    fn wait_for_pause(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(pause) = self.pause.as_mut() {
            ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        Poll::Ready(())
    }

    fn pause_for(&mut self, bytes: usize) {
        if bytes > 0 && self.bytes_per_second.is_finite() {
            let time = Duration::from_secs_f64(bytes as f64 / self.bytes_per_second);
            self.pause = Some(Box::pin(tokio::time::sleep(time)));
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Limited<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        ready!(self.wait_for_pause(cx));
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        let read = buf.filled().len() - before;
        self.pause_for(read);
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Limited<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.wait_for_pause(cx));
        let step = buf.len().min(STEP);
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..step]))?;
        self.pause_for(written);
        Poll::Ready(Ok(written))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.wait_for_pause(cx));
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A link that is slow for the first command only, like a server busy for
/// a moment.
#[derive(Debug)]
pub struct BusyOnce {
    pub busy: Link,
    pub spawned: std::sync::atomic::AtomicUsize,
}

impl CommandRunner for BusyOnce {
    fn host(&self) -> &str {
        self.busy.host
    }

    fn run<'a>(&'a self, argv: &'a [String], stdin: &'a [u8]) -> CommandFuture<'a, CommandOutput> {
        LocalRunner.run(argv, stdin)
    }

    fn spawn<'a>(&'a self, argv: &'a [String]) -> CommandFuture<'a, Box<dyn Spawned>> {
        let earlier = self
            .spawned
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if earlier == 0 {
            self.busy.spawn(argv)
        } else {
            LocalRunner.spawn(argv)
        }
    }
}
