//! Flag values checked before a command acts on them, and hints that repeat
//! the flags a command was given.

use crate::support::{stderr, wwctl};

/// Run wwctl with `args` and return its exit code and stderr.
fn run(args: &[&str]) -> (Option<i32>, String) {
    let state = tempfile::tempdir().unwrap();
    let output = wwctl()
        .args(args)
        .arg("--state-dir")
        .arg(state.path().join("state"))
        .output()
        .unwrap();
    (output.status.code(), stderr(&output))
}

#[test]
fn dns_server_needs_ip_and_port() {
    for value in ["999.1.1.1:53", "127.0.0.1", "ns1.example.com:53"] {
        let (code, text) = run(&["inventory", "check", "--dns-server", value]);
        assert_eq!(code, Some(3), "{value}: {text}");
        assert!(text.contains("--dns-server"), "{text}");
        assert!(text.contains(value), "{text}");
    }

    let (code, text) = run(&["inventory", "check", "--dns-server", "127.0.0.1:5353"]);
    assert_eq!(code, Some(0), "{text}");
}

#[test]
fn trust_address_must_be_ip() {
    let (code, text) = run(&["hosts", "trust", "prod-2023", "--address", "300.1.2.3"]);
    assert_eq!(code, Some(3), "{text}");
    assert!(text.contains("--address"), "{text}");
    assert!(text.contains("300.1.2.3"), "{text}");
}

#[test]
fn missing_identity_and_ca_files_are_named() {
    let migrate = ["migrate", "--from", "2022", "--to", "2023", "--dry-run"];
    for flag in ["--ssh-identity", "--ca-file"] {
        let missing = "/nonexistent/wwctl-test-file";
        let (code, text) = run(&[&migrate[..], &[flag, missing]].concat());
        assert_eq!(code, Some(3), "{flag}: {text}");
        assert!(
            text.contains(&format!("{flag} `{missing}` does not exist")),
            "{text}"
        );
    }

    let (code, text) = run(&[&migrate[..], &["--ca-file", "/tmp"]].concat());
    assert_eq!(code, Some(3), "{text}");
    assert!(
        text.contains("--ca-file `/tmp` is a folder, not a file"),
        "{text}"
    );
}

#[test]
fn overlay_must_be_plain_name() {
    for value in ["../project", "sub/sandbox", "sandbox.yaml", ""] {
        let (code, text) = run(&["inventory", "check", "--overlay", value]);
        assert_eq!(code, Some(3), "{value:?}: {text}");
        assert!(text.contains("--overlay"), "{text}");
        assert!(text.contains("letters, digits"), "{text}");
    }
}

#[test]
fn sandbox_hint_keeps_dir() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = dir.path().join("my sandbox");
    let output = wwctl()
        .args(["sandbox", "--dir"])
        .arg(&sandbox)
        .arg("env")
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(3), "{text}");
    let expected = format!(
        "hint: start one with `wwctl sandbox --dir '{}' up --api-only`",
        sandbox.display()
    );
    assert!(text.contains(&expected), "{text}");
}
