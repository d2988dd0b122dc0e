//! The main job end to end in the sandbox: the 2022 fleet, the move to
//! 2023, staging, and the teardown of the old fleet, with the checks a user
//! relies on at each stage.

use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::sandbox::{LabSandbox, Project};
use crate::support::stdout;

const PROD_SITES: [(&str, &str); 4] = [
    ("stats", "/shows/count"),
    ("api", "/v2.0/shows/count"),
    ("graphs", "/shows/count"),
    ("reports", "/shows/count"),
];

async fn address_of(project: &Project, name: &str) -> Ipv4Addr {
    let droplet = project
        .droplets()
        .await
        .into_iter()
        .find(|droplet| droplet["name"] == name)
        .unwrap_or_else(|| panic!("droplet `{name}` not found"));
    crate::support::api::public_ipv4(&droplet)
        .unwrap_or_else(|| panic!("droplet `{name}` has no public address"))
        .parse()
        .unwrap()
}

/// Checks that every production site responds through DNS from `expected`,
/// reading the database.
fn assert_sites_served_by(project: &Project, subdomain: &str, expected: Ipv4Addr) {
    for (site, path) in PROD_SITES {
        let domain = if subdomain.is_empty() {
            project.fqdn(site)
        } else {
            project.fqdn(&format!("{site}.{subdomain}"))
        };
        let answer = project.resolve(&domain);
        assert_eq!(answer, vec![expected], "DNS answer for {domain}");
        let (status, body) = project.https(&domain, answer[0], path);
        assert_eq!(status, 200, "{domain}{path}: {body}");
        assert!(body.contains("shows: 1500"), "{domain}{path}: {body}");
    }
}

fn plan_json(project: &Project, args: &[&str], code: i32) -> Value {
    let mut full = args.to_vec();
    full.extend(["--dry-run", "--output", "json"]);
    let output = project.run_expect(&full, code);
    serde_json::from_slice(&output.stdout).unwrap()
}

fn step_changes<'a>(plan: &'a Value, step: &str) -> Vec<&'a Value> {
    plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|found| found["id"] == step)
        .map(|found| {
            found["changes"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|change| change["action"] != "no_change" && change["action"] != "check")
                .collect()
        })
        .unwrap_or_default()
}

/// Start wwctl with `args` in its own process group, and SIGKILL the group
/// once the journal shows step `step` running.
fn kill_during_step(project: &Project, args: &[&str], step: &str) {
    let mut child = project
        .wwctl()
        .args(args)
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    let runs = project.state.join("runs");
    loop {
        assert!(Instant::now() < deadline, "step `{step}` never started");
        if let Some(state) = newest_step_state(&runs, step)
            && state == "running"
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "wwctl {} ended ({status}) before step `{step}` started",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let group = nix::unistd::Pid::from_raw(-(child.id() as i32));
    nix::sys::signal::kill(group, nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
}

/// Reads the state of `step` in the most recently updated journal that has it,
/// read without wwctl. A resumed run keeps its older journal file, so the
/// newest file is not always the run in progress.
fn newest_step_state(runs: &std::path::Path, step: &str) -> Option<String> {
    let mut newest: Option<(String, String)> = None;
    for entry in std::fs::read_dir(runs).ok()?.filter_map(Result::ok) {
        let path = entry.path();
        let name = path.file_name()?.to_string_lossy().into_owned();
        if !name.ends_with(".json") || name.starts_with('.') {
            continue;
        }
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(journal) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        let updated = journal["updated_at"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let state = journal["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|found| found["id"] == step))
            .and_then(|found| found["state"].as_str().map(str::to_string));
        if let Some(state) = state
            && newest.as_ref().is_none_or(|(known, _)| updated > *known)
        {
            newest = Some((updated, state));
        }
    }
    newest.map(|(_, state)| state)
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_move_in_the_sandbox() {
    let Some(sandbox) = LabSandbox::from_env("whole_move_in_the_sandbox") else {
        return;
    };
    let lab = wwctl::sandbox::lab::Lab::open(&sandbox.lab_dir()).unwrap();
    let project = Project::new(sandbox, "e2e").await;

    // The 2022 starting point, made with the same playbooks as production.
    project.run_expect(&["provision", "2022"], 0);
    let lb = address_of(&project, "lb-2022").await;
    assert_sites_served_by(&project, "", lb);
    let records_before = project
        .api
        .get(&format!(
            "/v2/domains/{}/records?per_page=200",
            project.zone
        ))
        .await
        .expect(200)
        .body;

    // A second provision changes nothing.
    let plan = plan_json(&project, &["provision", "2022"], 0);
    assert_eq!(plan["summary"]["changes"], 0, "{plan:#}");
    project.run_expect(&["provision", "2022"], 0);
    let records_after = project
        .api
        .get(&format!(
            "/v2/domains/{}/records?per_page=200",
            project.zone
        ))
        .await
        .expect(200)
        .body;
    assert_eq!(
        records_before, records_after,
        "a second provision rewrote records"
    );

    // A new commit on develop reaches staging only.
    let version = format!("develop-e2e-{:08x}", rand::random::<u32>());
    lab.add_commit("stats", "develop", &version).unwrap();
    let plan = plan_json(&project, &["provision", "2022"], 2);
    let deploys = step_changes(&plan, "deploy-apps");
    assert_eq!(deploys.len(), 1, "{deploys:#?}");
    assert_eq!(deploys[0]["target"], "staging-2022");
    assert!(
        deploys[0]["details"][0]
            .as_str()
            .unwrap()
            .starts_with("commit: "),
        "{:#?}",
        deploys[0]
    );
    project.run_expect(&["provision", "2022"], 0);
    let staging = address_of(&project, "staging-2022").await;
    let (_, served) = project.https(&project.fqdn("stats.staging"), staging, "/version");
    assert!(served.contains(&version), "{served}");
    let (_, prod_version) = project.https(&project.fqdn("stats"), lb, "/version");
    assert!(!prod_version.contains(&version), "{prod_version}");

    // A release that does not start fails the step with the app's name and
    // log, and the previous release keeps serving.
    let broken = format!("broken-{:08x}", rand::random::<u32>());
    lab.add_commit("stats", "develop", &broken).unwrap();
    let failed = project.run_expect(&["provision", "2022"], 5);
    let text = crate::support::stderr(&failed);
    assert!(text.contains("app `stats`"), "{text}");
    assert!(text.contains("failed to start"), "{text}");
    assert!(
        text.contains("broken on purpose"),
        "the log tail is shown: {text}"
    );
    assert!(text.contains("serves again"), "{text}");
    let (status, served) = project.https(&project.fqdn("stats.staging"), staging, "/version");
    assert_eq!(status, 200, "{served}");
    assert!(
        served.contains(&version),
        "the previous release serves: {served}"
    );
    lab.add_commit(
        "stats",
        "develop",
        &format!("develop-e2e-fixed-{:08x}", rand::random::<u32>()),
    )
    .unwrap();
    project.run_expect(&["provision", "2022"], 0);

    // The migration's plan, then a run killed while it copies the database.
    // The plan reads each of the six production records once, although
    // three steps plan them.
    let before = project.direct.get("/_sandbox/stats").await.expect(200).body;
    let plan = plan_json(&project, &["migrate", "--from", "2022", "--to", "2023"], 2);
    let after = project.direct.get("/_sandbox/stats").await.expect(200).body;
    assert_eq!(step_changes(&plan, "create-server").len(), 1);
    let records_route = format!("GET /v2/domains/{}/records", project.zone);
    let record_reads = after["routes"][&records_route].as_u64().unwrap_or(0)
        - before["routes"][&records_route].as_u64().unwrap_or(0);
    assert_eq!(record_reads, 6, "{after}");
    kill_during_step(
        &project,
        &["migrate", "--from", "2022", "--to", "2023"],
        "sync-database",
    );

    // With one app stopped on the new server, the health gate blocks the
    // switch and DNS is unchanged.
    let stopped = project
        .exec("prod-2023", &["systemctl", "stop", "gunicorn-wwdtmapi"])
        .await;
    assert!(
        stopped.status.success(),
        "{}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let blocked = project.run_expect(&["migrate", "--from", "2022", "--to", "2023"], 8);
    let text = crate::support::stderr(&blocked);
    assert!(text.contains("api"), "{text}");
    assert!(text.contains("health check"), "{text}");
    assert_eq!(
        project.resolve(&project.fqdn("stats")),
        vec![lb],
        "DNS moved despite the failed gate"
    );

    project
        .exec("prod-2023", &["systemctl", "start", "gunicorn-wwdtmapi"])
        .await;
    project.run_expect(&["migrate", "--from", "2022", "--to", "2023"], 0);
    let prod = address_of(&project, "prod-2023").await;
    assert_sites_served_by(&project, "", prod);
    let plan = plan_json(&project, &["migrate", "--from", "2022", "--to", "2023"], 0);
    assert_eq!(plan["summary"]["changes"], 0, "{plan:#}");

    // A second migration makes no API writes.
    let writes = |stats: &Value| -> u64 {
        ["POST", "PUT", "PATCH", "DELETE"]
            .iter()
            .map(|method| stats["handled"][method].as_u64().unwrap_or(0))
            .sum()
    };
    let before = project.direct.get("/_sandbox/stats").await.expect(200).body;
    project.run_expect(&["migrate", "--from", "2022", "--to", "2023"], 0);
    let after = project.direct.get("/_sandbox/stats").await.expect(200).body;
    assert_eq!(
        writes(&before),
        writes(&after),
        "API writes during the second run: {before} -> {after}"
    );

    // The copied data is the same on both servers.
    let journals = project.journals();
    let migrate = journals
        .iter()
        .rev()
        .find(|journal| journal["playbook"] == "migrate")
        .unwrap();
    let sync = migrate["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|step| step["id"] == "sync-database")
        .unwrap();
    assert_eq!(sync["outputs"]["prod-2023.verified"], true);
    // The new server has a binary log and no replica, so every load into it
    // skipped the log; it allows `LOAD DATA LOCAL`, so every table's rows
    // arrived as row text. A run that found the copy already equal has no
    // report.
    let reports: Vec<&Value> = journals
        .iter()
        .filter_map(|journal| journal["steps"].as_array())
        .flatten()
        .filter_map(|step| step["outputs"].get("prod-2023.report"))
        .collect();
    assert!(!reports.is_empty(), "no journaled sync report");
    for report in reports {
        assert_eq!(report["binlog"], "skipped", "{report}");
        assert_eq!(report["load_format"], "rows", "{report}");
        assert_eq!(report["row_tables"], report["tables"], "{report}");
        let seconds = report["stream_seconds"]["table ww_showpnlmap"].as_f64();
        assert!(seconds.is_some_and(|seconds| seconds > 0.0), "{report}");
    }
    let query = [
        "mariadb",
        "-N",
        "-e",
        "SELECT COUNT(*), SUM(CRC32(panelistslug)) FROM wwdtm.ww_panelists",
    ];
    let source = stdout(&project.exec("db-2022", &query).await);
    let target = stdout(&project.exec("prod-2023", &query).await);
    assert!(source.starts_with("120\t"), "{source}");
    assert_eq!(source, target);

    // Rollback points DNS back at the old servers; a teardown then refuses.
    project.run_expect(&["rollback", "--from", "2023", "--to", "2022"], 0);
    assert_sites_served_by(&project, "", lb);
    let refused = project.run_expect(&["teardown", "old-fleet", "--yes"], 8);
    assert!(
        crate::support::stderr(&refused).contains("still points at"),
        "{}",
        crate::support::stderr(&refused)
    );

    // Migrate again, move staging, and let the old servers drain.
    project.run_expect(&["migrate", "--from", "2022", "--to", "2023"], 0);
    assert_sites_served_by(&project, "", prod);
    project.run_expect(&["provision", "staging"], 0);
    let staging_2023 = address_of(&project, "staging-2023").await;
    assert_sites_served_by(&project, "staging", staging_2023);
    std::thread::sleep(Duration::from_secs(4));

    // A teardown killed while it deletes finishes on the next run.
    kill_during_step(
        &project,
        &["teardown", "old-fleet", "--yes"],
        "delete-servers",
    );
    project.run_expect(&["teardown", "old-fleet", "--yes"], 0);
    let after_teardown = plan_json(&project, &["teardown", "old-fleet"], 0);
    assert_eq!(after_teardown["summary"]["changes"], 0, "{after_teardown}");

    assert_eq!(
        project.droplet_names().await,
        vec!["prod-2023".to_string(), "staging-2023".to_string()]
    );
    assert_sites_served_by(&project, "", prod);
    assert_sites_served_by(&project, "staging", staging_2023);
    let snapshots = project
        .api
        .get("/v2/snapshots?resource_type=droplet")
        .await
        .expect(200)
        .body;
    let names: Vec<&str> = snapshots["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|snapshot| snapshot["name"].as_str())
        .collect();
    assert!(
        names
            .iter()
            .any(|name| name.starts_with("wwctl-final-db-2022-")),
        "{names:?}"
    );
    let registry = project.resources();
    assert!(
        registry["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|snapshot| snapshot["droplet_name"] == "db-2022")
    );
}

/// Lists the A records of the project's zone, as (name, data) pairs.
async fn address_records(project: &Project) -> Vec<(String, String)> {
    let reply = project
        .api
        .get(&format!(
            "/v2/domains/{}/records?per_page=200&type=A",
            project.zone
        ))
        .await
        .expect(200);
    let mut records: Vec<(String, String)> = reply.body["domain_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            (
                record["name"].as_str().unwrap().to_string(),
                record["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    records.sort();
    records
}

/// No two droplets share a name and no two A records share a name.
async fn assert_no_duplicates(project: &Project) {
    let names = project.droplet_names().await;
    let mut unique = names.clone();
    unique.dedup();
    assert_eq!(names, unique, "duplicate droplets");

    let records = address_records(project).await;
    let mut record_names: Vec<&String> = records.iter().map(|(name, _)| name).collect();
    record_names.dedup();
    assert_eq!(
        record_names.len(),
        records.len(),
        "duplicate records: {records:?}"
    );
}

const MIGRATE: [&str; 5] = ["migrate", "--from", "2022", "--to", "2023"];

#[tokio::test(flavor = "multi_thread")]
async fn migration_killed_in_every_step_recovers() {
    let Some(sandbox) = LabSandbox::from_env("migration_killed_in_every_step_recovers") else {
        return;
    };
    let project = Project::new(sandbox, "kill").await;
    project.run_expect(&["provision", "2022"], 0);

    // Slow API answers make the quick DNS steps last long enough to be
    // interrupted.
    project
        .direct
        .put("/_sandbox/faults", serde_json::json!({"latency": "150ms"}))
        .await
        .expect(200);
    let plan = plan_json(&project, &MIGRATE, 2);
    let steps: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| step["id"].as_str().unwrap().to_string())
        .collect();
    for step in &steps {
        kill_during_step(&project, &MIGRATE, step);
    }
    project.direct.delete("/_sandbox/faults").await;
    project.run_expect(&MIGRATE, 0);

    let journals = project.journals();
    let migrate: Vec<&Value> = journals
        .iter()
        .filter(|journal| journal["playbook"] == "migrate")
        .collect();
    assert_eq!(migrate.len(), 1, "every kill was resumed by the same run");
    for step in migrate[0]["steps"].as_array().unwrap() {
        assert_eq!(step["state"], "done", "{step:#}");
        assert!(
            step["attempts"].as_u64().unwrap() >= 2,
            "step {} was not interrupted: {step:#}",
            step["id"]
        );
    }
    assert_eq!(
        project
            .droplet_names()
            .await
            .iter()
            .filter(|name| *name == "prod-2023")
            .count(),
        1
    );
    assert_no_duplicates(&project).await;
    let prod = address_of(&project, "prod-2023").await;
    assert_sites_served_by(&project, "", prod);
    assert_eq!(plan_json(&project, &MIGRATE, 0)["summary"]["changes"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn migration_survives_api_faults() {
    let Some(sandbox) = LabSandbox::from_env("migration_survives_api_faults") else {
        return;
    };
    let project = Project::new(sandbox, "faults").await;
    project.run_expect(&["provision", "2022"], 0);

    let faults = serde_json::json!({"rate_429": 0.1, "rate_5xx": 0.1, "seed": 2023});
    project
        .direct
        .put("/_sandbox/faults", faults)
        .await
        .expect(200);
    project.run_expect(&MIGRATE, 0);

    project.direct.delete("/_sandbox/faults").await;
    assert_eq!(
        project.droplet_names().await.len(),
        7,
        "six droplets of 2022 and one of 2023"
    );
    assert_no_duplicates(&project).await;
    let prod = address_of(&project, "prod-2023").await;
    assert_sites_served_by(&project, "", prod);
}

#[tokio::test(flavor = "multi_thread")]
async fn host_keys_reused_address_and_mismatch() {
    let Some(sandbox) = LabSandbox::from_env("host_keys_reused_address_and_mismatch") else {
        return;
    };
    let project = Project::new(sandbox, "keys").await;
    project.run_expect(&["provision", "staging"], 0);
    let first = address_of(&project, "staging-2023").await;
    let pattern = wwctl::remote::known_hosts::host_pattern(&first.to_string(), 22);
    let known_hosts = project.state.join("known_hosts");
    let first_key = wwctl::remote::known_hosts::KnownHosts::load(&known_hosts)
        .unwrap()
        .keys_for(&pattern)[0]
        .clone();

    // The server goes away, and its replacement gets the same address with
    // a new key: the stale entry gives way because this run created it.
    let old_id = project
        .droplets()
        .await
        .into_iter()
        .find(|droplet| droplet["name"] == "staging-2023")
        .unwrap()["id"]
        .as_u64()
        .unwrap();
    project
        .api
        .delete(&format!("/v2/droplets/{old_id}"))
        .await
        .expect(204);
    project
        .direct
        .put(
            "/_sandbox/settings",
            serde_json::json!({"next_public_address": first.to_string()}),
        )
        .await
        .expect(200);
    project.run_expect(&["provision", "staging"], 0);
    assert_eq!(
        address_of(&project, "staging-2023").await,
        first,
        "the replacement reuses the address"
    );
    let pinned = wwctl::remote::known_hosts::KnownHosts::load(&known_hosts).unwrap();
    let keys = pinned.keys_for(&pattern);
    assert_eq!(keys.len(), 1);
    assert_ne!(
        keys[0].key_data(),
        first_key.key_data(),
        "the new server's key replaced the old one"
    );

    // A server that presents another key than the pinned one stops the run
    // before any command runs on it.
    let mut tampered = pinned.clone();
    let impostor = wwctl::remote::host_keys::generate("impostor")
        .unwrap()
        .public;
    tampered.replace(&pattern, std::slice::from_ref(&impostor));
    tampered.save().unwrap();
    let failed = project.run_expect(&["provision", "staging"], 5);
    let text = crate::support::stderr(&failed);
    assert!(text.contains("does not match"), "{text}");
    assert!(
        text.contains(&wwctl::remote::known_hosts::fingerprint(&impostor)),
        "the expected fingerprint is named: {text}"
    );
    assert!(
        text.contains(&wwctl::remote::known_hosts::fingerprint(&keys[0].clone())),
        "the presented fingerprint is named: {text}"
    );
    assert!(text.contains("nothing was run"), "{text}");
}
