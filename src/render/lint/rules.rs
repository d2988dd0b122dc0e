//! The lint rules over an expanded configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use super::model::{Config, Location, Server};
use super::parse::Directive;
use super::{Finding, NoCacheRoute, Rule};

/// Variables that make a cache key differ between sites.
const HOST_VARIABLES: [&str; 3] = ["$host", "${host}", "$http_host"];

/// File extensions a static-only location may serve.
const STATIC_EXTENSIONS: [&str; 18] = [
    "css",
    "js",
    "mjs",
    "map",
    "png",
    "jpg",
    "jpeg",
    "gif",
    "svg",
    "ico",
    "webp",
    "avif",
    "woff",
    "woff2",
    "ttf",
    "otf",
    "eot",
    "webmanifest",
];

/// Prefixes of locations that serve static files only.
const STATIC_PREFIXES: [&str; 2] = ["/static/", "/assets/"];

pub fn check(tree: &[Directive], no_cache_routes: &[NoCacheRoute]) -> Vec<Finding> {
    let config = Config::from_tree(tree);
    let mut findings = Vec::new();

    check_zone_declarations(&config, &mut findings);
    check_unique_names(&config, &mut findings);
    check_cache_keys(&config, &mut findings);
    check_set_cookie(&config, &mut findings);
    check_no_cache_routes(&config, no_cache_routes, &mut findings);
    check_dns_free(&config, &mut findings);

    findings
}

fn finding(rule: Rule, directive: &Directive, message: String) -> Finding {
    Finding {
        rule,
        at: directive.location(),
        message,
    }
}

/// Checks that every `proxy_cache_path` sits directly in `http`, and that
/// every zone `proxy_cache` names is declared there.
fn check_zone_declarations(config: &Config<'_>, findings: &mut Vec<Finding>) {
    for zone in config.zones.iter().filter(|zone| zone.parent != "http") {
        findings.push(finding(
            Rule::CacheZoneDeclaration,
            zone.directive,
            format!(
                "`proxy_cache_path` is inside `{}`, but NGINX allows it only directly in `http`; move it into the `http` block",
                zone.parent
            ),
        ));
    }
    for zone in config.zones.iter().filter(|zone| zone.name.is_none()) {
        findings.push(finding(
            Rule::CacheZoneDeclaration,
            zone.directive,
            "`proxy_cache_path` has no `keys_zone=NAME:SIZE`".to_string(),
        ));
    }

    let declared = config.http_zone_names();
    for placed in config
        .placed
        .iter()
        .filter(|placed| placed.directive.name == "proxy_cache")
    {
        let Some(zone) = placed.directive.arg(0) else {
            continue;
        };
        if zone == "off" || zone.contains('$') || declared.contains(&zone) {
            continue;
        }
        findings.push(finding(
            Rule::CacheZoneDeclaration,
            placed.directive,
            format!(
                "`proxy_cache` names zone `{zone}`, which no `proxy_cache_path` in the `http` block declares; add `proxy_cache_path /var/cache/nginx/{zone} keys_zone={zone}:10m` to `http`"
            ),
        ));
    }
}

/// Checks that upstream names, zone names and cache paths are each used once.
fn check_unique_names(config: &Config<'_>, findings: &mut Vec<Finding>) {
    let upstreams = config
        .upstreams
        .iter()
        .filter_map(|upstream| Some((upstream.arg(0)?.to_string(), *upstream)));
    report_duplicates("upstream", upstreams, findings);

    let zone_names = config
        .zones
        .iter()
        .filter_map(|zone| Some((zone.name.clone()?, zone.directive)));
    report_duplicates("cache zone", zone_names, findings);

    let zone_paths = config
        .zones
        .iter()
        .map(|zone| (zone.path.clone(), zone.directive));
    report_duplicates("cache path", zone_paths, findings);
}

fn report_duplicates<'a>(
    kind: &str,
    items: impl Iterator<Item = (String, &'a Directive)>,
    findings: &mut Vec<Finding>,
) {
    let mut first_seen: BTreeMap<String, &Directive> = BTreeMap::new();
    for (name, directive) in items {
        match first_seen.get(&name) {
            Some(first) => findings.push(finding(
                Rule::DuplicateName,
                directive,
                format!(
                    "{kind} `{name}` is also declared at {}; build the name from the app or site name so each is unique",
                    first.location()
                ),
            )),
            None => {
                first_seen.insert(name, directive);
            }
        }
    }
}

/// Checks that the cache key distinguishes sites wherever server blocks
/// share a cache zone or an upstream.
fn check_cache_keys(config: &Config<'_>, findings: &mut Vec<Finding>) {
    let mut zone_users: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut upstream_users: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (index, server) in config.servers.iter().enumerate() {
        for location in &server.locations {
            if let Some(zone) = location.cache_zone() {
                zone_users.entry(zone).or_default().insert(index);
            }
            if let Some(target) = location.proxy_target() {
                upstream_users.entry(target).or_default().insert(index);
            }
        }
    }

    for server in &config.servers {
        for location in &server.locations {
            let Some(zone) = location.cache_zone() else {
                continue;
            };
            let key = location.cache_key();
            if HOST_VARIABLES.iter().any(|variable| key.contains(variable)) {
                continue;
            }

            let zone_sharers = zone_users.get(zone).map_or(0, BTreeSet::len);
            let upstream_sharers = location
                .proxy_target()
                .and_then(|target| upstream_users.get(&target))
                .map_or(0, BTreeSet::len);
            if zone_sharers > 1 || upstream_sharers > 1 {
                let (shared, count) = if zone_sharers > 1 {
                    (format!("cache zone `{zone}`"), zone_sharers)
                } else {
                    (
                        format!("upstream `{}`", location.proxy_target().unwrap_or_default()),
                        upstream_sharers,
                    )
                };
                findings.push(finding(
                    Rule::CacheKeyWithoutHost,
                    location.directive,
                    format!(
                        "{} shares {shared} with {} other server block(s), but its cache key `{key}` lacks `$host`, so one site's cached pages would be served for another; use `proxy_cache_key \"$scheme$host$request_uri\"`",
                        server_label(server),
                        count - 1
                    ),
                ));
            }
        }
    }
}

/// Checks that responses setting a cookie stay uncached. NGINX caches them
/// only under `proxy_ignore_headers Set-Cookie`, which is accepted only in a
/// static-only location that also hides the header from clients.
fn check_set_cookie(config: &Config<'_>, findings: &mut Vec<Finding>) {
    for placed in config
        .placed
        .iter()
        .filter(|placed| placed.parent != "location" && ignores_set_cookie(placed.directive))
    {
        findings.push(finding(
            Rule::CachedSetCookie,
            placed.directive,
            format!(
                "`proxy_ignore_headers Set-Cookie` in `{}` lets NGINX cache responses that set a cookie, handing one visitor's session to others; remove it, or limit it to a static-only location that also has `proxy_hide_header Set-Cookie`",
                placed.parent
            ),
        ));
    }

    for server in &config.servers {
        for location in &server.locations {
            for directive in location.own("proxy_ignore_headers") {
                if !ignores_set_cookie(directive) {
                    continue;
                }
                let hidden = location.effective("proxy_hide_header").iter().any(|hide| {
                    hide.arg(0)
                        .is_some_and(|header| header.eq_ignore_ascii_case("Set-Cookie"))
                });
                if hidden && is_static_only(location) {
                    continue;
                }
                findings.push(finding(
                    Rule::CachedSetCookie,
                    directive,
                    format!(
                        "`proxy_ignore_headers Set-Cookie` in `location {}` of {} caches responses that set a cookie{}; remove it, or use it only in a static-only location with `proxy_hide_header Set-Cookie`",
                        location.describe(),
                        server_label(server),
                        if hidden { "" } else { " and passes the cookie on to other visitors" },
                    ),
                ));
            }
        }
    }
}

fn ignores_set_cookie(directive: &Directive) -> bool {
    directive.name == "proxy_ignore_headers"
        && directive
            .args
            .iter()
            .any(|header| header.eq_ignore_ascii_case("Set-Cookie"))
}

/// Tells whether a location can only match static files: under `/static/`
/// or `/assets/`, an exact file with a static extension, or a regular
/// expression anchored on such extensions, such as `\.(css|js)$`.
fn is_static_only(location: &Location<'_>) -> bool {
    let args = &location.directive.args;
    let (modifier, path) = match args.as_slice() {
        [path] => ("", path.as_str()),
        [modifier, path] => (modifier.as_str(), path.as_str()),
        _ => return false,
    };

    match modifier {
        "~" | "~*" => regex_matches_static_files(path),
        _ => {
            STATIC_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
                || (modifier == "=" && has_static_extension(path))
        }
    }
}

fn regex_matches_static_files(pattern: &str) -> bool {
    let Some(body) = pattern.strip_suffix('$') else {
        return false;
    };
    let Some((_, extensions)) = body.rsplit_once(r"\.") else {
        return false;
    };
    let extensions = extensions
        .strip_prefix('(')
        .and_then(|inner| inner.strip_suffix(')'))
        .unwrap_or(extensions);
    extensions
        .split('|')
        .all(|extension| STATIC_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()))
}

fn has_static_extension(path: &str) -> bool {
    path.rsplit_once('.').is_some_and(|(_, extension)| {
        STATIC_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
    })
}

/// Checks that, on every caching server block of a site, each `no_cache`
/// route has a regex location that turns the cache off and sends headers
/// that keep browsers from storing the page.
fn check_no_cache_routes(
    config: &Config<'_>,
    routes: &[NoCacheRoute],
    findings: &mut Vec<Finding>,
) {
    for route in routes {
        let servers: Vec<&Server<'_>> = config
            .servers
            .iter()
            .filter(|server| server.names.contains(&route.server_name))
            .filter(|server| server.locations.iter().any(|l| l.cache_zone().is_some()))
            .collect();

        for server in servers {
            check_no_cache_route(server, route, findings);
        }
    }
}

fn check_no_cache_route(server: &Server<'_>, route: &NoCacheRoute, findings: &mut Vec<Finding>) {
    let location = server.locations.iter().find(|location| {
        matches!(
            location.directive.args.as_slice(),
            [modifier, pattern] if (modifier == "~" || modifier == "~*") && *pattern == route.pattern
        )
    });
    let Some(location) = location else {
        findings.push(finding(
            Rule::NoCacheRoute,
            server.directive,
            format!(
                "{} caches pages but has no `location ~ \"{}\"` with `proxy_cache off`, so every visitor would get the same cached page",
                server_label(server),
                route.pattern
            ),
        ));
        return;
    };

    if location.cache_zone().is_some() {
        findings.push(finding(
            Rule::NoCacheRoute,
            location.directive,
            format!(
                "`location {}` of {} is a no-cache route but still caches; add `proxy_cache off`",
                location.describe(),
                server_label(server)
            ),
        ));
    }

    let no_store = location.effective("add_header").iter().any(|header| {
        header
            .arg(0)
            .is_some_and(|name| name.eq_ignore_ascii_case("Cache-Control"))
            && header
                .arg(1)
                .is_some_and(|value| value.contains("no-store"))
    });
    let expires_now = location.effective_value("expires") == Some("0");
    if !no_store || !expires_now {
        findings.push(finding(
            Rule::NoCacheRoute,
            location.directive,
            format!(
                "`location {}` of {} needs `add_header Cache-Control \"no-store, no-cache\" always` and `expires 0`, so browsers and shared caches do not keep the page",
                location.describe(),
                server_label(server)
            ),
        ));
    }
}

/// Checks that upstream servers and `proxy_pass` hosts are IP addresses,
/// sockets or upstream names, so loading the configuration needs no DNS.
/// Targets built from variables are skipped.
fn check_dns_free(config: &Config<'_>, findings: &mut Vec<Finding>) {
    for upstream in &config.upstreams {
        let name = upstream.arg(0).unwrap_or_default();
        for server in upstream.children().iter().filter(|d| d.name == "server") {
            let target = server.arg(0).unwrap_or_default();
            if target.starts_with("unix:") || is_address(target) {
                continue;
            }
            findings.push(finding(
                Rule::NeedsDns,
                server,
                format!(
                    "upstream `{name}` names server `{target}`, a host name that NGINX must resolve through DNS whenever it loads the configuration; use the server's IP address or a `unix:` socket"
                ),
            ));
        }
    }

    let upstream_names = config.upstream_names();
    for server in &config.servers {
        for location in &server.locations {
            let Some(target) = location.proxy_target() else {
                continue;
            };
            if target.contains('$')
                || target.starts_with("unix:")
                || upstream_names.contains(&target.as_str())
                || is_address(&target)
            {
                continue;
            }
            let directive = location
                .own("proxy_pass")
                .last()
                .copied()
                .unwrap_or(location.directive);
            findings.push(finding(
                Rule::NeedsDns,
                directive,
                format!(
                    "`proxy_pass` in `location {}` of {} names host `{target}`, which is neither an upstream nor an IP address, so NGINX needs DNS to load the configuration",
                    location.describe(),
                    server_label(server)
                ),
            ));
        }
    }
}

/// Tells whether `target` is an IP address with an optional port:
/// `192.0.2.1`, `192.0.2.1:80`, `[2001:db8::1]:80`.
fn is_address(target: &str) -> bool {
    if let Some(rest) = target.strip_prefix('[') {
        return rest
            .split_once(']')
            .is_some_and(|(address, _)| address.parse::<IpAddr>().is_ok());
    }
    let host = match target.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => target,
    };
    host.parse::<IpAddr>().is_ok()
}

fn server_label(server: &Server<'_>) -> String {
    match server.names.first() {
        Some(name) => format!("server `{name}`"),
        None => format!("the server block at {}", server.directive.location()),
    }
}

#[cfg(test)]
mod tests {
    use super::{is_address, regex_matches_static_files};

    #[test]
    fn address_forms() {
        assert!(is_address("192.0.2.1"));
        assert!(is_address("192.0.2.1:80"));
        assert!(is_address("[2001:db8::1]:8080"));
        assert!(!is_address("app1.internal:80"));
        assert!(!is_address("localhost"));
    }

    #[test]
    fn static_regex_forms() {
        assert!(regex_matches_static_files(r"\.(css|js|png)$"));
        assert!(regex_matches_static_files(r"^/img/.+\.svg$"));
        assert!(!regex_matches_static_files(r"\.(css|php)$"));
        assert!(!regex_matches_static_files(r"^/shows/"));
    }
}
