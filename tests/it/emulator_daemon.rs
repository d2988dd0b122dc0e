//! `wwctl sandbox up --api-only`, `env`, `status`, `faults` and `down`, run
//! as an unprivileged user (`nobody` when the tests run as root) with the
//! default sandbox folder under `$XDG_STATE_HOME`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use wwctl::sandbox::folder::is_sandbox_server;

use crate::support::api::Api;

const NOBODY: u32 = 65534;

/// A home folder the test user owns.
struct Home {
    _temp: tempfile::TempDir,
    path: PathBuf,
    as_nobody: bool,
}

impl Home {
    fn new() -> Self {
        let temp = tempfile::tempdir().expect("a temporary folder");
        let path = temp.path().to_path_buf();
        let as_nobody = nix::unistd::geteuid().is_root();
        if as_nobody {
            let nobody = Some(nix::unistd::Uid::from_raw(NOBODY));
            let group = Some(nix::unistd::Gid::from_raw(NOBODY));
            nix::unistd::chown(&path, nobody, group).expect("the home folder is given to nobody");
        }
        Self {
            _temp: temp,
            path,
            as_nobody,
        }
    }

    /// Run wwctl as the test user, with only this home's environment.
    fn wwctl(&self, args: &[&str]) -> Output {
        let binary = env!("CARGO_BIN_EXE_wwctl");
        let mut command = if self.as_nobody {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .arg("--clear-groups")
                .arg(binary);
            command
        } else {
            Command::new(binary)
        };
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.path)
            .env("XDG_STATE_HOME", self.path.join("state"))
            .current_dir(&self.path)
            .output()
            .expect("wwctl runs")
    }

    fn sandbox_dir(&self) -> PathBuf {
        self.path.join("state/wwctl/sandbox")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        stdout(output),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn exported(env: &str, name: &str) -> String {
    env.lines()
        .find_map(|line| line.strip_prefix(&format!("export {name}=")))
        .unwrap_or_else(|| panic!("`sandbox env` does not export {name}:\n{env}"))
        .to_string()
}

fn process_uid(pid: u64) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process runs");
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
        .expect("a Uid line")
}

fn files_contain(folder: &Path, needle: &str, except: &str) -> Vec<PathBuf> {
    std::fs::read_dir(folder)
        .expect("the sandbox folder")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.file_name().is_some_and(|name| name != except))
        .filter(|path| std::fs::read_to_string(path).is_ok_and(|text| text.contains(needle)))
        .collect()
}

#[tokio::test]
async fn daemon_runs_without_root() {
    let home = Home::new();

    let idle = home.wwctl(&["sandbox", "status"]);
    assert_success(&idle, "status before up");
    assert!(stdout(&idle).contains("not running"));

    let up = home.wwctl(&["sandbox", "up", "--api-only", "--time-scale", "0.5"]);
    assert_success(&up, "up --api-only");
    let again = home.wwctl(&["sandbox", "up", "--api-only"]);
    assert_eq!(again.status.code(), Some(8), "a second up is refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("already runs"));

    let status = home.wwctl(&["sandbox", "status", "--output", "json"]);
    assert_success(&status, "status");
    let status: Value = serde_json::from_slice(&status.stdout).expect("JSON status");
    assert_eq!(status["running"], true);
    assert_eq!(status["healthy"], true);
    assert_eq!(status["api_only"], true);
    assert_eq!(status["dir"], home.sandbox_dir().display().to_string());
    let pid = status["pid"].as_u64().expect("a pid");
    if home.as_nobody {
        assert_eq!(process_uid(pid), NOBODY, "the daemon runs as nobody");
    }

    let env = home.wwctl(&["sandbox", "env"]);
    assert_success(&env, "env");
    let env = stdout(&env);
    let api_url = exported(&env, "WWCTL_API_URL");
    let token = exported(&env, "DIGITALOCEAN_TOKEN");
    assert!(api_url.starts_with("http://127.0.0.1:"));
    assert!(token.starts_with("sandbox-"));
    assert!(exported(&env, "WWCTL_DNS_SERVER").starts_with("127.0.0.1:"));
    assert_eq!(exported(&env, "WWCTL_OVERLAY"), "sandbox");
    assert_eq!(exported(&env, "WWCTL_TIME_SCALE"), "0.5");

    let api = Api::new(&api_url, &token, false);
    api.get("/v2/account").await.expect(200);

    let set = home.wwctl(&["sandbox", "faults", "429=0.5,seed=3"]);
    assert_success(&set, "faults SPEC");
    assert_eq!(stdout(&set).trim(), "faults: 429=0.5,seed=3");
    let shown = home.wwctl(&["sandbox", "faults"]);
    assert_eq!(stdout(&shown).trim(), "faults: 429=0.5,seed=3");
    let cleared = home.wwctl(&["sandbox", "faults", "--clear"]);
    assert_eq!(stdout(&cleared).trim(), "faults: none");
    let invalid = home.wwctl(&["sandbox", "faults", "429=3"]);
    assert_eq!(invalid.status.code(), Some(3));

    let folder = home.sandbox_dir();
    let token_mode = std::fs::metadata(folder.join("token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(token_mode & 0o777, 0o600);
    assert!(folder.join("state.json").exists());
    assert_eq!(
        files_contain(&folder, &token, "token"),
        Vec::<PathBuf>::new()
    );

    let down = home.wwctl(&["sandbox", "down"]);
    assert_success(&down, "down");
    assert!(!is_sandbox_server(pid as u32), "the daemon is gone");
    let down_again = home.wwctl(&["sandbox", "down"]);
    assert_success(&down_again, "a second down");
    let after = home.wwctl(&["sandbox", "status", "--output", "json"]);
    let after: Value = serde_json::from_slice(&after.stdout).expect("JSON status");
    assert_eq!(after["running"], false);
    let env_after = home.wwctl(&["sandbox", "env"]);
    assert_eq!(
        env_after.status.code(),
        Some(3),
        "env without a sandbox is a usage error"
    );
}
