//! Starting, stopping and reloading one service, and remembering its main
//! process in `/run/wwctl-systemctl/<unit>.json` so later calls can tell
//! active from failed.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::chown;
use serde::{Deserialize, Serialize};

use super::spawn::{self, Account};
use super::unit_file::{KillMode, ServiceType, ServiceUnit};
use crate::sandbox::lab::process;

/// The folder with the stand-in's unit states and notify sockets.
pub const STATE_DIR: &str = "/run/wwctl-systemctl";

/// How long a stop waits after SIGKILL before giving up.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// A unit's high-level state, as `systemctl is-active` prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActiveState {
    Active,
    Inactive,
    Failed,
}

impl ActiveState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
            Self::Failed => "failed",
        }
    }
}

/// The stand-in's record of a unit.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UnitRecord {
    pub state: ActiveState,
    pub main_pid: Option<u32>,
    /// The main process's start time in clock ticks, to detect pid reuse.
    pub start_time: Option<u64>,
    pub since: String,
    /// The failure result (`exit-code`, `timeout`, `resources`).
    pub result: Option<String>,
}

/// A failed operation on a unit. The command line maps each kind to
/// systemctl's exit code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The job failed (exit code 1).
    #[error("{0}")]
    Failed(String),
    /// The unit cannot do this job, such as a reload without `ExecReload=`
    /// (exit code 3).
    #[error("{0}")]
    NotApplicable(String),
}

/// The unit's state, checking that a recorded main process still runs.
pub fn active_state(unit_name: &str) -> (ActiveState, Option<UnitRecord>) {
    let Some(record) = read_record(unit_name) else {
        return (ActiveState::Inactive, None);
    };
    let state = match (record.state, record.main_pid, record.start_time) {
        (ActiveState::Active, Some(pid), Some(start)) if process::is_same_running(pid, start) => {
            ActiveState::Active
        }
        (ActiveState::Active, Some(_), _) => ActiveState::Failed,
        (state, _, _) => state,
    };
    (state, Some(record))
}

/// Start `unit` unless it is already active.
pub fn start(unit: &ServiceUnit) -> Result<(), ServiceError> {
    let (state, record) = active_state(&unit.name);
    if state == ActiveState::Active {
        return Ok(());
    }
    stop_leftovers(unit, record.as_ref());

    let started_at = Instant::now();
    let result = start_inactive(unit);
    match &result {
        Ok(()) => log_event(unit, &format!("started in {:?}", started_at.elapsed())),
        Err(error) => log_event(unit, &format!("start failed: {error}")),
    }
    result
}

fn start_inactive(unit: &ServiceUnit) -> Result<(), ServiceError> {
    let failed = |result: &str, message: String| {
        write_failed(&unit.name, None, result);
        ServiceError::Failed(message)
    };
    let account = spawn::account(unit).map_err(|message| failed("resources", message))?;
    let environment = spawn::environment(unit, account.as_ref())
        .map_err(|message| failed("resources", message))?;
    make_runtime_directories(unit, account.as_ref())
        .map_err(|message| failed("resources", message))?;

    for exec in &unit.exec_start_pre {
        let mut command = spawn::command(unit, exec, account.as_ref(), &environment, &[])
            .map_err(|message| failed("resources", message))?;
        let status = command.status().map_err(|error| {
            failed(
                "exit-code",
                format!("cannot run `{}`: {error}", exec.argv[0]),
            )
        })?;
        if !status.success() && !exec.ignore_failure {
            return Err(failed("exit-code", control_process_failed(unit)));
        }
    }

    match unit.service_type {
        ServiceType::Oneshot => run_oneshot(unit, account.as_ref(), &environment),
        ServiceType::Forking => start_forking(unit, account.as_ref(), &environment),
        ServiceType::Notify => start_notify(unit, account.as_ref(), &environment),
        ServiceType::Simple | ServiceType::Exec => {
            start_simple(unit, account.as_ref(), &environment)
        }
    }
}

fn start_simple(
    unit: &ServiceUnit,
    account: Option<&Account>,
    environment: &std::collections::BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    let spawned = spawn::command(unit, &unit.exec_start[0], account, environment, &[])
        .and_then(|mut command| command.spawn().map_err(|error| error.to_string()));
    match spawned {
        Ok(child) => {
            write_active(&unit.name, child.id());
            Ok(())
        }
        // systemd reports a `Type=simple` unit as started before exec, so
        // a missing program fails the unit but not the start job.
        Err(message) if unit.service_type == ServiceType::Simple => {
            log_event(unit, &format!("main process failed to start: {message}"));
            write_failed(&unit.name, None, "exit-code");
            Ok(())
        }
        Err(message) => {
            write_failed(&unit.name, None, "exit-code");
            Err(ServiceError::Failed(format!(
                "{}\n{message}",
                control_process_failed(unit)
            )))
        }
    }
}

fn start_notify(
    unit: &ServiceUnit,
    account: Option<&Account>,
    environment: &std::collections::BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    let socket_path = Path::new(STATE_DIR).join("notify").join(&unit.name);
    let socket = bind_notify_socket(&socket_path).map_err(|message| {
        ServiceError::Failed(format!("cannot create the notify socket: {message}"))
    })?;
    let extra = [("NOTIFY_SOCKET", socket_path.display().to_string())];
    let result = spawn::command(unit, &unit.exec_start[0], account, environment, &extra)
        .and_then(|mut command| command.spawn().map_err(|error| error.to_string()));
    let mut child = match result {
        Ok(child) => child,
        Err(message) => {
            let _ = fs::remove_file(&socket_path);
            write_failed(&unit.name, None, "exit-code");
            return Err(ServiceError::Failed(format!(
                "{}\n{message}",
                main_process_failed(unit)
            )));
        }
    };

    let outcome = wait_for_ready(&socket, &mut child, unit.timeout_start);
    let _ = fs::remove_file(&socket_path);
    match outcome {
        ReadyOutcome::Ready => {
            write_active(&unit.name, child.id());
            Ok(())
        }
        ReadyOutcome::Exited(status) => {
            write_failed(&unit.name, Some(child.id()), "exit-code");
            log_event(
                unit,
                &format!("main process exited before it was ready: {status}"),
            );
            Err(ServiceError::Failed(main_process_failed(unit)))
        }
        ReadyOutcome::TimedOut => {
            process::signal_group(child.id(), Signal::SIGKILL);
            let _ = child.wait();
            write_failed(&unit.name, Some(child.id()), "timeout");
            Err(ServiceError::Failed(format!(
                "Job for {} failed because a timeout was exceeded.\n{}",
                unit.name,
                see_status(unit)
            )))
        }
    }
}

enum ReadyOutcome {
    Ready,
    Exited(ExitStatus),
    TimedOut,
}

fn wait_for_ready(socket: &UnixDatagram, child: &mut Child, timeout: Duration) -> ReadyOutcome {
    let deadline = Instant::now() + timeout;
    let mut buffer = [0u8; 4096];
    loop {
        if let Ok(length) = socket.recv(&mut buffer) {
            let message = String::from_utf8_lossy(&buffer[..length]);
            if message.lines().any(|line| line == "READY=1") {
                return ReadyOutcome::Ready;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            return ReadyOutcome::Exited(status);
        }
        if Instant::now() >= deadline {
            return ReadyOutcome::TimedOut;
        }
    }
}

fn bind_notify_socket(path: &Path) -> Result<UnixDatagram, String> {
    let dir = path.parent().expect("the notify socket path has a parent");
    fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    let _ = fs::remove_file(path);
    let socket = UnixDatagram::bind(path).map_err(|error| error.to_string())?;
    // Services that drop privileges (MariaDB runs as `mysql`) must be able
    // to send, as with systemd's world-writable notify socket.
    fs::set_permissions(path, fs::Permissions::from_mode(0o777))
        .map_err(|error| error.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|error| error.to_string())?;
    Ok(socket)
}

fn start_forking(
    unit: &ServiceUnit,
    account: Option<&Account>,
    environment: &std::collections::BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    let failed = |message: String| {
        write_failed(&unit.name, None, "exit-code");
        ServiceError::Failed(message)
    };
    let pid_file = unit.pid_file.clone().map(PathBuf::from);
    if let Some(pid_file) = &pid_file {
        let _ = fs::remove_file(pid_file);
    }
    let status = spawn::command(unit, &unit.exec_start[0], account, environment, &[])
        .and_then(|mut command| command.status().map_err(|error| error.to_string()))
        .map_err(|message| failed(format!("{}\n{message}", control_process_failed(unit))))?;
    if !status.success() {
        return Err(failed(control_process_failed(unit)));
    }

    let Some(pid_file) = pid_file else {
        return Err(failed(format!(
            "{} has `Type=forking` without `PIDFile=`, which the lab cannot track",
            unit.name
        )));
    };
    // The daemon writes its PID file after it forked, so wait for it.
    let mut main_pid = None;
    process::wait_until(unit.timeout_start, || {
        main_pid = read_pid_file(&pid_file).filter(|pid| process::is_running(*pid));
        main_pid.is_some()
    });
    match main_pid {
        Some(pid) => {
            write_active(&unit.name, pid);
            Ok(())
        }
        None => Err(failed(format!(
            "Job for {} failed because the PID file {} did not name a running process.",
            unit.name,
            pid_file.display()
        ))),
    }
}

fn run_oneshot(
    unit: &ServiceUnit,
    account: Option<&Account>,
    environment: &std::collections::BTreeMap<String, String>,
) -> Result<(), ServiceError> {
    for exec in &unit.exec_start {
        let status = spawn::command(unit, exec, account, environment, &[])
            .and_then(|mut command| command.status().map_err(|error| error.to_string()));
        let succeeded = matches!(&status, Ok(status) if status.success());
        if !succeeded && !exec.ignore_failure {
            write_failed(&unit.name, None, "exit-code");
            return Err(ServiceError::Failed(control_process_failed(unit)));
        }
    }
    write_record(&unit.name, ActiveState::Inactive, None, None);
    Ok(())
}

/// Stop `unit`: its stop signal, then SIGKILL after `TimeoutStopSec=`.
pub fn stop(unit: &ServiceUnit) -> Result<(), ServiceError> {
    let (state, record) = active_state(&unit.name);
    if state == ActiveState::Active
        && let Some(pid) = record.as_ref().and_then(|record| record.main_pid)
    {
        terminate(unit, pid);
        log_event(unit, "stopped");
    } else {
        stop_leftovers(unit, record.as_ref());
    }
    remove_runtime_directories(unit);
    write_record(&unit.name, ActiveState::Inactive, None, None);
    Ok(())
}

fn terminate(unit: &ServiceUnit, pid: u32) {
    let group = process::stat(pid).map_or(pid, |stat| stat.process_group);
    match unit.kill_mode {
        KillMode::ControlGroup => process::signal_group(group, unit.kill_signal),
        KillMode::Mixed | KillMode::Process => process::signal(pid, unit.kill_signal),
    }
    let gone = |include_group: bool| {
        !process::is_running(pid) && (!include_group || process::group_members(group).is_empty())
    };
    let include_group = unit.kill_mode != KillMode::Process;
    wait_or_kill(
        unit,
        || gone(include_group),
        || {
            if include_group {
                process::signal_group(group, Signal::SIGKILL);
            } else {
                process::signal(pid, Signal::SIGKILL);
            }
        },
    );
}

/// Wait up to `TimeoutStopSec=` until `gone` returns true, then run `kill`
/// and wait a short grace period more.
fn wait_or_kill(unit: &ServiceUnit, gone: impl Fn() -> bool, kill: impl FnOnce()) {
    if process::wait_until(unit.timeout_stop, &gone) {
        return;
    }
    log_event(unit, "stop timed out; sending SIGKILL");
    kill();
    process::wait_until(KILL_GRACE, gone);
}

/// Stop what a dead main process left in its process group, such as
/// Gunicorn workers whose master was killed. systemd does this as soon as
/// the main process dies; the stand-in does it on the next start or stop.
fn stop_leftovers(unit: &ServiceUnit, record: Option<&UnitRecord>) {
    // The main process led its own session, so its pid is the group id.
    // POSIX forbids reusing a pid while a process group with that id exists.
    let Some(group) = record.and_then(|record| record.main_pid) else {
        return;
    };
    let empty = || process::group_members(group).is_empty();
    if unit.kill_mode == KillMode::Process || empty() {
        return;
    }

    log_event(unit, "stopping processes left by the dead main process");
    process::signal_group(group, unit.kill_signal);
    wait_or_kill(unit, empty, || {
        process::signal_group(group, Signal::SIGKILL)
    });
}

/// Run the unit's `ExecReload=` commands with `$MAINPID` set.
pub fn reload(unit: &ServiceUnit) -> Result<(), ServiceError> {
    if unit.exec_reload.is_empty() {
        return Err(ServiceError::NotApplicable(format!(
            "Failed to reload {0}: Job type reload is not applicable for unit {0}.",
            unit.name
        )));
    }
    let (state, record) = active_state(&unit.name);
    let main_pid = record.and_then(|record| record.main_pid);
    let (ActiveState::Active, Some(main_pid)) = (state, main_pid) else {
        return Err(ServiceError::Failed(format!(
            "{} is not active, cannot reload.",
            unit.name
        )));
    };

    let account = spawn::account(unit).map_err(ServiceError::Failed)?;
    let environment = spawn::environment(unit, account.as_ref()).map_err(ServiceError::Failed)?;
    let extra = [("MAINPID", main_pid.to_string())];
    for exec in &unit.exec_reload {
        let status = spawn::command(unit, exec, account.as_ref(), &environment, &extra)
            .and_then(|mut command| command.status().map_err(|error| error.to_string()));
        let succeeded = matches!(&status, Ok(status) if status.success());
        if !succeeded && !exec.ignore_failure {
            log_event(unit, "reload failed");
            return Err(ServiceError::Failed(format!(
                "Job for {} failed.\n{}",
                unit.name,
                see_status(unit)
            )));
        }
    }
    log_event(unit, "reloaded");
    Ok(())
}

fn make_runtime_directories(unit: &ServiceUnit, account: Option<&Account>) -> Result<(), String> {
    for name in &unit.runtime_directories {
        let path = Path::new("/run").join(name);
        fs::create_dir_all(&path)
            .map_err(|error| format!("cannot create `{}`: {error}", path.display()))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .map_err(|error| error.to_string())?;
        if let Some(account) = account {
            chown(&path, Some(account.uid), Some(account.gid))
                .map_err(|error| error.to_string())?;
        }
    }
    Ok(())
}

fn remove_runtime_directories(unit: &ServiceUnit) {
    for name in &unit.runtime_directories {
        let _ = fs::remove_dir_all(Path::new("/run").join(name));
    }
}

fn read_pid_file(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn control_process_failed(unit: &ServiceUnit) -> String {
    format!(
        "Job for {} failed because the control process exited with error code.\n{}",
        unit.name,
        see_status(unit)
    )
}

fn main_process_failed(unit: &ServiceUnit) -> String {
    format!(
        "Job for {} failed because the service did not take the steps required by its unit configuration.\n{}",
        unit.name,
        see_status(unit)
    )
}

fn see_status(unit: &ServiceUnit) -> String {
    format!(
        "See \"systemctl status {0}\" and \"{1}\" for details.",
        unit.name,
        spawn::log_path(&unit.name).display()
    )
}

fn record_path(unit_name: &str) -> PathBuf {
    Path::new(STATE_DIR).join(format!("{unit_name}.json"))
}

pub fn read_record(unit_name: &str) -> Option<UnitRecord> {
    let text = fs::read_to_string(record_path(unit_name)).ok()?;
    serde_json::from_str(&text).ok()
}

fn write_active(unit_name: &str, pid: u32) {
    let start_time = process::stat(pid).map(|stat| stat.start_time);
    write_record(unit_name, ActiveState::Active, Some(pid), start_time);
}

fn write_failed(unit_name: &str, pid: Option<u32>, result: &str) {
    let record = UnitRecord {
        state: ActiveState::Failed,
        main_pid: pid,
        start_time: None,
        since: crate::sandbox::lab::record::now(),
        result: Some(result.to_string()),
    };
    store_record(unit_name, &record);
}

fn write_record(unit_name: &str, state: ActiveState, pid: Option<u32>, start_time: Option<u64>) {
    let record = UnitRecord {
        state,
        main_pid: pid,
        start_time,
        since: crate::sandbox::lab::record::now(),
        result: None,
    };
    store_record(unit_name, &record);
}

fn store_record(unit_name: &str, record: &UnitRecord) {
    let _ = fs::create_dir_all(STATE_DIR);
    let text = serde_json::to_string(record).unwrap_or_default();
    if let Err(error) =
        crate::sandbox::lab::record::write_atomic(&record_path(unit_name), text.as_bytes(), 0o644)
    {
        eprintln!("systemctl: cannot record the state of {unit_name}: {error:#}");
    }
}

/// Append a line about `unit` to its log file, as the journal would hold.
fn log_event(unit: &ServiceUnit, message: &str) {
    if let Ok(mut file) = spawn::open_log(&unit.name) {
        let _ = writeln!(
            file,
            "{} systemd[1]: {}: {message}",
            crate::sandbox::lab::record::now(),
            unit.name
        );
    }
}
