//! Applying user data inside a host, in cloud-init's order. Before the
//! services start come `bootcmd`, `write_files`, host keys, root's
//! authorized keys, `users` and `packages`. After them, in the final stage,
//! come deferred `write_files`, then `runcmd` or the user data script.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::unistd::{Group, User, chown};
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use super::config::{CloudConfig, UserData, UserSpec, WriteFile, parse};
use super::status::{OUTPUT_LOG, Status, log};
use crate::sandbox::lab::host_folder::{BootFile, USER_DATA};

/// Host key types cloud-init writes from `ssh_keys`.
const KEY_TYPES: &[&str] = &["rsa", "ecdsa", "ed25519"];

/// The folder, inside the host, for the scripts cloud-init runs.
const SCRIPT_DIR: &str = "/run/cloud-init/scripts";

/// Everything before the services start. Returns the status (still
/// `running`), already written to the status file.
pub fn init_stage(boot: &BootFile) -> Status {
    let mut status = Status::running();
    status.write();
    log(&format!(
        "init stage for droplet {} ({})",
        boot.droplet_id, boot.name
    ));

    let user_data = load_user_data(&mut status);
    let config = match &user_data {
        UserData::CloudConfig(config) => Some(config.as_ref()),
        _ => None,
    };

    if let Some(config) = config {
        if !config.bootcmd.is_empty() {
            run_script("bootcmd", &script_text(&config.bootcmd), &mut status);
        }
        write_files(
            config.write_files.iter().filter(|file| !file.defer),
            &mut status,
        );
    }
    write_host_keys(config, &boot.name, &mut status);
    write_authorized_keys(Path::new("/root"), &boot.authorized_keys, None, &mut status);
    if let Some(config) = config {
        for user in &config.users {
            create_user(user, &mut status);
        }
        report_packages(config, &mut status);
        for key in &config.ignored_keys {
            log(&format!("`{key}` is not applied in the lab"));
        }
    }
    status.write();
    status
}

/// Everything after the services started; marks cloud-init done or error.
pub fn final_stage() {
    let mut status = Status::read().unwrap_or_else(Status::running);
    log("final stage");
    match load_user_data(&mut Status::running()) {
        UserData::CloudConfig(config) => {
            write_files(
                config.write_files.iter().filter(|file| file.defer),
                &mut status,
            );
            if !config.runcmd.is_empty() {
                run_script("runcmd", &script_text(&config.runcmd), &mut status);
            }
        }
        UserData::Script(script) => run_script("user-data", &script, &mut status),
        UserData::Empty => {}
    }
    status.finish();
}

/// Read and parse the user data; a parse error is recorded once, by the
/// init stage, and the host boots without it.
fn load_user_data(status: &mut Status) -> UserData {
    let Ok(text) = fs::read_to_string(USER_DATA) else {
        return UserData::Empty;
    };
    match parse(&text) {
        Ok(user_data) => user_data,
        Err(error) => {
            status.error(error.to_string());
            UserData::Empty
        }
    }
}

fn script_text(lines: &[String]) -> String {
    let mut text = String::from("#!/bin/sh\n");
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text
}

/// Run a script with its output appended to `/var/log/cloud-init-output.log`;
/// a failure exit status is an error, as in cloud-init's `scripts_user`.
fn run_script(name: &str, text: &str, status: &mut Status) {
    let path = Path::new(SCRIPT_DIR).join(name);
    let written = fs::create_dir_all(SCRIPT_DIR)
        .and_then(|()| fs::write(&path, text))
        .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(0o700)));
    if let Err(error) = written {
        status.error(format!("cannot write {}: {error}", path.display()));
        return;
    }
    let output = match open_output_log() {
        Ok(file) => file,
        Err(error) => {
            status.error(format!("cannot open {OUTPUT_LOG}: {error}"));
            return;
        }
    };
    log(&format!("running {name}"));
    let result = Command::new(&path)
        .current_dir("/")
        .env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .env("HOME", "/root")
        .env("LANG", "C.UTF-8")
        .stdin(Stdio::null())
        .stdout(output.try_clone().map_or(Stdio::null(), Stdio::from))
        .stderr(output)
        .status();
    match result {
        Ok(exit) if exit.success() => log(&format!("{name} finished")),
        Ok(exit) => status.error(format!("{name} failed: {exit}")),
        Err(error) => status.error(format!("cannot run {name}: {error}")),
    }
}

fn open_output_log() -> std::io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(OUTPUT_LOG)
}

fn write_files<'a>(files: impl Iterator<Item = &'a WriteFile>, status: &mut Status) {
    for file in files {
        if let Err(message) = write_file(file) {
            status.error(format!("write_files: {}: {message}", file.path));
        } else {
            log(&format!("wrote {}", file.path));
        }
    }
}

fn write_file(file: &WriteFile) -> Result<(), String> {
    let path = Path::new(&file.path);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    }
    let mut handle = fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(file.append)
        .truncate(!file.append)
        .open(path)
        .map_err(|error| error.to_string())?;
    handle
        .write_all(&file.content)
        .map_err(|error| error.to_string())?;
    fs::set_permissions(path, fs::Permissions::from_mode(file.permissions))
        .map_err(|error| error.to_string())?;
    change_owner(path, &file.owner)
}

/// Apply an owner written as `user`, `user:group` or `:group`.
fn change_owner(path: &Path, owner: &str) -> Result<(), String> {
    let (user, group) = owner.split_once(':').unwrap_or((owner, ""));
    let uid = match user {
        "" => None,
        name => Some(
            User::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| format!("owner user `{name}` does not exist"))?
                .uid,
        ),
    };
    let gid = match group {
        "" => None,
        name => Some(
            Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| format!("owner group `{name}` does not exist"))?
                .gid,
        ),
    };
    chown(path, uid, gid).map_err(|error| error.to_string())
}

/// Host keys from `ssh_keys`; without any, a new ed25519 key, as cloud-init
/// generates keys when none are given.
fn write_host_keys(config: Option<&CloudConfig>, host_name: &str, status: &mut Status) {
    let given = config
        .map(|config| &config.ssh_keys)
        .filter(|keys| !keys.is_empty());
    let Some(keys) = given else {
        if let Err(error) = generate_host_key(host_name) {
            status.error(format!("cannot generate the ed25519 host key: {error}"));
        }
        return;
    };
    for (name, value) in keys {
        let Some((key_type, part)) = name.rsplit_once('_') else {
            status.recoverable(format!("ssh_keys: `{name}` is not a key name"));
            continue;
        };
        if !KEY_TYPES.contains(&key_type) || !matches!(part, "private" | "public") {
            status.recoverable(format!("ssh_keys: `{name}` is not applied in the lab"));
            continue;
        }
        let (suffix, mode) = if part == "private" {
            ("", 0o600)
        } else {
            (".pub", 0o644)
        };
        let path = format!("/etc/ssh/ssh_host_{key_type}_key{suffix}");
        let mut text = value.clone();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        let written = fs::write(&path, text)
            .and_then(|()| fs::set_permissions(&path, fs::Permissions::from_mode(mode)));
        match written {
            Ok(()) => log(&format!("wrote host key {path}")),
            Err(error) => status.error(format!("cannot write {path}: {error}")),
        }
    }
}

fn generate_host_key(host_name: &str) -> anyhow::Result<()> {
    let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)?;
    key.set_comment(format!("root@{host_name}"));
    let private = key.to_openssh(LineEnding::LF)?;
    let public = key.public_key().to_openssh()?;
    let path = Path::new("/etc/ssh/ssh_host_ed25519_key");
    crate::sandbox::lab::record::write_atomic(path, private.as_bytes(), 0o600)?;
    crate::sandbox::lab::record::write_atomic(
        &path.with_extension("pub"),
        format!("{public}\n").as_bytes(),
        0o644,
    )?;
    log("generated host key /etc/ssh/ssh_host_ed25519_key");
    Ok(())
}

fn write_authorized_keys(home: &Path, keys: &[String], owner: Option<&str>, status: &mut Status) {
    if keys.is_empty() {
        return;
    }
    let ssh_dir = home.join(".ssh");
    let file = ssh_dir.join("authorized_keys");
    let mut text = fs::read_to_string(&file).unwrap_or_default();
    for key in keys {
        if !text.lines().any(|line| line.trim() == key.trim()) {
            text.push_str(key.trim());
            text.push('\n');
        }
    }
    let result = fs::create_dir_all(&ssh_dir)
        .and_then(|()| fs::set_permissions(&ssh_dir, fs::Permissions::from_mode(0o700)))
        .and_then(|()| fs::write(&file, &text))
        .and_then(|()| fs::set_permissions(&file, fs::Permissions::from_mode(0o600)))
        .map_err(|error| error.to_string())
        .and_then(|()| match owner {
            Some(owner) => change_owner(&ssh_dir, owner).and_then(|()| change_owner(&file, owner)),
            None => Ok(()),
        });
    match result {
        Ok(()) => log(&format!(
            "authorized {} key(s) in {}",
            keys.len(),
            file.display()
        )),
        Err(error) => status.error(format!("cannot write {}: {error}", file.display())),
    }
}

fn create_user(user: &UserSpec, status: &mut Status) {
    for group in &user.groups {
        if Group::from_name(group).ok().flatten().is_none() {
            run_tool(&["groupadd", group], status);
        }
    }
    if User::from_name(&user.name).ok().flatten().is_some() {
        log(&format!(
            "user {} already exists, skipping creation",
            user.name
        ));
    } else {
        let mut args: Vec<String> = vec!["useradd".into(), "--create-home".into()];
        if let Some(shell) = &user.shell {
            args.extend(["--shell".into(), shell.clone()]);
        }
        if !user.groups.is_empty() {
            args.extend(["--groups".into(), user.groups.join(",")]);
        }
        if let Some(gecos) = &user.gecos {
            args.extend(["--comment".into(), gecos.clone()]);
        }
        if let Some(home) = &user.homedir {
            args.extend(["--home-dir".into(), home.clone()]);
        }
        if user.system {
            args.push("--system".into());
        }
        args.push(user.name.clone());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        if !run_tool(&args, status) {
            return;
        }
    }

    if !user.ssh_authorized_keys.is_empty()
        && let Some(account) = User::from_name(&user.name).ok().flatten()
    {
        write_authorized_keys(
            &account.dir,
            &user.ssh_authorized_keys,
            Some(&user.name),
            status,
        );
    }
    if !user.sudo.is_empty() {
        write_sudo_rules(user, status);
    }
}

fn write_sudo_rules(user: &UserSpec, status: &mut Status) {
    let path = Path::new("/etc/sudoers.d/90-cloud-init-users");
    let mut text = fs::read_to_string(path)
        .unwrap_or_else(|_| "# Created by cloud-init (wwctl lab)\n".to_string());
    for rule in &user.sudo {
        text.push_str(&format!("{} {rule}\n", user.name));
    }
    let result = fs::create_dir_all("/etc/sudoers.d")
        .and_then(|()| fs::write(path, text))
        .and_then(|()| fs::set_permissions(path, fs::Permissions::from_mode(0o440)));
    if let Err(error) = result {
        status.error(format!("cannot write {}: {error}", path.display()));
    }
}

/// Run a tool such as `useradd`; a failure is recorded as an error.
fn run_tool(args: &[&str], status: &mut Status) -> bool {
    let output = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(output) if output.status.success() => {
            log(&format!("ran {}", args.join(" ")));
            true
        }
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            status.error(format!("`{}` failed: {}", args.join(" "), stderr.trim()));
            false
        }
        Err(error) => {
            status.error(format!("cannot run `{}`: {error}", args[0]));
            false
        }
    }
}

/// Hosts cannot download packages, so `packages` only checks that each one
/// is installed on the lab machine (hosts share its `/usr`).
fn report_packages(config: &CloudConfig, status: &mut Status) {
    for package in &config.packages {
        let output = Command::new("dpkg-query")
            .args(["-W", "-f=${Status}", package])
            .stdin(Stdio::null())
            .output();
        let installed = output
            .map(|output| String::from_utf8_lossy(&output.stdout).ends_with(" installed"))
            .unwrap_or(false);
        if installed {
            log(&format!("package {package} is already installed"));
        } else {
            status.recoverable(format!(
                "package {package} is not installed on the lab machine, and hosts cannot download packages; install it on the machine"
            ));
        }
    }
}
