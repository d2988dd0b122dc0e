//! The API token never appears in anything a run leaves behind, even at the
//! most verbose log level and when the API fails.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::wwctl;

/// Reads every file under `dir` as text.
fn all_text_under(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(all_text_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            found.push((
                path.display().to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            ));
        }
    }
    found
}

/// Starts a fake API that rejects the token and fails listings with a 500
/// that echoes the token back, as a careless proxy might.
async fn failing_api(token: &str) -> MockServer {
    let server = MockServer::start().await;
    let echo = serde_json::json!({"id": "server_error", "message": format!("upstream said: Bearer {token}")});
    Mock::given(method("GET"))
        .and(path("/v2/account/keys"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"id": "unauthorized", "message": "Unable to authenticate you."}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(
            ResponseTemplate::new(500)
                .insert_header("x-request-id", "req-1")
                .set_body_json(echo),
        )
        .mount(&server)
        .await;
    server
}

fn assert_absent(token: &str, place: &str, text: &str) {
    assert!(
        !text.contains(token),
        "the token appears in {place}:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn token_absent_from_output_log_and_journal() {
    let token = format!("dop_v1_{:032x}", rand::random::<u128>());
    let server = failing_api(&token).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, &token).unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();

    let runs: Vec<(Vec<&str>, bool)> = vec![
        (vec!["-vv", "provision", "prod"], true),
        (vec!["-vv", "provision", "prod", "--dry-run"], true),
        (vec!["-vv", "provision", "prod", "--output", "json"], false),
    ];
    for (args, via_environment) in runs {
        let mut command = wwctl();
        command
            .args(&args)
            .env("WWCTL_API_URL", server.uri())
            .env("WWCTL_STATE_DIR", &state);
        if via_environment {
            command.env("DIGITALOCEAN_TOKEN", &token);
        } else {
            command.arg("--token-file").arg(&token_file);
        }
        let output = tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap();
        assert_ne!(
            output.status.code(),
            Some(0),
            "the fake API fails every run"
        );

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("DEBUG") || stderr.contains("TRACE"),
            "-vv logs at debug level or finer: {stderr}"
        );
        assert_absent(&token, "stdout", &String::from_utf8_lossy(&output.stdout));
        assert_absent(&token, "stderr", &stderr);
    }

    let files = all_text_under(&state);
    assert!(
        files.iter().any(|(name, _)| name.ends_with("wwctl.log")),
        "a log file was written: {files:?}"
    );
    assert!(
        files.iter().any(|(name, _)| name.contains("/runs/")),
        "a journal was written"
    );
    for (name, text) in &files {
        assert_absent(&token, name, text);
    }
}

#[test]
fn token_file_readable_by_others_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "dop_v1_abc").unwrap();
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let output = wwctl()
        .args(["provision", "prod", "--dry-run", "--token-file"])
        .arg(&token_file)
        .env("WWCTL_STATE_DIR", dir.path().join("state"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        stderr.contains(&token_file.display().to_string()),
        "{stderr}"
    );
}
