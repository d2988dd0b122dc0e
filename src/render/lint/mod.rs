//! wwctl's own checks of a rendered NGINX configuration.
//!
//! `nginx -t` needs the binary, the certificates and the whole file tree, and
//! it accepts several configurations that serve the wrong page to the wrong
//! visitor. These lints read the rendered files alone, so a dry run catches
//! those faults on any machine:
//!
//! - every zone `proxy_cache` names is declared once, by `proxy_cache_path`
//!   directly in `http`;
//! - upstream names, cache zone names and cache paths are unique;
//! - `proxy_cache_key` contains `$host` wherever server blocks share a zone
//!   or an upstream, or one site's pages are served for another;
//! - responses carrying `Set-Cookie` are never cached (no
//!   `proxy_ignore_headers Set-Cookie` outside a static-only location that
//!   also hides the header);
//! - the routes the inventory marks `no_cache` have a location with
//!   `proxy_cache off` and `Cache-Control: no-store`;
//! - upstream servers and `proxy_pass` targets are IP addresses or `unix:`
//!   paths, never host names that need DNS when NGINX loads the file.

mod model;
pub mod parse;
mod rules;

use std::fmt;

use crate::render::file::RenderedFile;

pub use parse::{Directive, SyntaxError};

/// The main configuration file every other file is included from.
pub const MAIN_CONFIG: &str = "/etc/nginx/nginx.conf";

/// Folder relative `include` paths are resolved against, as NGINX does for
/// the Debian and Ubuntu packages.
const CONFIG_PREFIX: &str = "/etc/nginx/";

/// Maximum nesting of includes before the lint assumes a loop.
const MAX_INCLUDE_DEPTH: usize = 8;

/// A route that must never be cached on the server block named `server_name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoCacheRoute {
    pub server_name: String,
    /// The regular expression of the `location ~` block.
    pub pattern: String,
}

/// The kind of fault a finding reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A file NGINX cannot parse.
    Syntax,
    /// `proxy_cache` names an undeclared zone, or `proxy_cache_path` sits
    /// outside `http`.
    CacheZoneDeclaration,
    /// Two upstreams, zones or cache paths share a name.
    DuplicateName,
    /// A shared zone or upstream with a cache key that lacks `$host`.
    CacheKeyWithoutHost,
    /// Responses with `Set-Cookie` may be cached.
    CachedSetCookie,
    /// A `no_cache` route is missing or still cached.
    NoCacheRoute,
    /// An upstream server or `proxy_pass` target needs DNS.
    NeedsDns,
}

impl Rule {
    /// Stable name, for messages and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Syntax => "syntax",
            Rule::CacheZoneDeclaration => "cache-zone-declaration",
            Rule::DuplicateName => "duplicate-name",
            Rule::CacheKeyWithoutHost => "cache-key-without-host",
            Rule::CachedSetCookie => "cached-set-cookie",
            Rule::NoCacheRoute => "no-cache-route",
            Rule::NeedsDns => "needs-dns",
        }
    }
}

/// One fault, with the file and line of the directive at fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// `path:line` of the directive.
    pub at: String,
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} [{}]", self.at, self.message, self.rule.name())
    }
}

/// Lints the NGINX configuration made of `files`, starting at
/// [`MAIN_CONFIG`]. Files that `include` names but `files` lacks (such as
/// `mime.types`) are skipped. Secret files are never read.
pub fn lint_nginx(files: &[RenderedFile], no_cache_routes: &[NoCacheRoute]) -> Vec<Finding> {
    let Some(main) = files.iter().find(|file| file.path == MAIN_CONFIG) else {
        return vec![Finding {
            rule: Rule::Syntax,
            at: MAIN_CONFIG.to_string(),
            message: "the main configuration file is missing from the rendered files".to_string(),
        }];
    };

    let tree = match expand(main, files, 0) {
        Ok(tree) => tree,
        Err(error) => {
            return vec![Finding {
                rule: Rule::Syntax,
                at: format!("{}:{}", error.file, error.line),
                message: error.message,
            }];
        }
    };
    rules::check(&tree, no_cache_routes)
}

/// Parses `file` and replaces each `include` with the directives of the
/// rendered files it matches, in path order as NGINX does.
fn expand(
    file: &RenderedFile,
    files: &[RenderedFile],
    depth: usize,
) -> Result<Vec<Directive>, SyntaxError> {
    let Some(text) = file.contents.text() else {
        return Ok(Vec::new());
    };
    let tree = parse::parse(&file.path, text)?;
    expand_tree(tree, files, depth)
}

fn expand_tree(
    tree: Vec<Directive>,
    files: &[RenderedFile],
    depth: usize,
) -> Result<Vec<Directive>, SyntaxError> {
    let mut expanded = Vec::new();
    for mut directive in tree {
        if directive.name == "include" && directive.block.is_none() {
            let included = expand_include(&directive, files, depth)?;
            expanded.extend(included);
            continue;
        }
        if let Some(block) = directive.block.take() {
            directive.block = Some(expand_tree(block, files, depth)?);
        }
        expanded.push(directive);
    }
    Ok(expanded)
}

fn expand_include(
    directive: &Directive,
    files: &[RenderedFile],
    depth: usize,
) -> Result<Vec<Directive>, SyntaxError> {
    if depth >= MAX_INCLUDE_DEPTH {
        return Err(SyntaxError {
            file: directive.file.clone(),
            line: directive.line,
            message: format!(
                "includes nest more than {MAX_INCLUDE_DEPTH} levels deep; is there a loop?"
            ),
        });
    }
    let Some(pattern) = directive.arg(0) else {
        return Ok(Vec::new());
    };
    let pattern = if pattern.starts_with('/') {
        pattern.to_string()
    } else {
        format!("{CONFIG_PREFIX}{pattern}")
    };

    let mut matched: Vec<&RenderedFile> = files
        .iter()
        .filter(|file| wildcard_match(&pattern, &file.path))
        .collect();
    matched.sort_by(|a, b| a.path.cmp(&b.path));

    let mut directives = Vec::new();
    for file in matched {
        directives.extend(expand(file, files, depth + 1)?);
    }
    Ok(directives)
}

/// Matches `path` against a glob with `*` and `?`, which never match `/`.
fn wildcard_match(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let path: Vec<char> = path.chars().collect();
    matches_from(&pattern, &path)
}

fn matches_from(pattern: &[char], path: &[char]) -> bool {
    match pattern.first() {
        None => path.is_empty(),
        Some('*') => {
            let mut taken = 0;
            loop {
                if matches_from(&pattern[1..], &path[taken..]) {
                    return true;
                }
                if taken == path.len() || path[taken] == '/' {
                    return false;
                }
                taken += 1;
            }
        }
        Some('?') => !path.is_empty() && path[0] != '/' && matches_from(&pattern[1..], &path[1..]),
        Some(literal) => path.first() == Some(literal) && matches_from(&pattern[1..], &path[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::wildcard_match;

    #[test]
    fn wildcard_matches_one_component() {
        assert!(wildcard_match(
            "/etc/nginx/sites-enabled/*.conf",
            "/etc/nginx/sites-enabled/stats.conf"
        ));
        assert!(!wildcard_match(
            "/etc/nginx/sites-enabled/*.conf",
            "/etc/nginx/sites-enabled/a/b.conf"
        ));
        assert!(!wildcard_match(
            "/etc/nginx/sites-enabled/*.conf",
            "/etc/nginx/sites-enabled/default"
        ));
        assert!(wildcard_match(
            "/etc/nginx/mime.types",
            "/etc/nginx/mime.types"
        ));
    }
}
