//! POSTs made safe to retry by adopting what an earlier attempt created.
//!
//! The API takes no idempotency key, so a POST that fails ambiguously (see
//! [`CloudError::is_ambiguous`]) may have created its object anyway. The
//! client then looks the object up and adopts it when it exists. When it
//! does not, the client posts again after the policy's backoff, up to
//! `max_attempts` ambiguous failures in all.
//!
//! Once an attempt has failed ambiguously, a later attempt's 400, 409 or 422
//! ("already exists", "already in use", "pending event") may be caused by
//! that earlier attempt, so the client looks the object up again before it
//! fails. A 422 "pending event" with nothing to adopt waits and posts again,
//! as a first attempt does. A 429 never gets here: the API rejected the
//! request unprocessed, and [`CloudClient::execute`] retries it.
//!
//! NOTE: a lookup finds only what the API lists at that moment. An object listed
//! only after the next POST is made twice where the API allows duplicates
//! (records, firewalls); domains and SSH keys are caught by the retry's 422,
//! and actions by the 422 "pending event" while the first one runs.

use std::future::Future;
use std::time::Duration;

use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient};
use crate::cloud::error::CloudError;

/// The outcome of a lookup after an ambiguous failure.
enum Lookup<T> {
    Adopted(T),
    /// Nothing to adopt; the failure is handed back.
    Missing(CloudError),
}

impl CloudClient {
    /// Send the POST `request` and parse its response with `parse`. After an
    /// ambiguous failure, `find` looks for `object` (such as "domain
    /// `wwdt.me`"), and a found one is returned in place of a new one.
    pub(crate) async fn post_or_adopt<T, Parse, Find, Found>(
        &self,
        request: &ApiRequest,
        object: &str,
        parse: Parse,
        find: Find,
    ) -> Result<T, CloudError>
    where
        Parse: Fn(ApiResponse) -> Result<T, CloudError>,
        Find: Fn() -> Found,
        Found: Future<Output = Result<Option<T>, CloudError>>,
    {
        let mut request = request.clone();
        let mut sent = 0;
        let mut ambiguous_failures = 0;
        let mut busy_waits = 0;

        loop {
            let error = match self.execute(&request).await {
                Ok(response) => return parse(response),
                Err(error) => error,
            };
            sent += error.attempts().unwrap_or(1);

            if error.is_ambiguous() {
                ambiguous_failures += 1;
                let error = match self.look_up(&request, object, &find, error).await? {
                    Lookup::Adopted(found) => return Ok(found),
                    Lookup::Missing(error) => error,
                };
                if ambiguous_failures >= self.policy.max_attempts {
                    return Err(error.with_attempts(sent));
                }
                self.wait_to_repost(&request, object, &error, ambiguous_failures)
                    .await;
                // From here on a 422 "pending event" may be this POST's own
                // earlier attempt, which a blind retry would duplicate.
                request.retry_busy = false;
                continue;
            }

            if ambiguous_failures == 0 || !error.is_rejection() {
                return Err(error.with_attempts(sent));
            }
            let error = match self.look_up(&request, object, &find, error).await? {
                Lookup::Adopted(found) => return Ok(found),
                Lookup::Missing(error) => error,
            };
            if !error.is_busy() || busy_waits >= self.policy.max_busy_retries {
                return Err(error.with_attempts(sent));
            }
            busy_waits += 1;
            self.wait_to_repost(&request, object, &error, busy_waits)
                .await;
        }
    }

    /// Look for the object a failed POST may have created. A lookup that
    /// fails makes the outcome unknown, which is an error of its own.
    async fn look_up<T, Find, Found>(
        &self,
        request: &ApiRequest,
        object: &str,
        find: &Find,
        error: CloudError,
    ) -> Result<Lookup<T>, CloudError>
    where
        Find: Fn() -> Found,
        Found: Future<Output = Result<Option<T>, CloudError>>,
    {
        match find().await {
            Ok(Some(found)) => {
                tracing::debug!(
                    method = %request.method,
                    path = %request.path,
                    object,
                    error = %error,
                    "adopting what an earlier attempt of the DigitalOcean API request created"
                );
                Ok(Lookup::Adopted(found))
            }
            Ok(None) => Ok(Lookup::Missing(error)),
            Err(lookup) => Err(CloudError::Unconfirmed {
                endpoint: request.endpoint(),
                object: object.to_string(),
                source: Box::new(error),
                lookup: Box::new(lookup),
            }),
        }
    }

    async fn wait_to_repost(
        &self,
        request: &ApiRequest,
        object: &str,
        error: &CloudError,
        retry: u32,
    ) {
        let wait = self.policy.backoff(retry);
        tracing::debug!(
            method = %request.method,
            path = %request.path,
            object,
            retry,
            wait_ms = millis(wait),
            error = %error,
            "retrying DigitalOcean API request; nothing it would have created exists"
        );
        self.clock.sleep(wait).await;
    }
}

fn millis(wait: Duration) -> u64 {
    u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)
}
