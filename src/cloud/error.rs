//! Errors of the DigitalOcean API client.
//!
//! Every message names the request (`GET /v2/droplets/111`), the HTTP status,
//! the API's error `id` and `message`, and the `x-request-id` to quote to
//! DigitalOcean support. None of them ever contains the API token.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ExitCode, HasExitCode};

/// The request a failure belongs to: method and path, without host or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub method: reqwest::Method,
    pub path: String,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// A failed response as the API sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub endpoint: Endpoint,
    pub status: u16,
    /// The API's short error code, such as `not_found`.
    pub id: Option<String>,
    /// The API's human-readable message.
    pub message: Option<String>,
    /// The `x-request-id` header, or the body's `request_id`.
    pub request_id: Option<String>,
    /// How many times the request was sent, retries included.
    pub attempts: u32,
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed with HTTP {}", self.endpoint, self.status)?;
        if let Some(id) = &self.id {
            write!(f, " {id}")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(request_id) = &self.request_id {
            write!(f, " (x-request-id {request_id})")?;
        }
        if self.attempts > 1 {
            write!(f, ", after {} attempts", self.attempts)?;
        }
        Ok(())
    }
}

impl ApiFailure {
    /// Returns whether the API rejected the request because the droplet is
    /// running another action: 422 "Droplet already has a pending event"
    /// until that action ends.
    pub fn is_busy(&self) -> bool {
        self.status == 422
            && self.message.as_deref().is_some_and(|message| {
                let message = message.to_ascii_lowercase();
                message.contains("pending event") || message.contains("is currently locked")
            })
    }
}

/// The reason a listing stopped following `links.pages.next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationFault {
    /// The link points to a page already fetched.
    Loop,
    /// The link points to another scheme, host or port than the API URL.
    ForeignOrigin,
    /// The link is not a URL.
    Unparsable,
    /// More pages than any real listing has.
    TooManyPages,
}

impl fmt::Display for PaginationFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PaginationFault::Loop => "it points to a page already fetched",
            PaginationFault::ForeignOrigin => {
                "it points to another host than the API URL, so the token is not sent there"
            }
            PaginationFault::Unparsable => "it is not a valid URL",
            PaginationFault::TooManyPages => "the listing has more pages than the client follows",
        })
    }
}

/// An error from a DigitalOcean API call or from a wait built on them.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(
        "{failure}: the API token is invalid or expired, or lacks a scope{}; \
         create a token with the needed scopes and pass it in DIGITALOCEAN_TOKEN or --token-file",
        scope_note(*.scope)
    )]
    Unauthorized {
        failure: Box<ApiFailure>,
        scope: Option<&'static str>,
    },

    #[error(
        "{failure}: the API token may not do this{}; grant the scope to the token or use another token",
        scope_note(*.scope)
    )]
    Forbidden {
        failure: Box<ApiFailure>,
        scope: Option<&'static str>,
    },

    #[error("{failure}")]
    NotFound { failure: Box<ApiFailure> },

    #[error("{failure}: the API rejected the request")]
    Validation { failure: Box<ApiFailure> },

    #[error(
        "{failure}: the API rate limit is exhausted; wait a few minutes and rerun, the run resumes where it stopped"
    )]
    RateLimited { failure: Box<ApiFailure> },

    #[error(
        "{failure}: DigitalOcean had a server error; rerun later, the run resumes where it stopped"
    )]
    Server { failure: Box<ApiFailure> },

    #[error("{failure}")]
    UnexpectedStatus { failure: Box<ApiFailure> },

    #[error(
        "`{endpoint}` failed after {attempts} attempts: {detail}; check the network and the API URL"
    )]
    Network {
        endpoint: Endpoint,
        attempts: u32,
        detail: String,
    },

    #[error(
        "`{endpoint}` timed out after {attempts} attempts ({timeout:?} each); check the network and rerun"
    )]
    Timeout {
        endpoint: Endpoint,
        attempts: u32,
        timeout: Duration,
    },

    #[error("`{endpoint}` returned a body the client cannot read: {detail}")]
    InvalidResponse { endpoint: Endpoint, detail: String },

    #[error("`{endpoint}`: stopped following the next-page link `{next}` because {fault}")]
    Pagination {
        endpoint: Endpoint,
        next: String,
        fault: PaginationFault,
    },

    #[error("`{name}` is ambiguous: {count} {what} match it (ids {}); {hint}", join_ids(.ids))]
    Ambiguous {
        what: &'static str,
        name: String,
        count: usize,
        ids: Vec<String>,
        hint: &'static str,
    },

    #[error("action {action_id} ({action_type}) on {resource} errored at DigitalOcean")]
    ActionErrored {
        action_id: u64,
        action_type: String,
        resource: String,
    },

    #[error("timed out after {after:?} waiting for {what}; last seen: {last_seen}")]
    WaitTimedOut {
        what: String,
        after: Duration,
        last_seen: String,
    },

    #[error(
        "creating droplet `{name}` failed without an answer, and no droplet with that name and tag `{tag}` exists yet; \
         rerun the step, it looks the droplet up again before creating one: {source}"
    )]
    CreateUnconfirmed {
        name: String,
        tag: String,
        #[source]
        source: Box<CloudError>,
    },

    #[error(
        "`{endpoint}` may have created {object}, but looking it up failed, so whether it exists is unknown: {lookup}"
    )]
    Unconfirmed {
        endpoint: Endpoint,
        /// The object the POST would have created, such as "domain `wwdt.me`".
        object: String,
        /// The POST's own, ambiguous failure.
        #[source]
        source: Box<CloudError>,
        lookup: Box<CloudError>,
    },

    #[error(
        "invalid TTL {ttl} for DNS record `{name}`: DigitalOcean needs at least {min} seconds; raise the TTL in the inventory"
    )]
    InvalidTtl { name: String, ttl: u32, min: u32 },

    #[error("invalid {what} `{value}`: {reason}")]
    InvalidInput {
        what: &'static str,
        value: String,
        reason: String,
    },
}

fn scope_note(scope: Option<&'static str>) -> String {
    match scope {
        Some(scope) => format!(" (this request needs `{scope}`)"),
        None => String::new(),
    }
}

fn join_ids(ids: &[String]) -> String {
    ids.join(", ")
}

impl CloudError {
    /// Returns the failed response, for errors that have one.
    pub fn failure(&self) -> Option<&ApiFailure> {
        match self {
            CloudError::Unauthorized { failure, .. }
            | CloudError::Forbidden { failure, .. }
            | CloudError::NotFound { failure }
            | CloudError::Validation { failure }
            | CloudError::RateLimited { failure }
            | CloudError::Server { failure }
            | CloudError::UnexpectedStatus { failure } => Some(failure),
            _ => None,
        }
    }

    /// Returns the HTTP status of the failed response, if one arrived.
    pub fn status(&self) -> Option<u16> {
        self.failure().map(|failure| failure.status)
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CloudError::NotFound { .. })
    }

    /// Returns whether a POST that failed this way may still have taken
    /// effect: the request reached the server, or may have, but no response
    /// shows how it ended.
    pub fn is_ambiguous(&self) -> bool {
        matches!(
            self,
            CloudError::Server { .. } | CloudError::Network { .. } | CloudError::Timeout { .. }
        )
    }

    /// Returns whether the API rejected the request as invalid or
    /// conflicting (400, 409 or 422), such as 422 "already exists".
    pub fn is_rejection(&self) -> bool {
        matches!(self, CloudError::Validation { .. })
    }

    /// Returns whether the droplet was busy with another action (see
    /// [`ApiFailure::is_busy`]).
    pub fn is_busy(&self) -> bool {
        self.failure().is_some_and(ApiFailure::is_busy)
    }

    /// Returns how many times the request was sent, for errors that count it.
    pub fn attempts(&self) -> Option<u32> {
        match self {
            CloudError::Network { attempts, .. } | CloudError::Timeout { attempts, .. } => {
                Some(*attempts)
            }
            _ => self.failure().map(|failure| failure.attempts),
        }
    }

    /// Replaces the count of sends, so that the error of a request retried
    /// by several calls reports them all.
    pub(crate) fn with_attempts(mut self, total: u32) -> Self {
        match &mut self {
            CloudError::Network { attempts, .. } | CloudError::Timeout { attempts, .. } => {
                *attempts = total;
            }
            CloudError::Unauthorized { failure, .. }
            | CloudError::Forbidden { failure, .. }
            | CloudError::NotFound { failure }
            | CloudError::Validation { failure }
            | CloudError::RateLimited { failure }
            | CloudError::Server { failure }
            | CloudError::UnexpectedStatus { failure } => failure.attempts = total,
            _ => {}
        }
        self
    }
}

impl HasExitCode for CloudError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CloudError::InvalidTtl { .. } | CloudError::InvalidInput { .. } => ExitCode::Usage,
            _ => ExitCode::Api,
        }
    }
}

/// An error reading the API token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(
        "no DigitalOcean API token: set DIGITALOCEAN_TOKEN or DIGITALOCEAN_ACCESS_TOKEN, \
         or pass --token-file FILE (a file readable by its owner only)"
    )]
    Missing,

    #[error(
        "token file `{}` has mode {mode:04o}, so group or others can read it; run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    FileTooOpen { path: PathBuf, mode: u32 },

    #[error(
        "token file `{}` is a folder, not a file; pass the file that holds the API token",
        path.display()
    )]
    FileIsFolder { path: PathBuf },

    /// The message leaves the cause out, since the error printer shows it
    /// on its own `caused by:` line.
    #[error("cannot read token file `{}`", path.display())]
    FileUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("token file `{}` is empty; write the API token into it", path.display())]
    FileEmpty { path: PathBuf },
}

impl HasExitCode for TokenError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Usage
    }
}

#[cfg(test)]
mod tests {
    use super::{ApiFailure, CloudError, Endpoint, TokenError};
    use crate::error::{ExitCode, exit_code_for};

    fn failure(status: u16) -> Box<ApiFailure> {
        Box::new(ApiFailure {
            endpoint: Endpoint {
                method: reqwest::Method::DELETE,
                path: "/v2/droplets/111".to_string(),
            },
            status,
            id: Some("not_found".to_string()),
            message: Some("The resource you requested could not be found.".to_string()),
            request_id: Some("req-1".to_string()),
            attempts: 1,
        })
    }

    #[test]
    fn failure_text_names_request_and_ids() {
        let error = CloudError::NotFound {
            failure: failure(404),
        };
        assert_eq!(
            error.to_string(),
            "`DELETE /v2/droplets/111` failed with HTTP 404 not_found: \
             The resource you requested could not be found. (x-request-id req-1)"
        );
    }

    #[test]
    fn exit_codes_by_kind() {
        let api = anyhow::Error::new(CloudError::NotFound {
            failure: failure(404),
        })
        .context("cannot delete the old droplet");
        assert_eq!(exit_code_for(&api), ExitCode::Api);

        let ttl = anyhow::Error::new(CloudError::InvalidTtl {
            name: "@".to_string(),
            ttl: 10,
            min: 30,
        });
        assert_eq!(exit_code_for(&ttl), ExitCode::Usage);

        assert_eq!(
            exit_code_for(&anyhow::Error::new(TokenError::Missing)),
            ExitCode::Usage
        );
    }
}
