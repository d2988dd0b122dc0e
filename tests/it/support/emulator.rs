//! A private emulator process (`wwctl sandbox serve --api-only`) in its own
//! folder, for tests that restart it, inject connection faults, or need no
//! shared sandbox.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use wwctl::sandbox::folder::SandboxDir;

use crate::support::api::{Api, fast_settings, new_token};

const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct Emulator {
    pub dir: PathBuf,
    pub api_url: String,
    pub dns: SocketAddr,
    child: Option<Child>,
    args: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Emulator {
    /// Start an emulator in a new temporary folder.
    pub fn start(args: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("a temporary folder");
        let mut emulator = Self::start_in(temp.path(), args);
        emulator._temp = Some(temp);
        emulator
    }

    /// Start an emulator on a folder, which may hold an earlier one's state.
    pub fn start_in(dir: &Path, args: &[&str]) -> Self {
        let log = std::fs::File::create(dir.join("test-serve.log")).expect("a log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_wwctl"));
        command
            .args(["sandbox", "--dir"])
            .arg(dir)
            .args(["serve", "--api-only"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log handle"))
            .stderr(log);
        let child = command.spawn().expect("wwctl sandbox serve starts");

        let folder = SandboxDir {
            path: dir.to_path_buf(),
            non_default: true,
        };
        let started = Instant::now();
        let runtime = loop {
            if let Ok(Some(runtime)) = folder.read_runtime()
                && runtime.pid == child.id()
            {
                break runtime;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "the emulator did not start; its log:\n{}",
                std::fs::read_to_string(dir.join("test-serve.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        };

        Self {
            dir: dir.to_path_buf(),
            api_url: runtime.api_url(),
            dns: runtime.dns,
            child: Some(child),
            args: args.iter().map(|arg| arg.to_string()).collect(),
            _temp: None,
        }
    }

    /// Stop the emulator with SIGTERM, as `sandbox down` does, and wait.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the emulator did not stop on SIGTERM within 10 s");
    }

    /// Stop, then start again on the same folder and arguments.
    pub fn restart(&mut self) {
        self.stop();
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        let restarted = Self::start_in(&self.dir, &args);
        self.api_url = restarted.api_url.clone();
        self.dns = restarted.dns;
        self.child = restarted.into_child();
    }

    fn into_child(mut self) -> Option<Child> {
        self.child.take()
    }

    /// Open a new account with fast timings and return its client.
    pub async fn account(&self, label: &str) -> Api {
        let api = Api::new(&self.api_url, &new_token(label), false);
        api.put("/_sandbox/settings", fast_settings())
            .await
            .expect(200);
        api
    }

    /// Return a client for an existing token (after a restart, say).
    pub fn client(&self, token: &str) -> Api {
        Api::new(&self.api_url, token, false)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
