//! `wwctl render` end to end: the files it writes, and bad inventory values
//! that fail with their key path and write nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use wwctl::render::PLACEHOLDER_PASSWORD;

use crate::render_support::repo_root;

fn wwctl(inventory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wwctl"))
        .arg("--inventory")
        .arg(inventory)
        .args(args)
        .env_remove("WWCTL_OVERLAY")
        .output()
        .expect("run wwctl")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

/// Copies the shipped inventory, replacing `from` with `to` in `file`.
fn fixture_inventory(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let folder = tempfile::tempdir().unwrap();
    let source = repo_root().join("inventory");
    for entry in fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            fs::copy(&path, folder.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let target = folder.path().join(file);
    let text = fs::read_to_string(&target).unwrap();
    assert!(text.contains(from), "`{from}` is not in {file}");
    fs::write(&target, text.replacen(from, to, 1)).unwrap();
    folder
}

#[test]
fn render_writes_fleet_files() {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("rendered");

    let output = wwctl(
        &repo_root().join("inventory"),
        &[
            "render",
            "--fleet",
            "2023",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let nginx = out_dir.join("prod-2023/etc/nginx/nginx.conf");
    assert!(
        stdout.contains(&format!("  wrote {} (0644 root:root)", nginx.display())),
        "{stdout}"
    );
    assert!(nginx.is_file());
    assert!(
        out_dir
            .join("staging-2023/etc/nginx/sites-enabled/stats.conf")
            .is_file()
    );
    assert!(out_dir.join("prod-2023/var/cache/nginx").is_dir());

    let config = out_dir.join("prod-2023/opt/wwdtm/stats/config.json");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains(PLACEHOLDER_PASSWORD), "{text}");
    assert_eq!(
        fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let user_data =
        fs::read_to_string(out_dir.join("prod-2023/var/lib/cloud/instance/user-data.txt")).unwrap();
    assert!(user_data.contains("PLACEHOLDER"), "{user_data}");
    assert!(
        stderr(&output).contains("placeholders from 192.0.2.0/24"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn render_one_host_by_alias() {
    let out = tempfile::tempdir().unwrap();

    let output = wwctl(
        &repo_root().join("inventory"),
        &[
            "render",
            "--fleet",
            "old-fleet",
            "--host",
            "db-2022",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let hosts: Vec<PathBuf> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(hosts, vec![out.path().join("db-2022")]);
    assert!(
        out.path()
            .join("db-2022/etc/mysql/mariadb.conf.d/99-wwdtm.cnf")
            .is_file()
    );
}

#[test]
fn render_json_lists_files_without_contents() {
    let out = tempfile::tempdir().unwrap();

    let output = wwctl(
        &repo_root().join("inventory"),
        &[
            "--output",
            "json",
            "render",
            "--fleet",
            "2023",
            "--host",
            "prod-2023",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );

    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["schema"], "wwctl.render/v1");
    let files = report["hosts"][0]["files"].as_array().unwrap();
    let config = files
        .iter()
        .find(|f| f["path"] == "/opt/wwdtm/stats/config.json")
        .unwrap();
    assert_eq!(config["secret"], true);
    assert_eq!(config["mode"], "0600");
    assert!(!String::from_utf8_lossy(&output.stdout).contains(PLACEHOLDER_PASSWORD));
}

#[test]
fn unknown_host_suggests_name() {
    let out = tempfile::tempdir().unwrap();

    let output = wwctl(
        &repo_root().join("inventory"),
        &[
            "render",
            "--fleet",
            "2023",
            "--host",
            "prod-2032",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );

    assert_eq!(output.status.code(), Some(3));
    assert_eq!(
        stderr(&output),
        "error: droplet `prod-2032` is not in fleet `2023`\nhint: did you mean `prod-2023`?\n"
    );
}

/// Run `wwctl render` on a broken inventory: exit 3, the key path in the
/// error, and no output folder.
fn assert_rejected(inventory: &Path, key_path: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let out_dir = out.path().join("rendered");

    let output = wwctl(
        inventory,
        &[
            "render",
            "--fleet",
            "2023",
            "--out",
            out_dir.to_str().unwrap(),
        ],
    );

    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{message}");
    assert!(
        message.contains(key_path),
        "`{key_path}` missing from:\n{message}"
    );
    assert!(!out_dir.exists(), "nothing may be written");
    message
}

#[test]
fn zero_memory_is_rejected() {
    let inventory = fixture_inventory(
        "fleets.yaml",
        "      prod-2023:\n        env: prod\n",
        "      prod-2023:\n        env: prod\n        memory_mb: 0\n",
    );

    let message = assert_rejected(inventory.path(), "fleets/2023/droplets/prod-2023/memory_mb");

    assert!(message.contains("memory_mb is 0"), "{message}");
}

#[test]
fn site_without_app_is_rejected() {
    let inventory = fixture_inventory("sites.yaml", "    app: graphs\n", "    app: grafs\n");

    let message = assert_rejected(inventory.path(), "sites/graphs/app");

    assert!(
        message.contains("names app `grafs`, which is not defined under `apps`"),
        "{message}"
    );
}

#[test]
fn ttl_under_minimum_is_rejected() {
    let inventory = fixture_inventory("dns.yaml", "cutover_ttl: 60", "cutover_ttl: 10");

    let message = assert_rejected(inventory.path(), "dns/zones/wwdt.me/cutover_ttl");

    assert!(
        message.contains("TTL 10 is below DigitalOcean's minimum of 30 seconds"),
        "{message}"
    );
}

#[test]
fn out_naming_a_file_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();

    let out = file.to_str().unwrap();
    let output = wwctl(
        &repo_root().join("inventory"),
        &["render", "--fleet", "2023", "--out", out],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!("--out `{out}` is a file, not a folder")),
        "{text}"
    );
    assert_eq!(
        fs::read_to_string(&file).unwrap(),
        "root:x:0:0::/root:/bin/sh\n",
        "the file was changed"
    );
}
