//! Folders the rendered files need that the packages do not create.

use crate::inventory::Role;
use crate::render::apps::LOG_ROOT;
use crate::render::host::{Host, NginxRole};
use crate::render::nginx::CACHE_DIR;

/// A folder to create before the files are written (`install -d`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Directory {
    /// Absolute path on the server.
    pub path: String,
    pub mode: u32,
    pub owner: String,
    pub group: String,
}

/// Lists the folders of `host`, sorted by path. Debian's nginx package does
/// not create `/var/cache/nginx`, and NGINX fails to start when the parent
/// of a `proxy_cache_path` is missing. On a server with systemd each app's
/// `LogsDirectory=` creates its log folder too; creating it here also
/// covers hosts without systemd.
pub fn host_directories(host: &Host<'_>) -> Vec<Directory> {
    let mut directories = Vec::new();

    let caches = host.nginx_role() == Some(NginxRole::Edge)
        && host.sites.iter().any(|(site, _)| site.cache.enabled);
    if caches {
        directories.push(owned_by_root(CACHE_DIR));
    }

    if host.droplet.has_role(Role::App) {
        directories.push(owned_by_root(LOG_ROOT));
        for app in &host.apps {
            directories.push(Directory {
                path: format!("{LOG_ROOT}/{}", app.name),
                mode: 0o750,
                owner: app.user.clone(),
                group: app.user.clone(),
            });
        }
    }

    directories.sort_by(|a, b| a.path.cmp(&b.path));
    directories
}

fn owned_by_root(path: &str) -> Directory {
    Directory {
        path: path.to_string(),
        mode: 0o755,
        owner: "root".to_string(),
        group: "root".to_string(),
    }
}
