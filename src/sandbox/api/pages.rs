//! Pagination as DigitalOcean does it: `page` and `per_page` (default 20,
//! at most 200), `links.pages` with full URLs of the first, previous, next
//! and last pages where they exist, and `meta.total`.

use serde_json::{Map, Value, json};

use crate::sandbox::api::request::{Caller, Params};

pub const DEFAULT_PER_PAGE: usize = 20;
pub const MAX_PER_PAGE: usize = 200;

/// Build one page of a list response:
/// `{<key>: [...], "links": {...}, "meta": {"total": N}}`.
pub fn page(key: &str, items: Vec<Value>, params: &Params, caller: &Caller) -> Value {
    let total = items.len();
    let per_page = per_page(params);
    let page = params
        .get("page")
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|page| *page >= 1)
        .unwrap_or(1);
    let last = total.div_ceil(per_page).max(1);

    let shown: Vec<Value> = items
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();

    let mut pages = Map::new();
    let link = |number: usize| Value::String(page_url(caller, params, number, per_page));
    if page > 1 {
        pages.insert("first".into(), link(1));
        pages.insert("prev".into(), link((page - 1).min(last)));
    }
    if page < last {
        pages.insert("next".into(), link(page + 1));
        pages.insert("last".into(), link(last));
    }

    let links = if pages.is_empty() {
        json!({})
    } else {
        json!({ "pages": pages })
    };
    json!({ key: shown, "links": links, "meta": { "total": total } })
}

/// `per_page` clamped to at most 200, as the real API does.
///
/// NOTE: how the real API treats `per_page` below 1 or not a number is not
/// documented; the emulator uses the default of 20 then.
fn per_page(params: &Params) -> usize {
    params
        .get("per_page")
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|count| *count >= 1)
        .map(|count| count.min(MAX_PER_PAGE))
        .unwrap_or(DEFAULT_PER_PAGE)
}

/// Build the URL of another page, keeping the request's filters.
fn page_url(caller: &Caller, params: &Params, page: usize, per_page: usize) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in &params.pairs {
        if key != "page" && key != "per_page" {
            query.append_pair(key, value);
        }
    }
    query.append_pair("page", &page.to_string());
    query.append_pair("per_page", &per_page.to_string());
    format!("{}{}?{}", caller.base_url, params.path, query.finish())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::page;
    use crate::sandbox::api::request::{Caller, Params};
    use crate::sandbox::token::AccountKey;

    fn caller() -> Caller {
        Caller {
            account: AccountKey("k".repeat(64)),
            base_url: "http://127.0.0.1:9".into(),
        }
    }

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params {
            pairs: pairs
                .iter()
                .map(|(key, value)| (key.to_string(), value.to_string()))
                .collect(),
            path: "/v2/droplets".into(),
        }
    }

    fn items(count: u64) -> Vec<Value> {
        (1..=count).map(|id| json!({ "id": id })).collect()
    }

    #[test]
    fn first_page_links_forward_only() {
        let body = page("droplets", items(25), &params(&[]), &caller());
        assert_eq!(body["droplets"].as_array().unwrap().len(), 20);
        assert_eq!(body["meta"]["total"], 25);
        let pages = &body["links"]["pages"];
        assert_eq!(
            pages["next"],
            "http://127.0.0.1:9/v2/droplets?page=2&per_page=20"
        );
        assert_eq!(pages["last"], pages["next"]);
        assert!(pages.get("first").is_none());
        assert!(pages.get("prev").is_none());
    }

    #[test]
    fn last_page_links_back_and_keeps_filters() {
        let body = page(
            "droplets",
            items(5),
            &params(&[("tag_name", "web"), ("page", "3"), ("per_page", "2")]),
            &caller(),
        );
        assert_eq!(body["droplets"], json!([{ "id": 5 }]));
        let pages = &body["links"]["pages"];
        assert_eq!(
            pages["prev"],
            "http://127.0.0.1:9/v2/droplets?tag_name=web&page=2&per_page=2"
        );
        assert!(pages.get("next").is_none());
    }

    #[test]
    fn single_page_has_empty_links() {
        let body = page(
            "droplets",
            items(3),
            &params(&[("per_page", "500")]),
            &caller(),
        );
        assert_eq!(body["links"], json!({}));
        assert_eq!(body["droplets"].as_array().unwrap().len(), 3);
    }
}
