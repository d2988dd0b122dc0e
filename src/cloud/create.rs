//! Creating a droplet once per run tag, adopting the one an earlier attempt
//! made.
//!
//! The API has no idempotency key, so each created droplet carries a tag
//! scoped to the run (such as `wwctl-run:<run id>`). Before a POST, and after
//! a POST that failed without a clear response (timeout, lost connection,
//! 5xx), the client looks the droplet up by that tag and its name and adopts
//! it. [`CloudClient::create_droplet`] returns as soon as the 202 arrives, so
//! the caller can journal the id before waiting with
//! [`CloudClient::wait_until_ready`]. A run killed in between adopts the
//! droplet on resume instead of creating a second one.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient};
use crate::cloud::droplets::single;
use crate::cloud::error::CloudError;
use crate::cloud::models::{Droplet, DropletSpec};
use crate::cloud::tags::validate_tag_name;

/// Lookups after an unanswered POST before the client gives up for this run.
const LOOKUPS_AFTER_UNANSWERED_CREATE: u32 = 3;

/// A droplet [`CloudClient::create_droplet`] created or found.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedDroplet {
    pub droplet: Droplet,
    /// The `create` action from the 202; `None` for an adopted droplet.
    pub create_action_id: Option<u64>,
    /// True when the droplet existed already (made by an earlier, interrupted
    /// run or by a POST whose response was lost) and no POST was sent for it.
    pub adopted: bool,
}

impl CreatedDroplet {
    pub fn id(&self) -> u64 {
        self.droplet.id
    }
}

#[derive(Deserialize)]
struct CreateBody {
    droplet: Droplet,
    #[serde(default)]
    links: Option<CreateLinks>,
}

#[derive(Deserialize)]
struct CreateLinks {
    #[serde(default, deserialize_with = "crate::cloud::models::null_as_default")]
    actions: Vec<ActionLink>,
}

#[derive(Deserialize)]
struct ActionLink {
    id: u64,
    #[serde(default)]
    rel: Option<String>,
}

impl CloudClient {
    /// Create the droplet `spec` tagged with `run_tag`, or adopt the one an
    /// earlier attempt made. Returns once the API accepted the create; the
    /// droplet is not running yet.
    pub async fn create_droplet(
        &self,
        spec: &DropletSpec,
        run_tag: &str,
    ) -> Result<CreatedDroplet, CloudError> {
        validate_tag_name(run_tag)?;
        let mut spec = spec.clone();
        if !spec.tags.iter().any(|tag| tag == run_tag) {
            spec.tags.push(run_tag.to_string());
        }

        if let Some(droplet) = self.find_run_droplet(&spec.name, run_tag).await? {
            tracing::info!(droplet_id = droplet.id, name = %droplet.name, tag = run_tag, "adopting droplet created by an earlier attempt");
            return Ok(adopted(droplet));
        }

        let request =
            ApiRequest::new(reqwest::Method::POST, "/v2/droplets", "droplet:create").json(&spec)?;
        let mut attempt = 1;
        loop {
            let error = match self.fetch::<CreateBody>(&request).await {
                Ok(body) => return Ok(created(body)),
                Err(error) if error.is_ambiguous() => error,
                Err(error) => return Err(error),
            };
            match self
                .adopt_after_unanswered_create(&spec.name, run_tag, error)
                .await
            {
                Err(CloudError::CreateUnconfirmed { .. }) if attempt < self.policy.max_attempts => {
                    attempt += 1;
                    tracing::debug!(name = %spec.name, tag = run_tag, attempt, "droplet not listed after an unanswered create; posting again");
                }
                other => return other,
            }
        }
    }

    /// Returns the droplet named `name` with `run_tag`, if any. Two or more
    /// are an ambiguity error.
    pub async fn find_run_droplet(
        &self,
        name: &str,
        run_tag: &str,
    ) -> Result<Option<Droplet>, CloudError> {
        let tagged = self.droplets_by_tag(run_tag).await?;
        let matching: Vec<Droplet> = tagged
            .into_iter()
            .filter(|droplet| droplet.name.eq_ignore_ascii_case(name))
            .collect();
        single(
            matching,
            "droplets with the run tag",
            name,
            "delete the extra droplet by id in the control panel, then rerun",
        )
    }

    /// After a POST that may or may not have created the droplet, look for
    /// it a few times, since a new droplet can take a moment to be listed.
    /// When it never shows up, `create_droplet` posts again, up to the retry
    /// policy's attempts.
    // NOTE: a droplet that the API lists only after these lookups would be
    // created twice; DigitalOcean documents no bound on that delay, and a
    // new droplet has always been listed at once when we checked.
    async fn adopt_after_unanswered_create(
        &self,
        name: &str,
        run_tag: &str,
        error: CloudError,
    ) -> Result<CreatedDroplet, CloudError> {
        tracing::warn!(name, tag = run_tag, error = %error, "droplet create returned no clear response; looking the droplet up");

        for lookup in 1..=LOOKUPS_AFTER_UNANSWERED_CREATE {
            if let Some(droplet) = self.find_run_droplet(name, run_tag).await? {
                tracing::info!(
                    droplet_id = droplet.id,
                    name,
                    tag = run_tag,
                    "adopting droplet whose create answer was lost"
                );
                return Ok(adopted(droplet));
            }
            if lookup < LOOKUPS_AFTER_UNANSWERED_CREATE {
                self.clock.sleep(self.policy.backoff(lookup)).await;
            }
        }

        Err(CloudError::CreateUnconfirmed {
            name: name.to_string(),
            tag: run_tag.to_string(),
            source: Box::new(error),
        })
    }
}

fn adopted(droplet: Droplet) -> CreatedDroplet {
    CreatedDroplet {
        droplet,
        create_action_id: None,
        adopted: true,
    }
}

fn created(body: CreateBody) -> CreatedDroplet {
    let actions = body.links.map(|links| links.actions).unwrap_or_default();
    let create_action_id = actions
        .iter()
        .find(|link| link.rel.as_deref() == Some("create"))
        .or(actions.first())
        .map(|link| link.id);

    CreatedDroplet {
        droplet: body.droplet,
        create_action_id,
        adopted: false,
    }
}
