//! A lab host's PID 1 (`wwctl sandbox lab host-init`).
//!
//! It runs inside the host's network, mount, UTS and PID namespaces. It
//! sets the host name, mounts the host's private folders, applies the user
//! data and starts sshd, MariaDB, NGINX and the enabled app units. Then it
//! marks the host ready, runs cloud-init's final stage, and reaps orphans
//! for as long as the host lives. The lab ends a host with SIGKILL to the
//! `unshare` process above it, which takes the whole PID namespace down.

pub mod mounts;
pub mod power;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::wait::waitpid;
use serde::{Deserialize, Serialize};

use super::cloud_init;
use super::host_folder::{BootFile, STANDIN_BINARY};
use super::record;

/// The folder, inside the host, where PID 1 reports its progress. The lab
/// reads the same files from the host folder's `run/wwctl-init`.
pub const INIT_DIR: &str = "/run/wwctl-init";

/// The file PID 1 writes once the services were started.
pub const READY_FILE: &str = "ready";

/// The file PID 1 writes when the host cannot boot.
pub const FAILED_FILE: &str = "failed";

/// The content of the ready file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Ready {
    pub boot_millis: u64,
    /// Units that failed to start, with their messages.
    pub failed_units: Vec<String>,
}

/// Boot the host described in `host_dir/boot.json`, then reap orphans
/// forever. Returns only on a boot failure.
pub fn run(host_dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let boot: BootFile = record::read(&host_dir.join("boot.json"))?;
    console(&format!(
        "booting droplet {} ({}) at {}",
        boot.droplet_id, boot.name, boot.address
    ));

    let early = (|| -> anyhow::Result<()> {
        nix::unistd::sethostname(&boot.name)?;
        mounts::apply(host_dir, &boot.lab_dir)
    })();
    if let Err(error) = early {
        // The host's /run is not mounted yet; report through the folder.
        let message = format!("{error:#}");
        let _ = fs::create_dir_all(host_dir.join("run/wwctl-init"));
        let _ = fs::write(host_dir.join("run/wwctl-init").join(FAILED_FILE), &message);
        return Err(error);
    }

    let _ = fs::create_dir_all(INIT_DIR);
    super::systemctl::mark_daemon_reload();
    cloud_init::apply::init_stage(&boot);
    let failed_units = power::start_boot_units();
    for failure in &failed_units {
        console(&format!("unit failed: {failure}"));
    }

    let ready = Ready {
        boot_millis: started.elapsed().as_millis() as u64,
        failed_units,
    };
    let text = serde_json::to_string(&ready)?;
    record::write_atomic(
        &Path::new(INIT_DIR).join(READY_FILE),
        text.as_bytes(),
        0o644,
    )?;
    console(&format!("ready after {} ms", ready.boot_millis));

    start_final_stage();
    reap_forever()
}

/// Start cloud-init's final stage (deferred files, `runcmd`) as a child
/// after the services, so `cloud-init status` prints `running` while sshd
/// already accepts connections.
fn start_final_stage() {
    let output = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cloud_init::status::OUTPUT_LOG);
    let (stdout, stderr) = match output.and_then(|file| Ok((file.try_clone()?, file))) {
        Ok((out, err)) => (Stdio::from(out), Stdio::from(err)),
        Err(_) => (Stdio::null(), Stdio::null()),
    };
    let spawned = Command::new(STANDIN_BINARY)
        .args([
            "sandbox",
            "lab",
            "cloud-init",
            "--",
            "modules",
            "--mode",
            "final",
        ])
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn();
    if let Err(error) = spawned {
        console(&format!("cannot start cloud-init's final stage: {error}"));
        let mut status =
            cloud_init::status::Status::read().unwrap_or_else(cloud_init::status::Status::running);
        status.error(format!("cannot start the final stage: {error}"));
        status.finish();
    }
}

/// As PID 1 of the namespace, collect every process that ends, including
/// orphans of daemons that forked.
fn reap_forever() -> ! {
    loop {
        match waitpid(None, None) {
            Ok(_) | Err(Errno::EINTR) => {}
            // No children right now; orphans may be handed over later.
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Write a line to the host's console log (PID 1's stderr, a file in the
/// host folder).
pub fn console(message: &str) {
    let _ = writeln!(std::io::stderr(), "{} host-init: {message}", record::now());
}
