//! wwctl's NGINX lints: each rule has a fixture that trips it and a test
//! that asserts the message. Where `nginx -t` accepts the faulty fixture,
//! a test shows that too, since that is why the lint exists.

use wwctl::render::{Finding, NoCacheRoute, RenderedFile, Rule, lint_nginx};

use crate::render_support::nginx_test;

const MAIN: &str = "/etc/nginx/nginx.conf";
const SITE: &str = "/etc/nginx/sites-enabled/app.conf";

/// A main file with `http_extra` in `http` that includes the site files.
fn main_file(http_extra: &str) -> RenderedFile {
    RenderedFile::text(
        MAIN,
        format!(
            "events {{}}\nhttp {{\n{http_extra}\n    include /etc/nginx/sites-enabled/*.conf;\n}}\n"
        ),
    )
}

fn lint(files: &[RenderedFile]) -> Vec<Finding> {
    lint_nginx(files, &[])
}

fn only(findings: Vec<Finding>, rule: Rule) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|finding| finding.rule == rule)
        .collect()
}

#[test]
fn undeclared_cache_zone() {
    let files = [
        main_file(""),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name app.example.com;\n    location / {\n        proxy_cache appcache;\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];

    let findings = lint(&files);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::CacheZoneDeclaration);
    assert_eq!(findings[0].at, format!("{SITE}:5"));
    assert_eq!(
        findings[0].message,
        "`proxy_cache` names zone `appcache`, which no `proxy_cache_path` in the `http` block declares; add `proxy_cache_path /var/cache/nginx/appcache keys_zone=appcache:10m` to `http`"
    );
    let check = nginx_test(&files, &[]);
    assert!(!check.success);
    assert!(
        check
            .output
            .contains("\"proxy_cache\" zone \"appcache\" is unknown"),
        "{}",
        check.output
    );
}

#[test]
fn cache_path_inside_server() {
    let files = [
        main_file(""),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;\n    location / {\n        proxy_cache app;\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];

    let findings = only(lint(&files), Rule::CacheZoneDeclaration);

    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0].at, format!("{SITE}:3"));
    assert_eq!(
        findings[0].message,
        "`proxy_cache_path` is inside `server`, but NGINX allows it only directly in `http`; move it into the `http` block"
    );
    assert!(
        findings[1]
            .message
            .starts_with("`proxy_cache` names zone `app`")
    );
}

#[test]
fn duplicate_upstream_zone_and_path() {
    let site = |name: &str| {
        RenderedFile::text(
            format!("/etc/nginx/sites-enabled/{name}.conf"),
            format!(
                "server {{\n    listen 80;\n    server_name {name}.example.com;\n    location / {{\n        proxy_pass http://app;\n    }}\n}}\n"
            ),
        )
    };
    let files = [
        main_file(
            "    proxy_cache_path /var/cache/nginx keys_zone=app:10m;\n    proxy_cache_path /var/cache/nginx/ keys_zone=app:10m;\n    upstream app { server unix:/tmp/app1.sock; }\n    upstream app { server unix:/tmp/app2.sock; }",
        ),
        site("app1"),
        site("app2"),
    ];

    let findings = only(lint(&files), Rule::DuplicateName);

    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "upstream `app` is also declared at /etc/nginx/nginx.conf:5; build the name from the app or site name so each is unique",
            "cache zone `app` is also declared at /etc/nginx/nginx.conf:3; build the name from the app or site name so each is unique",
            "cache path `/var/cache/nginx` is also declared at /etc/nginx/nginx.conf:3; build the name from the app or site name so each is unique",
        ]
    );
    assert_eq!(findings[0].at, "/etc/nginx/nginx.conf:6");
}

/// Two sites on one upstream and zone with the default cache key.
fn shared_cache_fixture(key: &str) -> Vec<RenderedFile> {
    let site = |name: &str| {
        RenderedFile::text(
            format!("/etc/nginx/sites-enabled/{name}.conf"),
            format!(
                "server {{\n    listen 80;\n    server_name {name}.example.com;\n    proxy_cache shared;\n{key}    location / {{\n        proxy_pass http://backend;\n    }}\n}}\n"
            ),
        )
    };
    vec![
        main_file(
            "    proxy_cache_path /var/cache/nginx/shared keys_zone=shared:10m;\n    upstream backend { server unix:/tmp/backend.sock; }",
        ),
        site("app1"),
        site("app2"),
    ]
}

#[test]
fn shared_zone_without_host_in_key() {
    let files = shared_cache_fixture("");

    let findings = lint(&files);

    assert_eq!(findings.len(), 2, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::CacheKeyWithoutHost);
    assert_eq!(findings[0].at, "/etc/nginx/sites-enabled/app1.conf:5");
    assert_eq!(
        findings[0].message,
        "server `app1.example.com` shares cache zone `shared` with 1 other server block(s), but its cache key `$scheme$proxy_host$request_uri` lacks `$host`, so one site's cached pages would be served for another; use `proxy_cache_key \"$scheme$host$request_uri\"`"
    );
    let check = nginx_test(&files, &["/var/cache/nginx"]);
    assert!(
        check.success,
        "nginx -t accepts this fault: {}",
        check.output
    );
}

#[test]
fn shared_zone_with_host_in_key_passes() {
    let files = shared_cache_fixture("    proxy_cache_key \"$scheme$host$request_uri\";\n");

    assert_eq!(lint(&files), Vec::new());
}

#[test]
fn set_cookie_ignored_at_server_level() {
    let files = [
        main_file("    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;"),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name app.example.com;\n    proxy_cache app;\n    proxy_cache_key $scheme$host$request_uri;\n    proxy_ignore_headers Set-Cookie;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];

    let findings = lint(&files);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::CachedSetCookie);
    assert_eq!(findings[0].at, format!("{SITE}:6"));
    assert_eq!(
        findings[0].message,
        "`proxy_ignore_headers Set-Cookie` in `server` lets NGINX cache responses that set a cookie, handing one visitor's session to others; remove it, or limit it to a static-only location that also has `proxy_hide_header Set-Cookie`"
    );
    let check = nginx_test(&files, &["/var/cache/nginx"]);
    assert!(
        check.success,
        "nginx -t accepts this fault: {}",
        check.output
    );
}

#[test]
fn set_cookie_ignored_in_page_location() {
    let files = [
        main_file("    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;"),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name app.example.com;\n    proxy_cache app;\n    location /account/ {\n        proxy_ignore_headers Set-Cookie;\n        proxy_hide_header Set-Cookie;\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];

    let findings = lint(&files);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::CachedSetCookie);
    assert_eq!(
        findings[0].message,
        "`proxy_ignore_headers Set-Cookie` in `location /account/` of server `app.example.com` caches responses that set a cookie; remove it, or use it only in a static-only location with `proxy_hide_header Set-Cookie`"
    );
}

#[test]
fn set_cookie_ignored_in_static_location_passes() {
    let files = [
        main_file("    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;"),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name app.example.com;\n    proxy_cache app;\n    location ~* \\.(css|js|png)$ {\n        proxy_ignore_headers Set-Cookie;\n        proxy_hide_header Set-Cookie;\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];

    assert_eq!(lint(&files), Vec::new());
}

#[test]
fn no_cache_route_missing() {
    let files = [
        main_file("    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;"),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name stats.example.com;\n    proxy_cache app;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];
    let routes = [NoCacheRoute {
        server_name: "stats.example.com".to_string(),
        pattern: "^/shows/random(/|$)".to_string(),
    }];

    let findings = lint_nginx(&files, &routes);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::NoCacheRoute);
    assert_eq!(findings[0].at, format!("{SITE}:1"));
    assert_eq!(
        findings[0].message,
        "server `stats.example.com` caches pages but has no `location ~ \"^/shows/random(/|$)\"` with `proxy_cache off`, so every visitor would get the same cached page"
    );
}

#[test]
fn no_cache_route_still_cached() {
    let files = [
        main_file("    proxy_cache_path /var/cache/nginx/app keys_zone=app:10m;"),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    server_name stats.example.com;\n    proxy_cache app;\n    location ~ \"^/shows/random(/|$)\" {\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n",
        ),
    ];
    let routes = [NoCacheRoute {
        server_name: "stats.example.com".to_string(),
        pattern: "^/shows/random(/|$)".to_string(),
    }];

    let findings = lint_nginx(&files, &routes);

    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "`location ~ ^/shows/random(/|$)` of server `stats.example.com` is a no-cache route but still caches; add `proxy_cache off`",
            "`location ~ ^/shows/random(/|$)` of server `stats.example.com` needs `add_header Cache-Control \"no-store, no-cache\" always` and `expires 0`, so browsers and shared caches do not keep the page",
        ]
    );
    assert!(findings.iter().all(|f| f.rule == Rule::NoCacheRoute));
}

#[test]
fn upstream_host_name_needs_dns() {
    let files = [
        main_file(
            "    upstream app { server app1.internal:80; server 192.0.2.5:80; server unix:/tmp/a.sock; }",
        ),
        RenderedFile::text(
            SITE,
            "server {\n    listen 80;\n    location / {\n        proxy_pass http://app;\n    }\n    location /other/ {\n        proxy_pass http://backend.internal:8080/;\n    }\n}\n",
        ),
    ];

    let findings = lint(&files);

    let messages: Vec<&str> = findings.iter().map(|f| f.message.as_str()).collect();
    assert_eq!(
        messages,
        vec![
            "upstream `app` names server `app1.internal:80`, a host name that NGINX must resolve through DNS whenever it loads the configuration; use the server's IP address or a `unix:` socket",
            "`proxy_pass` in `location /other/` of the server block at /etc/nginx/sites-enabled/app.conf:1 names host `backend.internal:8080`, which is neither an upstream nor an IP address, so NGINX needs DNS to load the configuration",
        ]
    );
    assert!(findings.iter().all(|f| f.rule == Rule::NeedsDns));
    assert_eq!(findings[1].at, format!("{SITE}:7"));
}

#[test]
fn syntax_error_is_reported() {
    let files = [
        main_file(""),
        RenderedFile::text(SITE, "server {\n    listen 80\n}\n"),
    ];

    let findings = lint(&files);

    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].rule, Rule::Syntax);
    assert_eq!(findings[0].at, format!("{SITE}:2"));
    assert_eq!(
        findings[0].message,
        "directive `listen` does not end with `;`"
    );
}

#[test]
fn finding_prints_location_and_rule() {
    let files = [
        main_file(""),
        RenderedFile::text(SITE, "server {\n    listen 80\n}\n"),
    ];

    let printed = lint(&files)[0].to_string();

    assert_eq!(
        printed,
        format!("{SITE}:2: directive `listen` does not end with `;` [syntax]")
    );
}
