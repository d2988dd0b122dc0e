//! Following `links.pages.next`: every item once, whatever the page sizes
//! and link shapes, and never a loop or another host.

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use wwctl::cloud::{CloudError, PaginationFault};

use super::harness::{droplet_json, setup};

/// How a page points to the next one.
#[derive(Debug, Clone, Copy)]
enum LinkStyle {
    PageNumber,
    Cursor,
    Relative,
}

/// The way the last page shows that no next page exists.
#[derive(Debug, Clone, Copy)]
enum LastPage {
    NoLinks,
    EmptyLinks,
    EmptyPages,
    NullNext,
}

/// Serve `pages` of droplets from `server`, chained by links of `style`.
async fn serve_pages(server: &MockServer, pages: Vec<Vec<u64>>, style: LinkStyle, last: LastPage) {
    let base = server.uri();
    let cursors: HashMap<String, usize> = (1..pages.len())
        .map(|index| (format!("c{index}x{}", index * 7919), index))
        .collect();
    let cursor_of: HashMap<usize, String> = cursors
        .iter()
        .map(|(cursor, index)| (*index, cursor.clone()))
        .collect();

    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(move |request: &Request| {
            let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
            let index = match (query.get("page"), query.get("cursor")) {
                (Some(page), _) => page.parse::<usize>().unwrap() - 1,
                (None, Some(cursor)) => cursors[cursor],
                (None, None) => 0,
            };
            let droplets: Vec<Value> = pages[index].iter().map(|id| droplet_json(*id, &format!("d{id}"), "active", json!({}))).collect();
            let mut body = json!({"droplets": droplets, "meta": {"total": 0}});

            if index + 1 < pages.len() {
                let next = match style {
                    LinkStyle::PageNumber => format!("{base}/v2/droplets?page={}&per_page=200&tag_name=t", index + 2),
                    LinkStyle::Cursor => format!("{base}/v2/droplets?tag_name=t&cursor={}", cursor_of[&(index + 1)]),
                    LinkStyle::Relative => format!("/v2/droplets?page={}", index + 2),
                };
                body["links"] = json!({"pages": {"first": format!("{base}/v2/droplets?page=1"), "next": next}});
            } else {
                match last {
                    LastPage::NoLinks => {}
                    LastPage::EmptyLinks => body["links"] = json!({}),
                    LastPage::EmptyPages => body["links"] = json!({"pages": {}}),
                    LastPage::NullNext => body["links"] = json!({"pages": {"prev": format!("{base}/v2/droplets?page=1"), "next": null}}),
                }
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .mount(server)
        .await;
}

fn style_strategy() -> impl Strategy<Value = LinkStyle> {
    prop_oneof![
        Just(LinkStyle::PageNumber),
        Just(LinkStyle::Cursor),
        Just(LinkStyle::Relative)
    ]
}

fn last_strategy() -> impl Strategy<Value = LastPage> {
    prop_oneof![
        Just(LastPage::NoLinks),
        Just(LastPage::EmptyLinks),
        Just(LastPage::EmptyPages),
        Just(LastPage::NullNext)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn pages_return_each_item_once(
        sizes in prop::collection::vec(0usize..30, 1..7),
        style in style_strategy(),
        last in last_strategy(),
    ) {
        let mut next_id = 1u64;
        let pages: Vec<Vec<u64>> = sizes
            .iter()
            .map(|size| (0..*size).map(|_| { next_id += 1; next_id }).collect())
            .collect();
        let expected: Vec<u64> = pages.iter().flatten().copied().collect();
        let page_count = pages.len();

        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (listed, requests) = runtime.block_on(async {
            let (server, _clock, client) = setup().await;
            serve_pages(&server, pages, style, last).await;
            let listed = client.droplets_by_tag("t").await.unwrap();
            let requests = server.received_requests().await.unwrap().len();
            (listed, requests)
        });

        let ids: Vec<u64> = listed.iter().map(|droplet| droplet.id).collect();
        prop_assert_eq!(ids, expected);
        prop_assert_eq!(requests, page_count);
    }
}

#[tokio::test]
async fn looping_next_link_fails() {
    let (server, _clock, client) = setup().await;
    let base = server.uri();
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(move |request: &Request| {
            let on_second = request
                .url
                .query_pairs()
                .any(|(name, value)| name == "page" && value == "2");
            let page = if on_second { 1 } else { 2 };
            let next = format!("{base}/v2/droplets?page={page}&per_page=200&tag_name=t");
            ResponseTemplate::new(200).set_body_json(
                json!({"droplets": [], "links": {"pages": {"next": next}}, "meta": {"total": 0}}),
            )
        })
        .mount(&server)
        .await;

    let error = client.droplets_by_tag("t").await.unwrap_err();
    assert!(
        matches!(
            error,
            CloudError::Pagination {
                fault: PaginationFault::Loop,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("already fetched"), "{error}");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn next_link_to_other_host_is_not_followed() {
    let (server, _clock, client) = setup().await;
    let elsewhere = MockServer::start().await;
    let next = format!("{}/v2/droplets?page=2", elsewhere.uri());
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"droplets": [], "links": {"pages": {"next": next}}, "meta": {"total": 0}}),
        ))
        .mount(&server)
        .await;

    let error = client.droplets_by_tag("t").await.unwrap_err();
    assert!(
        matches!(
            error,
            CloudError::Pagination {
                fault: PaginationFault::ForeignOrigin,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn missing_list_key_is_invalid_response() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"meta": {"total": 0}})))
        .mount(&server)
        .await;

    let error = client.droplets_by_tag("t").await.unwrap_err();
    assert!(
        error.to_string().contains("the list `droplets` is missing"),
        "{error}"
    );
}
