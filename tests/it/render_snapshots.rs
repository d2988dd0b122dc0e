//! Snapshots of every rendered file of the four kinds of droplet, with the
//! test password and private key shown as `[redacted]`.

use wwctl::render::{self, RenderedFile};
use wwctl::secret::Secret;

use crate::render_support::{
    TEST_HOST_PRIVATE_KEY, TEST_PASSWORD, render_host, shipped_inventory, test_keys,
};

/// Joins the folders, files and user data of a droplet into one text, with
/// the test secrets replaced.
fn rendered_text(fleet: &str, droplet: &str) -> String {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, fleet, droplet);
    let directories = render::host_directories(&inventory, fleet, droplet).unwrap();
    let user_data = render::user_data(&inventory, fleet, droplet, &test_keys()).unwrap();

    let mut text = String::new();
    for directory in &directories {
        text.push_str(&format!(
            "== folder {} ({:04o} {}:{})\n",
            directory.path, directory.mode, directory.owner, directory.group
        ));
    }
    for file in &files {
        text.push_str(&describe(file));
    }
    text.push_str("== cloud-init user data (secret)\n");
    text.push_str(&redact(user_data.contents.expose()));
    text
}

fn describe(file: &RenderedFile) -> String {
    let validation = file
        .validate
        .map(|v| format!(", checked by `{}`", v.argv(&file.path).join(" ")))
        .unwrap_or_default();
    let secret = if file.is_secret() { ", secret" } else { "" };
    format!(
        "== {} ({} {}:{}{secret}{validation})\n{}\n",
        file.path,
        file.mode_octal(),
        file.owner,
        file.group,
        redact(file.contents.expose())
    )
}

fn redact(text: &str) -> String {
    let private_key = serde_json::to_string(TEST_HOST_PRIVATE_KEY).unwrap();
    text.replace(TEST_PASSWORD, Secret::REDACTED)
        .replace(&private_key, &format!("\"{}\"", Secret::REDACTED))
}

#[test]
fn snapshot_front_end_2022() {
    insta::assert_snapshot!(rendered_text("2022", "lb-2022"));
}

#[test]
fn snapshot_app_server_2022() {
    insta::assert_snapshot!(rendered_text("2022", "app1-2022"));
}

#[test]
fn snapshot_all_in_one_2023() {
    insta::assert_snapshot!(rendered_text("2023", "prod-2023"));
}

#[test]
fn snapshot_staging_2023() {
    insta::assert_snapshot!(rendered_text("2023", "staging-2023"));
}

#[test]
fn snapshots_contain_no_secret() {
    for (fleet, droplet) in [("2022", "app1-2022"), ("2023", "prod-2023")] {
        let text = rendered_text(fleet, droplet);

        assert!(!text.contains(TEST_PASSWORD), "{droplet}");
        assert!(!text.contains("test-private-key"), "{droplet}");
        assert!(text.contains("\"password\": \"[redacted]\""), "{droplet}");
    }
}
