//! Site checks: an HTTPS request to one server's address with the site's
//! name (SNI and Host), as a browser would make it once DNS points there.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::http;

/// Maximum part of a response body kept for messages.
const EXCERPT_BYTES: usize = 300;

/// One request to make.
#[derive(Clone, Debug)]
pub struct SiteRequest {
    pub site: String,
    pub domain: String,
    pub address: IpAddr,
    pub port: u16,
    pub path: String,
    /// Text the body must contain; empty for any 200 response.
    pub expect: String,
}

/// The outcome of one request.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SiteResponse {
    pub site: String,
    pub url: String,
    pub address: IpAddr,
    pub status: Option<u16>,
    pub passed: bool,
    /// The reason the check failed, when it did.
    pub problem: Option<String>,
    pub body_excerpt: String,
    pub millis: u128,
}

/// Make `request`, trusting the system's roots plus `extra_roots` (the
/// sandbox's certificate authority).
pub async fn check(
    request: &SiteRequest,
    extra_roots: Option<&Path>,
    timeout: Duration,
) -> anyhow::Result<SiteResponse> {
    http::install_crypto_provider();
    let url = format!("https://{}{}", request.domain, request.path);
    let mut builder = reqwest::Client::builder()
        .resolve(
            &request.domain,
            SocketAddr::new(request.address, request.port),
        )
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout);
    if let Some(path) = extra_roots {
        for root in http::read_roots(path)? {
            builder = builder.add_root_certificate(root);
        }
    }
    let client = builder.build().context("cannot build the HTTPS client")?;

    let started = Instant::now();
    let result = client
        .get(&url)
        .header("User-Agent", "wwctl-health-check")
        .send()
        .await;
    let mut response = SiteResponse {
        site: request.site.clone(),
        url: url.clone(),
        address: request.address,
        status: None,
        passed: false,
        problem: None,
        body_excerpt: String::new(),
        millis: 0,
    };

    match result {
        Err(error) => {
            response.problem = Some(format!("request failed: {}", error_chain(&error)));
        }
        Ok(answer) => {
            let status = answer.status();
            response.status = Some(status.as_u16());
            let body = answer.text().await.unwrap_or_default();
            response.body_excerpt = excerpt(&body);
            response.problem = if !status.is_success() {
                Some(format!("status {status}"))
            } else if !request.expect.is_empty() && !body.contains(&request.expect) {
                Some(format!(
                    "the response does not contain `{}`",
                    request.expect
                ))
            } else {
                None
            };
            response.passed = response.problem.is_none();
        }
    }
    response.millis = started.elapsed().as_millis();
    Ok(response)
}

fn excerpt(body: &str) -> String {
    let end = body
        .char_indices()
        .map(|(index, _)| index)
        .take_while(|index| *index <= EXCERPT_BYTES)
        .last()
        .unwrap_or(0);
    let cut = if body.len() <= EXCERPT_BYTES {
        body
    } else {
        &body[..end]
    };
    cut.trim().to_string()
}

/// Formats a reqwest error with its causes, since its own text omits the
/// TLS or connection reason.
fn error_chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
