//! Apps (the Gunicorn services) and sites (the names NGINX serves them under).

use indexmap::IndexMap;

use crate::inventory::layers::{Found, Layers};
use crate::inventory::model::{App, Cache, Database, Environment, Origin, Site, SiteCheck};
use crate::inventory::names;
use crate::inventory::raw::{RawApp, RawCache, RawInventory, RawSite};
use crate::suggest;

use super::Ctx;

const FRAMEWORKS: [&str; 2] = ["flask", "fastapi"];

pub(super) fn resolve_apps(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
    database: &Database,
) -> IndexMap<String, App> {
    let section = root.spanned_child("apps", |raw| raw.apps.as_ref());
    let entries = section.entries("", Some, ctx.diagnostics);

    let mut apps = IndexMap::new();
    for entry in entries {
        let app = resolve_app(ctx, entry.key, &entry.layers, database);
        apps.insert(entry.key.to_string(), app);
    }
    check_unique_app_fields(ctx, &apps);
    apps
}

fn resolve_app(
    ctx: &mut Ctx<'_>,
    name: &str,
    layers: &Layers<'_, RawApp>,
    database: &Database,
) -> App {
    let framework = match ctx.required(layers, "framework", |raw| raw.framework.as_ref()) {
        Some(found) => {
            ctx.check_choice(&found, "framework", &FRAMEWORKS);
            found.value.clone()
        }
        None => String::new(),
    };
    let default_worker = if framework == "fastapi" {
        "uvicorn.workers.UvicornWorker"
    } else {
        "sync"
    };
    let service = ctx.required_string(layers, "service", |raw| raw.service.as_ref());

    let database_user =
        match ctx.required(layers, "database_user", |raw| raw.database_user.as_ref()) {
            Some(found) => {
                let users: Vec<&str> = database.users.keys().map(String::as_str).collect();
                ctx.check_choice(&found, "database user", &users);
                found.value.clone()
            }
            None => String::new(),
        };

    let workers = match layers.field("workers", |raw| raw.workers.as_ref()) {
        Some(found) if *found.value == 0 || *found.value > 64 => {
            ctx.report_with_hint(
                found.at,
                found.key_path,
                format!("{} workers is out of range", found.value),
                "use 1 to 64 workers",
            );
            2
        }
        Some(found) => *found.value,
        None => 2,
    };

    let socket = text_or(
        layers.field("socket", |raw| raw.socket.as_ref()),
        &format!("/tmp/{service}.sock"),
    );
    check_absolute(ctx, layers.field("socket", |raw| raw.socket.as_ref()));
    let path = text_or(
        layers.field("path", |raw| raw.path.as_ref()),
        &format!("/opt/wwdtm/{name}"),
    );
    check_absolute(ctx, layers.field("path", |raw| raw.path.as_ref()));

    App {
        name: name.to_string(),
        repo: ctx.required_string(layers, "repo", |raw| raw.repo.as_ref()),
        framework,
        path,
        user: text_or(layers.field("user", |raw| raw.user.as_ref()), "wwdtm"),
        socket,
        service,
        entry: text_or(layers.field("entry", |raw| raw.entry.as_ref()), "app:app"),
        worker_class: text_or(
            layers.field("worker_class", |raw| raw.worker_class.as_ref()),
            default_worker,
        ),
        workers,
        database_user,
        health_path: text_or(
            layers.field("health_path", |raw| raw.health_path.as_ref()),
            "/health",
        ),
        origin: Origin {
            at: layers.origin.clone(),
            key_path: layers.key_path.clone(),
        },
    }
}

fn text_or(found: Option<Found<'_, String>>, default: &str) -> String {
    found
        .map(|found| found.value.clone())
        .unwrap_or_else(|| default.to_string())
}

fn check_absolute(ctx: &mut Ctx<'_>, found: Option<Found<'_, String>>) {
    if let Some(found) = found
        && !found.value.starts_with('/')
    {
        ctx.report_with_hint(
            found.at,
            found.key_path,
            format!("`{}` is not an absolute path", found.value),
            "write the full path on the server, starting with `/`",
        );
    }
}

/// Two apps sharing a service name, socket or directory would overwrite each
/// other on an all-in-one server.
fn check_unique_app_fields(ctx: &mut Ctx<'_>, apps: &IndexMap<String, App>) {
    type Field = fn(&App) -> &str;
    let fields: [(&str, Field); 3] = [
        ("service", |app| &app.service),
        ("socket", |app| &app.socket),
        ("path", |app| &app.path),
    ];
    for (field, get) in fields {
        let mut seen: IndexMap<&str, &str> = IndexMap::new();
        for app in apps.values() {
            let value = get(app);
            if value.is_empty() {
                continue;
            }
            if let Some(first) = seen.insert(value, &app.name) {
                ctx.report_with_hint(
                    app.origin.at.clone(),
                    format!("{}/{field}", app.origin.key_path),
                    format!("apps `{first}` and `{}` share the {field} `{value}`", app.name),
                    format!("give each app its own {field}; apps on one server would overwrite each other"),
                );
            }
        }
    }
}

pub(super) fn resolve_sites(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
    apps: &IndexMap<String, App>,
    environments: &IndexMap<String, Environment>,
) -> IndexMap<String, Site> {
    let section = root.spanned_child("sites", |raw| raw.sites.as_ref());
    let entries = section.entries("", Some, ctx.diagnostics);
    if entries.is_empty() {
        ctx.report_with_hint(
            section.origin.clone(),
            "sites",
            "no sites are defined",
            "add `sites:` with the sites NGINX serves",
        );
    }

    let mut sites = IndexMap::new();
    for entry in entries {
        let site = resolve_site(ctx, entry.key, &entry.layers, apps, environments);
        sites.insert(entry.key.to_string(), site);
    }
    sites
}

fn resolve_site(
    ctx: &mut Ctx<'_>,
    name: &str,
    layers: &Layers<'_, RawSite>,
    apps: &IndexMap<String, App>,
    environments: &IndexMap<String, Environment>,
) -> Site {
    let app = match ctx.required(layers, "app", |raw| raw.app.as_ref()) {
        Some(found) => {
            if !apps.contains_key(found.value.as_str()) {
                ctx.report_with_hint(
                    found.at.clone(),
                    found.key_path.clone(),
                    format!(
                        "site `{name}` names app `{}`, which is not defined under `apps`",
                        found.value
                    ),
                    suggest::hint_for(found.value, apps.keys().map(String::as_str)),
                );
            }
            found.value.clone()
        }
        None => String::new(),
    };

    let domains = resolve_domains(ctx, layers, environments);
    let aliases = layers
        .field("aliases", |raw| raw.aliases.as_ref())
        .map(|found| {
            found
                .value
                .iter()
                .map(|alias| alias.value.clone())
                .collect()
        })
        .unwrap_or_default();
    let cache = resolve_cache(
        ctx,
        &layers.spanned_child("cache", |raw| raw.cache.as_ref()),
    );
    let check_layers = layers.spanned_child("check", |raw| raw.check.as_ref());

    Site {
        name: name.to_string(),
        app,
        domains,
        aliases,
        cache,
        check: SiteCheck {
            path: text_or(check_layers.field("path", |raw| raw.path.as_ref()), "/"),
            expect: text_or(check_layers.field("expect", |raw| raw.expect.as_ref()), ""),
        },
        origin: Origin {
            at: layers.origin.clone(),
            key_path: layers.key_path.clone(),
        },
    }
}

fn resolve_domains(
    ctx: &mut Ctx<'_>,
    layers: &Layers<'_, RawSite>,
    environments: &IndexMap<String, Environment>,
) -> IndexMap<String, String> {
    let entries = layers.entries("domains", |raw| raw.domains.as_ref(), ctx.diagnostics);
    if entries.is_empty() {
        ctx.report_with_hint(
            layers.origin.clone(),
            layers.path("domains"),
            "a site needs a domain for at least one environment",
            "add `domains:` such as `prod: stats.example.com`",
        );
    }

    let mut domains = IndexMap::new();
    for entry in entries {
        if !environments.contains_key(entry.key) {
            ctx.report_with_hint(
                entry.layers.origin.clone(),
                entry.layers.key_path.clone(),
                format!("unknown environment `{}`", entry.key),
                suggest::hint_for(entry.key, environments.keys().map(String::as_str)),
            );
        }
        let Some(layer) = entry.layers.items.first() else {
            continue;
        };
        let domain = layer.value.value.trim_end_matches('.').to_lowercase();
        if let Err(reason) = names::check_domain(&domain) {
            ctx.report(
                crate::yaml::source_ref(layer.file, layer.value),
                entry.layers.key_path.clone(),
                format!("invalid domain `{}`: {reason}", layer.value.value),
            );
        }
        domains.insert(entry.key.to_string(), domain);
    }
    domains
}

fn resolve_cache(ctx: &mut Ctx<'_>, layers: &Layers<'_, RawCache>) -> Cache {
    let no_cache: Vec<String> = layers
        .field("no_cache", |raw| raw.no_cache.as_ref())
        .map(|found| {
            found
                .value
                .iter()
                .map(|route| route.value.clone())
                .collect()
        })
        .unwrap_or_default();
    for duration_key in ["valid", "inactive"] {
        let found = match duration_key {
            "valid" => layers.field("valid", |raw| raw.valid.as_ref()),
            _ => layers.field("inactive", |raw| raw.inactive.as_ref()),
        };
        if let Some(found) = found
            && !is_nginx_time(found.value)
        {
            ctx.report_with_hint(
                found.at,
                found.key_path,
                format!("invalid NGINX time `{}`", found.value),
                "write a number and one unit, such as `10m`, `1h` or `30s`",
            );
        }
    }
    for size_key in ["max_size", "zone_size"] {
        let found = match size_key {
            "max_size" => layers.field("max_size", |raw| raw.max_size.as_ref()),
            _ => layers.field("zone_size", |raw| raw.zone_size.as_ref()),
        };
        if let Some(found) = found
            && !is_nginx_size(found.value)
        {
            ctx.report_with_hint(
                found.at,
                found.key_path,
                format!("invalid NGINX size `{}`", found.value),
                "write a number and an optional unit `k`, `m` or `g`, such as `10m` or `1g`",
            );
        }
    }

    Cache {
        enabled: layers
            .field("enabled", |raw| raw.enabled.as_ref())
            .is_none_or(|found| *found.value),
        valid: text_or(layers.field("valid", |raw| raw.valid.as_ref()), "10m"),
        inactive: text_or(layers.field("inactive", |raw| raw.inactive.as_ref()), "60m"),
        max_size: text_or(layers.field("max_size", |raw| raw.max_size.as_ref()), "1g"),
        zone_size: text_or(
            layers.field("zone_size", |raw| raw.zone_size.as_ref()),
            "10m",
        ),
        no_cache,
    }
}

/// Checks an NGINX time value with one unit, such as `10m`.
fn is_nginx_time(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[digits.len()..];
    !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && matches!(unit, "" | "ms" | "s" | "m" | "h" | "d" | "w" | "M" | "y")
}

/// Checks an NGINX size value, such as `10m` or `1g`.
fn is_nginx_size(text: &str) -> bool {
    let digits = text.trim_end_matches(['k', 'K', 'm', 'M', 'g', 'G']);
    !digits.is_empty()
        && text.len() - digits.len() <= 1
        && digits.chars().all(|c| c.is_ascii_digit())
}
