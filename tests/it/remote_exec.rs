//! Remote execution against a real sshd: pinned host keys, quoting,
//! concurrency, errors, and file sync that never leaves a partial file.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use wwctl::remote::host_keys;
use wwctl::remote::known_hosts::{KnownHosts, host_pattern};
use wwctl::remote::sync::{self, Contents, FileSpec, FileStatus, Validation};
use wwctl::remote::{Cmd, Host, RemoteError, SshSettings, Target};

use crate::support::sshd::{self, TestSshd};

struct Client {
    _state: tempfile::TempDir,
    settings: SshSettings,
    known: Mutex<KnownHosts>,
    target: Target,
}

/// Builds a client whose known_hosts pins `pinned` for the test server.
fn client(server: &TestSshd, pinned: &ssh_key::PublicKey) -> Client {
    let state = tempfile::tempdir().unwrap();
    let settings = SshSettings::prepare(
        &state.path().join("known_hosts"),
        Some(server.client_key.clone()),
    )
    .unwrap();
    let mut known = KnownHosts::load(&settings.known_hosts).unwrap();
    let target = Target {
        name: "test-host".to_string(),
        address: "127.0.0.1".to_string(),
        port: server.port,
        user: "root".to_string(),
    };
    known
        .pin(
            &host_pattern("127.0.0.1", server.port),
            std::slice::from_ref(pinned),
        )
        .unwrap();
    known.save().unwrap();
    Client {
        _state: state,
        settings,
        known: Mutex::new(known),
        target,
    }
}

async fn connect(client: &Client) -> Host {
    Host::connect(&client.settings, &client.known, client.target.clone())
        .await
        .unwrap()
}

#[tokio::test]
async fn mismatched_host_key_stops_before_any_command() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let other = host_keys::generate("someone-else").unwrap();
    let client = client(&server, &other.public);

    let error = Host::connect(&client.settings, &client.known, client.target.clone())
        .await
        .unwrap_err();
    let RemoteError::HostKeyMismatch {
        host,
        address,
        expected,
        presented,
    } = &error
    else {
        panic!("expected a host key mismatch, got {error}");
    };
    assert_eq!(host, "test-host");
    assert_eq!(address, "127.0.0.1");
    assert!(
        expected.contains(&host_keys_fingerprint(&other.public)),
        "{expected}"
    );
    assert!(
        presented.contains(&host_keys_fingerprint(&server.host_key.public)),
        "{presented}"
    );
    assert!(error.to_string().contains("nothing was run"));
    assert!(
        !server.log().contains("Accepted publickey"),
        "no login happened:\n{}",
        server.log()
    );
}

fn host_keys_fingerprint(key: &ssh_key::PublicKey) -> String {
    wwctl::remote::known_hosts::fingerprint(key)
}

#[tokio::test]
async fn unknown_host_key_is_rejected() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    client
        .known
        .lock()
        .await
        .forget(&host_pattern("127.0.0.1", server.port));

    let error = Host::connect(&client.settings, &client.known, client.target.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(error, RemoteError::UnknownHostKey { .. }),
        "{error}"
    );
}

#[tokio::test]
async fn arguments_arrive_unchanged() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;

    let tricky = [
        "a b",
        "it's",
        "$(touch /tmp/pwned)",
        "*",
        "",
        "semi;colon",
        "new\nline",
    ];
    let mut argv = vec!["printf", "%s\\0"];
    argv.extend(tricky);
    let output = host.run(&Cmd::new(&argv)).await.unwrap();
    let received: Vec<&str> = std::str::from_utf8(&output.stdout)
        .unwrap()
        .split('\0')
        .collect();
    assert_eq!(&received[..tricky.len()], &tricky);
}

#[tokio::test]
async fn twelve_concurrent_commands_succeed() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = Arc::new(connect(&client).await);

    let tasks: Vec<_> = (0..12)
        .map(|index| {
            let host = host.clone();
            tokio::spawn(async move {
                let output = host
                    .run(&Cmd::new(&[
                        "sh",
                        "-c",
                        "sleep 0.3; echo $0",
                        &index.to_string(),
                    ]))
                    .await?;
                Ok::<_, RemoteError>(output.stdout_text().trim().to_string())
            })
        })
        .collect();
    for (index, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap().unwrap(), index.to_string());
    }
}

#[tokio::test]
async fn failing_command_error_names_everything() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;

    let error = host
        .run(&Cmd::new(&[
            "sh",
            "-c",
            "echo first >&2; echo the real cause >&2; exit 3",
        ]))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("on `test-host`"), "{text}");
    assert!(
        text.contains("`sh -c 'echo first >&2; echo the real cause >&2; exit 3'`"),
        "{text}"
    );
    assert!(text.contains("exit status 3"), "{text}");
    assert!(text.contains("the real cause"), "{text}");
}

#[tokio::test]
async fn command_timeout_is_reported() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;

    let error = host
        .run(&Cmd::new(&["sleep", "5"]).timeout(Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(error, RemoteError::Timeout { .. }), "{error}");
}

fn file(dir: &std::path::Path, name: &str, text: &str) -> FileSpec {
    FileSpec::new(
        &dir.join(name).display().to_string(),
        Contents::Plain(text.as_bytes().to_vec()),
        0o644,
    )
}

#[tokio::test]
async fn second_identical_sync_changes_nothing() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;
    let remote = tempfile::tempdir().unwrap();

    let files: Vec<FileSpec> = (0..20)
        .map(|index| {
            file(
                remote.path(),
                &format!("f{index}.conf"),
                &format!("value {index}\n"),
            )
        })
        .collect();
    let first = sync::sync(&host, &files, None).await.unwrap();
    assert_eq!(first.changed_paths().len(), 20);
    assert!(
        first
            .files
            .iter()
            .all(|result| result.status == FileStatus::Created)
    );

    let second = sync::sync(&host, &files, None).await.unwrap();
    assert!(!second.changed(), "{second:?}");

    let mut changed = files.clone();
    changed[3] = file(remote.path(), "f3.conf", "value changed\n");
    let third = sync::sync(&host, &changed, None).await.unwrap();
    assert_eq!(third.changed_paths(), vec![changed[3].path.as_str()]);
    assert_eq!(
        std::fs::read_to_string(remote.path().join("f3.conf.wwctl-prev")).unwrap(),
        "value 3\n"
    );
}

#[tokio::test]
async fn secret_file_is_never_readable_by_others() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;
    let remote = tempfile::tempdir().unwrap();
    let path = remote.path().join("config.json");

    let spec = FileSpec::new(
        &path.display().to_string(),
        Contents::Secret(b"{\"password\":\"x\"}".to_vec().into()),
        0o600,
    );
    sync::sync(&host, &[spec], None).await.unwrap();
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn failed_validation_leaves_live_tree_alone() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = connect(&client).await;
    let remote = tempfile::tempdir().unwrap();
    let root = remote.path().join("conf");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("main.conf"), "good\n").unwrap();

    let validation = Validation::Tree {
        root: root.display().to_string(),
        argv: vec![
            "grep".to_string(),
            "-q".to_string(),
            "^good".to_string(),
            "{tree}/main.conf".to_string(),
        ],
    };
    let bad = file(&root, "main.conf", "bad\n");
    let error = sync::sync(&host, &[bad], Some(&validation))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("grep"), "{error}");
    assert_eq!(
        std::fs::read_to_string(root.join("main.conf")).unwrap(),
        "good\n"
    );
    assert!(
        !root.join("main.conf.wwctl-new").exists(),
        "the candidate was cleaned up"
    );

    let good = file(&root, "main.conf", "good and new\n");
    sync::sync(&host, &[good], Some(&validation)).await.unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("main.conf")).unwrap(),
        "good and new\n"
    );
}

#[tokio::test]
async fn connection_killed_mid_upload_leaves_old_file() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let client = client(&server, &server.host_key.public);
    let host = Arc::new(connect(&client).await);
    let remote = tempfile::tempdir().unwrap();
    let path = remote.path().join("big.bin");
    std::fs::write(&path, b"old contents").unwrap();

    // 256 MiB takes long enough over loopback to be cut in the middle.
    let big = FileSpec::new(
        &path.display().to_string(),
        Contents::Plain(vec![b'x'; 256 << 20]),
        0o644,
    );
    let upload = {
        let host = host.clone();
        tokio::spawn(async move { sync::sync(&host, &[big], None).await })
    };
    let temp = remote.path().join("big.bin.wwctl-new");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::fs::metadata(&temp).map(|meta| meta.len()).unwrap_or(0) < (1 << 20) {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = std::process::Command::new("ssh")
        .arg("-S")
        .arg(host.control_socket())
        .args(["-O", "exit", "test-host"])
        .output()
        .unwrap();
    assert!(
        killed.status.success(),
        "{}",
        String::from_utf8_lossy(&killed.stderr)
    );

    let result = upload.await.unwrap();
    assert!(
        result.is_err(),
        "the upload should fail when the connection dies"
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"old contents");
}

fn trust(state: &std::path::Path, server: &TestSshd, extra: &[&str]) -> std::process::Output {
    let mut command = crate::support::wwctl();
    command
        .args([
            "hosts",
            "trust",
            "prod-2023",
            "--address",
            "127.0.0.1",
            "--port",
        ])
        .arg(server.port.to_string())
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    command.output().unwrap()
}

#[tokio::test]
async fn hosts_trust_pins_only_confirmed_keys() {
    if !sshd::available() {
        return;
    }
    let server = TestSshd::start();
    let state = tempfile::tempdir().unwrap();
    let known_hosts = state.path().join("known_hosts");
    let fingerprint = wwctl::remote::known_hosts::fingerprint(&server.host_key.public);

    // Without a confirmation nothing is pinned.
    let unconfirmed = trust(state.path(), &server, &[]);
    assert_eq!(
        unconfirmed.status.code(),
        Some(8),
        "{}",
        crate::support::stderr(&unconfirmed)
    );
    assert!(
        crate::support::stderr(&unconfirmed).contains(&fingerprint),
        "the fingerprint is shown"
    );
    assert!(
        KnownHosts::load(&known_hosts)
            .unwrap()
            .keys_for(&host_pattern("127.0.0.1", server.port))
            .is_empty()
    );

    let confirmed = trust(state.path(), &server, &["--yes"]);
    assert_eq!(
        confirmed.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&confirmed)
    );
    let pinned = KnownHosts::load(&known_hosts).unwrap();
    let keys = pinned.keys_for(&host_pattern("127.0.0.1", server.port));
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_data(), server.host_key.public.key_data());

    // A rebuilt server with another key is refused unless replaced on purpose.
    drop(server);
    let rebuilt = TestSshd::start();
    let other_port = rebuilt.port;
    let mut known = KnownHosts::load(&known_hosts).unwrap();
    known.replace(
        &host_pattern("127.0.0.1", other_port),
        &[host_keys::generate("old").unwrap().public],
    );
    known.save().unwrap();
    let refused = trust(state.path(), &rebuilt, &["--yes"]);
    assert_eq!(
        refused.status.code(),
        Some(8),
        "{}",
        crate::support::stderr(&refused)
    );
    assert!(crate::support::stderr(&refused).contains("--replace"));
    let replaced = trust(state.path(), &rebuilt, &["--yes", "--replace"]);
    assert_eq!(
        replaced.status.code(),
        Some(0),
        "{}",
        crate::support::stderr(&replaced)
    );
}
