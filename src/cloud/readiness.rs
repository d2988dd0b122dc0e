//! Waiting until a new droplet can be used.
//!
//! A droplet is ready when its create action completed, its status is
//! `active` and it has a public IPv4 address. The address can still be
//! missing for a while after the droplet turns `active`, so status alone is
//! not enough.

use std::net::Ipv4Addr;

use crate::cloud::PollSettings;
use crate::cloud::actions::action_errored;
use crate::cloud::client::CloudClient;
use crate::cloud::error::CloudError;
use crate::cloud::models::{ActionStatus, Droplet, DropletStatus};

/// A droplet that is ready to use.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadyDroplet {
    pub droplet: Droplet,
    pub public_ipv4: Ipv4Addr,
}

/// The known state of the create action.
#[derive(Debug, Clone, PartialEq)]
enum CreateAction {
    /// Not looked up yet (an adopted droplet).
    Unknown,
    Pending(u64, ActionStatus),
    Completed,
}

impl CloudClient {
    /// Poll the droplet every `poll.interval` until it is ready, or fail
    /// after `poll.timeout`. Pass the create action id from
    /// [`crate::cloud::CreatedDroplet`]; for an adopted droplet (`None`) the
    /// create action is found in the droplet's action list.
    pub async fn wait_until_ready(
        &self,
        droplet_id: u64,
        create_action_id: Option<u64>,
        poll: PollSettings,
    ) -> Result<ReadyDroplet, CloudError> {
        let deadline = self.clock.deadline(poll.timeout);
        let mut create_action = match create_action_id {
            Some(id) => CreateAction::Pending(id, ActionStatus::InProgress),
            None => CreateAction::Unknown,
        };

        loop {
            create_action = self
                .refresh_create_action(droplet_id, create_action)
                .await?;
            let droplet = self.droplet(droplet_id).await?;
            let public_ipv4 = droplet.public_ipv4();

            if let (CreateAction::Completed, DropletStatus::Active, Some(public_ipv4)) =
                (&create_action, &droplet.status, public_ipv4)
            {
                return Ok(ReadyDroplet {
                    droplet,
                    public_ipv4,
                });
            }

            if self.clock.now() >= deadline {
                return Err(CloudError::WaitTimedOut {
                    what: format!("droplet {droplet_id} to be active with a public IPv4 address"),
                    after: poll.timeout,
                    last_seen: describe(&droplet, &create_action),
                });
            }
            // Polls count against the API's rate limit, which runs in real
            // time, so the sandbox's time scale does not shorten them.
            self.clock.sleep_unscaled(poll.interval).await;
        }
    }

    async fn refresh_create_action(
        &self,
        droplet_id: u64,
        known: CreateAction,
    ) -> Result<CreateAction, CloudError> {
        let action = match known {
            CreateAction::Completed => return Ok(CreateAction::Completed),
            CreateAction::Pending(id, _) => self.action(id).await?,
            CreateAction::Unknown => {
                let actions = self.droplet_actions(droplet_id).await?;
                match actions.into_iter().find(|action| action.kind == "create") {
                    Some(action) => action,
                    // NOTE: with no create action listed (the API keeps
                    // action history for a limited time), readiness rests
                    // on the status and address alone.
                    None => return Ok(CreateAction::Completed),
                }
            }
        };

        match action.status {
            ActionStatus::Completed => Ok(CreateAction::Completed),
            ActionStatus::Errored => Err(action_errored(&action)),
            status => Ok(CreateAction::Pending(action.id, status)),
        }
    }
}

fn describe(droplet: &Droplet, create_action: &CreateAction) -> String {
    let action = match create_action {
        CreateAction::Unknown => "not found".to_string(),
        CreateAction::Pending(id, status) => format!("{id} `{status}`"),
        CreateAction::Completed => "completed".to_string(),
    };
    let address = droplet
        .public_ipv4()
        .map_or_else(|| "none yet".to_string(), |address| address.to_string());
    format!(
        "status `{}`, create action {action}, public IPv4 {address}",
        droplet.status
    )
}
