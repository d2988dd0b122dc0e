//! Droplet actions (shutdown, power off and on, snapshot) and waiting for
//! an action to end.
//!
//! An action POST that fails ambiguously may have started the action. The
//! client then looks for an action of the same type that started at or after
//! the request and is in progress or completed, and adopts it. A snapshot is
//! also looked for by name. Only when neither exists does it post again.

use std::time::Duration;

use jiff::Timestamp;
use serde::Deserialize;

use crate::cloud::PollSettings;
use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient};
use crate::cloud::error::CloudError;
use crate::cloud::models::{Action, ActionStatus};

/// How long before the client's clock at the request an action may have
/// started and still count as the request's own. The API gives `started_at`
/// in whole seconds, and its clock and the client's differ a little.
const START_TOLERANCE: Duration = Duration::from_secs(30);

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
    /// Returns the action's `type`, as the API names it.
    pub fn kind(&self) -> &'static str {
        match self {
            DropletAction::Shutdown => "shutdown",
            DropletAction::PowerOff => "power_off",
            DropletAction::PowerOn => "power_on",
            DropletAction::Snapshot { .. } => "snapshot",
        }
    }

    fn body(&self) -> serde_json::Value {
        match self {
            DropletAction::Snapshot { name } => {
                serde_json::json!({"type": self.kind(), "name": name})
            }
            _ => serde_json::json!({"type": self.kind()}),
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
    /// backoff. After an ambiguous failure the action already started is
    /// adopted (see the module documentation). Wait for the returned action
    /// with [`Self::wait_for_action`].
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

        let requested_at = self.clock.now();
        let object = format!("a {} action on droplet {droplet_id}", action.kind());
        let parse = |response: ApiResponse| Ok(response.json::<ActionBody>()?.action);
        self.post_or_adopt(&request, &object, parse, || {
            self.find_started_action(droplet_id, action, requested_at)
        })
        .await
    }

    /// Returns the first action of `action`'s type on the droplet that started
    /// at or after `requested_at` and did not error. For a snapshot, a
    /// snapshot of that name made since then also counts.
    async fn find_started_action(
        &self,
        droplet_id: u64,
        action: &DropletAction,
        requested_at: Timestamp,
    ) -> Result<Option<Action>, CloudError> {
        let earliest = requested_at
            .checked_sub(START_TOLERANCE)
            .unwrap_or(requested_at);
        let actions = self.droplet_actions(droplet_id).await?;
        let started = actions
            .iter()
            .filter(|listed| listed.kind == action.kind() && listed.status != ActionStatus::Errored)
            .filter_map(|listed| Some((parse_time(listed.started_at.as_deref())?, listed)))
            .filter(|(started_at, _)| *started_at >= earliest)
            .min_by_key(|(started_at, listed)| (*started_at, listed.id));
        if let Some((_, found)) = started {
            return Ok(Some(found.clone()));
        }

        let DropletAction::Snapshot { name } = action else {
            return Ok(None);
        };
        self.find_snapshot_action(droplet_id, name, earliest, &actions)
            .await
    }

    /// Returns the newest snapshot action completed since `earliest` when a
    /// snapshot named `name` was made since then, so that the droplet is not
    /// snapshotted twice under one name.
    async fn find_snapshot_action(
        &self,
        droplet_id: u64,
        name: &str,
        earliest: Timestamp,
        actions: &[Action],
    ) -> Result<Option<Action>, CloudError> {
        let snapshots = self.droplet_snapshots(droplet_id).await?;
        let Some(snapshot) = snapshots.iter().find(|snapshot| {
            snapshot.name == name
                && parse_time(snapshot.created_at.as_deref()).is_some_and(|made| made >= earliest)
        }) else {
            return Ok(None);
        };

        let completed = actions
            .iter()
            .filter(|listed| listed.kind == "snapshot" && listed.status == ActionStatus::Completed)
            .filter(|listed| {
                parse_time(listed.completed_at.as_deref()).is_some_and(|done| done >= earliest)
            })
            .max_by_key(|listed| listed.id);
        match completed {
            Some(found) => Ok(Some(found.clone())),
            None => Err(CloudError::InvalidResponse {
                endpoint: ApiRequest::get(
                    format!("/v2/droplets/{droplet_id}/actions"),
                    "droplet:read",
                )
                .endpoint(),
                detail: format!(
                    "snapshot `{name}` (id {}) exists, but the droplet lists no completed snapshot action",
                    snapshot.id
                ),
            }),
        }
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
            // Polls count against the API's rate limit, which runs in real
            // time, so the sandbox's time scale does not shorten them.
            self.clock.sleep_unscaled(poll.interval).await;
        }
    }
}

/// Parse an API timestamp such as `2023-11-14T22:13:20Z`; `None` when it is
/// missing or unreadable.
fn parse_time(text: Option<&str>) -> Option<Timestamp> {
    text?.trim().parse().ok()
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
