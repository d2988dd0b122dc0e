//! The DigitalOcean API v2 client every cloud step uses.
//!
//! [`CloudClient`] sends each request through one core that keeps a request
//! budget under the API's rate limits, retries what is safe to retry (see
//! [`RetryPolicy`]) and reports failures as [`CloudError`]s naming the
//! request, status, API message and request id. Every wait goes through a
//! [`crate::clock::Clock`], so tests see the waits without making them.
//!
//! A POST that fails ambiguously (timeout, lost connection, 5xx) may still
//! have taken effect. Domain, record, SSH key, firewall and droplet action
//! creates then look up the object they would have made and adopt it. They
//! post again only when nothing is found. Tag creates are simply retried.
//!
//! Steps build on a few calls with guarantees of their own.
//! [`CloudClient::create_droplet`] sends no POST when a droplet with the run
//! tag and name exists, and never posts twice in one call.
//! [`CloudClient::wait_until_ready`] waits for a public IPv4 address.
//! [`CloudClient::delete_droplet`] reads 404 as already deleted, and
//! [`CloudClient::upsert_record`] makes no write when a record matches.

mod account;
mod actions;
mod adoption;
mod budget;
mod client;
mod create;
mod dns;
mod droplets;
mod error;
mod firewalls;
pub mod models;
mod pagination;
mod policy;
mod readiness;
mod record_name;
mod snapshots;
mod ssh_keys;
mod tags;
mod token;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use actions::DropletAction;
pub use budget::{BudgetConfig, RateBudget, RequestKind};
pub use client::{CloudClient, CloudConfig};
pub use create::CreatedDroplet;
pub use dns::{
    RecordChange, RecordFilter, RecordPatch, RecordPlan, plan_record_change, record_matches,
};
pub use droplets::Deletion;
pub use error::{ApiFailure, CloudError, Endpoint, PaginationFault, TokenError};
pub use models::{
    Account, Action, ActionStatus, Domain, DomainRecord, Droplet, DropletSnapshot, DropletSpec,
    DropletStatus, Firewall, FirewallSpec, ImageRef, InboundRule, OutboundRule, RecordSpec,
    RecordType, RuleTargets, Snapshot, SshKey, Tag, TaggedResource,
};
pub use pagination::PER_PAGE;
pub use policy::{RateLimitHeaders, RetryPolicy};
pub use readiness::ReadyDroplet;
pub use record_name::{
    MIN_TTL, qualified_record_name, relative_record_name, same_record_name, validate_record,
    validate_ttl,
};
pub use tags::validate_tag_name;
pub use token::{TOKEN_VARIABLES, read_token_file, resolve_token, resolve_token_with};

use crate::clock::Clock;

/// How often to poll and for how long, for a wait on an action or a droplet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSettings {
    pub interval: Duration,
    pub timeout: Duration,
}

impl PollSettings {
    pub const fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }

    /// Five-second polls for up to five minutes, the default wait for a new
    /// droplet.
    pub const DROPLET: PollSettings =
        PollSettings::new(Duration::from_secs(5), Duration::from_secs(300));

    /// Ten-second polls for up to an hour, because a snapshot takes longer
    /// the more data the disk contains.
    pub const SNAPSHOT: PollSettings =
        PollSettings::new(Duration::from_secs(10), Duration::from_secs(3600));
}

/// Build a client from the command line's `--api-url` and `--token-file`
/// (or the token variables), with the default retry policy and budget.
pub fn connect(
    api_url: &str,
    token_file: Option<&Path>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<CloudClient> {
    let token = resolve_token(token_file)?;
    let client = CloudClient::new(CloudConfig::new(api_url, token), clock)?;
    Ok(client)
}
