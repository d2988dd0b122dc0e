//! Shared helpers for the render tests: the shipped inventory, rendering
//! with known test secrets, and running the real `nginx -t` on a prefix.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use wwctl::inventory::{self, Inventory, Role};
use wwctl::render::{self, CloudInitKeys, Facts, HostKey, RenderedFile, Secrets};
use wwctl::secret::Secret;

/// The password every database user gets in these tests; snapshots show it
/// as `[redacted]`.
pub const TEST_PASSWORD: &str = "test-password-Zq9v";
pub const TEST_HOST_PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestHostKeyOnly test";
pub const TEST_HOST_PRIVATE_KEY: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\ntest-private-key-Xr7w\n-----END OPENSSH PRIVATE KEY-----\n";
pub const TEST_ROOT_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestRootKeyOnly ops@example.com";

/// The inventory overlays the shipped inventory is rendered with.
pub const OVERLAYS: [Option<&str>; 2] = [None, Some("sandbox")];

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn shipped_inventory(overlay: Option<&str>) -> Inventory {
    inventory::load(&repo_root().join("inventory"), overlay)
        .unwrap_or_else(|problems| panic!("the shipped inventory is invalid:\n{problems}"))
}

/// Lists every `(fleet, droplet)` of the inventory, in inventory order.
pub fn all_hosts(inventory: &Inventory) -> Vec<(String, String)> {
    inventory
        .fleets
        .values()
        .flat_map(|fleet| {
            fleet
                .droplets
                .keys()
                .map(|droplet| (fleet.name.clone(), droplet.clone()))
        })
        .collect()
}

pub fn hosts_with_role(inventory: &Inventory, role: Role) -> Vec<(String, String)> {
    all_hosts(inventory)
        .into_iter()
        .filter(|(_, droplet)| {
            inventory
                .find_droplet(droplet)
                .is_some_and(|found| found.has_role(role))
        })
        .collect()
}

pub fn test_secrets(inventory: &Inventory) -> Secrets {
    let mut secrets = Secrets::new();
    for user in inventory.database.users.keys() {
        secrets = secrets.with_database_password(user.clone(), Secret::new(TEST_PASSWORD));
    }
    secrets
}

pub fn test_keys() -> CloudInitKeys {
    CloudInitKeys {
        root_keys: vec![TEST_ROOT_KEY.to_string()],
        host_key: Some(HostKey {
            public: TEST_HOST_PUBLIC_KEY.to_string(),
            private: Secret::new(TEST_HOST_PRIVATE_KEY),
        }),
    }
}

/// Renders the files of one droplet with placeholder addresses and test secrets.
pub fn render_host(inventory: &Inventory, fleet: &str, droplet: &str) -> Vec<RenderedFile> {
    let facts = Facts::placeholder(inventory).expect("placeholder addresses");
    render::host_files(inventory, fleet, droplet, &facts, &test_secrets(inventory))
        .unwrap_or_else(|error| panic!("rendering `{droplet}` of fleet `{fleet}` failed: {error}"))
}

/// Finds program `name` on PATH. The test fails with a clear message when
/// the program is not installed.
pub fn require_program(name: &str) -> PathBuf {
    let search = std::env::var_os("PATH").unwrap_or_default();
    for folder in std::env::split_paths(&search).chain([PathBuf::from("/usr/sbin")]) {
        let candidate = folder.join(name);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("`{name}` is not installed or not on PATH; this test runs the real program");
}

/// Absolute paths the rendered files use, moved under the test prefix.
const MOVED_ROOTS: [&str; 8] = [
    "/etc/nginx/",
    "/var/log/nginx/",
    "/var/cache/nginx",
    "/run/nginx.pid",
    "/etc/ssl/wwdtm/",
    "unix:/tmp/",
    "/var/log/wwdtm/",
    "/opt/wwdtm/",
];

/// The outcome of `nginx -t` on a prefix.
pub struct NginxCheck {
    pub success: bool,
    pub output: String,
}

/// Write the plain (not secret) rendered files and the folders they need
/// under a fresh prefix, with every absolute path moved into it, and create
/// a self-signed certificate for each `ssl_certificate`.
pub fn prepare_prefix(files: &[RenderedFile], directories: &[&str]) -> tempfile::TempDir {
    let prefix = tempfile::tempdir().expect("temporary folder");
    let root = prefix
        .path()
        .to_str()
        .expect("UTF-8 temporary path")
        .to_string();

    for folder in ["etc/nginx", "var/log/nginx", "run", "etc/ssl/wwdtm", "tmp"] {
        fs::create_dir_all(prefix.path().join(folder)).expect("prefix folder");
    }
    for directory in directories {
        fs::create_dir_all(format!("{root}{directory}")).expect("rendered folder");
    }
    copy_mime_types(prefix.path());

    for file in files.iter().filter(|file| !file.is_secret()) {
        let text = into_prefix(file.contents.expose(), &root);
        let target = PathBuf::from(format!("{root}{}", file.path));
        fs::create_dir_all(target.parent().expect("parent")).expect("file folder");
        fs::write(&target, &text).expect("write rendered file");
        if file.path.starts_with("/etc/nginx/") {
            write_certificates(&text);
        }
    }
    prefix
}

/// Run `nginx -t -p PREFIX -c PREFIX/etc/nginx/nginx.conf` over the files
/// placed by [`prepare_prefix`].
pub fn nginx_test(files: &[RenderedFile], directories: &[&str]) -> NginxCheck {
    let nginx = require_program("nginx");
    let prefix = prepare_prefix(files, directories);
    let root = prefix
        .path()
        .to_str()
        .expect("UTF-8 temporary path")
        .to_string();

    let output = Command::new(nginx)
        .arg("-t")
        .arg("-p")
        .arg(format!("{root}/"))
        .arg("-c")
        .arg(format!("{root}/etc/nginx/nginx.conf"))
        .output()
        .expect("run nginx -t");
    NginxCheck {
        success: output.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn into_prefix(text: &str, root: &str) -> String {
    let mut moved = text.to_string();
    for path in MOVED_ROOTS {
        let replacement = match path.strip_prefix("unix:") {
            Some(rest) => format!("unix:{root}{rest}"),
            None => format!("{root}{path}"),
        };
        moved = moved.replace(path, &replacement);
    }
    moved
}

/// NGINX's `mime.types` from the machine's package, or a one-line stand-in.
fn copy_mime_types(prefix: &Path) {
    let target = prefix.join("etc/nginx/mime.types");
    if fs::copy("/etc/nginx/mime.types", &target).is_err() {
        fs::write(&target, "types {\n    text/html html;\n}\n").expect("mime.types");
    }
}

/// Writes a self-signed certificate and key for every `ssl_certificate`
/// line, for the domain the file is named after (`<domain>.crt`).
fn write_certificates(text: &str) {
    for line in text.lines().map(str::trim) {
        let Some(path) = line
            .strip_prefix("ssl_certificate ")
            .and_then(|rest| rest.strip_suffix(';'))
        else {
            continue;
        };
        let certificate = PathBuf::from(path);
        let domain = certificate
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("certificate file name")
            .to_string();
        let generated =
            rcgen::generate_simple_self_signed(vec![domain]).expect("self-signed certificate");
        fs::write(&certificate, generated.cert.pem()).expect("write certificate");
        fs::write(
            certificate.with_extension("key"),
            generated.signing_key.serialize_pem(),
        )
        .expect("write key");
    }
}
