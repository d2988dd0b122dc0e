//! Starting and stopping a host's services as a whole: at boot, for a
//! droplet's `power_on`, and for its graceful `shutdown`. Runs inside the
//! host.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use nix::sys::signal::Signal;

use crate::sandbox::lab::process;
use crate::sandbox::lab::systemctl::service::{self, ActiveState};
use crate::sandbox::lab::systemctl::units::{self, BUILTIN_UNITS, Lookup};
use crate::sandbox::lab::systemctl::{enabled_state, mark_daemon_reload};

/// How long the remaining processes get after SIGTERM at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Start the enabled built-in units and app units, in parallel, holding the
/// stand-in's lock. Returns a line per unit that failed.
pub fn start_boot_units() -> Vec<String> {
    let mut names: Vec<String> = BUILTIN_UNITS.iter().map(|name| name.to_string()).collect();
    names.extend(units::installed_units());

    let mut startable = Vec::new();
    let mut failures = Vec::new();
    for name in names {
        match units::lookup(&name) {
            Lookup::Found(unit) if enabled_state(&unit) == "enabled" => startable.push(unit),
            Lookup::Found(_) | Lookup::NotFound(_) => {}
            Lookup::Invalid(name, error) => failures.push(format!("{name}: {error}")),
        }
    }

    let results: Vec<(String, Result<(), service::ServiceError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = startable
            .iter()
            .map(|unit| scope.spawn(move || (unit.name.clone(), service::start(unit))))
            .collect();
        handles
            .into_iter()
            .filter_map(|handle| handle.join().ok())
            .collect()
    });
    for (name, result) in results {
        if let Err(error) = result {
            failures.push(format!("{name}: {error}"));
        }
    }
    failures
}

/// Power on: clear what a reboot clears in `/run`, then start the enabled
/// units. Prints a line per failed unit and returns whether all started.
pub fn power_on() -> bool {
    reset_run();
    mark_daemon_reload();
    let failures = start_boot_units();
    for failure in &failures {
        eprintln!("{failure}");
    }
    failures.is_empty()
}

/// Graceful shutdown: stop app units, NGINX, MariaDB and sshd in that order,
/// then end every other process except PID 1 and this one.
pub fn shutdown() {
    let mut names = units::installed_units();
    names.extend(BUILTIN_UNITS.iter().rev().map(|name| name.to_string()));
    for name in names {
        if let Lookup::Found(unit) = units::lookup(&name)
            && service::active_state(&name).0 == ActiveState::Active
        {
            let _ = service::stop(&unit);
        }
    }

    let me = std::process::id();
    let others = || -> Vec<u32> {
        process::all_pids()
            .into_iter()
            .filter(|pid| *pid != 1 && *pid != me && process::is_running(*pid))
            .collect()
    };
    for pid in others() {
        process::signal(pid, Signal::SIGTERM);
    }
    if !process::wait_until(SHUTDOWN_GRACE, || others().is_empty()) {
        for pid in others() {
            process::signal(pid, Signal::SIGKILL);
        }
    }
}

/// Remove what a reboot would not keep in `/run`: PID files, unit states
/// and runtime folders. cloud-init's and PID 1's records stay.
fn reset_run() {
    let Ok(entries) = fs::read_dir("/run") else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        if name == "cloud-init" || name == "wwctl-init" {
            continue;
        }
        let path = entry.path();
        let _ = if path.is_dir() && !path.is_symlink() {
            fs::remove_dir_all(&path)
        } else {
            fs::remove_file(&path)
        };
    }
    let lock = Path::new("/run/lock");
    if fs::create_dir_all(lock).is_ok() {
        let _ = fs::set_permissions(lock, fs::Permissions::from_mode(0o1777));
    }
}
