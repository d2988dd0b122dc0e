//! A lab for one test: brought up in its own folder, taken down when the
//! test ends, even when it fails. One lab runs per machine, so lab tests
//! wait for each other on a lock file, also across test processes.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use wwctl::sandbox::hosts::{BootRequest, HostBackend};
use wwctl::sandbox::lab::{Lab, LabConfig, network};

/// The folder the tests' lab lives in; not the default, so a test never
/// takes down a lab someone runs by hand.
const TEST_LAB_DIR: &str = "/var/lib/wwctl/test-lab";

/// The lock file lab tests take turns on.
const TEST_LOCK: &str = "/run/lock/wwctl-lab-tests.lock";

pub struct TestLab {
    pub lab: Lab,
    runtime: tokio::runtime::Runtime,
    _lock: Flock<File>,
}

/// Bring up a lab for `test`, or print why and return `None` when the test
/// cannot run here because it is not root.
pub fn start(test: &str) -> Option<TestLab> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIPPED {test}: lab tests need root (network namespaces, a bridge, mounts)");
        return None;
    }
    let lock_file = File::create(TEST_LOCK).expect("cannot create the lab test lock");
    let lock = Flock::lock(lock_file, FlockArg::LockExclusive)
        .map_err(|(_, error)| error)
        .expect("cannot lock the lab test lock");

    if let Some(owner) = network::bridge_owner()
        && owner != TEST_LAB_DIR
    {
        panic!(
            "a lab from `{owner}` is running; lab tests need the machine's only lab (take it down first)"
        );
    }
    // A test that was killed may have left its lab behind.
    let dir = PathBuf::from(TEST_LAB_DIR);
    Lab::open(&dir)
        .unwrap()
        .down()
        .expect("cannot clear a previous test lab");

    let config = LabConfig {
        dir,
        binary: PathBuf::from(env!("CARGO_BIN_EXE_wwctl")),
    };
    let lab = Lab::up(&config).expect("cannot bring the test lab up");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Some(TestLab {
        lab,
        runtime,
        _lock: lock,
    })
}

impl Drop for TestLab {
    fn drop(&mut self) {
        if let Err(error) = self.lab.down() {
            eprintln!("cannot take the test lab down: {error:#}");
        }
    }
}

impl TestLab {
    /// Boot a host through the emulator's interface; returns how long it took.
    pub fn boot(
        &self,
        droplet_id: u64,
        name: &str,
        address: Ipv4Addr,
        user_data: Option<String>,
    ) -> Duration {
        let request = BootRequest {
            droplet_id,
            name: name.to_string(),
            address,
            authorized_keys: vec![self.lab.controller_key().unwrap().public_key],
            user_data,
        };
        let started = Instant::now();
        self.block_on(self.lab.boot(request))
            .unwrap_or_else(|error| panic!("cannot boot {name}: {error:#}"));
        started.elapsed()
    }

    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(future)
    }

    /// Run a shell script inside a host and capture its output.
    pub fn exec(&self, host: &str, script: &str) -> Output {
        let argv = ["sh", "-c", script].map(str::to_string);
        self.lab
            .host_command(host, &argv)
            .unwrap()
            .output()
            .expect("cannot run nsenter")
    }

    /// Run a shell script inside a host, require success, return stdout.
    pub fn exec_ok(&self, host: &str, script: &str) -> String {
        let output = self.exec(host, script);
        assert!(
            output.status.success(),
            "`{script}` failed in {host} ({}):\nstdout: {}\nstderr: {}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Run a command over SSH as root, checking the host key strictly
    /// against `known_hosts`.
    pub fn ssh(&self, address: Ipv4Addr, known_hosts: &Path, command: &str) -> Output {
        let key = self.lab.controller_key().unwrap();
        Command::new("ssh")
            .args(["-F", "/dev/null"])
            .args(["-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", known_hosts.display()))
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "IdentitiesOnly=yes",
                "-o",
                "ConnectTimeout=5",
            ])
            .arg("-i")
            .arg(&key.private_key_path)
            .arg(format!("root@{address}"))
            .arg(command)
            .output()
            .expect("cannot run ssh")
    }
}

/// A GET request over plain HTTP/1.0; returns the status code, the header
/// block and the body.
pub fn http_get(address: Ipv4Addr, path: &str) -> std::io::Result<(u16, String, String)> {
    let socket = SocketAddr::from((address, 80));
    let mut stream = TcpStream::connect_timeout(&socket, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_string(), body.to_string()))
}

/// Generate an ed25519 host key pair: (private key in OpenSSH format, public line).
pub fn host_key_pair() -> (String, String) {
    let key =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
    let private = key.to_openssh(ssh_key::LineEnding::LF).unwrap().to_string();
    let public = key.public_key().to_openssh().unwrap();
    (private, public)
}

/// Indent every line of `text` for a YAML block scalar.
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}
