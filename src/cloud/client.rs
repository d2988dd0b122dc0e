//! The HTTP core of the client: one place that sends a request, reads the
//! rate-limit headers, retries by the [`RetryPolicy`] and turns failures
//! into [`CloudError`]s.

use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::Clock;
use crate::cloud::budget::{BudgetConfig, RateBudget, RequestKind};
use crate::cloud::error::{ApiFailure, CloudError, Endpoint};
use crate::cloud::models::SshKey;
use crate::cloud::policy::{RateLimitHeaders, RetryPolicy};
use crate::secret::Secret;

/// Everything a [`CloudClient`] needs besides its clock.
#[derive(Debug, Clone)]
pub struct CloudConfig {
    /// The API's origin, such as `https://api.digitalocean.com` or the
    /// sandbox's `http://127.0.0.1:PORT`.
    pub api_url: String,
    pub token: Secret,
    pub policy: RetryPolicy,
    pub budget: BudgetConfig,
}

impl CloudConfig {
    /// Creates a configuration with the default retry policy and budget.
    pub fn new(api_url: impl Into<String>, token: Secret) -> Self {
        Self {
            api_url: api_url.into(),
            token,
            policy: RetryPolicy::default(),
            budget: BudgetConfig::default(),
        }
    }
}

/// A DigitalOcean API v2 client. Share it behind an `Arc`: its rate budget
/// and SSH key cache count for every request made with the token.
pub struct CloudClient {
    http: reqwest::Client,
    base: Url,
    token: Secret,
    authorization: HeaderValue,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) policy: RetryPolicy,
    budget: Mutex<RateBudget>,
    pub(crate) ssh_key_cache: Mutex<Option<Vec<SshKey>>>,
}

impl fmt::Debug for CloudClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloudClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// One API request, before it is sent.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// The path, with each variable segment encoded by [`segment`].
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    /// The token scope the request needs, named in 401 and 403 errors.
    pub scope: Option<&'static str>,
    /// Whether a 5xx or a connection error is retried as it is. True for
    /// GET, PUT and DELETE, and for a POST whose repeat changes nothing.
    pub retry_transient: bool,
    /// Whether a 422 "pending event" is retried after a backoff. A POST
    /// retried after an ambiguous failure turns it off, because its earlier
    /// attempt may be the pending event.
    pub retry_busy: bool,
}

impl ApiRequest {
    pub fn new(method: Method, path: impl Into<String>, scope: &'static str) -> Self {
        Self {
            path: path.into(),
            query: Vec::new(),
            body: None,
            scope: Some(scope),
            retry_transient: RetryPolicy::retries_transient(&method),
            retry_busy: true,
            method,
        }
    }

    pub fn get(path: impl Into<String>, scope: &'static str) -> Self {
        Self::new(Method::GET, path, scope)
    }

    pub fn query(mut self, name: &str, value: impl ToString) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: &impl serde::Serialize) -> Result<Self, CloudError> {
        let value = serde_json::to_value(body).map_err(|error| CloudError::InvalidInput {
            what: "request body",
            value: self.path.clone(),
            reason: error.to_string(),
        })?;
        self.body = Some(value);
        Ok(self)
    }

    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            method: self.method.clone(),
            path: self.path.clone(),
        }
    }

    fn kind(&self) -> RequestKind {
        if self.method == Method::GET && self.path == "/v2/account/keys" {
            RequestKind::SshKeyList
        } else {
            RequestKind::Ordinary
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub(crate) struct ApiResponse {
    pub endpoint: Endpoint,
    pub body: Bytes,
}

impl ApiResponse {
    /// Parse the body, naming the JSON path of the first field that does not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, CloudError> {
        let deserializer = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(deserializer).map_err(|error| {
            CloudError::InvalidResponse {
                endpoint: self.endpoint.clone(),
                detail: format!("at `{}`: {}", error.path(), error.inner()),
            }
        })
    }
}

struct RawResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Retries made so far for one request, by cause.
#[derive(Debug, Default)]
struct Tries {
    attempts: u32,
    transient: u32,
    rate_limited: u32,
    busy: u32,
}

impl CloudClient {
    /// Build a client. The API URL must be an origin (no path), and plain
    /// HTTP is accepted only for loopback and private addresses, such as the
    /// sandbox's, so the token never crosses the internet unencrypted.
    pub fn new(config: CloudConfig, clock: Arc<dyn Clock>) -> Result<Self, CloudError> {
        let base = parse_api_url(&config.api_url)?;
        let authorization = bearer_header(&config.token)?;
        let http = build_http_client()?;

        Ok(Self {
            http,
            base,
            token: config.token,
            authorization,
            clock,
            policy: config.policy,
            budget: Mutex::new(RateBudget::new(config.budget)),
            ssh_key_cache: Mutex::new(None),
        })
    }

    /// Returns the API URL that requests go to.
    pub fn api_url(&self) -> &Url {
        &self.base
    }

    /// Send a request, retrying as the policy allows; a non-2xx status that
    /// is not retried, or no longer, becomes an error.
    pub(crate) async fn execute(&self, request: &ApiRequest) -> Result<ApiResponse, CloudError> {
        let endpoint = request.endpoint();
        let mut tries = Tries::default();

        loop {
            tries.attempts += 1;
            self.wait_for_budget(request).await;

            let (wait, reason, request_id) = match self.send_once(request).await {
                Ok(raw) if raw.status.is_success() => {
                    return Ok(ApiResponse {
                        endpoint,
                        body: raw.body,
                    });
                }
                Ok(raw) => {
                    let failure = self.failure_from(&endpoint, &raw, tries.attempts);
                    let limits = RateLimitHeaders::parse(&raw.headers, self.clock.now());
                    let Some(wait) =
                        self.retry_wait_for_status(request, &failure, &limits, &mut tries)
                    else {
                        return Err(error_for_status(failure, request.scope));
                    };
                    (
                        wait,
                        format!("HTTP {}", raw.status.as_u16()),
                        failure.request_id,
                    )
                }
                Err(error) => {
                    if !request.retry_transient || tries.transient + 1 >= self.policy.max_attempts {
                        return Err(self.network_error(endpoint, tries.attempts, error));
                    }
                    tries.transient += 1;
                    let reason = network_reason(&error);
                    (self.policy.backoff(tries.transient), reason, None)
                }
            };

            tracing::debug!(
                method = %endpoint.method,
                path = %endpoint.path,
                request_id = request_id.as_deref().unwrap_or("-"),
                attempt = tries.attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                reason = %reason,
                "retrying DigitalOcean API request"
            );
            // Backoffs and rate limits protect the real API, so a sandbox's
            // time scale does not shorten them.
            self.clock.sleep_unscaled(wait).await;
        }
    }

    /// Sends a request and parses the JSON body of its response.
    pub(crate) async fn fetch<T: DeserializeOwned>(
        &self,
        request: &ApiRequest,
    ) -> Result<T, CloudError> {
        self.execute(request).await?.json()
    }

    async fn wait_for_budget(&self, request: &ApiRequest) {
        let wait = self
            .budget
            .lock()
            .expect("rate budget lock")
            .reserve(self.clock.now(), request.kind());
        if !wait.is_zero() {
            tracing::debug!(
                method = %request.method,
                path = %request.path,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                "pausing to stay within the DigitalOcean rate limit"
            );
            self.clock.sleep_unscaled(wait).await;
        }
    }

    async fn send_once(&self, request: &ApiRequest) -> Result<RawResponse, reqwest::Error> {
        let mut builder = self
            .http
            .request(request.method.clone(), self.url_for(request))
            .header(AUTHORIZATION, self.authorization.clone())
            .timeout(self.policy.request_timeout);
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }

        let response = builder.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;

        self.budget
            .lock()
            .expect("rate budget lock")
            .observe(&RateLimitHeaders::parse(&headers, self.clock.now()));
        tracing::trace!(
            method = %request.method,
            path = %request.path,
            status = status.as_u16(),
            request_id = request_id_header(&headers).as_deref().unwrap_or("-"),
            "DigitalOcean API response"
        );
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    fn url_for(&self, request: &ApiRequest) -> Url {
        let mut url = self.base.clone();
        url.set_path(&request.path);
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&request.query);
        }
        url
    }

    /// Returns the wait before retrying a failed status, or `None` to fail now.
    fn retry_wait_for_status(
        &self,
        request: &ApiRequest,
        failure: &ApiFailure,
        limits: &RateLimitHeaders,
        tries: &mut Tries,
    ) -> Option<Duration> {
        let status = failure.status;
        if status == 429 && tries.rate_limited < self.policy.max_rate_limit_retries {
            tries.rate_limited += 1;
            return Some(
                self.policy
                    .rate_limit_wait(limits, self.clock.now(), tries.rate_limited),
            );
        }
        if (500..600).contains(&status)
            && request.retry_transient
            && tries.transient + 1 < self.policy.max_attempts
        {
            tries.transient += 1;
            return Some(self.policy.backoff(tries.transient));
        }
        if status == 422
            && request.retry_busy
            && failure.is_busy()
            && tries.busy < self.policy.max_busy_retries
        {
            tries.busy += 1;
            return Some(self.policy.backoff(tries.busy));
        }
        None
    }

    fn failure_from(&self, endpoint: &Endpoint, raw: &RawResponse, attempts: u32) -> ApiFailure {
        let body = serde_json::from_slice::<ErrorBody>(&raw.body).unwrap_or_default();
        let message = body
            .message
            .or_else(|| body.messages.map(|messages| messages.join("; ")))
            .or_else(|| text_excerpt(&raw.body));

        ApiFailure {
            endpoint: endpoint.clone(),
            status: raw.status.as_u16(),
            id: body.id.or(body.error).map(|id| self.redact(&id)),
            message: message.map(|message| self.redact(&message)),
            request_id: request_id_header(&raw.headers).or(body.request_id),
            attempts,
        }
    }

    fn network_error(
        &self,
        endpoint: Endpoint,
        attempts: u32,
        error: reqwest::Error,
    ) -> CloudError {
        if error.is_timeout() {
            return CloudError::Timeout {
                endpoint,
                attempts,
                timeout: self.policy.request_timeout,
            };
        }
        CloudError::Network {
            endpoint,
            attempts,
            detail: self.redact(&error_chain(&error.without_url())),
        }
    }

    /// Remove the token from text the API or a proxy sent back, should it
    /// ever echo the request.
    fn redact(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.is_empty() || !text.contains(token) {
            return text.to_string();
        }
        text.replace(token, Secret::REDACTED)
    }
}

/// Encode one variable path segment (a domain, a tag, a fingerprint).
pub(crate) fn segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~:@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The error body of the API: `id`, `message` and `request_id`, or the
/// `error` and `messages` shape some newer products use.
#[derive(Debug, Default, serde::Deserialize)]
struct ErrorBody {
    id: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
    error: Option<String>,
    messages: Option<Vec<String>>,
}

/// Returns the start of a body that is not the API's JSON (a proxy's HTML page).
fn text_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(200).collect())
}

fn error_for_status(failure: ApiFailure, scope: Option<&'static str>) -> CloudError {
    let failure = Box::new(failure);
    match failure.status {
        401 => CloudError::Unauthorized { failure, scope },
        403 => CloudError::Forbidden { failure, scope },
        404 => CloudError::NotFound { failure },
        400 | 409 | 422 => CloudError::Validation { failure },
        429 => CloudError::RateLimited { failure },
        500..=599 => CloudError::Server { failure },
        _ => CloudError::UnexpectedStatus { failure },
    }
}

fn request_id_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string)
}

fn network_reason(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "connection failed".to_string()
    } else {
        "connection error".to_string()
    }
}

/// Joins an error and its causes on one line, because reqwest's own message
/// only reads "error sending request".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn parse_api_url(text: &str) -> Result<Url, CloudError> {
    let invalid = |reason: &str| CloudError::InvalidInput {
        what: "API URL",
        value: text.to_string(),
        reason: reason.to_string(),
    };

    let url = Url::parse(text).map_err(|error| {
        invalid(&format!(
            "{error}; give a URL such as https://api.digitalocean.com"
        ))
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("it must not contain credentials"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "give the origin only, without a path: requests add `/v2/...` themselves",
        ));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_local_host(&url) => Ok(url),
        "http" => Err(invalid(
            "plain HTTP would send the API token unencrypted; use https (plain HTTP is accepted for loopback and private addresses only)",
        )),
        _ => Err(invalid("the scheme must be https")),
    }
}

fn is_local_host(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(address)) => address.is_loopback() || address.is_private(),
        Some(url::Host::Ipv6(address)) => IpAddr::V6(address).is_loopback(),
        None => false,
    }
}

fn bearer_header(token: &Secret) -> Result<HeaderValue, CloudError> {
    let text = zeroize::Zeroizing::new(format!("Bearer {}", token.expose()));
    let mut value = HeaderValue::from_str(&text).map_err(|_| CloudError::InvalidInput {
        what: "API token",
        value: Secret::REDACTED.to_string(),
        reason: "it contains characters an HTTP header cannot carry; copy the token again"
            .to_string(),
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn build_http_client() -> Result<reqwest::Client, CloudError> {
    // The crate builds reqwest without a default crypto provider; an error
    // here means one is installed already, which serves as well.
    let _ = rustls::crypto::ring::default_provider().install_default();

    reqwest::Client::builder()
        .user_agent(concat!("wwctl/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(15))
        .build()
        .map_err(|error| CloudError::InvalidInput {
            what: "HTTP client setup",
            value: "reqwest".to_string(),
            reason: error_chain(&error),
        })
}

#[cfg(test)]
mod tests {
    use super::{parse_api_url, segment};

    #[test]
    fn api_url_accepts_https_and_local_http() {
        assert!(parse_api_url("https://api.digitalocean.com").is_ok());
        assert!(parse_api_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_api_url("http://10.77.0.1:8080").is_ok());
        assert!(parse_api_url("http://localhost:9000/").is_ok());
    }

    #[test]
    fn api_url_rejects_plain_http_and_paths() {
        let plain = parse_api_url("http://api.digitalocean.com").unwrap_err();
        assert!(plain.to_string().contains("unencrypted"), "{plain}");
        let path = parse_api_url("https://api.digitalocean.com/v2").unwrap_err();
        assert!(path.to_string().contains("origin only"), "{path}");
        assert!(parse_api_url("not a url").is_err());
    }

    #[test]
    fn segment_encodes_reserved_bytes() {
        assert_eq!(segment("wwctl-run:abc"), "wwctl-run:abc");
        assert_eq!(segment("a b/c?d"), "a%20b%2Fc%3Fd");
        assert_eq!(segment("wwdt.me"), "wwdt.me");
    }
}
