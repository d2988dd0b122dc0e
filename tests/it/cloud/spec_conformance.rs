//! The client's requests and response parsing against a Prism mock of the
//! official DigitalOcean OpenAPI spec. Prism rejects a request that breaks
//! the spec with 422 and serves valid ones from the spec's examples.
//!
//! Start the mock, then run the ignored test:
//! `prism mock -p 4010 specification/DigitalOcean-public.v2.yaml` and
//! `WWCTL_PRISM_URL=http://127.0.0.1:4010 cargo test --test it spec_conformance -- --ignored`.

use std::sync::Arc;

use wwctl::clock::ManualClock;
use wwctl::cloud::{
    CloudClient, CloudConfig, CloudError, DropletAction, DropletSpec, FirewallSpec, ImageRef,
    InboundRule, OutboundRule, PaginationFault, RecordFilter, RecordPatch, RecordSpec, RecordType,
    RuleTargets, TaggedResource,
};
use wwctl::secret::Secret;

use super::harness::{policy, start};

fn prism_client() -> CloudClient {
    let url = std::env::var("WWCTL_PRISM_URL")
        .expect("set WWCTL_PRISM_URL to the URL of a Prism mock of the DigitalOcean spec");
    let config = CloudConfig {
        policy: wwctl::cloud::RetryPolicy {
            max_attempts: 1,
            ..policy()
        },
        ..CloudConfig::new(url, Secret::new("dop_v1_prism"))
    };
    CloudClient::new(config, Arc::new(ManualClock::new(start()))).unwrap()
}

/// Checks that a listing parses, or stops at the example's next link, which
/// points to api.digitalocean.com rather than the mock.
fn listed<T>(name: &str, result: Result<Vec<T>, CloudError>) {
    match result {
        Ok(_) => {}
        Err(CloudError::Pagination {
            fault: PaginationFault::ForeignOrigin,
            ..
        }) => {}
        Err(error) => panic!("{name}: {error}"),
    }
}

#[tokio::test]
#[ignore = "needs a Prism mock of the DigitalOcean OpenAPI spec at WWCTL_PRISM_URL"]
async fn requests_follow_the_spec() {
    let client = prism_client();

    client.account().await.expect("account");
    listed("ssh keys", client.refresh_ssh_keys().await);
    client
        .create_ssh_key(
            "wwctl",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKf operator@laptop",
        )
        .await
        .expect("create ssh key");
    client
        .ssh_key("3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa")
        .await
        .expect("ssh key");

    let mut spec = DropletSpec::new(
        "app-2023",
        "nyc3",
        "s-1vcpu-1gb",
        ImageRef::Slug("debian-12-x64".into()),
    );
    spec.ssh_keys = vec!["3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa".into()];
    spec.user_data = Some("#cloud-config\n".into());
    spec.with_droplet_agent = Some(false);
    match client.create_droplet(&spec, "wwctl-run:spec").await {
        Ok(created) => assert!(created.id() > 0),
        Err(CloudError::Pagination {
            fault: PaginationFault::ForeignOrigin,
            ..
        }) => {}
        Err(error) => panic!("create droplet: {error}"),
    }
    client.droplet(3164444).await.expect("droplet");
    listed(
        "droplets by name",
        client.droplets_by_name("example.com").await,
    );
    listed("droplets by tag", client.droplets_by_tag("env:prod").await);

    for action in [
        DropletAction::Shutdown,
        DropletAction::PowerOff,
        DropletAction::PowerOn,
        DropletAction::Snapshot {
            name: "app-final".into(),
        },
    ] {
        client
            .start_droplet_action(3164444, &action)
            .await
            .unwrap_or_else(|error| panic!("{action:?}: {error}"));
    }
    client.action(36804636).await.expect("action");
    listed("droplet actions", client.droplet_actions(3164444).await);
    listed("droplet snapshots", client.droplet_snapshots(3164444).await);
    listed("snapshots", client.snapshots(Some("droplet")).await);
    client
        .delete_snapshot("6372321")
        .await
        .expect("delete snapshot");

    client.domain("example.com").await.expect("domain");
    client
        .create_domain("example.com", None)
        .await
        .expect("create domain");
    let filter = RecordFilter {
        kind: Some(RecordType::A),
        name: Some("www".into()),
    };
    listed("records", client.records("example.com", &filter).await);
    let record = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 1800);
    client
        .create_record("example.com", &record)
        .await
        .expect("create record");
    client
        .update_record("example.com", 3352896, &record)
        .await
        .expect("update record");
    let patch = RecordPatch {
        kind: RecordType::A,
        data: None,
        ttl: Some(60),
    };
    client
        .patch_record("example.com", 3352896, &patch)
        .await
        .expect("patch record");
    client
        .delete_record("example.com", 3352896)
        .await
        .expect("delete record");

    client
        .create_tag("wwctl-fleet:2023")
        .await
        .expect("create tag");
    client
        .tag_resources("wwctl-fleet:2023", &[TaggedResource::droplet(3164444)])
        .await
        .expect("tag resources");

    let firewall = FirewallSpec {
        name: "web".into(),
        inbound_rules: vec![InboundRule {
            protocol: "tcp".into(),
            ports: "443".into(),
            sources: RuleTargets {
                addresses: vec!["0.0.0.0/0".into()],
                ..RuleTargets::default()
            },
        }],
        outbound_rules: vec![OutboundRule {
            protocol: "tcp".into(),
            ports: "0".into(),
            destinations: RuleTargets {
                addresses: vec!["0.0.0.0/0".into()],
                ..RuleTargets::default()
            },
        }],
        droplet_ids: vec![3164444],
        tags: Vec::new(),
    };
    let id = "bb4b2611-3d72-467b-8602-280330ecd65c";
    client
        .create_firewall(&firewall)
        .await
        .expect("create firewall");
    client.firewall(id).await.expect("firewall");
    listed("firewalls", client.firewalls().await);
    client
        .update_firewall(id, &firewall)
        .await
        .expect("update firewall");
    client.delete_firewall(id).await.expect("delete firewall");
    client
        .delete_droplet(3164444)
        .await
        .expect("delete droplet");
}
