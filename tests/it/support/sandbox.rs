//! End-to-end projects on the test sandbox with lab hosts. Each test gets
//! its own account, state folder and copy of the inventory, with the zone
//! renamed so tests never share DNS names. It runs the real wwctl binary
//! against the emulator through Prism.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

use crate::support::api::{Api, new_token};
use crate::support::cloud::{DNS, EMULATOR_URL, PRISM_URL, REQUIRE};
use crate::support::{copy_inventory, stderr, wwctl};

pub const SANDBOX_DIR: &str = "WWCTL_TEST_SANDBOX_DIR";

/// The sandbox with lab hosts that `scripts/test` starts.
pub struct LabSandbox {
    pub prism_url: String,
    pub emulator_url: String,
    pub dns: SocketAddr,
    pub dir: PathBuf,
}

impl LabSandbox {
    /// Find the sandbox, or print why the test is skipped and return `None`.
    pub fn from_env(test: &str) -> Option<Self> {
        let read = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let (Some(prism_url), Some(emulator_url), Some(dns), Some(dir)) = (
            read(PRISM_URL),
            read(EMULATOR_URL),
            read(DNS),
            read(SANDBOX_DIR),
        ) else {
            let reason = format!(
                "{test} needs the sandbox with lab hosts ({SANDBOX_DIR} and the sandbox variables are not set); run scripts/test as root"
            );
            assert!(
                read(REQUIRE).as_deref() != Some("1"),
                "{reason} ({REQUIRE}=1)"
            );
            eprintln!("skipped: {reason}");
            return None;
        };
        Some(Self {
            prism_url,
            emulator_url,
            dns: dns.parse().expect("WWCTL_TEST_DNS is ADDRESS:PORT"),
            dir: PathBuf::from(dir),
        })
    }

    pub fn lab_dir(&self) -> PathBuf {
        self.dir.join("lab")
    }

    pub fn ca_file(&self) -> PathBuf {
        self.lab_dir().join("ca/ca.crt")
    }

    pub fn identity(&self) -> PathBuf {
        self.lab_dir().join("keys/wwdtm-ops")
    }
}

/// One test's project: its own account, state folder and inventory copy.
pub struct Project {
    pub sandbox: LabSandbox,
    pub token: String,
    /// The renamed zone, such as `e2e-1a2b3c4d.test`.
    pub zone: String,
    pub dir: tempfile::TempDir,
    pub inventory: PathBuf,
    pub state: PathBuf,
    /// The emulator directly, for the admin API.
    pub direct: Api,
    /// The emulator through Prism, for checking results.
    pub api: Api,
}

impl Project {
    /// Creates a project whose account has the lab's controller key as
    /// `wwdtm-ops`, like the sandbox's own account.
    pub async fn new(sandbox: LabSandbox, label: &str) -> Self {
        let token = new_token(label);
        let zone = format!("{label}-{:08x}.test", rand::random::<u32>());
        let dir = tempfile::tempdir().unwrap();
        let inventory = copy_inventory(dir.path());
        rename_zone(&inventory, &zone);
        let state = dir.path().join("state");

        let direct = Api::new(&sandbox.emulator_url, &token, false);
        let api = Api::new(&sandbox.prism_url, &token, true);
        // wwctl keeps its own calls under the real limit of 250 a minute;
        // the tests' checks come on top, so the account allows more.
        direct
            .put("/_sandbox/settings", json!({"rate_limit_per_minute": 1000}))
            .await
            .expect(200);
        let public_key =
            std::fs::read_to_string(sandbox.lab_dir().join("keys/wwdtm-ops.pub")).unwrap();
        api.post(
            "/v2/account/keys",
            json!({"name": "wwdtm-ops", "public_key": public_key.trim()}),
        )
        .await
        .expect(201);

        Self {
            sandbox,
            token,
            zone,
            dir,
            inventory,
            state,
            direct,
            api,
        }
    }

    /// `wwctl` set up for this project, as `eval "$(wwctl sandbox env)"`
    /// would set it up, with the API behind Prism.
    pub fn wwctl(&self) -> Command {
        let mut command = wwctl();
        command
            .env("WWCTL_API_URL", &self.sandbox.prism_url)
            .env("DIGITALOCEAN_TOKEN", &self.token)
            .env("WWCTL_DNS_SERVER", self.sandbox.dns.to_string())
            .env("WWCTL_OVERLAY", "sandbox")
            .env("WWCTL_SANDBOX_DIR", &self.sandbox.dir)
            .env("WWCTL_TIME_SCALE", "0.05")
            .env("WWCTL_SSH_IDENTITY", self.sandbox.identity())
            .env("WWCTL_CA_FILE", self.sandbox.ca_file())
            .env("WWCTL_INVENTORY", &self.inventory)
            .env("WWCTL_STATE_DIR", &self.state)
            .stdin(Stdio::null());
        command
    }

    /// Run wwctl with `args` and return its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.wwctl().args(args).output().unwrap()
    }

    /// Run wwctl with `args` and fail the test unless it exits with `code`.
    pub fn run_expect(&self, args: &[&str], code: i32) -> Output {
        let output = self.run(args);
        assert_eq!(
            output.status.code(),
            Some(code),
            "`wwctl {}` exited with {:?}\nstderr:\n{}",
            args.join(" "),
            output.status.code(),
            stderr(&output)
        );
        output
    }

    /// Builds a name in the project's zone: `fqdn("stats")` is `stats.<zone>`.
    pub fn fqdn(&self, label: &str) -> String {
        if label == "@" {
            self.zone.clone()
        } else {
            format!("{label}.{}", self.zone)
        }
    }

    /// Lists every droplet of the account, through Prism.
    pub async fn droplets(&self) -> Vec<Value> {
        let reply = self.api.get("/v2/droplets?per_page=200").await.expect(200);
        reply.body["droplets"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn droplet_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .droplets()
            .await
            .iter()
            .map(|droplet| droplet["name"].as_str().unwrap_or_default().to_string())
            .collect();
        names.sort();
        names
    }

    /// Resolves `name` with the sandbox's DNS server.
    pub fn resolve(&self, name: &str) -> Vec<Ipv4Addr> {
        let answer = crate::support::dns::query_udp(
            self.sandbox.dns,
            name,
            hickory_proto::rr::RecordType::A,
        );
        crate::support::dns::a_records(&answer)
            .into_iter()
            .map(|(address, _)| address.parse().unwrap())
            .collect()
    }

    /// GET `https://<domain><path>` from `address` with the sandbox's CA:
    /// the status and body.
    pub fn https(&self, domain: &str, address: Ipv4Addr, path: &str) -> (u16, String) {
        let output = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "10",
                "-w",
                "\n%{http_code}",
                "--cacert",
            ])
            .arg(self.sandbox.ca_file())
            .arg("--resolve")
            .arg(format!("{domain}:443:{address}"))
            .arg(format!("https://{domain}{path}"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (status.trim().parse().unwrap_or(0), body.to_string())
    }

    /// Run a command inside the lab host of this account's droplet `name`.
    /// Hosts are found by id, since other tests' accounts may have droplets
    /// of the same name.
    pub async fn exec(&self, name: &str, argv: &[&str]) -> Output {
        let id = self
            .droplets()
            .await
            .into_iter()
            .find(|droplet| droplet["name"] == name)
            .and_then(|droplet| droplet["id"].as_u64())
            .unwrap_or_else(|| panic!("droplet `{name}` not found"));
        let mut command = wwctl();
        command
            .args(["sandbox", "--dir"])
            .arg(&self.sandbox.dir)
            .args(["exec", &id.to_string(), "--"])
            .args(argv);
        command.output().unwrap()
    }

    /// Reads the journals of this project's runs, oldest first.
    pub fn journals(&self) -> Vec<Value> {
        let output = self.run_expect(&["status", "--output", "json"], 0);
        let status: Value = serde_json::from_slice(&output.stdout).unwrap();
        status["runs"].as_array().cloned().unwrap_or_default()
    }

    pub fn resources(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.state.join("resources.json")).unwrap()).unwrap()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Replace the zone `wwdt.me` by `zone` in every inventory file, except in
/// repository URLs (the stand-in apps' repositories keep their names).
fn rename_zone(inventory: &Path, zone: &str) {
    for entry in walk(inventory) {
        let text = std::fs::read_to_string(&entry).unwrap();
        let renamed: Vec<String> = text
            .lines()
            .map(|line| {
                if line.contains("git://") || line.contains("https://") {
                    line.to_string()
                } else {
                    line.replace("wwdt.me", zone)
                }
            })
            .collect();
        std::fs::write(&entry, renamed.join("\n") + "\n").unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
