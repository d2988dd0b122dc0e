//! One droplet's host, seen from the machine: booting it, entering it,
//! powering it off and on, archiving it and destroying it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::Signal;

use super::command::{run, tail};
use super::host_folder;
use super::init::{FAILED_FILE, READY_FILE, Ready};
use super::layout::{LabLayout, check_host_address, netns_name, veth_name};
use super::network;
use super::process;
use super::record::{self, HostRecord, Power, RECORD_VERSION};
use crate::sandbox::hosts::BootRequest;

/// How long a boot may take before the lab gives up on it. A boot takes
/// about a second; MariaDB's first start on a busy machine takes longest.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the lab waits for a killed host's processes to disappear.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);

/// The environment of commands run inside a host, as a fresh root login
/// would have it.
pub const HOST_ENVIRONMENT: &[(&str, &str)] = &[
    (
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ),
    ("HOME", "/root"),
    ("USER", "root"),
    ("LOGNAME", "root"),
    ("SHELL", "/bin/bash"),
    ("LANG", "C.UTF-8"),
];

/// The outcome of a finished boot.
#[derive(Clone, Debug)]
pub struct BootReport {
    pub elapsed: Duration,
    pub failed_units: Vec<String>,
}

fn record_path(layout: &LabLayout, droplet_id: u64) -> PathBuf {
    layout.host(droplet_id).join("host.json")
}

/// Read the record of a droplet's host, if the lab has one.
pub fn read_record(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<Option<HostRecord>> {
    let path = record_path(layout, droplet_id);
    if !path.exists() {
        return Ok(None);
    }
    record::read(&path).map(Some)
}

/// Read every host record in the lab folder, ordered by droplet id.
pub fn all_records(layout: &LabLayout) -> Vec<HostRecord> {
    let Ok(entries) = fs::read_dir(layout.hosts()) else {
        return Vec::new();
    };
    let mut records: Vec<HostRecord> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| record::read(&entry.path().join("host.json")).ok())
        .collect();
    records.sort_by_key(|record| record.droplet_id);
    records
}

/// Check whether the host's `unshare` process still runs and is the lab's own.
pub fn is_alive(layout: &LabLayout, record: &HostRecord) -> bool {
    record
        .unshare_pid
        .is_some_and(|pid| is_host_process(layout, record.droplet_id, pid))
}

/// Check whether `pid` is the `unshare` process or PID 1 of this droplet's
/// host, whose command lines name `host-init` and the host folder.
fn is_host_process(layout: &LabLayout, droplet_id: u64, pid: u32) -> bool {
    let host_dir = layout.host(droplet_id).display().to_string();
    let cmdline = process::cmdline(pid);
    process::is_running(pid)
        && cmdline.iter().any(|arg| arg == "host-init")
        && cmdline.contains(&host_dir)
}

/// Boot a host for `request`. A repeated boot of a running host succeeds
/// without change.
pub fn boot(layout: &LabLayout, request: &BootRequest) -> anyhow::Result<BootReport> {
    check_host_address(request.address)?;
    if let Some(existing) = read_record(layout, request.droplet_id)? {
        if is_alive(layout, &existing) {
            return Ok(BootReport {
                elapsed: Duration::ZERO,
                failed_units: Vec::new(),
            });
        }
        destroy(layout, request.droplet_id)?;
    }
    if let Some(other) = all_records(layout)
        .into_iter()
        .find(|other| other.address == request.address)
    {
        bail!(
            "cannot boot droplet {}: address {} belongs to droplet {} ({})",
            request.droplet_id,
            request.address,
            other.droplet_id,
            other.name
        );
    }

    let started = Instant::now();
    let result = boot_new(layout, request);
    match result {
        Ok(failed_units) => Ok(BootReport {
            elapsed: started.elapsed(),
            failed_units,
        }),
        Err(error) => {
            let console = fs::read_to_string(layout.host(request.droplet_id).join("console.log"))
                .map(|text| tail(&text, 15))
                .unwrap_or_default();
            if let Err(cleanup) = destroy(layout, request.droplet_id) {
                tracing::warn!(
                    "cannot clean up after the failed boot of droplet {}: {cleanup:#}",
                    request.droplet_id
                );
            }
            let error = error.context(format!(
                "cannot boot droplet {} ({}) at {}",
                request.droplet_id, request.name, request.address
            ));
            if console.is_empty() {
                Err(error)
            } else {
                Err(error.context(format!("host console:\n{console}")))
            }
        }
    }
}

fn boot_new(layout: &LabLayout, request: &BootRequest) -> anyhow::Result<Vec<String>> {
    let host_dir = layout.host(request.droplet_id);
    let mut host = HostRecord {
        version: RECORD_VERSION,
        droplet_id: request.droplet_id,
        name: request.name.clone(),
        address: request.address,
        netns: netns_name(request.droplet_id),
        veth: veth_name(request.address),
        unshare_pid: None,
        init_pid: None,
        power: Power::On,
        booted_at: record::now(),
    };
    // Record first, so a crash from here on leaves something `down` finds.
    fs::create_dir_all(&host_dir)
        .with_context(|| format!("cannot create `{}`", host_dir.display()))?;
    record::write(&record_path(layout, request.droplet_id), &host)?;

    host_folder::prepare(
        &layout.template(),
        &layout.binary(),
        layout.root(),
        &host_dir,
        request,
    )?;
    network::create_host_link(&host.netns, &host.veth, host.address)?;

    let unshare_pid = spawn_init(layout, &host)?;
    host.unshare_pid = Some(unshare_pid);
    record::write(&record_path(layout, request.droplet_id), &host)?;

    let init_pid = wait_for_init_pid(unshare_pid)?;
    host.init_pid = Some(init_pid);
    record::write(&record_path(layout, request.droplet_id), &host)?;

    let ready = wait_until_ready(&host_dir, unshare_pid)?;
    Ok(ready.failed_units)
}

/// Start `unshare` in the host's network namespace, in a session of its
/// own, with the host's PID 1 under it. `--kill-child` ends PID 1 (and the
/// PID namespace with it) when `unshare` is killed.
fn spawn_init(layout: &LabLayout, host: &HostRecord) -> anyhow::Result<u32> {
    let host_dir = layout.host(host.droplet_id);
    let netns_path = Path::new("/run/netns").join(&host.netns);
    let netns = fs::File::open(&netns_path)
        .with_context(|| format!("cannot open `{}`", netns_path.display()))?;
    let console = fs::File::create(host_dir.join("console.log"))?;

    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--uts",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
        ])
        .arg(layout.binary())
        .args(["sandbox", "lab", "host-init", "--host-dir"])
        .arg(&host_dir)
        .env_clear()
        .envs(HOST_ENVIRONMENT.iter().copied())
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(console.try_clone()?)
        .stderr(console);
    // SAFETY: the closure runs between fork and exec and makes only the
    // setsid and setns system calls, on a descriptor opened before the fork.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, move || {
            nix::unistd::setsid()?;
            nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .context("cannot start `unshare` for the host")?;
    let pid = child.id();
    // Collect `unshare` when it ends, so the lab process keeps no zombie.
    std::thread::spawn(move || {
        let _ = child.wait();
    });
    Ok(pid)
}

fn wait_for_init_pid(unshare_pid: u32) -> anyhow::Result<u32> {
    let mut init_pid = None;
    process::wait_until(Duration::from_secs(10), || {
        init_pid = process::children(unshare_pid).first().copied();
        init_pid.is_some() || !process::is_running(unshare_pid)
    });
    init_pid.context("the host's PID 1 did not start")
}

fn wait_until_ready(host_dir: &Path, unshare_pid: u32) -> anyhow::Result<Ready> {
    let init_dir = host_dir.join("run/wwctl-init");
    let deadline = Instant::now() + BOOT_TIMEOUT;
    loop {
        if let Ok(text) = fs::read_to_string(init_dir.join(READY_FILE)) {
            return serde_json::from_str(&text).context("the host's ready file is not valid");
        }
        if let Ok(message) = fs::read_to_string(init_dir.join(FAILED_FILE)) {
            bail!("the host failed to boot: {message}");
        }
        if !process::is_running(unshare_pid) {
            bail!("the host's PID 1 exited during boot");
        }
        if Instant::now() >= deadline {
            bail!(
                "the host was not ready within {} seconds",
                BOOT_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Kill the host's processes, delete its namespace and link, and remove
/// its folder. Succeeds when the host is already gone.
pub fn destroy(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<()> {
    let host_dir = layout.host(droplet_id);
    let record = read_record(layout, droplet_id).ok().flatten();
    let netns = netns_name(droplet_id);

    if let Some(record) = &record {
        for pid in [record.unshare_pid, record.init_pid].into_iter().flatten() {
            if is_host_process(layout, droplet_id, pid) {
                process::signal(pid, Signal::SIGKILL);
            }
        }
    }
    kill_netns_processes(&netns)?;
    let veth = record.as_ref().map(|record| record.veth.as_str());
    network::delete_host_link(&netns, veth)?;

    if host_dir.exists() {
        fs::remove_dir_all(&host_dir)
            .with_context(|| format!("cannot remove the host folder `{}`", host_dir.display()))?;
    }
    Ok(())
}

/// Kill every process in a lab network namespace and wait until none is
/// left. A killed `unshare` lingers as a zombie for a moment, so this
/// checks the namespace, not the pid.
pub fn kill_netns_processes(netns: &str) -> anyhow::Result<()> {
    if !network::list_netns()?.iter().any(|name| name == netns) {
        return Ok(());
    }
    let empty = process::wait_until(KILL_TIMEOUT, || {
        let pids = network::netns_pids(netns).unwrap_or_default();
        for pid in &pids {
            process::signal(*pid, Signal::SIGKILL);
        }
        pids.iter().all(|pid| !process::is_running(*pid))
    });
    if !empty {
        bail!(
            "processes in network namespace `{netns}` did not end within {} seconds",
            KILL_TIMEOUT.as_secs()
        );
    }
    Ok(())
}

/// Build a command that runs `argv` inside the host through `nsenter`, as
/// root in `/root`, with a login-like environment.
pub fn command_in_host(record: &HostRecord, argv: &[String]) -> anyhow::Result<Command> {
    let init_pid = record
        .init_pid
        .with_context(|| format!("droplet {} has no running host", record.droplet_id))?;
    let mut command = Command::new("nsenter");
    command
        .arg(format!("--target={init_pid}"))
        .args(["--mount", "--uts", "--net", "--pid", "--wdns=/root", "--"])
        .args(argv)
        .env_clear()
        .envs(HOST_ENVIRONMENT.iter().copied());
    if let Some(term) = std::env::var_os("TERM") {
        command.env("TERM", term);
    }
    Ok(command)
}

/// Run a `wwctl sandbox lab` subcommand inside the host and fail on a
/// failure exit status.
fn run_lab_command(record: &HostRecord, args: &[&str]) -> anyhow::Result<String> {
    let mut argv = vec![
        host_folder::STANDIN_BINARY.to_string(),
        "sandbox".into(),
        "lab".into(),
    ];
    argv.extend(args.iter().map(|arg| arg.to_string()));
    let output = run(&mut command_in_host(record, &argv)?)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn live_record(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<HostRecord> {
    let record = read_record(layout, droplet_id)?
        .with_context(|| format!("the lab has no host for droplet {droplet_id}"))?;
    if !is_alive(layout, &record) {
        bail!(
            "the host of droplet {droplet_id} ({}) is not running",
            record.name
        );
    }
    Ok(record)
}

fn set_power(layout: &LabLayout, mut record: HostRecord, power: Power) -> anyhow::Result<()> {
    record.power = power;
    record::write(&record_path(layout, record.droplet_id), &record)
}

/// Stop the host's services at once (SIGKILL) and take its address off the
/// network. PID 1 stays, as the powered-off machine.
pub fn power_off(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<()> {
    let record = live_record(layout, droplet_id)?;
    if record.power == Power::Off {
        return Ok(());
    }
    network::set_host_link_up(&record.netns, false)?;
    let keep = [record.unshare_pid, record.init_pid];
    let others = || -> Vec<u32> {
        network::netns_pids(&record.netns)
            .unwrap_or_default()
            .into_iter()
            .filter(|pid| !keep.contains(&Some(*pid)) && process::is_running(*pid))
            .collect()
    };
    process::wait_until(KILL_TIMEOUT, || {
        let pids = others();
        pids.iter()
            .for_each(|pid| process::signal(*pid, Signal::SIGKILL));
        pids.is_empty()
    });
    set_power(layout, record, Power::Off)
}

/// Stop the host's services gracefully, then take its address off the
/// network.
pub fn shutdown(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<()> {
    let record = live_record(layout, droplet_id)?;
    if record.power == Power::Off {
        return Ok(());
    }
    run_lab_command(&record, &["host-power", "shutdown"])?;
    network::set_host_link_up(&record.netns, false)?;
    set_power(layout, record, Power::Off)
}

/// Bring a powered-off host's address back and start its enabled services.
pub fn power_on(layout: &LabLayout, droplet_id: u64) -> anyhow::Result<()> {
    let record = live_record(layout, droplet_id)?;
    if record.power == Power::On {
        return Ok(());
    }
    network::set_host_link_up(&record.netns, true)?;
    run_lab_command(&record, &["host-power", "on"])
        .with_context(|| format!("services of droplet {droplet_id} failed to start"))?;
    set_power(layout, record, Power::On)
}

/// Archive the host folder as `snapshots/<snapshot id>.tar`. A running
/// database is archived as it is on disk, like a snapshot of a running
/// droplet.
pub fn snapshot(layout: &LabLayout, droplet_id: u64, snapshot_id: u64) -> anyhow::Result<PathBuf> {
    let record = read_record(layout, droplet_id)?
        .with_context(|| format!("the lab has no host for droplet {droplet_id}"))?;
    let target = layout.snapshot(snapshot_id);
    if target.exists() {
        return Ok(target);
    }
    fs::create_dir_all(layout.snapshots())?;
    let partial = target.with_extension("tar.partial");
    let status = Command::new("tar")
        .args([
            "--create",
            "--sparse",
            "--warning=no-file-changed",
            "--warning=no-file-ignored",
        ])
        .arg("--file")
        .arg(&partial)
        .arg("--directory")
        .arg(layout.hosts())
        .arg(record.droplet_id.to_string())
        .stdin(Stdio::null())
        .status()
        .context("cannot run tar")?;
    // tar exits with 1 when a file changed while it was read, which a live
    // host's logs do.
    if !matches!(status.code(), Some(0 | 1)) {
        let _ = fs::remove_file(&partial);
        bail!("tar failed ({status}) while archiving droplet {droplet_id}");
    }
    fs::rename(&partial, &target)?;
    Ok(target)
}
