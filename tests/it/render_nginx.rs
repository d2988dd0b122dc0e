//! The rendered NGINX configurations of the shipped inventory pass the real
//! `nginx -t`, and rendering refuses a configuration that fails the lints.

use wwctl::inventory::Role;
use wwctl::render::{self, Facts, RenderError, Rule};

use crate::render_support::{
    OVERLAYS, all_hosts, nginx_test, render_host, shipped_inventory, test_secrets,
};

#[test]
fn every_shipped_host_passes_nginx_t() {
    let mut checked = 0;
    for overlay in OVERLAYS {
        let inventory = shipped_inventory(overlay);
        for (fleet, droplet) in all_hosts(&inventory) {
            let files = render_host(&inventory, &fleet, &droplet);
            if !files
                .iter()
                .any(|file| file.path == "/etc/nginx/nginx.conf")
            {
                continue;
            }
            let directories = render::host_directories(&inventory, &fleet, &droplet).unwrap();
            let paths: Vec<&str> = directories.iter().map(|d| d.path.as_str()).collect();

            let check = nginx_test(&files, &paths);
            assert!(
                check.success,
                "nginx -t failed for `{droplet}` (fleet {fleet}, overlay {overlay:?}):\n{}",
                check.output
            );
            assert!(
                check.output.contains("test is successful"),
                "{}",
                check.output
            );
            checked += 1;
        }
    }
    // Five droplets with NGINX in 2022 and two in 2023, with and without
    // the overlay.
    assert_eq!(checked, 2 * 7);
}

#[test]
fn cache_folder_parent_is_required() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");

    let check = nginx_test(&files, &[]);

    assert!(!check.success, "{}", check.output);
    assert!(check.output.contains("mkdir()"), "{}", check.output);
    let directories = render::host_directories(&inventory, "2023", "prod-2023").unwrap();
    assert!(directories.iter().any(|d| d.path == "/var/cache/nginx"));
}

#[test]
fn front_end_balances_app_servers() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2022", "lb-2022");
    let main = text_of(&files, "/etc/nginx/nginx.conf");

    let upstream = block_after(&main, "upstream app_stats {");
    assert_eq!(
        upstream,
        vec![
            "server 192.0.2.11:80 max_fails=3 fail_timeout=10s;",
            "server 192.0.2.12:80 max_fails=3 fail_timeout=10s;",
            "server 192.0.2.13:80 max_fails=3 fail_timeout=10s;",
        ]
    );
    assert_eq!(main.matches("proxy_cache_path ").count(), 4);
    assert!(main.contains(
        "proxy_cache_path /var/cache/nginx/site_stats levels=1:2 keys_zone=site_stats:10m max_size=1g inactive=60m use_temp_path=off;"
    ));
    assert!(!main.contains("unix:"), "the front end runs no apps");
}

#[test]
fn all_in_one_proxies_local_sockets() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let main = text_of(&files, "/etc/nginx/nginx.conf");
    let stats = text_of(&files, "/etc/nginx/sites-enabled/stats.conf");

    assert_eq!(
        block_after(&main, "upstream app_stats {"),
        vec!["server unix:/tmp/gunicorn-wwdtmstats.sock fail_timeout=0;"]
    );
    for header in [
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_set_header X-Real-IP $remote_addr;",
        "proxy_redirect off;",
        "proxy_cache site_stats;",
        "proxy_cache_key \"$scheme$host$request_uri\";",
        "ssl_certificate /etc/ssl/wwdtm/stats.wwdt.me.crt;",
        "ssl_certificate_key /etc/ssl/wwdtm/stats.wwdt.me.key;",
        "return 301 https://stats.wwdt.me$request_uri;",
        "server_name stats.wwdt.me wwdt.me www.wwdt.me;",
        "server_name www.wwdt.me;",
        "location = /nginx-health {",
        "location = /health {",
    ] {
        assert!(stats.contains(header), "missing `{header}` in:\n{stats}");
    }
    assert!(!stats.contains("proxy_ignore_headers"), "{stats}");
}

#[test]
fn random_routes_are_never_cached() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "prod-2023");
    let stats = text_of(&files, "/etc/nginx/sites-enabled/stats.conf");

    let location = block_after(
        &stats,
        "location ~ \"^/(guests|hosts|locations|panelists|scorekeepers|shows)/random(/|$)\" {",
    );
    assert_eq!(
        location,
        vec![
            "proxy_cache off;",
            "expires 0;",
            "add_header Cache-Control \"no-store, no-cache\" always;",
            "proxy_pass http://app_stats;",
        ]
    );
}

#[test]
fn app_server_serves_plain_http_without_cache() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2022", "app2-2022");
    let main = text_of(&files, "/etc/nginx/nginx.conf");
    let api = text_of(&files, "/etc/nginx/sites-enabled/api.conf");

    assert!(!main.contains("proxy_cache"), "{main}");
    assert!(!main.contains("listen 443"), "{main}");
    assert!(
        main.contains("192.0.2.10 1;"),
        "trusts the front end: {main}"
    );
    assert!(api.contains("listen 80;"), "{api}");
    assert!(api.contains("server_name api.wwdt.me;"), "{api}");
    assert!(!api.contains("ssl_certificate"), "{api}");
    assert!(!api.contains("proxy_cache"), "{api}");
}

#[test]
fn staging_serves_staging_domains() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2023", "staging-2023");
    let stats = text_of(&files, "/etc/nginx/sites-enabled/stats.conf");

    assert!(
        stats.contains("server_name stats.staging.wwdt.me;"),
        "{stats}"
    );
    assert!(
        !stats.contains("wwdt.me www.wwdt.me"),
        "aliases are production only: {stats}"
    );
    assert!(!stats.contains("server_name stats.wwdt.me"), "{stats}");
}

#[test]
fn database_only_host_has_no_nginx() {
    let inventory = shipped_inventory(None);
    let files = render_host(&inventory, "2022", "db-2022");

    assert!(
        files
            .iter()
            .all(|file| !file.path.starts_with("/etc/nginx/"))
    );
    assert!(inventory.find_droplet("db-2022").unwrap().roles == [Role::Database]);
}

#[test]
fn render_refuses_lint_failure() {
    let mut inventory = shipped_inventory(None);
    // `a-b` and `a_b` both become cache zone `site_a_b`.
    let stats = inventory.sites["stats"].clone();
    let mut first = stats.clone();
    first.name = "a-b".to_string();
    first
        .domains
        .insert("prod".to_string(), "ab1.wwdt.me".to_string());
    first.aliases.clear();
    first.cache.no_cache.clear();
    let mut second = first.clone();
    second.name = "a_b".to_string();
    second
        .domains
        .insert("prod".to_string(), "ab2.wwdt.me".to_string());
    inventory.sites.insert(first.name.clone(), first);
    inventory.sites.insert(second.name.clone(), second);

    let facts = Facts::placeholder(&inventory).unwrap();
    let error = render::host_files(
        &inventory,
        "2023",
        "prod-2023",
        &facts,
        &test_secrets(&inventory),
    )
    .unwrap_err();

    let RenderError::Lint { droplet, findings } = &error else {
        panic!("expected a lint error, got {error}");
    };
    assert_eq!(droplet, "prod-2023");
    assert!(findings.iter().any(|f| {
        f.rule == Rule::DuplicateName
            && f.message
                .starts_with("cache zone `site_a_b` is also declared at /etc/nginx/nginx.conf:")
    }));
    assert!(findings.iter().any(|f| {
        f.rule == Rule::DuplicateName
            && f.message
                .starts_with("cache path `/var/cache/nginx/site_a_b` is also declared")
    }));
}

fn text_of(files: &[wwctl::render::RenderedFile], path: &str) -> String {
    files
        .iter()
        .find(|file| file.path == path)
        .unwrap_or_else(|| panic!("no rendered file `{path}`"))
        .contents
        .text()
        .expect("a plain file")
        .to_string()
}

/// Returns the trimmed lines of the block opened by the line `opening`.
fn block_after(text: &str, opening: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let start = lines
        .iter()
        .position(|line| *line == opening)
        .unwrap_or_else(|| panic!("no line `{opening}` in:\n{text}"));
    lines[start + 1..]
        .iter()
        .take_while(|line| **line != "}")
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.to_string())
        .collect()
}
