//! The template every host's private folders are copied from, prepared
//! once per lab. It contains copies of the installed NGINX, MariaDB and
//! sshd configs (without the machine's host keys), a fresh MariaDB data
//! folder, and empty skeletons for logs, `/run` and home folders.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use anyhow::Context;
use nix::unistd::{Gid, Group, Uid, User, chown};

use super::command::{run, run_args};
use crate::error::HintExt;

/// A private folder of every host: its name in the host folder and the
/// path the host mounts it on.
pub struct PrivateFolder {
    pub name: &'static str,
    pub target: &'static str,
}

/// The host folders bound over the machine's, in mount order. `/etc/nginx`,
/// `/etc/mysql` and `/etc/ssh` sit on top of the host's `/etc` overlay, and
/// `/tmp` comes last so nothing after it resolves into the host's `/tmp`.
pub const PRIVATE_FOLDERS: &[PrivateFolder] = &[
    PrivateFolder {
        name: "etc-nginx",
        target: "/etc/nginx",
    },
    PrivateFolder {
        name: "etc-mysql",
        target: "/etc/mysql",
    },
    PrivateFolder {
        name: "etc-ssh",
        target: "/etc/ssh",
    },
    PrivateFolder {
        name: "var-lib-mysql",
        target: "/var/lib/mysql",
    },
    PrivateFolder {
        name: "var-lib-nginx",
        target: "/var/lib/nginx",
    },
    PrivateFolder {
        name: "var-log",
        target: "/var/log",
    },
    PrivateFolder {
        name: "var-www",
        target: "/var/www",
    },
    PrivateFolder {
        name: "var-tmp",
        target: "/var/tmp",
    },
    PrivateFolder {
        name: "root",
        target: "/root",
    },
    PrivateFolder {
        name: "home",
        target: "/home",
    },
    PrivateFolder {
        name: "opt",
        target: "/opt",
    },
    PrivateFolder {
        name: "srv",
        target: "/srv",
    },
    PrivateFolder {
        name: "run",
        target: "/run",
    },
    PrivateFolder {
        name: "tmp",
        target: "/tmp",
    },
];

/// Prepare the template folder at `dir` from the machine's installed
/// packages. Takes about a second and a half, most of it in
/// `mariadb-install-db`.
pub fn prepare(dir: &Path) -> anyhow::Result<()> {
    make_folder(dir, 0o711, None)?;

    copy_tree(Path::new("/etc/nginx"), &dir.join("etc-nginx"))?;
    copy_tree(Path::new("/etc/mysql"), &dir.join("etc-mysql"))?;
    copy_tree(Path::new("/etc/ssh"), &dir.join("etc-ssh"))?;
    remove_host_keys(&dir.join("etc-ssh"))?;
    copy_tree(Path::new("/var/www"), &dir.join("var-www"))?;

    install_database(&dir.join("var-lib-mysql"))?;
    make_log_skeleton(&dir.join("var-log"))?;
    make_run_skeleton(&dir.join("run"))?;
    make_root_home(&dir.join("root"))?;

    make_folder(&dir.join("var-lib-nginx"), 0o755, None)?;
    make_folder(&dir.join("home"), 0o755, None)?;
    make_folder(&dir.join("opt"), 0o755, None)?;
    make_folder(&dir.join("srv"), 0o755, None)?;
    make_folder(&dir.join("tmp"), 0o1777, None)?;
    make_folder(&dir.join("var-tmp"), 0o1777, None)?;
    Ok(())
}

/// Copy the template into a new host folder, keeping its holes.
pub fn copy_to(template: &Path, host_dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(host_dir)
        .with_context(|| format!("cannot create `{}`", host_dir.display()))?;
    let source = format!("{}/.", template.display());
    run(Command::new("cp")
        .args(["-a", "--sparse=always", &source])
        .arg(host_dir))?;
    Ok(())
}

fn copy_tree(source: &Path, target: &Path) -> anyhow::Result<()> {
    run(Command::new("cp").arg("-a").arg(source).arg(target))?;
    Ok(())
}

/// The machine's own host keys must not become every host's keys.
fn remove_host_keys(ssh_dir: &Path) -> anyhow::Result<()> {
    for entry in fs::read_dir(ssh_dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with("ssh_host_") {
            fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Run `mariadb-install-db` into a scratch folder, then copy the result
/// sparsely: the InnoDB redo log is 96 MiB of mostly zeros, and with holes
/// in the template every host's copy skips them instead of reading them.
fn install_database(data_dir: &Path) -> anyhow::Result<()> {
    let scratch = data_dir.with_extension("install");
    install_database_into(&scratch)?;
    run(Command::new("cp")
        .args(["-a", "--sparse=always"])
        .arg(&scratch)
        .arg(data_dir))?;
    fs::remove_dir_all(&scratch).with_context(|| format!("cannot remove `{}`", scratch.display()))
}

fn install_database_into(data_dir: &Path) -> anyhow::Result<()> {
    let data_arg = format!("--datadir={}", data_dir.display());
    run_args(
        "mariadb-install-db",
        &[
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
            "--user=mysql",
            &data_arg,
        ],
    )
    .context("cannot prepare the lab's MariaDB data folder")
    .hint("check that mariadb-server is installed (`apt-get install mariadb-server`)")?;
    let (uid, gid) = account("mysql", "mysql")?;
    chown(data_dir, Some(uid), Some(gid))?;
    fs::set_permissions(data_dir, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Create an empty `/var/log` with the machine's log folders (same owners
/// and modes) and empty login records, plus `/var/log/mysql`, which Debian
/// 12's MariaDB no longer creates.
fn make_log_skeleton(dir: &Path) -> anyhow::Result<()> {
    make_folder(dir, 0o755, None)?;
    for entry in fs::read_dir("/var/log")? {
        let entry = entry?;
        let metadata = fs::symlink_metadata(entry.path())?;
        let target = dir.join(entry.file_name());
        let owner = Some((Uid::from_raw(metadata.uid()), Gid::from_raw(metadata.gid())));
        let mode = metadata.mode() & 0o7777;
        if metadata.is_dir() {
            make_folder(&target, mode, owner)?;
        } else if metadata.is_file() && metadata.len() == 0 {
            fs::write(&target, b"")?;
            set_owner_mode(&target, mode, owner)?;
        }
    }
    let (uid, _) = account("mysql", "mysql")?;
    let adm = Group::from_name("adm")?
        .map(|group| group.gid)
        .unwrap_or(Gid::from_raw(0));
    make_folder(&dir.join("mysql"), 0o2750, Some((uid, adm)))
}

fn make_run_skeleton(dir: &Path) -> anyhow::Result<()> {
    make_folder(dir, 0o755, None)?;
    make_folder(&dir.join("lock"), 0o1777, None)?;
    make_folder(&dir.join("sshd"), 0o755, None)?;
    let (uid, gid) = account("mysql", "mysql")?;
    make_folder(&dir.join("mysqld"), 0o755, Some((uid, gid)))
}

fn make_root_home(dir: &Path) -> anyhow::Result<()> {
    make_folder(dir, 0o700, None)?;
    if Path::new("/etc/skel").is_dir() {
        run(Command::new("cp").args(["-a", "/etc/skel/."]).arg(dir))?;
    }
    make_folder(&dir.join(".ssh"), 0o700, None)
}

/// Create `dir` (if needed) with `mode` and, if given, `owner`.
pub fn make_folder(dir: &Path, mode: u32, owner: Option<(Uid, Gid)>) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    set_owner_mode(dir, mode, owner)
}

fn set_owner_mode(path: &Path, mode: u32, owner: Option<(Uid, Gid)>) -> anyhow::Result<()> {
    if let Some((uid, gid)) = owner {
        chown(path, Some(uid), Some(gid))
            .with_context(|| format!("cannot change the owner of `{}`", path.display()))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot change the mode of `{}`", path.display()))
}

/// Look up the ids of a user and a group of the machine, such as `mysql`.
pub fn account(user: &str, group: &str) -> anyhow::Result<(Uid, Gid)> {
    let uid = User::from_name(user)?
        .with_context(|| format!("the machine has no user `{user}`; is its package installed?"))?
        .uid;
    let gid = Group::from_name(group)?
        .with_context(|| format!("the machine has no group `{group}`; is its package installed?"))?
        .gid;
    Ok((uid, gid))
}
