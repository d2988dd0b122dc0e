//! Building a service's process the way systemd would: a clean
//! environment, the unit's user, groups and working folder, its own
//! session, and output appended to the unit's log file (the host has no
//! journal).

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::unistd::{Gid, Group, Uid, User, getgrouplist, setgid, setgroups, setsid, setuid};

use super::unit_file::{
    ExecCommand, ServiceUnit, expand_specifiers, expand_variables, parse_environment_file,
};

/// The folder for the output of each unit's processes, one file per unit.
pub const UNIT_LOG_DIR: &str = "/var/log/units";

/// The search path systemd gives services.
pub const SERVICE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The account a unit's processes run as.
#[derive(Clone, Debug)]
pub struct Account {
    pub uid: Uid,
    pub gid: Gid,
    pub groups: Vec<Gid>,
    pub name: String,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Resolve `User=` and `Group=` inside the host, or `None` for root.
pub fn account(unit: &ServiceUnit) -> Result<Option<Account>, String> {
    let Some(user_name) = &unit.user else {
        if let Some(group) = &unit.group {
            return Err(format!(
                "`Group={group}` without `User=` is not supported by the lab"
            ));
        }
        return Ok(None);
    };
    let user = User::from_name(user_name)
        .map_err(|error| format!("cannot look up user `{user_name}`: {error}"))?
        .ok_or_else(|| format!("user `{user_name}` does not exist on this host"))?;
    let gid = match &unit.group {
        Some(group_name) => {
            Group::from_name(group_name)
                .map_err(|error| format!("cannot look up group `{group_name}`: {error}"))?
                .ok_or_else(|| format!("group `{group_name}` does not exist on this host"))?
                .gid
        }
        None => user.gid,
    };
    let c_name = CString::new(user_name.as_str()).map_err(|_| "invalid user name".to_string())?;
    let groups = getgrouplist(&c_name, gid)
        .map_err(|error| format!("cannot list the groups of `{user_name}`: {error}"))?;
    Ok(Some(Account {
        uid: user.uid,
        gid,
        groups,
        name: user.name,
        home: user.dir,
        shell: user.shell,
    }))
}

/// Build the environment of a unit's processes: the base variables, then
/// `EnvironmentFile=` files, then `Environment=`.
pub fn environment(
    unit: &ServiceUnit,
    account: Option<&Account>,
) -> Result<BTreeMap<String, String>, String> {
    let mut environment = BTreeMap::from([
        ("PATH".to_string(), SERVICE_PATH.to_string()),
        ("LANG".to_string(), "C.UTF-8".to_string()),
    ]);
    let (name, home, shell) = match account {
        Some(account) => (
            account.name.clone(),
            account.home.display().to_string(),
            account.shell.display().to_string(),
        ),
        None => (
            "root".to_string(),
            "/root".to_string(),
            "/bin/sh".to_string(),
        ),
    };
    if account.is_some() {
        environment.insert("USER".to_string(), name.clone());
        environment.insert("LOGNAME".to_string(), name);
        environment.insert("HOME".to_string(), home);
        environment.insert("SHELL".to_string(), shell);
    }

    for file in &unit.environment_files {
        let (optional, path) = match file.strip_prefix('-') {
            Some(path) => (true, path),
            None => (false, file.as_str()),
        };
        match fs::read_to_string(path) {
            Ok(text) => environment.extend(parse_environment_file(&text)),
            Err(_) if optional => {}
            Err(error) => return Err(format!("cannot read `EnvironmentFile={path}`: {error}")),
        }
    }
    environment.extend(unit.environment.iter().cloned());
    Ok(environment)
}

/// Build the process for one `Exec*=` command. `extra` adds variables such
/// as `MAINPID` or `NOTIFY_SOCKET`.
pub fn command(
    unit: &ServiceUnit,
    exec: &ExecCommand,
    account: Option<&Account>,
    base_environment: &BTreeMap<String, String>,
    extra: &[(&str, String)],
) -> Result<Command, String> {
    let mut environment = base_environment.clone();
    for (name, value) in extra {
        environment.insert(name.to_string(), value.clone());
    }

    let mut argv = Vec::with_capacity(exec.argv.len());
    for word in &exec.argv {
        argv.push(expand_specifiers(word, &unit.name)?);
    }
    let argv = expand_variables(&argv, &environment);
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| format!("a command of `{}` is empty after expansion", unit.name))?;
    let program = find_program(program)?;

    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .envs(&environment)
        .stdin(Stdio::null());

    let log = open_log(&unit.name)?;
    let log_copy = log.try_clone().map_err(|error| error.to_string())?;
    command.stdout(log).stderr(log_copy);

    let directory = working_directory(unit, account)?;
    command.current_dir(directory);

    let switch_to = if exec.privileged {
        None
    } else {
        account.cloned()
    };
    // SAFETY: the closure runs in the child between fork and exec. It only
    // makes async-signal-safe system calls (setsid, setgroups, setgid,
    // setuid) on values computed before the fork.
    unsafe {
        command.pre_exec(move || {
            setsid()?;
            if let Some(account) = &switch_to {
                setgroups(&account.groups)?;
                setgid(account.gid)?;
                setuid(account.uid)?;
            }
            Ok(())
        });
    }
    Ok(command)
}

/// Resolve a command name without a slash in the fixed service path, as
/// systemd does.
fn find_program(program: &str) -> Result<PathBuf, String> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    std::env::split_paths(SERVICE_PATH)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| format!("`{program}` was not found in {SERVICE_PATH}"))
}

fn working_directory(unit: &ServiceUnit, account: Option<&Account>) -> Result<PathBuf, String> {
    let Some(setting) = &unit.working_directory else {
        return Ok(PathBuf::from("/"));
    };
    let (optional, path) = match setting.strip_prefix('-') {
        Some(path) => (true, path),
        None => (false, setting.as_str()),
    };
    let path = if path == "~" {
        account.map_or(PathBuf::from("/root"), |account| account.home.clone())
    } else {
        PathBuf::from(path)
    };
    if path.is_dir() {
        Ok(path)
    } else if optional {
        Ok(PathBuf::from("/"))
    } else {
        Err(format!(
            "`WorkingDirectory={}` does not exist",
            path.display()
        ))
    }
}

/// Open the log file of a unit for appending.
pub fn open_log(unit_name: &str) -> Result<fs::File, String> {
    let path = log_path(unit_name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)
            .map_err(|error| format!("cannot create `{}`: {error}", dir.display()))?;
    }
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|error| format!("cannot open `{}`: {error}", path.display()))
}

pub fn log_path(unit_name: &str) -> PathBuf {
    Path::new(UNIT_LOG_DIR).join(format!("{unit_name}.log"))
}
