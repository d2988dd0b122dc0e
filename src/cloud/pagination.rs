//! Listing every page of a collection by following `links.pages.next`.
//!
//! The API omits `links`, `pages` or `next` on the last page (or on the only
//! one), so each is optional. A `next` link is followed only to the API's own
//! origin, so the token is never sent elsewhere, and never to a page already
//! fetched, so a looping link cannot hang a run.

use std::collections::HashSet;

use serde::de::DeserializeOwned;
use url::Url;

use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient};
use crate::cloud::error::{CloudError, PaginationFault};

/// The largest page the API serves.
pub const PER_PAGE: u32 = 200;

/// More pages than any listing of this project's account can have; a
/// listing past it is a server bug.
const MAX_PAGES: usize = 10_000;

impl CloudClient {
    /// Fetch every page of `first` and return the items under `key` in the
    /// order the API listed them.
    pub(crate) async fn list_all<T: DeserializeOwned>(
        &self,
        first: ApiRequest,
        key: &str,
    ) -> Result<Vec<T>, CloudError> {
        let mut request = with_per_page(first);
        let mut fetched = HashSet::from([page_identity(&request.path, &request.query)]);
        let mut items = Vec::new();

        loop {
            let response = self.execute(&request).await?;
            let (page_items, next) = read_page::<T>(&response, key)?;
            items.extend(page_items);

            let Some(next) = next else {
                return Ok(items);
            };
            request = self.next_page_request(&request, &next, &mut fetched)?;
        }
    }

    fn next_page_request(
        &self,
        current: &ApiRequest,
        next: &str,
        fetched: &mut HashSet<String>,
    ) -> Result<ApiRequest, CloudError> {
        let fault = |fault| CloudError::Pagination {
            endpoint: current.endpoint(),
            next: next.to_string(),
            fault,
        };

        let url = self
            .api_url()
            .join(next)
            .map_err(|_| fault(PaginationFault::Unparsable))?;
        if !same_origin(&url, self.api_url()) || !url.path().starts_with("/v2/") {
            return Err(fault(PaginationFault::ForeignOrigin));
        }

        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let request = with_per_page(ApiRequest {
            method: current.method.clone(),
            path: url.path().to_string(),
            query,
            body: None,
            scope: current.scope,
            retry_transient: current.retry_transient,
            retry_busy: current.retry_busy,
        });

        if fetched.len() >= MAX_PAGES {
            return Err(fault(PaginationFault::TooManyPages));
        }
        if !fetched.insert(page_identity(&request.path, &request.query)) {
            return Err(fault(PaginationFault::Loop));
        }
        Ok(request)
    }
}

/// Ask for the largest pages unless the request (or a next link) already
/// names a page size.
fn with_per_page(mut request: ApiRequest) -> ApiRequest {
    if !request.query.iter().any(|(name, _)| name == "per_page") {
        request
            .query
            .push(("per_page".to_string(), PER_PAGE.to_string()));
    }
    request
}

/// Returns a key that is the same for one page whatever the order of its
/// query parameters, with `page=1` the same as no page.
fn page_identity(path: &str, query: &[(String, String)]) -> String {
    let mut pairs: Vec<String> = query
        .iter()
        .filter(|(name, value)| !(name == "page" && value == "1"))
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    pairs.sort();
    format!("{path}?{}", pairs.join("&"))
}

fn same_origin(url: &Url, base: &Url) -> bool {
    url.scheme() == base.scheme()
        && url.host_str() == base.host_str()
        && url.port_or_known_default() == base.port_or_known_default()
}

/// Reads the items under `key` and the next-page link, if any. A `null`
/// list is empty, but a missing one is an error.
fn read_page<T: DeserializeOwned>(
    response: &ApiResponse,
    key: &str,
) -> Result<(Vec<T>, Option<String>), CloudError> {
    let invalid = |detail: String| CloudError::InvalidResponse {
        endpoint: response.endpoint.clone(),
        detail,
    };

    let mut body: serde_json::Map<String, serde_json::Value> = response.json()?;
    let next = body
        .get("links")
        .and_then(|links| links.get("pages"))
        .and_then(|pages| pages.get("next"))
        .and_then(|next| next.as_str())
        .filter(|next| !next.is_empty())
        .map(str::to_string);

    let items = match body.remove(key) {
        None => return Err(invalid(format!("the list `{key}` is missing"))),
        Some(serde_json::Value::Null) => Vec::new(),
        Some(value) => serde_path_to_error::deserialize(value)
            .map_err(|error| invalid(format!("at `{key}.{}`: {}", error.path(), error.inner())))?,
    };
    Ok((items, next))
}

#[cfg(test)]
mod tests {
    use super::page_identity;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn page_identity_ignores_order_and_first_page() {
        assert_eq!(
            page_identity(
                "/v2/droplets",
                &pairs(&[("per_page", "200"), ("page", "1")])
            ),
            page_identity("/v2/droplets", &pairs(&[("per_page", "200")]))
        );
        assert_eq!(
            page_identity(
                "/v2/droplets",
                &pairs(&[("page", "2"), ("per_page", "200")])
            ),
            page_identity(
                "/v2/droplets",
                &pairs(&[("per_page", "200"), ("page", "2")])
            )
        );
        assert_ne!(
            page_identity("/v2/droplets", &pairs(&[("page", "2")])),
            page_identity("/v2/droplets", &pairs(&[("page", "3")]))
        );
    }
}
