//! Offline dry runs: planned from the inventory alone.

use crate::support::{stderr, wwctl};

#[test]
fn migrate_offline_plan_lists_steps_in_order() {
    let state = tempfile::tempdir().unwrap();
    let output = wwctl()
        .args([
            "migrate",
            "--from",
            "2022",
            "--to",
            "2023",
            "--dry-run",
            "--offline",
            "--output",
            "json",
        ])
        .arg("--state-dir")
        .arg(state.path().join("state"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));

    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(plan["schema"], "wwctl.plan/v1");
    assert_eq!(plan["offline"], true);
    let kinds: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["kind"].as_str().unwrap())
        .collect();

    // The order a migration must keep: create, wait, configure, deploy,
    // sync and verify, health check, shift DNS, verify DNS.
    let expected = [
        "droplets.create",
        "droplets.wait_ready",
        "hosts.bootstrap",
        "nginx.configure",
        "apps.deploy",
        "database.sync",
        "sites.health",
        "dns.switch",
        "dns.verify",
    ];
    let positions: Vec<usize> = expected
        .iter()
        .map(|kind| {
            kinds
                .iter()
                .position(|found| found == kind)
                .unwrap_or_else(|| panic!("{kind} missing in {kinds:?}"))
        })
        .collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted, "steps out of order: {kinds:?}");
    assert!(plan["summary"]["changes"].as_u64().unwrap() > 0);
}

#[test]
fn dry_run_writes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let state_dir = state.path().join("state");
    let output = wwctl()
        .args([
            "migrate",
            "--from",
            "2022",
            "--to",
            "2023",
            "--dry-run",
            "--offline",
        ])
        .arg("--state-dir")
        .arg(&state_dir)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(!state_dir.exists(), "a dry run created the state folder");
}

#[test]
fn offline_requires_dry_run() {
    let output = wwctl()
        .args(["migrate", "--from", "2022", "--to", "2023", "--offline"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    assert!(stderr(&output).contains("--dry-run"), "{}", stderr(&output));
}

#[test]
fn same_fleet_twice_is_usage_error() {
    let cases = [
        ["migrate", "--from", "2022", "--to", "2022"],
        ["migrate", "--from", "2022", "--to", "old-fleet"],
        ["rollback", "--from", "old-fleet", "--to", "2022"],
    ];
    for args in cases {
        let state = tempfile::tempdir().unwrap();
        let output = wwctl()
            .args(args)
            .args(["--dry-run", "--offline"])
            .arg("--state-dir")
            .arg(state.path().join("state"))
            .output()
            .unwrap();
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(3), "{args:?}: {message}");
        assert!(message.contains("name the same fleet `2022`"), "{message}");
        assert!(
            message.contains("`2023`"),
            "hint lacks the other fleet: {message}"
        );
        assert!(output.stdout.is_empty(), "{args:?} printed a plan");
    }
}
