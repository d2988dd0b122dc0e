//! The `systemctl` stand-in inside lab hosts.
//!
//! Hosts have no systemd, so the real `systemctl` fails there. Each host's
//! `/usr/bin/systemctl` runs this instead: the verbs wwctl uses, for NGINX,
//! MariaDB (aliases `mysql`, `mysqld`), sshd (alias `sshd`) and the service
//! units under `/etc/systemd/system`, with the messages and exit codes of
//! systemd 252 (Debian 12). Every call is logged to `/var/log/systemctl.log`
//! so tests can check which actions a run took.
//!
//! Exit codes follow systemd 252: 0 success; 1 failure; 3 inactive (and a
//! reload the unit does not support); 4 `status` of an unknown unit; 5 a
//! job on an unknown unit. In systemd 252 `is-active` and `is-failed` of an
//! unknown unit print `inactive` and return 3, and `is-enabled` returns 1;
//! systemd 253 and later return 4 for all three.

pub mod service;
pub mod spawn;
pub mod status;
pub mod unit_file;
pub mod units;

use std::fs;
use std::io::Write;
use std::os::unix::fs as unix_fs;
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use service::{ActiveState, ServiceError};
use unit_file::ServiceUnit;
use units::{Lookup, UNIT_DIR};

/// The log file that records every call.
pub const CALL_LOG: &str = "/var/log/systemctl.log";

/// The file holding the daemon-reload time: its modification time.
const DAEMON_RELOAD_STAMP: &str = "/run/wwctl-systemctl/daemon-reload";

/// systemctl's exit codes (LSB).
pub mod exit {
    pub const SUCCESS: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const NOT_RUNNING: i32 = 3;
    pub const NOT_IMPLEMENTED: i32 = 3;
    pub const STATUS_UNKNOWN: i32 = 4;
    pub const NOT_INSTALLED: i32 = 5;
}

/// Options accepted before or after the verb.
#[derive(Debug, Default)]
struct Options {
    quiet: bool,
    now: bool,
}

/// Run the stand-in with `args` (everything after `systemctl`) and return
/// its exit code.
pub fn run(args: &[String]) -> i32 {
    let code = dispatch(args);
    log_call(args, code);
    code
}

fn dispatch(args: &[String]) -> i32 {
    let mut options = Options::default();
    let mut words = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-q" | "--quiet" => options.quiet = true,
            "--now" => options.now = true,
            "--no-pager" | "--no-block" | "--no-ask-password" | "--system" | "--full" | "-l"
            | "--plain" | "--no-legend" | "--no-reload" => {}
            "-n" | "--lines" => {
                iter.next();
            }
            flag if flag.starts_with("--lines=") || flag.starts_with("--type=") => {}
            flag if flag.starts_with('-') => {
                eprintln!("systemctl: unrecognized option '{flag}'");
                return exit::FAILURE;
            }
            word => words.push(word.to_string()),
        }
    }
    let Some((verb, unit_args)) = words.split_first() else {
        eprintln!("systemctl: this lab stand-in needs a verb, such as `status nginx`");
        return exit::FAILURE;
    };
    let names: Vec<String> = unit_args
        .iter()
        .map(|arg| units::canonical_name(arg))
        .collect();

    match verb.as_str() {
        "daemon-reload" => daemon_reload(),
        "set-environment" | "unset-environment" | "reset-failed" => exit::SUCCESS,
        "is-active" => is_active(&names, &options),
        "is-failed" => is_failed(&names, &options),
        "is-enabled" => is_enabled(&names, &options),
        "status" => status::show(&names),
        "cat" => cat(&names),
        "enable" => with_lock(|| enable(&names, &options)),
        "disable" => with_lock(|| disable(&names, &options)),
        "start"
        | "stop"
        | "restart"
        | "reload"
        | "reload-or-restart"
        | "try-restart"
        | "try-reload-or-restart"
        | "condrestart" => with_lock(|| jobs(verb, &names)),
        other => {
            eprintln!("Unknown command verb '{other}'.");
            exit::FAILURE
        }
    }
}

/// Run `work` holding the host-wide stand-in lock, so two calls do not
/// start the same unit twice.
fn with_lock(work: impl FnOnce() -> i32) -> i32 {
    let _ = fs::create_dir_all(service::STATE_DIR);
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(Path::new(service::STATE_DIR).join("lock"));
    let _guard = match lock.map(|file| Flock::lock(file, FlockArg::LockExclusive)) {
        Ok(Ok(guard)) => guard,
        _ => {
            eprintln!("systemctl: cannot lock {}/lock", service::STATE_DIR);
            return exit::FAILURE;
        }
    };
    work()
}

/// Start, stop, restart or reload each unit; the exit code is the first
/// failure's.
fn jobs(verb: &str, names: &[String]) -> i32 {
    if names.is_empty() {
        eprintln!("Too few arguments.");
        return exit::FAILURE;
    }
    let mut code = exit::SUCCESS;
    for name in names {
        let result = match units::lookup(name) {
            Lookup::Found(unit) => run_job(verb, &unit),
            Lookup::NotFound(name) => {
                let action = job_action(verb);
                let reason = if verb == "stop" {
                    "not loaded"
                } else {
                    "not found"
                };
                eprintln!("Failed to {action} {name}: Unit {name} {reason}.");
                exit::NOT_INSTALLED
            }
            Lookup::Invalid(name, error) => {
                eprintln!("{error}");
                eprintln!(
                    "Failed to {} {name}: Unit {name} has a bad unit file setting.",
                    job_action(verb)
                );
                exit::FAILURE
            }
        };
        if code == exit::SUCCESS {
            code = result;
        }
    }
    code
}

fn job_action(verb: &str) -> &'static str {
    match verb {
        "stop" => "stop",
        "reload" => "reload",
        "start" => "start",
        _ => "restart",
    }
}

fn run_job(verb: &str, unit: &ServiceUnit) -> i32 {
    warn_if_changed_on_disk(unit);
    let active = service::active_state(&unit.name).0 == ActiveState::Active;
    let result = match verb {
        "start" => service::start(unit),
        "stop" => service::stop(unit),
        "restart" => service::stop(unit).and_then(|()| service::start(unit)),
        "reload" => service::reload(unit),
        "try-restart" | "condrestart" if !active => Ok(()),
        "try-restart" | "condrestart" => service::stop(unit).and_then(|()| service::start(unit)),
        "try-reload-or-restart" if !active => Ok(()),
        "reload-or-restart" | "try-reload-or-restart" => {
            if active && !unit.exec_reload.is_empty() {
                service::reload(unit)
            } else {
                service::stop(unit).and_then(|()| service::start(unit))
            }
        }
        _ => unreachable!("the verb list in dispatch matches run_job"),
    };
    match result {
        Ok(()) => exit::SUCCESS,
        Err(ServiceError::Failed(message)) => {
            eprintln!("{message}");
            exit::FAILURE
        }
        Err(ServiceError::NotApplicable(message)) => {
            eprintln!("{message}");
            exit::NOT_IMPLEMENTED
        }
    }
}

fn is_active(names: &[String], options: &Options) -> i32 {
    print_states(
        names,
        options,
        |state| state == ActiveState::Active,
        exit::NOT_RUNNING,
    )
}

fn is_failed(names: &[String], options: &Options) -> i32 {
    print_states(
        names,
        options,
        |state| state == ActiveState::Failed,
        exit::FAILURE,
    )
}

/// Print each unit's state; succeed if any is in the wanted state. Unknown
/// units are `inactive`, as systemd 252 reports them.
fn print_states(
    names: &[String],
    options: &Options,
    wanted: impl Fn(ActiveState) -> bool,
    otherwise: i32,
) -> i32 {
    if names.is_empty() {
        eprintln!("Too few arguments.");
        return exit::FAILURE;
    }
    let mut any = false;
    for name in names {
        let state = match units::lookup(name) {
            Lookup::Found(_) => service::active_state(name).0,
            Lookup::NotFound(_) | Lookup::Invalid(..) => ActiveState::Inactive,
        };
        any |= wanted(state);
        if !options.quiet {
            println!("{}", state.as_str());
        }
    }
    if any { exit::SUCCESS } else { otherwise }
}

/// Return a unit's enablement state: `enabled` with a link in one of its
/// `WantedBy=` targets' `.wants` folders, `static` without `[Install]`,
/// otherwise `disabled`.
pub fn enabled_state(unit: &ServiceUnit) -> &'static str {
    if unit.wanted_by.is_empty() {
        return "static";
    }
    let linked = unit
        .wanted_by
        .iter()
        .any(|target| wants_link(target, &unit.name).symlink_metadata().is_ok());
    if linked { "enabled" } else { "disabled" }
}

fn wants_link(target: &str, unit_name: &str) -> std::path::PathBuf {
    Path::new(UNIT_DIR)
        .join(format!("{target}.wants"))
        .join(unit_name)
}

fn is_enabled(names: &[String], options: &Options) -> i32 {
    let mut any = false;
    for name in names {
        match units::lookup(name) {
            Lookup::Found(unit) => {
                let state = enabled_state(&unit);
                any |= state != "disabled";
                if !options.quiet {
                    println!("{state}");
                }
            }
            _ => {
                eprintln!("Failed to get unit file state for {name}: No such file or directory");
                return exit::FAILURE;
            }
        }
    }
    if any { exit::SUCCESS } else { exit::FAILURE }
}

fn enable(names: &[String], options: &Options) -> i32 {
    for name in names {
        let unit = match units::lookup(name) {
            Lookup::Found(unit) => unit,
            _ => {
                eprintln!("Failed to enable unit: Unit file {name} does not exist.");
                return exit::FAILURE;
            }
        };
        if unit.wanted_by.is_empty() {
            eprintln!(
                "The unit files have no installation config (WantedBy=, RequiredBy=, Also=,\nAlias= settings in the [Install] section, and DefaultInstance= for template\nunits). This means they are not meant to be enabled or disabled using systemctl."
            );
        }
        for target in &unit.wanted_by {
            let link = wants_link(target, &unit.name);
            if link.symlink_metadata().is_ok() {
                continue;
            }
            let created = link
                .parent()
                .map(fs::create_dir_all)
                .unwrap_or(Ok(()))
                .and_then(|()| unix_fs::symlink(&unit.path, &link));
            if let Err(error) = created {
                eprintln!(
                    "Failed to enable unit: cannot create {}: {error}",
                    link.display()
                );
                return exit::FAILURE;
            }
            eprintln!(
                "Created symlink {} \u{2192} {}.",
                link.display(),
                unit.path.display()
            );
        }
        if options.now && run_job("start", &unit) != exit::SUCCESS {
            return exit::FAILURE;
        }
    }
    exit::SUCCESS
}

fn disable(names: &[String], options: &Options) -> i32 {
    for name in names {
        let unit = match units::lookup(name) {
            Lookup::Found(unit) => unit,
            _ => {
                eprintln!("Failed to disable unit: Unit file {name} does not exist.");
                return exit::FAILURE;
            }
        };
        for target in &unit.wanted_by {
            let link = wants_link(target, &unit.name);
            if fs::remove_file(&link).is_ok() {
                eprintln!("Removed \"{}\".", link.display());
            }
        }
        if options.now && run_job("stop", &unit) != exit::SUCCESS {
            return exit::FAILURE;
        }
    }
    exit::SUCCESS
}

fn cat(names: &[String]) -> i32 {
    for name in names {
        match units::lookup(name) {
            Lookup::Found(unit) => match fs::read_to_string(&unit.path) {
                Ok(text) => println!("# {}\n{text}", unit.path.display()),
                Err(error) => {
                    eprintln!("Failed to read {}: {error}", unit.path.display());
                    return exit::FAILURE;
                }
            },
            _ => {
                eprintln!("No files found for {name}.");
                return exit::FAILURE;
            }
        }
    }
    exit::SUCCESS
}

/// Record the daemon-reload time; the stand-in reads unit files on every
/// call, so this only lets it warn like systemd about unit files changed
/// since.
fn daemon_reload() -> i32 {
    mark_daemon_reload();
    exit::SUCCESS
}

/// Set the daemon-reload time to now (also done at boot).
pub fn mark_daemon_reload() {
    let _ = fs::create_dir_all(service::STATE_DIR);
    let _ = fs::write(DAEMON_RELOAD_STAMP, b"");
}

fn warn_if_changed_on_disk(unit: &ServiceUnit) {
    let modified = |path: &Path| {
        fs::metadata(path)
            .and_then(|metadata| metadata.modified())
            .ok()
    };
    let (Some(unit_time), Some(reload_time)) = (
        modified(&unit.path),
        modified(Path::new(DAEMON_RELOAD_STAMP)),
    ) else {
        return;
    };
    if unit.path.starts_with(UNIT_DIR) && unit_time > reload_time {
        eprintln!(
            "Warning: The unit file, source configuration file or drop-ins of {} changed on disk. Run 'systemctl daemon-reload' to reload units.",
            unit.name
        );
    }
}

fn log_call(args: &[String], code: i32) {
    let line = format!(
        "{} systemctl {} -> {code}\n",
        crate::sandbox::lab::record::now(),
        args.join(" ")
    );
    if let Ok(mut file) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(CALL_LOG)
    {
        let _ = file.write_all(line.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::{dispatch, exit};

    fn args(words: &[&str]) -> Vec<String> {
        words.iter().map(|word| word.to_string()).collect()
    }

    #[test]
    fn dispatch_rejects_unknown_verb_and_option() {
        assert_eq!(dispatch(&args(&["frobnicate", "nginx"])), exit::FAILURE);
        assert_eq!(dispatch(&args(&["--frobnicate", "status"])), exit::FAILURE);
        assert_eq!(dispatch(&args(&[])), exit::FAILURE);
    }

    #[test]
    fn jobs_need_a_unit() {
        assert_eq!(dispatch(&args(&["is-active"])), exit::FAILURE);
    }
}
