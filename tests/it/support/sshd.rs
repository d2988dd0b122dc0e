//! A real OpenSSH server on loopback for remote-execution tests. It needs
//! root (sshd must run as root and the test logs in as root).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wwctl::remote::host_keys::{self, HostKeyPair};

pub struct TestSshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub host_key: HostKeyPair,
    pub client_key: PathBuf,
    child: Child,
}

/// Checks whether this process can run sshd. Tests that need it skip
/// otherwise, unless WWCTL_REQUIRE_SANDBOX=1 makes the absence a failure.
pub fn available() -> bool {
    let root = nix::unistd::geteuid().is_root();
    let sshd = Path::new("/usr/sbin/sshd").exists();
    if root && sshd {
        return true;
    }
    let reason = if root {
        "/usr/sbin/sshd is missing (package openssh-server)"
    } else {
        "the tests are not running as root"
    };
    if std::env::var("WWCTL_REQUIRE_SANDBOX").as_deref() == Ok("1") {
        panic!("sshd tests cannot run: {reason}");
    }
    eprintln!("skipped: {reason}; run scripts/test as root");
    false
}

impl TestSshd {
    pub fn start() -> Self {
        Self::start_with_key(host_keys::generate("test-sshd").unwrap())
    }

    pub fn start_with_key(host_key: HostKeyPair) -> Self {
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        write_private(&path.join("host_key"), host_key.private_openssh.expose());

        let client = host_keys::generate("wwctl-test-client").unwrap();
        let client_key = path.join("client_key");
        write_private(&client_key, client.private_openssh.expose());
        std::fs::write(
            path.join("authorized_keys"),
            host_keys::public_line(&client.public),
        )
        .unwrap();

        let port = free_port();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {host}\nAuthorizedKeysFile {keys}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             UsePAM no\nStrictModes no\nPidFile none\nLogLevel VERBOSE\nMaxSessions 10\n",
            host = path.join("host_key").display(),
            keys = path.join("authorized_keys").display(),
        );
        std::fs::write(path.join("sshd_config"), config).unwrap();

        let child = Command::new("/usr/sbin/sshd")
            .arg("-D")
            .arg("-f")
            .arg(path.join("sshd_config"))
            .arg("-E")
            .arg(path.join("sshd.log"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_port(port);

        Self {
            dir,
            port,
            host_key,
            client_key,
            child,
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for TestSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "sshd did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
