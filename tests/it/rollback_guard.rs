//! Rollback after the old fleet was deleted: refused before any change.

use std::path::Path;

use crate::support::{stderr, wwctl};

/// Writes a resources file in which fleet 2022 was torn down and 2023 runs.
fn write_torn_down_state(state_dir: &Path) {
    let deleted = |id: u64, name: &str, env: &str| {
        serde_json::json!({
            "id": id, "name": name, "fleet": "2022", "env": env,
            "origin": "created", "run_id": "run-1",
            "recorded_at": "2026-12-01T10:00:00Z",
            "address": format!("192.0.2.{id}"), "host_keys": [],
            "deleted_at": "2026-12-04T20:15:00Z",
        })
    };
    let resources = serde_json::json!({
        "format": "wwctl.resources/v1",
        "droplets": {
            "lb-2022": deleted(1, "lb-2022", "prod"),
            "app1-2022": deleted(2, "app1-2022", "prod"),
            "app2-2022": deleted(3, "app2-2022", "prod"),
            "app3-2022": deleted(4, "app3-2022", "prod"),
            "db-2022": deleted(5, "db-2022", "prod"),
            "prod-2023": {
                "id": 7, "name": "prod-2023", "fleet": "2023", "env": "prod",
                "origin": "created", "run_id": "run-2",
                "recorded_at": "2026-12-02T10:00:00Z",
                "address": "192.0.2.7", "host_keys": [], "deleted_at": null,
            },
        },
        "snapshots": [],
    });
    std::fs::create_dir_all(state_dir).unwrap();
    std::fs::write(
        state_dir.join("resources.json"),
        serde_json::to_vec_pretty(&resources).unwrap(),
    )
    .unwrap();
}

#[test]
fn rollback_after_teardown_rejected() {
    let temp = tempfile::tempdir().unwrap();
    let state_dir = temp.path().join("state");
    write_torn_down_state(&state_dir);

    for dry_run in [true, false] {
        let mut command = wwctl();
        command
            .args(["rollback", "--from", "2023", "--to", "2022"])
            // A closed loopback port: the refusal comes before any API call.
            .args(["--api-url", "http://127.0.0.1:9"])
            .arg("--state-dir")
            .arg(&state_dir);
        if dry_run {
            command.arg("--dry-run");
        }
        let output = command.output().unwrap();
        let message = stderr(&output);

        assert_eq!(
            output.status.code(),
            Some(8),
            "dry run {dry_run}: {message}"
        );
        assert!(
            message.contains("cannot roll back to fleet `2022`"),
            "{message}"
        );
        assert!(message.contains("`lb-2022` no longer exists"), "{message}");
        assert!(message.contains("`db-2022` no longer exists"), "{message}");
        assert!(
            message.contains("wwctl migrate --from 2023 --to 2022"),
            "{message}"
        );
        assert!(!message.contains("resumes at this step"), "{message}");
        assert!(
            output.stdout.is_empty(),
            "printed a plan: {}",
            crate::support::stdout(&output)
        );
    }

    // The refused real run started no run: no journal, no lock.
    assert!(!state_dir.join("runs").exists(), "a run was journaled");
    assert!(!state_dir.join("lock").exists(), "the lock was taken");
}
