//! The integration tests' harness: the shared sandbox behind Prism, private
//! emulator processes, a DNS client, a loopback sshd, and helpers to run
//! wwctl. Each test uses the parts it needs.
#![allow(dead_code)]

pub mod api;
pub mod cloud;
pub mod dns;
pub mod emulator;
pub mod link;
pub mod sandbox;
pub mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Returns the repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Builds a `wwctl` command with a clean environment: no WWCTL_* or token
/// variables from the caller leak into the test.
pub fn wwctl() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wwctl"));
    for (name, _) in std::env::vars() {
        if name.starts_with("WWCTL_") || name.starts_with("DIGITALOCEAN_") {
            command.env_remove(name);
        }
    }
    command.current_dir(repo());
    command
}

/// Copy the shipped inventory into `dir` so a test can break it.
pub fn copy_inventory(dir: &Path) -> PathBuf {
    let target = dir.join("inventory");
    copy_tree(&repo().join("inventory"), &target);
    target
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Replace `from` by `to` in `file`, failing when `from` is absent so a
/// test never silently checks an unchanged file.
pub fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains(from),
        "`{from}` not found in {}",
        file.display()
    );
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
