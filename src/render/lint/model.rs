//! The parts of an expanded NGINX configuration the lints reason about:
//! cache zones, upstreams, server blocks and their locations, with the
//! settings each location inherits.

use super::parse::Directive;

/// The cache key NGINX uses when no `proxy_cache_key` is set.
pub const DEFAULT_CACHE_KEY: &str = "$scheme$proxy_host$request_uri";

/// A directive and the name of the block it sits in (`main` at top level).
pub struct Placed<'a> {
    pub directive: &'a Directive,
    pub parent: &'a str,
}

/// A `proxy_cache_path` declaration.
pub struct Zone<'a> {
    pub directive: &'a Directive,
    pub parent: &'a str,
    /// The name in `keys_zone=NAME:SIZE`, when present.
    pub name: Option<String>,
    pub path: String,
}

pub struct Server<'a> {
    pub directive: &'a Directive,
    pub names: Vec<String>,
    pub locations: Vec<Location<'a>>,
}

pub struct Location<'a> {
    pub directive: &'a Directive,
    /// Directive lists from `http` down to this location, outermost first.
    pub chain: Vec<&'a [Directive]>,
}

impl<'a> Location<'a> {
    /// Returns the directives named `name` in effect here: those of the
    /// innermost level that sets any, as NGINX inherits array settings.
    pub fn effective(&self, name: &str) -> Vec<&'a Directive> {
        for level in self.chain.iter().rev() {
            let found: Vec<&Directive> = level.iter().filter(|d| d.name == name).collect();
            if !found.is_empty() {
                return found;
            }
        }
        Vec::new()
    }

    /// Returns the first argument of the innermost `name` directive in effect.
    pub fn effective_value(&self, name: &str) -> Option<&'a str> {
        self.effective(name)
            .last()
            .and_then(|directive| directive.arg(0))
    }

    /// Returns the directives named `name` set in this location itself.
    pub fn own(&self, name: &str) -> Vec<&'a Directive> {
        self.directive
            .children()
            .iter()
            .filter(|d| d.name == name)
            .collect()
    }

    /// Returns the cache zone this location stores responses in, if any.
    pub fn cache_zone(&self) -> Option<&'a str> {
        self.effective_value("proxy_cache")
            .filter(|zone| *zone != "off")
    }

    pub fn cache_key(&self) -> String {
        self.effective("proxy_cache_key")
            .last()
            .map(|directive| directive.args.join(" "))
            .unwrap_or_else(|| DEFAULT_CACHE_KEY.to_string())
    }

    /// Returns the host part of this location's `proxy_pass` URL.
    pub fn proxy_target(&self) -> Option<String> {
        let url = self.own("proxy_pass").last()?.arg(0)?;
        Some(url_host(url).to_string())
    }

    /// Describes the location as written: `~ ^/a` for a regex location,
    /// `/static/` for a prefix one.
    pub fn describe(&self) -> String {
        self.directive.args.join(" ")
    }
}

pub struct Config<'a> {
    pub placed: Vec<Placed<'a>>,
    pub zones: Vec<Zone<'a>>,
    pub upstreams: Vec<&'a Directive>,
    pub servers: Vec<Server<'a>>,
}

impl<'a> Config<'a> {
    pub fn from_tree(tree: &'a [Directive]) -> Self {
        let mut placed = Vec::new();
        flatten(tree, "main", &mut placed);

        let zones = placed
            .iter()
            .filter(|item| item.directive.name == "proxy_cache_path")
            .map(|item| zone_of(item.directive, item.parent))
            .collect();

        let mut upstreams = Vec::new();
        let mut servers = Vec::new();
        for http in tree.iter().filter(|d| d.name == "http") {
            for directive in http.children() {
                match directive.name.as_str() {
                    "upstream" => upstreams.push(directive),
                    "server" => servers.push(server_of(http, directive)),
                    _ => {}
                }
            }
        }

        Config {
            placed,
            zones,
            upstreams,
            servers,
        }
    }

    /// Returns the names of the zones declared directly in `http`.
    pub fn http_zone_names(&self) -> Vec<&str> {
        self.zones
            .iter()
            .filter(|zone| zone.parent == "http")
            .filter_map(|zone| zone.name.as_deref())
            .collect()
    }

    pub fn upstream_names(&self) -> Vec<&'a str> {
        self.upstreams
            .iter()
            .filter_map(|upstream| upstream.arg(0))
            .collect()
    }
}

fn flatten<'a>(directives: &'a [Directive], parent: &'a str, out: &mut Vec<Placed<'a>>) {
    for directive in directives {
        out.push(Placed { directive, parent });
        if let Some(block) = &directive.block {
            flatten(block, &directive.name, out);
        }
    }
}

fn zone_of<'a>(directive: &'a Directive, parent: &'a str) -> Zone<'a> {
    let name = directive
        .args
        .iter()
        .find_map(|arg| arg.strip_prefix("keys_zone="))
        .map(|value| value.split(':').next().unwrap_or_default().to_string());
    Zone {
        directive,
        parent,
        name,
        path: directive
            .arg(0)
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string(),
    }
}

fn server_of<'a>(http: &'a Directive, server: &'a Directive) -> Server<'a> {
    let names = server
        .children()
        .iter()
        .filter(|d| d.name == "server_name")
        .flat_map(|d| d.args.iter().cloned())
        .collect();

    let mut locations = Vec::new();
    let chain = vec![http.children(), server.children()];
    collect_locations(server.children(), &chain, &mut locations);

    Server {
        directive: server,
        names,
        locations,
    }
}

fn collect_locations<'a>(
    directives: &'a [Directive],
    chain: &[&'a [Directive]],
    out: &mut Vec<Location<'a>>,
) {
    for directive in directives.iter().filter(|d| d.name == "location") {
        let mut inner = chain.to_vec();
        inner.push(directive.children());
        collect_locations(directive.children(), &inner, out);
        out.push(Location {
            directive,
            chain: inner,
        });
    }
}

/// Returns the host (or upstream name, or `unix:` path) of a `proxy_pass` URL.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    if rest.starts_with("unix:") {
        return rest;
    }
    rest.split('/').next().unwrap_or_default()
}
