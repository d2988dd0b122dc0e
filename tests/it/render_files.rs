//! App files, cloud-init user data, the diff helper, determinism and the
//! invariants rendering checks itself.

use std::fs;
use std::process::Command;

use wwctl::inventory::Inventory;
use wwctl::render::{
    self, CloudInitKeys, Contents, Facts, FileChange, RenderError, RenderedFile, Validation,
    diff_file,
};

use crate::render_support::{
    OVERLAYS, TEST_HOST_PRIVATE_KEY, TEST_PASSWORD, all_hosts, render_host, require_program,
    shipped_inventory, test_keys, test_secrets,
};

fn file<'a>(files: &'a [RenderedFile], path: &str) -> &'a RenderedFile {
    files
        .iter()
        .find(|file| file.path == path)
        .unwrap_or_else(|| panic!("no rendered file `{path}`"))
}

fn config_json(files: &[RenderedFile], app: &str) -> serde_json::Value {
    let config = file(files, &format!("/opt/wwdtm/{app}/config.json"));
    serde_json::from_str(config.contents.expose()).expect("config.json is JSON")
}

#[test]
fn rendering_is_deterministic() {
    for overlay in OVERLAYS {
        let inventory = shipped_inventory(overlay);
        for (fleet, droplet) in all_hosts(&inventory) {
            let first = render_host(&inventory, &fleet, &droplet);
            let second = render_host(&inventory, &fleet, &droplet);

            assert_eq!(first, second, "{droplet}");
            let paths: Vec<&str> = first.iter().map(|f| f.path.as_str()).collect();
            let mut sorted = paths.clone();
            sorted.sort();
            assert_eq!(paths, sorted, "{droplet}: files are in path order");
        }
    }
}

#[test]
fn config_json_is_secret_and_private() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let config = file(&files, "/opt/wwdtm/stats/config.json");

    assert!(config.is_secret());
    assert_eq!(config.mode, 0o600);
    assert_eq!(config.owner, "wwdtm");
    assert_eq!(config.group, "wwdtm");
    assert_eq!(config.validate, Some(Validation::Json));
    assert_eq!(config.contents.text(), None);
    let printed = format!("{files:?}");
    assert!(!printed.contains(TEST_PASSWORD), "Debug shows the password");
}

#[test]
fn all_in_one_apps_use_the_socket() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");

    let database = &config_json(&files, "api")["database"];

    assert_eq!(database["unix_socket"], "/run/mysqld/mysqld.sock");
    assert_eq!(database["user"], "wwdtm_api");
    assert_eq!(database["password"], TEST_PASSWORD);
    assert_eq!(database["database"], "wwdtm");
    assert!(database.get("host").is_none());
}

#[test]
fn app_servers_reach_the_database_server() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2022", "app3-2022");

    let database = &config_json(&files, "stats")["database"];

    assert_eq!(database["host"], "192.0.2.14");
    assert_eq!(database["port"], 3306);
    assert_eq!(database["user"], "wwdtm_stats");
    assert!(database.get("unix_socket").is_none());
}

#[test]
fn real_addresses_replace_placeholders() {
    let inventory = shipped_inventory(Some("sandbox"));
    let mut facts = Facts::new();
    for (index, (_, droplet)) in all_hosts(&inventory).iter().enumerate() {
        let host = u8::try_from(20 + index).unwrap();
        facts = facts.with_public_address(droplet.clone(), [10, 77, 0, host].into());
    }
    facts = facts.with_private_address("db-2022", [10, 10, 0, 5].into());

    let files = render::host_files(
        &inventory,
        "2022",
        "app1-2022",
        &facts,
        &test_secrets(&inventory),
    )
    .unwrap();
    let lb = render::host_files(
        &inventory,
        "2022",
        "lb-2022",
        &facts,
        &test_secrets(&inventory),
    )
    .unwrap();

    assert_eq!(
        config_json(&files, "graphs")["database"]["host"],
        "10.10.0.5"
    );
    let main = file(&lb, "/etc/nginx/nginx.conf").contents.text().unwrap();
    assert!(
        main.contains("server 10.77.0.21:80 max_fails=3 fail_timeout=10s;"),
        "{main}"
    );
}

#[test]
fn missing_address_is_an_error() {
    let inventory = shipped_inventory(None);
    let facts = Facts::new().with_public_address("lb-2022", [192, 0, 2, 1].into());

    let error = render::host_files(
        &inventory,
        "2022",
        "lb-2022",
        &facts,
        &test_secrets(&inventory),
    )
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "no IPv4 address is known for droplet `app1-2022`"
    );
}

#[test]
fn missing_password_is_an_error() {
    let inventory = shipped_inventory(None);
    let facts = Facts::placeholder(&inventory).unwrap();

    let error = render::host_files(
        &inventory,
        "2023",
        "prod-2023",
        &facts,
        &render::Secrets::new(),
    )
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "no password is given for database user `wwdtm_stats`"
    );
}

#[test]
fn gunicorn_and_json_pass_python() {
    let python = require_program("python3");
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let folder = tempfile::tempdir().unwrap();

    let checked: Vec<&RenderedFile> = files
        .iter()
        .filter(|f| {
            matches!(
                f.validate,
                Some(Validation::PythonSyntax | Validation::Json)
            )
        })
        .collect();
    for rendered in &checked {
        let local = folder
            .path()
            .join(rendered.path.trim_start_matches('/').replace('/', "_"));
        fs::write(&local, rendered.contents.expose()).unwrap();
        let argv = rendered.validate.unwrap().argv(local.to_str().unwrap());

        let output = Command::new(&python).args(&argv[1..]).output().unwrap();

        assert!(output.status.success(), "{}: {output:?}", rendered.path);
        assert!(
            output.stdout.is_empty(),
            "{}: the check prints nothing",
            rendered.path
        );
    }
    assert_eq!(checked.len(), 8, "four apps, two checked files each");
}

#[test]
fn gunicorn_settings_per_app() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let api = file(&files, "/opt/wwdtm/api/gunicorn.conf.py")
        .contents
        .text()
        .unwrap();

    for line in [
        "bind = \"unix:/tmp/gunicorn-wwdtmapi.sock\"",
        "workers = 2",
        "worker_class = \"uvicorn.workers.UvicornWorker\"",
        "accesslog = \"/var/log/wwdtm/api/access.log\"",
        "errorlog = \"/var/log/wwdtm/api/error.log\"",
    ] {
        assert!(
            api.lines().any(|found| found == line),
            "missing `{line}` in:\n{api}"
        );
    }
}

#[test]
fn systemd_unit_per_app() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let unit = file(&files, "/etc/systemd/system/gunicorn-wwdtmstats.service");
    let text = unit.contents.text().unwrap();

    for line in [
        "User=wwdtm",
        "Group=wwdtm",
        "WorkingDirectory=/opt/wwdtm/stats",
        "ExecStart=/opt/wwdtm/stats/venv/bin/python -m gunicorn --config gunicorn.conf.py app:create_app()",
        "Restart=on-failure",
        "LogsDirectory=wwdtm/stats",
        "After=network-online.target mariadb.service mysql.service",
    ] {
        assert!(
            text.lines().any(|found| found == line),
            "missing `{line}` in:\n{text}"
        );
    }
    assert_eq!(unit.mode, 0o644);
    let directories = render::host_directories(&inventory, "2023", "prod-2023").unwrap();
    let stats_logs = directories
        .iter()
        .find(|d| d.path == "/var/log/wwdtm/stats")
        .unwrap();
    assert_eq!(
        (stats_logs.owner.as_str(), stats_logs.mode),
        ("wwdtm", 0o750)
    );
}

fn user_data_yaml(
    inventory: &Inventory,
    fleet: &str,
    droplet: &str,
) -> (render::UserData, serde_json::Value) {
    let data = render::user_data(inventory, fleet, droplet, &test_keys()).unwrap();
    let text = data.contents.expose().to_string();
    assert!(text.starts_with("#cloud-config\n"), "{text}");
    let parsed: serde_json::Value = serde_saphyr::from_str(&text).expect("user data is YAML");
    (data, parsed)
}

#[test]
fn user_data_packages_follow_roles() {
    let inventory = shipped_inventory(None);
    let cases = [
        ("2022", "lb-2022", vec!["nginx"]),
        ("2022", "app1-2022", vec!["nginx", "git", "python3-venv"]),
        (
            "2022",
            "db-2022",
            vec!["mariadb-server", "mariadb-client", "zstd"],
        ),
        (
            "2023",
            "prod-2023",
            vec![
                "nginx",
                "git",
                "python3-venv",
                "mariadb-server",
                "mariadb-client",
                "zstd",
            ],
        ),
    ];
    for (fleet, droplet, packages) in cases {
        let (_, parsed) = user_data_yaml(&inventory, fleet, droplet);

        assert_eq!(parsed["packages"], serde_json::json!(packages), "{droplet}");
        assert_eq!(parsed["hostname"], droplet);
    }
}

#[test]
fn user_data_pins_host_key() {
    let inventory = shipped_inventory(None);
    let (data, parsed) = user_data_yaml(&inventory, "2023", "prod-2023");

    assert!(data.is_secret());
    assert_eq!(parsed["ssh_keys"]["ed25519_private"], TEST_HOST_PRIVATE_KEY);
    assert_eq!(parsed["ssh_genkeytypes"], serde_json::json!([]));
    assert_eq!(parsed["users"][0]["name"], "root");
    assert_eq!(parsed["users"][1]["name"], "wwdtm");
    assert!(!format!("{data:?}").contains("test-private-key"));
}

#[test]
fn user_data_without_host_key_is_plain() {
    let inventory = shipped_inventory(None);
    let keys = CloudInitKeys::default();

    let data = render::user_data(&inventory, "2022", "db-2022", &keys).unwrap();

    assert!(!data.is_secret());
    let text = data.contents.text().unwrap();
    assert!(!text.contains("ssh_keys"), "{text}");
    assert!(text.contains("users: []"), "{text}");
}

#[test]
fn user_data_over_limit_is_rejected() {
    let inventory = shipped_inventory(None);
    let key = format!("ssh-ed25519 {}", "A".repeat(100));
    let keys = CloudInitKeys {
        root_keys: vec![key; 700],
        host_key: None,
    };

    let error = render::user_data(&inventory, "2023", "prod-2023", &keys).unwrap_err();

    let RenderError::UserDataTooLarge { size, limit, .. } = &error else {
        panic!("expected a size error, got {error}");
    };
    assert_eq!(*limit, 65536);
    assert!(*size > 65536);
    assert_eq!(
        error.to_string(),
        format!(
            "the cloud-init user data of `prod-2023` is {size} bytes, over DigitalOcean's limit of 65536 bytes"
        )
    );
}

#[test]
fn diff_shows_plain_changes() {
    let rendered = RenderedFile::text("/etc/nginx/nginx.conf", "a\nb\nc\n");

    assert_eq!(
        diff_file(Some(b"a\nb\nc\n"), &rendered),
        FileChange::Unchanged
    );
    let FileChange::Update {
        diff: Some(diff), ..
    } = diff_file(Some(b"a\nx\nc\n"), &rendered)
    else {
        panic!("expected an update with a diff");
    };
    assert_eq!(
        diff,
        "--- a/etc/nginx/nginx.conf\n+++ b/etc/nginx/nginx.conf\n@@ -1,3 +1,3 @@\n a\n-x\n+b\n c\n"
    );
    let created = diff_file(None, &rendered);
    assert!(
        created
            .to_string()
            .starts_with("--- /dev/null\n+++ b/etc/nginx/nginx.conf\n"),
        "{created}"
    );
}

#[test]
fn diff_never_shows_secrets() {
    let mut rendered = RenderedFile::text("/opt/wwdtm/stats/config.json", "");
    rendered.contents = Contents::Secret(wwctl::secret::Secret::new("password: new-secret"));

    let change = diff_file(Some(b"password: old-secret"), &rendered);

    assert_eq!(
        change,
        FileChange::Update {
            path: "/opt/wwdtm/stats/config.json".to_string(),
            diff: None
        }
    );
    let shown = format!("{change} {change:?}");
    assert!(!shown.contains("new-secret"), "{shown}");
    assert!(!shown.contains("old-secret"), "{shown}");
    assert_eq!(
        change.to_string(),
        "update /opt/wwdtm/stats/config.json (secret file, contents not shown)\n"
    );
    assert_eq!(
        diff_file(Some(b"password: new-secret"), &rendered),
        FileChange::Unchanged
    );
}

#[test]
fn zero_memory_names_key_path() {
    let mut inventory = shipped_inventory(None);
    inventory.fleets["2023"].droplets["prod-2023"].memory_mb = 0;

    let error = render_error(&inventory, "2023", "prod-2023");

    assert_eq!(
        error.to_string(),
        "fleets/2023/droplets/prod-2023/memory_mb: memory_mb is 0, so the MySQL buffer pool cannot be sized"
    );
}

#[test]
fn site_without_app_names_key_path() {
    let mut inventory = shipped_inventory(None);
    inventory.sites["graphs"].app = "grafs".to_string();

    let error = render_error(&inventory, "2023", "prod-2023");

    assert_eq!(
        error.to_string(),
        "sites/graphs/app: site `graphs` names app `grafs`, which is not defined under `apps`"
    );
    assert_eq!(error.hint().as_deref(), Some("did you mean `graphs`?"));
}

#[test]
fn unknown_droplet_suggests_name() {
    let inventory = shipped_inventory(None);

    let error = render_error(&inventory, "2023", "prod-2032");

    assert_eq!(
        error.to_string(),
        "droplet `prod-2032` is not in fleet `2023`"
    );
    assert_eq!(error.hint().as_deref(), Some("did you mean `prod-2023`?"));
}

fn render_error(inventory: &Inventory, fleet: &str, droplet: &str) -> RenderError {
    let facts = Facts::placeholder(inventory).unwrap();
    render::host_files(inventory, fleet, droplet, &facts, &test_secrets(inventory)).unwrap_err()
}
