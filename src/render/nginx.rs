//! NGINX files: the main configuration with every cache zone and upstream
//! in `http`, and one file of server blocks per site.
//!
//! Site files go to `/etc/nginx/sites-enabled/<site>.conf`. The rendered
//! `nginx.conf` includes only `sites-enabled/*.conf`, so the Debian
//! package's `sites-enabled/default` (a second `default_server` on port 80)
//! and stray `conf.d` files are not loaded.

use serde::Serialize;

use crate::inventory::{App, Role, Site};
use crate::render::engine;
use crate::render::error::RenderError;
use crate::render::facts::Facts;
use crate::render::file::{RenderedFile, Validation};
use crate::render::host::{Host, NginxRole};
use crate::render::lint::{MAIN_CONFIG, NoCacheRoute};

pub const SITES_DIR: &str = "/etc/nginx/sites-enabled";
pub const CACHE_DIR: &str = "/var/cache/nginx";
/// Port the app servers' NGINX listens on for the front-end proxy.
const BACKEND_PORT: u16 = 80;

#[derive(Serialize)]
struct MainContext {
    droplet: String,
    fleet: String,
    edge: bool,
    zones: Vec<ZoneContext>,
    upstreams: Vec<UpstreamContext>,
    /// The proxy a backend trusts forwarding headers from.
    front_end: Option<String>,
    sites_include: String,
}

#[derive(Serialize)]
struct ZoneContext {
    name: String,
    path: String,
    size: String,
    max_size: String,
    inactive: String,
}

#[derive(Serialize)]
struct UpstreamContext {
    name: String,
    servers: Vec<String>,
}

#[derive(Serialize)]
struct SiteContext {
    droplet: String,
    fleet: String,
    name: String,
    app: String,
    domain: String,
    upstream: String,
    certificate: String,
    key: String,
    aliases: Vec<AliasContext>,
    cache: Option<CacheContext>,
    no_cache: Vec<String>,
    health_path: String,
    /// Whether the upstream has servers on other droplets to fail over to.
    failover: bool,
}

#[derive(Serialize)]
struct AliasContext {
    name: String,
    certificate: String,
    key: String,
}

#[derive(Serialize)]
struct CacheContext {
    zone: String,
    valid: String,
}

/// The NGINX files of `host`, and the routes the lints must find uncached.
/// Empty for a droplet that runs no NGINX (role `database` only).
pub fn nginx_files(
    host: &Host<'_>,
    facts: &Facts,
) -> Result<(Vec<RenderedFile>, Vec<NoCacheRoute>), RenderError> {
    let Some(role) = host.nginx_role() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let app_servers = app_server_addresses(host, role, facts)?;

    let mut files = vec![main_file(host, role, &app_servers, facts)?];
    let mut routes = Vec::new();
    for (site, app) in &host.sites {
        let context = site_context(host, role, site, app, !app_servers.is_empty());
        if context.cache.is_some() {
            routes.extend(context.no_cache.iter().map(|pattern| NoCacheRoute {
                server_name: context.domain.clone(),
                pattern: pattern.clone(),
            }));
        }
        let template = match role {
            NginxRole::Edge => "nginx/site-edge.conf.j2",
            NginxRole::Backend => "nginx/site-backend.conf.j2",
        };
        let text = engine::render(template, &context)?;
        files.push(
            RenderedFile::text(format!("{SITES_DIR}/{}.conf", file_name(&site.name)), text)
                .with_validation(Validation::NginxConfig),
        );
    }
    Ok((files, routes))
}

/// Addresses of the other app droplets an edge proxy balances across, on
/// port 80 each. A backend only uses its own sockets.
fn app_server_addresses(
    host: &Host<'_>,
    role: NginxRole,
    facts: &Facts,
) -> Result<Vec<String>, RenderError> {
    if role == NginxRole::Backend {
        return Ok(Vec::new());
    }
    host.peers_with_role(Role::App)
        .into_iter()
        .map(|peer| {
            Ok(format!(
                "{}:{BACKEND_PORT}",
                facts.peer_address(&peer.name)?
            ))
        })
        .collect()
}

fn main_file(
    host: &Host<'_>,
    role: NginxRole,
    app_servers: &[String],
    facts: &Facts,
) -> Result<RenderedFile, RenderError> {
    let edge = role == NginxRole::Edge;
    let zones = if edge {
        host.sites
            .iter()
            .filter(|(site, _)| site.cache.enabled)
            .map(|(site, _)| zone_context(site))
            .collect()
    } else {
        Vec::new()
    };
    let upstreams = host
        .apps
        .iter()
        .map(|app| upstream_context(host, app, app_servers))
        .collect();
    let front_end = match role {
        NginxRole::Edge => None,
        NginxRole::Backend => match host.peers_with_role(Role::Proxy).first() {
            Some(proxy) => Some(facts.peer_address(&proxy.name)?.to_string()),
            None => None,
        },
    };

    let context = MainContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        edge,
        zones,
        upstreams,
        front_end,
        sites_include: format!("{SITES_DIR}/*.conf"),
    };
    let text = engine::render("nginx/nginx.conf.j2", &context)?;
    Ok(RenderedFile::text(MAIN_CONFIG, text).with_validation(Validation::NginxConfig))
}

fn zone_context(site: &Site) -> ZoneContext {
    let name = zone_name(site);
    ZoneContext {
        path: format!("{CACHE_DIR}/{name}"),
        name,
        size: site.cache.zone_size.clone(),
        max_size: site.cache.max_size.clone(),
        inactive: site.cache.inactive.clone(),
    }
}

/// Lists the upstream servers: the local Gunicorn socket when the droplet
/// runs the app, then the app servers of the environment.
fn upstream_context(host: &Host<'_>, app: &App, app_servers: &[String]) -> UpstreamContext {
    let mut servers = Vec::new();
    if host.droplet.has_role(Role::App) {
        servers.push(format!("unix:{} fail_timeout=0", app.socket));
    }
    servers.extend(
        app_servers
            .iter()
            .map(|address| format!("{address} max_fails=3 fail_timeout=10s")),
    );
    UpstreamContext {
        name: upstream_name(app),
        servers,
    }
}

fn site_context(
    host: &Host<'_>,
    role: NginxRole,
    site: &Site,
    app: &App,
    failover: bool,
) -> SiteContext {
    let tls_dir = host.inventory.tls.dir.trim_end_matches('/');
    let domain = host.domain(site);
    let caching = role == NginxRole::Edge && site.cache.enabled;

    SiteContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        name: site.name.clone(),
        app: app.name.clone(),
        upstream: upstream_name(app),
        certificate: format!("{tls_dir}/{domain}.crt"),
        key: format!("{tls_dir}/{domain}.key"),
        aliases: host
            .aliases(site)
            .iter()
            .map(|alias| AliasContext {
                name: alias.clone(),
                certificate: format!("{tls_dir}/{alias}.crt"),
                key: format!("{tls_dir}/{alias}.key"),
            })
            .collect(),
        cache: caching.then(|| CacheContext {
            zone: zone_name(site),
            valid: site.cache.valid.clone(),
        }),
        no_cache: if caching {
            site.cache.no_cache.clone()
        } else {
            Vec::new()
        },
        health_path: app.health_path.clone(),
        failover,
        domain,
    }
}

/// `app_<app>`: one upstream per app, shared by the sites that serve it.
pub fn upstream_name(app: &App) -> String {
    format!("app_{}", identifier(&app.name))
}

/// `site_<site>`: one cache zone per site, also the cache folder's name.
pub fn zone_name(site: &Site) -> String {
    format!("site_{}", identifier(&site.name))
}

/// `name` with every character outside `[A-Za-z0-9_]` replaced by `_`.
/// Two names can map to the same identifier (`a-b`, `a_b`); the lints
/// reject the duplicate that results.
fn identifier(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
