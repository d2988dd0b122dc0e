//! `wwctl inventory check` on the shipped inventory and on broken copies.

use crate::support::{copy_inventory, edit, stderr, stdout, wwctl};

#[test]
fn shipped_inventory_is_valid() {
    for overlay in [None, Some("sandbox")] {
        let mut command = wwctl();
        command.args(["inventory", "check"]);
        if let Some(overlay) = overlay {
            command.args(["--overlay", overlay]);
        }
        let output = command.output().unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains("is valid"), "{}", stdout(&output));
    }
}

/// Break one thing in a copy of the inventory and return the check's exit
/// code and stderr.
fn check_broken(file: &str, from: &str, to: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    edit(&inventory.join(file), from, to);
    let output = wwctl()
        .args(["inventory", "check", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    (
        output.status.code(),
        stderr(&output).replace(&inventory.display().to_string(), "INV"),
    )
}

#[test]
fn unknown_key_is_reported_with_position() {
    let (code, text) = check_broken(
        "fleets.yaml",
        "        size: s-1vcpu-1gb\n",
        "        sise: s-1vcpu-1gb\n",
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains(
            "INV/fleets.yaml:13:9: fleets/2022/droplets/lb-2022/sise: unknown field `sise`"
        ),
        "{text}"
    );
    assert!(text.contains("hint: did you mean `size`?"), "{text}");
}

#[test]
fn invalid_droplet_name_is_reported() {
    let (code, text) = check_broken("fleets.yaml", "      app1-2022:", "      web_new 01:");
    assert_eq!(code, Some(3));
    assert!(text.contains("INV/fleets.yaml:14:7: fleets/2022/droplets/web_new 01: droplet name `web_new 01` is not a valid hostname"), "{text}");
    assert!(
        text.contains("hint: rename it, for example to `web-new-01`"),
        "{text}"
    );
}

#[test]
fn ttl_below_minimum_is_reported() {
    let (code, text) = check_broken("dns.yaml", "      cutover_ttl: 60", "      cutover_ttl: 10");
    assert_eq!(code, Some(3));
    assert!(text.contains("INV/dns.yaml:8:20: dns/zones/wwdt.me/cutover_ttl: TTL 10 is below DigitalOcean's minimum of 30 seconds"), "{text}");
    assert!(text.contains("hint: set a TTL of at least 30"), "{text}");
}

#[test]
fn sync_compress_must_be_auto_true_or_false() {
    let (code, text) = check_broken("database.yaml", "compress: auto", "compress: fast");
    assert_eq!(code, Some(3));
    assert!(
        text.contains(
            "INV/database.yaml:20:5: database/sync/compress: invalid value: string \"fast\", expected `auto`, `true` or `false`"
        ),
        "{text}"
    );
    assert!(
        text.contains("hint: write `auto`, `true` or `false` without quotes"),
        "{text}"
    );
}

#[test]
fn site_with_missing_app_is_reported() {
    let (code, text) = check_broken("sites.yaml", "    app: graphs", "    app: graph");
    assert_eq!(code, Some(3));
    assert!(text.contains("INV/sites.yaml:69:10: sites/graphs/app: site `graphs` names app `graph`, which is not defined under `apps`"), "{text}");
    assert!(text.contains("hint: did you mean `graphs`?"), "{text}");
}

#[test]
fn duplicate_droplet_name_is_reported() {
    let (code, text) = check_broken("fleets.yaml", "      staging-2023:", "      app1-2022:");
    assert_eq!(code, Some(3));
    assert!(text.contains("INV/fleets.yaml:44:7: fleets/2023/droplets/app1-2022: duplicate droplet name `app1-2022`, first defined at INV/fleets.yaml:14:7"), "{text}");
    assert!(
        text.contains("hint: droplet names must be unique across all fleets"),
        "{text}"
    );
}

#[test]
fn misspelled_fleet_is_reported() {
    let (code, text) = check_broken(
        "project.yaml",
        "current_fleet: \"2023\"",
        "current_fleet: \"2O23\"",
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains("INV/project.yaml:11:18: project/current_fleet: unknown fleet `2O23`"),
        "{text}"
    );
    assert!(text.contains("hint: did you mean `2023`?"), "{text}");
}

#[test]
fn misspelled_fleet_on_command_line_is_reported() {
    let output = wwctl()
        .args([
            "migrate",
            "--from",
            "2022",
            "--to",
            "2O23",
            "--dry-run",
            "--offline",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let text = stderr(&output);
    assert!(text.contains("error: unknown fleet `2O23`"), "{text}");
    assert!(text.contains("hint: did you mean `2023`?"), "{text}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    edit(
        &inventory.join("dns.yaml"),
        "      cutover_ttl: 60",
        "      cutover_ttl: 10",
    );
    edit(
        &inventory.join("sites.yaml"),
        "    app: graphs",
        "    app: graph",
    );
    let output = wwctl()
        .args(["inventory", "check", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert!(
        text.contains("the inventory or playbooks have 2 problems"),
        "{text}"
    );
}

#[test]
fn json_output_lists_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    edit(
        &inventory.join("dns.yaml"),
        "      cutover_ttl: 60",
        "      cutover_ttl: 10",
    );
    let output = wwctl()
        .args(["inventory", "check", "--output", "json", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        report["diagnostics"][0]["key_path"],
        "dns/zones/wwdt.me/cutover_ttl"
    );
    assert_eq!(report["diagnostics"][0]["at"]["line"], 8);
}

#[test]
fn dotted_zone_and_record_names_stay_whole() {
    let (code, text) = check_broken("dns.yaml", "      cutover_ttl: 60", "      cutover_tll: 60");
    assert_eq!(code, Some(3));
    assert!(
        text.contains("dns/zones/wwdt.me/cutover_tll: unknown field"),
        "{text}"
    );

    let (code, text) = check_broken(
        "dns.yaml",
        "stats.staging:   { type: A,",
        "stats.staging:   { typo: A,",
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains("dns/zones/wwdt.me/records/stats.staging/typo: unknown field"),
        "{text}"
    );
}

/// Run `inventory check` on `inventory` and return the exit code and stderr
/// with the folder replaced by `INV`.
fn check_folder(inventory: &std::path::Path) -> (Option<i32>, String) {
    let output = wwctl()
        .args(["inventory", "check", "--inventory"])
        .arg(inventory)
        .output()
        .unwrap();
    (
        output.status.code(),
        stderr(&output).replace(&inventory.display().to_string(), "INV"),
    )
}

#[test]
fn missing_section_names_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    std::fs::remove_file(inventory.join("database.yaml")).unwrap();

    let (code, text) = check_folder(&inventory);
    assert_eq!(code, Some(3));
    assert!(
        text.contains(
            "INV: database: no inventory file in this folder defines the required section `database`"
        ),
        "{text}"
    );
    assert!(text.contains("hint: add `database.yaml`"), "{text}");
    assert!(!text.contains("dns.yaml"), "{text}");
}

#[test]
fn folder_with_yaml_name_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    std::fs::remove_file(inventory.join("database.yaml")).unwrap();
    std::fs::create_dir(inventory.join("database.yaml")).unwrap();

    let (code, text) = check_folder(&inventory);
    assert_eq!(code, Some(3));
    assert!(
        text.contains("INV/database.yaml: has a YAML file name but is not a file"),
        "{text}"
    );
}

#[test]
fn tab_indentation_gets_hint() {
    let (code, text) = check_broken("dns.yaml", "      ttl: 3600\n", "\tttl: 3600\n");
    assert_eq!(code, Some(3));
    assert!(text.contains("INV/dns.yaml:6:2: dns/zones: "), "{text}");
    assert!(text.contains("tabs"), "{text}");
    assert!(
        text.contains("hint: indent with spaces; YAML does not allow tabs"),
        "{text}"
    );
}

#[test]
fn unclosed_brace_path_has_no_placeholder() {
    let (code, text) = check_broken(
        "dns.yaml",
        "{ type: A, points_to: { env: prod } }\n        www:",
        "{ type: A, points_to: { env: prod }\n        www:",
    );
    assert_eq!(code, Some(3));
    assert!(
        text.contains("INV/dns.yaml:13:9: dns/zones/wwdt.me/records/@: "),
        "{text}"
    );
    assert!(!text.contains("/?"), "{text}");
    assert!(
        text.contains("hint: look for a `{` without its `}` at or before this point"),
        "{text}"
    );
}

#[test]
fn invalid_duration_hides_parser_internals() {
    let (code, text) = check_broken("dns.yaml", "drain_margin: 5m", "drain_margin: 5 minutess");
    assert_eq!(code, Some(3));
    assert!(
        text.contains(
            "INV/dns.yaml:10:21: dns/zones/wwdt.me/drain_margin: `5 minutess` is not a duration"
        ),
        "{text}"
    );
    assert!(!text.contains("PT5M"), "{text}");
    assert!(!text.contains("unparsed input"), "{text}");
    assert!(text.contains("hint: write a number with a unit"), "{text}");
    assert!(text.contains("`5 minutes`"), "{text}");
}

#[test]
fn unknown_env_has_no_follow_on_errors() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = copy_inventory(dir.path());
    let fleets = inventory.join("fleets.yaml");
    let text = std::fs::read_to_string(&fleets).unwrap();
    assert_eq!(text.matches("env: staging").count(), 2, "{text}");
    std::fs::write(&fleets, text.replace("env: staging", "env: stagin")).unwrap();

    let output = wwctl()
        .args(["inventory", "check", "--inventory"])
        .arg(&inventory)
        .output()
        .unwrap();
    let text = stderr(&output).replace(&inventory.display().to_string(), "INV");

    assert_eq!(output.status.code(), Some(3), "{text}");
    assert!(text.contains("have 2 problems"), "{text}");
    assert!(
        text.contains(
            "INV/fleets.yaml:31:14: fleets/2022/droplets/staging-2022/env: unknown environment `stagin`"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "INV/fleets.yaml:45:14: fleets/2023/droplets/staging-2023/env: unknown environment `stagin`"
        ),
        "{text}"
    );
    assert!(text.contains("did you mean `staging`?"), "{text}");
    assert!(!text.contains("no fleet has a droplet"), "{text}");
}
