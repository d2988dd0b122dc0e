//! The units of a lab host: NGINX, MariaDB and sshd, described the way
//! Debian's packages run them, and the service units under
//! `/etc/systemd/system` that wwctl installs.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::Signal;

use super::unit_file::{
    DEFAULT_TIMEOUT, ExecCommand, KillMode, ServiceType, ServiceUnit, UnitFileError,
};

/// The folder wwctl installs its units in.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// The units every host has, in the order a host starts them at boot.
pub const BUILTIN_UNITS: &[&str] = &["ssh.service", "mariadb.service", "nginx.service"];

/// The outcome of looking up a unit by name.
#[derive(Debug)]
pub enum Lookup {
    Found(Box<ServiceUnit>),
    /// No such unit; the canonical name is kept for messages.
    NotFound(String),
    /// The unit file exists but has an error.
    Invalid(String, UnitFileError),
}

/// Return the canonical name of a unit argument, with `.service` added and
/// aliases resolved (`mysql` and `mysqld` to `mariadb`, `sshd` to `ssh`).
pub fn canonical_name(argument: &str) -> String {
    let name = if argument.contains('.') {
        argument.to_string()
    } else {
        format!("{argument}.service")
    };
    match name.as_str() {
        "mysql.service" | "mysqld.service" => "mariadb.service".to_string(),
        "sshd.service" => "ssh.service".to_string(),
        _ => name,
    }
}

/// Find a unit by its canonical name.
pub fn lookup(name: &str) -> Lookup {
    if let Some(unit) = builtin(name) {
        return Lookup::Found(Box::new(unit));
    }
    let path = Path::new(UNIT_DIR).join(name);
    if !name.ends_with(".service") || !path.is_file() {
        return Lookup::NotFound(name.to_string());
    }
    match ServiceUnit::load(name, &path) {
        Ok(unit) => Lookup::Found(Box::new(unit)),
        Err(error) => Lookup::Invalid(name.to_string(), error),
    }
}

/// List the service units wwctl installed: regular files under
/// `/etc/systemd/system` (alias symlinks are skipped).
pub fn installed_units() -> Vec<String> {
    let Ok(entries) = fs::read_dir(UNIT_DIR) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".service") && builtin(name).is_none())
        .collect();
    names.sort();
    names
}

fn builtin(name: &str) -> Option<ServiceUnit> {
    match name {
        "nginx.service" => Some(nginx()),
        "mariadb.service" => Some(mariadb()),
        "ssh.service" => Some(ssh()),
        _ => None,
    }
}

fn command(argv: &[&str]) -> ExecCommand {
    ExecCommand {
        argv: argv.iter().map(|word| word.to_string()).collect(),
        ignore_failure: false,
        privileged: false,
    }
}

fn base(name: &str, description: &str, service_type: ServiceType) -> ServiceUnit {
    ServiceUnit {
        name: name.to_string(),
        path: PathBuf::from("/lib/systemd/system").join(name),
        description: Some(description.to_string()),
        service_type,
        exec_start_pre: Vec::new(),
        exec_start: Vec::new(),
        exec_reload: Vec::new(),
        user: None,
        group: None,
        working_directory: None,
        environment: Vec::new(),
        environment_files: Vec::new(),
        pid_file: None,
        runtime_directories: Vec::new(),
        kill_mode: KillMode::ControlGroup,
        kill_signal: Signal::SIGTERM,
        timeout_start: DEFAULT_TIMEOUT,
        timeout_stop: DEFAULT_TIMEOUT,
        wanted_by: vec!["multi-user.target".to_string()],
    }
}

/// NGINX as Debian 12's `nginx.service` runs it, with a config test before
/// a reload so a broken config fails the reload.
fn nginx() -> ServiceUnit {
    let daemon = "daemon on; master_process on;";
    let mut unit = base(
        "nginx.service",
        "A high performance web server and a reverse proxy server",
        ServiceType::Forking,
    );
    unit.pid_file = Some(nginx_pid_file());
    unit.exec_start_pre = vec![command(&["/usr/sbin/nginx", "-t", "-q", "-g", daemon])];
    unit.exec_start = vec![command(&["/usr/sbin/nginx", "-g", daemon])];
    unit.exec_reload = vec![
        command(&["/usr/sbin/nginx", "-t", "-q", "-g", daemon]),
        command(&["/usr/sbin/nginx", "-g", daemon, "-s", "reload"]),
    ];
    unit.kill_mode = KillMode::Mixed;
    unit.kill_signal = Signal::SIGQUIT;
    unit.timeout_stop = Duration::from_secs(5);
    unit
}

/// MariaDB as its Debian unit runs it (as `mysql`, `Type=notify`), without
/// the Galera recovery and upgrade hooks, and with its error log in
/// `/var/log/mysql` because nothing collects stderr.
fn mariadb() -> ServiceUnit {
    let mut unit = base(
        "mariadb.service",
        "MariaDB 10.11 database server",
        ServiceType::Notify,
    );
    unit.user = Some("mysql".to_string());
    unit.group = Some("mysql".to_string());
    unit.runtime_directories = vec!["mysqld".to_string()];
    unit.exec_start = vec![command(&[
        "/usr/sbin/mariadbd",
        "--log-error=/var/log/mysql/error.log",
    ])];
    unit.exec_reload = vec![command(&["/bin/kill", "-HUP", "$MAINPID"])];
    unit.timeout_stop = Duration::from_secs(900);
    unit
}

/// sshd as Debian's `ssh.service` runs it, logging to `/var/log/sshd.log`
/// (no syslog in a host). `KillMode=process` keeps open sessions alive
/// across a restart.
fn ssh() -> ServiceUnit {
    let mut unit = base(
        "ssh.service",
        "OpenBSD Secure Shell server",
        ServiceType::Notify,
    );
    unit.environment_files = vec!["-/etc/default/ssh".to_string()];
    unit.runtime_directories = vec!["sshd".to_string()];
    unit.exec_start_pre = vec![command(&["/usr/sbin/sshd", "-t"])];
    unit.exec_start = vec![command(&[
        "/usr/sbin/sshd",
        "-D",
        "-E",
        "/var/log/sshd.log",
        "$SSHD_OPTS",
    ])];
    unit.exec_reload = vec![
        command(&["/usr/sbin/sshd", "-t"]),
        command(&["/bin/kill", "-HUP", "$MAINPID"]),
    ];
    unit.kill_mode = KillMode::Process;
    unit
}

/// Read the `pid` directive of the host's `nginx.conf`, or return Debian's default.
fn nginx_pid_file() -> String {
    let text = fs::read_to_string("/etc/nginx/nginx.conf").unwrap_or_default();
    text.lines()
        .map(str::trim)
        .find_map(|line| {
            let rest = line.strip_prefix("pid")?;
            rest.starts_with(char::is_whitespace)
                .then(|| rest.trim().trim_end_matches(';').trim().to_string())
        })
        .unwrap_or_else(|| "/run/nginx.pid".to_string())
}

#[cfg(test)]
mod tests {
    use super::canonical_name;

    #[test]
    fn canonical_name_adds_suffix_and_resolves_aliases() {
        assert_eq!(canonical_name("nginx"), "nginx.service");
        assert_eq!(canonical_name("mysql"), "mariadb.service");
        assert_eq!(canonical_name("mysqld.service"), "mariadb.service");
        assert_eq!(canonical_name("sshd"), "ssh.service");
        assert_eq!(
            canonical_name("gunicorn-wwdtmapi"),
            "gunicorn-wwdtmapi.service"
        );
    }
}
