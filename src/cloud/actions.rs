//! Droplet actions (shutdown, power off and on, snapshot) and waiting for
//! an action to end.

use serde::Deserialize;

use crate::cloud::PollSettings;
use crate::cloud::client::{ApiRequest, CloudClient};
use crate::cloud::error::CloudError;
use crate::cloud::models::{Action, ActionStatus};

/// An action a step sends to a droplet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DropletAction {
    /// A graceful shutdown. The API only promises to send it, so follow a
    /// timed-out wait with [`DropletAction::PowerOff`].
    Shutdown,
    /// A hard power-off.
    PowerOff,
    PowerOn,
    /// A snapshot; take it with the droplet off for a consistent disk.
    Snapshot {
        name: String,
    },
}

impl DropletAction {
    fn body(&self) -> serde_json::Value {
        match self {
            DropletAction::Shutdown => serde_json::json!({"type": "shutdown"}),
            DropletAction::PowerOff => serde_json::json!({"type": "power_off"}),
            DropletAction::PowerOn => serde_json::json!({"type": "power_on"}),
            DropletAction::Snapshot { name } => {
                serde_json::json!({"type": "snapshot", "name": name})
            }
        }
    }
}

#[derive(Deserialize)]
struct ActionBody {
    action: Action,
}

impl CloudClient {
    /// Start an action on a droplet. While the droplet runs another action
    /// the API returns 422 "pending event", which the client retries with
    /// backoff. Wait for the returned action with [`Self::wait_for_action`].
    pub async fn start_droplet_action(
        &self,
        droplet_id: u64,
        action: &DropletAction,
    ) -> Result<Action, CloudError> {
        let scope = match action {
            DropletAction::Snapshot { .. } => "image:create",
            _ => "droplet:update",
        };
        let path = format!("/v2/droplets/{droplet_id}/actions");
        let mut request = ApiRequest::new(reqwest::Method::POST, path, scope);
        request.body = Some(action.body());

        let body: ActionBody = self.fetch(&request).await?;
        Ok(body.action)
    }

    /// `GET /v2/actions/{id}`.
    pub async fn action(&self, action_id: u64) -> Result<Action, CloudError> {
        let request = ApiRequest::get(format!("/v2/actions/{action_id}"), "actions:read");
        let body: ActionBody = self.fetch(&request).await?;
        Ok(body.action)
    }

    /// Lists every action run on a droplet, newest first as the API lists them.
    pub async fn droplet_actions(&self, droplet_id: u64) -> Result<Vec<Action>, CloudError> {
        let path = format!("/v2/droplets/{droplet_id}/actions");
        let request = ApiRequest::get(path, "droplet:read");
        let actions = self.list_all::<Action>(request, "actions").await?;
        Ok(actions)
    }

    /// Poll an action until it is `completed`. An `errored` action fails
    /// naming its id; one still running after `poll.timeout` fails with
    /// [`CloudError::WaitTimedOut`].
    pub async fn wait_for_action(
        &self,
        action_id: u64,
        poll: PollSettings,
    ) -> Result<Action, CloudError> {
        let deadline = self.clock.deadline(poll.timeout);

        loop {
            let action = self.action(action_id).await?;
            match action.status {
                ActionStatus::Completed => return Ok(action),
                ActionStatus::Errored => return Err(action_errored(&action)),
                _ => {}
            }

            if self.clock.now() >= deadline {
                return Err(CloudError::WaitTimedOut {
                    what: format!("action {action_id} ({}) to complete", action.kind),
                    after: poll.timeout,
                    last_seen: format!("status `{}`", action.status),
                });
            }
            self.clock.sleep(poll.interval).await;
        }
    }
}

pub(crate) fn action_errored(action: &Action) -> CloudError {
    let resource = match (&action.resource_type, action.resource_id) {
        (Some(kind), Some(id)) => format!("{kind} {id}"),
        (None, Some(id)) => format!("resource {id}"),
        _ => "its resource".to_string(),
    };
    CloudError::ActionErrored {
        action_id: action.id,
        action_type: action.kind.clone(),
        resource,
    }
}

#[cfg(test)]
mod tests {
    use super::DropletAction;

    #[test]
    fn action_bodies() {
        assert_eq!(
            DropletAction::Shutdown.body(),
            serde_json::json!({"type": "shutdown"})
        );
        assert_eq!(
            DropletAction::PowerOff.body(),
            serde_json::json!({"type": "power_off"})
        );
        assert_eq!(
            DropletAction::Snapshot {
                name: "app-2022-final".into()
            }
            .body(),
            serde_json::json!({"type": "snapshot", "name": "app-2022-final"})
        );
    }
}
